"""The registry of detectors, filled by the ``@register`` decorator on each detector class.

Registration is explicit (never ``__subclasses__()``): a class joins when its module is
imported. The built-in detectors are imported on the registry's first query
(:func:`list_detectors`, :func:`get_detector`), by the package name ``BUILTIN_DETECTORS``
rather than an import statement: the core never depends on the detectors, and
``import deepad`` stays light (no torch until a detector is used). The metadata lives on the
class (``name``, ``category``, ``subcategory``, ``supervision``, ``modalities``,
``reference``) and is checked here against the taxonomy (or the baselines' category, outside
it: :data:`deepad.core.taxonomy.BASELINES`), so a typo fails at import time.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, TypeVar

from deepad.core.taxonomy import (
    MODALITIES,
    REGISTERED_CATEGORIES,
    REGISTERED_SUBCATEGORIES,
    SUPERVISIONS,
)

_REGISTRY: dict[str, type] = {}
T = TypeVar("T", bound=type)
BUILTIN_DETECTORS = "deepad.detectors"
"""Package whose import registers every built-in detector (on the first registry query)."""

METADATA_FIELDS = ("name", "category", "subcategory", "supervision", "modalities", "reference")


def _check_metadata(cls: type) -> None:
    missing = [f for f in METADATA_FIELDS if not getattr(cls, f, None)]
    if missing:
        msg = f"{cls.__name__} cannot be registered: missing metadata {missing}."
        raise TypeError(msg)
    if cls.category not in REGISTERED_CATEGORIES:
        msg = (f"{cls.__name__}.category {cls.category!r} is not one of "
               f"{list(REGISTERED_CATEGORIES)}.")
        raise TypeError(msg)
    if cls.subcategory not in REGISTERED_SUBCATEGORIES[cls.category]:
        msg = (f"{cls.__name__}.subcategory {cls.subcategory!r} is not a leaf of "
               f"{cls.category!r}: {list(REGISTERED_SUBCATEGORIES[cls.category])}.")
        raise TypeError(msg)
    for field, allowed in (("supervision", SUPERVISIONS), ("modalities", MODALITIES)):
        values = getattr(cls, field)
        if not isinstance(values, tuple) or not set(values) <= set(allowed):
            msg = f"{cls.__name__}.{field} must be a tuple drawn from {allowed}; got {values!r}."
            raise TypeError(msg)


def register(cls: T) -> T:
    """Class decorator: check the metadata and add the detector to the registry."""
    _check_metadata(cls)
    existing = _REGISTRY.get(cls.name.lower())
    if existing is not None and existing is not cls:
        msg = f"A detector named {cls.name!r} is already registered ({existing.__module__})."
        raise ValueError(msg)
    _REGISTRY[cls.name.lower()] = cls
    return cls


def _load_builtin_detectors() -> None:
    # a no-op after the first call: the import system keeps the package in sys.modules
    importlib.import_module(BUILTIN_DETECTORS)


def detector_info(cls: type) -> dict[str, Any]:
    """The registry entry of one detector class, as a plain dict."""
    info = {field: getattr(cls, field) for field in METADATA_FIELDS}
    info["supervision"] = list(info["supervision"])
    info["modalities"] = list(info["modalities"])
    info["module"] = cls.__module__
    first_paragraph = (cls.__doc__ or "").strip().split("\n\n", 1)[0]
    info["summary"] = " ".join(first_paragraph.split())
    return info


def list_detectors(**filters: str) -> list[dict[str, Any]]:
    """Metadata of every registered detector, optionally filtered.

    Filters match a metadata field exactly (``category="measure_normality"``) or, for the
    tuple fields, membership (``modalities="sequence"``, ``supervision="weakly-supervised"``).
    """
    unknown = set(filters) - set(METADATA_FIELDS)
    if unknown:
        msg = f"Unknown filter(s) {sorted(unknown)}; use any of {list(METADATA_FIELDS)}."
        raise ValueError(msg)
    _load_builtin_detectors()
    rows = []
    for cls in sorted(_REGISTRY.values(), key=lambda c: (c.category, c.subcategory, c.name)):
        info = detector_info(cls)
        if all(value in info[key] if isinstance(info[key], list) else info[key] == value
               for key, value in filters.items()):
            rows.append(info)
    return rows


def get_detector(name: str) -> type:
    """The detector class registered under ``name`` (case-insensitive).

    Raises ``KeyError`` listing close matches when no detector has that name.
    """
    cls = _REGISTRY.get(str(name).lower())
    if cls is not None:
        return cls
    _load_builtin_detectors()
    cls = _REGISTRY.get(str(name).lower())
    if cls is not None:
        return cls
    names = sorted(c.name for c in _REGISTRY.values())
    close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    msg = f"No detector named {name!r}.{hint} Registered: {', '.join(names)}."
    raise KeyError(msg)
