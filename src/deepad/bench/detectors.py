"""Detector specs of a benchmark: what a name on the command line means and how a worker builds
the estimator from it.

Four forms:

- ``DeepSVDD``: a detector of the deepad registry (case-insensitive);
- ``pyod:IForest``, ``deepod:DevNet``: a peer library's detector (:mod:`deepad.bench.peers`);
- ``python:package.module:ClassName``: any class with scikit-learn style ``fit(X, y=None)``
  and ``decision_function(X)`` (higher = more anomalous). It may declare
  ``supervision = ("weakly-supervised",)`` like deepad detectors; otherwise a required ``y``
  in ``fit`` means it needs labels, an optional one that it ignores them.

Every estimator gets the job's seed (``random_state``, or the peer's seed argument) and
``device="cpu"`` where its constructor takes them, unless the user's parameters set them.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass
from typing import Any

from deepad.bench import peers
from deepad.core.registry import get_detector

UNSUPERVISED = ("unsupervised",)
WEAK_ONLY = ("weakly-supervised",)
BOTH = ("unsupervised", "weakly-supervised")


@dataclass(frozen=True)
class DetectorRef:
    """A parsed detector spec: ``kind`` is ``deepad``, ``pyod``, ``deepod`` or ``python``."""

    kind: str
    name: str

    @property
    def spec(self) -> str:
        """Canonical text of the spec (the registry's spelling for deepad detectors)."""
        return self.name if self.kind == "deepad" else f"{self.kind}:{self.name}"


def parse_detector(text: str) -> DetectorRef:
    """Parse a detector spec; registry names are checked here (``KeyError`` with close
    matches), the other forms when their class is loaded.

    >>> parse_detector("deepsvdd").spec
    'DeepSVDD'
    >>> parse_detector("pyod:IForest")
    DetectorRef(kind='pyod', name='IForest')
    """
    text = text.strip()
    prefix, sep, rest = text.partition(":")
    if not sep:
        return DetectorRef("deepad", get_detector(text).name)
    kind = prefix.strip().lower()
    rest = rest.strip()
    if kind in peers.PACKAGES:
        if not rest.isidentifier():
            msg = f"{text!r}: expected {kind}:ClassName (e.g. pyod:IForest, deepod:DevNet)."
            raise ValueError(msg)
        return DetectorRef(kind, rest)
    if kind == "python":
        module, sep, name = rest.rpartition(":")
        if not sep or not module or not name.isidentifier():
            msg = f"{text!r}: expected python:package.module:ClassName."
            raise ValueError(msg)
        return DetectorRef(kind, f"{module.strip()}:{name}")
    close = difflib.get_close_matches(kind, [*peers.PACKAGES, "python"], n=1)
    hint = f" Did you mean {close[0]}:?" if close else ""
    msg = (f"{text!r}: unknown detector prefix {prefix!r}.{hint} Use a registry name, "
           "pyod:Name, deepod:Name or python:package.module:ClassName.")
    raise ValueError(msg)


def load_class(ref: DetectorRef) -> type:
    """The class behind a spec (``ImportError`` when its package or module is missing)."""
    if ref.kind == "deepad":
        return get_detector(ref.name)
    if ref.kind in peers.PACKAGES:
        return peers.peer_class(ref.kind, ref.name)
    module_name, _, class_name = ref.name.rpartition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        msg = f"{ref.spec}: cannot import module {module_name!r} ({error})."
        raise ImportError(msg) from error
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        msg = f"{ref.spec}: module {module_name!r} has no class {class_name!r}."
        raise ValueError(msg)
    for method in ("fit", "decision_function"):
        if not callable(getattr(cls, method, None)):
            msg = f"{ref.spec}: {class_name} has no {method} method."
            raise TypeError(msg)
    return cls


def supervision(ref: DetectorRef, cls: type) -> tuple[str, ...]:
    """The supervision settings ``cls`` supports, as in the registry metadata."""
    if ref.kind in peers.PACKAGES:
        return WEAK_ONLY if peers.learns_from_labels(ref.kind, cls) else UNSUPERVISED
    declared = getattr(cls, "supervision", None)
    if isinstance(declared, tuple) and declared:
        return declared
    y = inspect.signature(cls.fit).parameters.get("y")
    return WEAK_ONLY if y is not None and y.default is inspect.Parameter.empty else UNSUPERVISED


def parameter_names(ref: DetectorRef, cls: type) -> set[str] | None:
    """Hyperparameters ``cls`` accepts, or None when it takes any keyword."""
    if ref.kind == "deepad":
        return set(cls().get_params(deep=False))
    return peers.constructor_arguments(cls)


def check_params(ref: DetectorRef, cls: type, params: dict[str, Any]) -> None:
    """Raise ``ValueError`` (with close matches) for a parameter ``cls`` does not take, and,
    for deepad detectors, for a value its constraints reject."""
    valid = parameter_names(ref, cls)
    for key in params:
        if valid is not None and key not in valid:
            close = difflib.get_close_matches(key, sorted(valid), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            msg = (f"{ref.spec} has no parameter {key!r}.{hint} Valid parameters: "
                   f"{', '.join(sorted(valid))}.")
            raise ValueError(msg)
    if ref.kind == "deepad":
        from deepad.core.params import validate_parameters

        validate_parameters(cls(**params))


def job_defaults(ref: DetectorRef, cls: type, seed: int) -> dict[str, Any]:
    """What every job sets where the constructor takes it: the seed and ``device="cpu"``."""
    if ref.kind in peers.PACKAGES:
        return peers.peer_kwargs(cls, seed)
    accepted = parameter_names(ref, cls) or set()
    defaults: dict[str, Any] = {}
    if "random_state" in accepted:
        defaults["random_state"] = seed
    if "device" in accepted:
        defaults["device"] = "cpu"
    return defaults


def build(ref: DetectorRef, params: dict[str, Any], seed: int,
          n_features: int | None = None) -> tuple[Any, bool]:
    """A fresh estimator for one job and whether it is fitted with labels in the weak
    setting.

    A peer whose constructor requires the input width (PyOD 2+'s ``DeepSVDD(n_features)``)
    gets ``n_features`` from the data: a required argument, not a change to the peer.
    """
    cls = load_class(ref)
    defaults = job_defaults(ref, cls, seed)
    if ref.kind in peers.PACKAGES and n_features is not None:
        parameter = inspect.signature(cls.__init__).parameters.get("n_features")
        if parameter is not None and parameter.default is inspect.Parameter.empty:
            defaults["n_features"] = n_features
    estimator = cls(**{**defaults, **params})
    return estimator, "weakly-supervised" in supervision(ref, cls)
