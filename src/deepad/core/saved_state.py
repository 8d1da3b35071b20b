"""Strict readers of a saved model's state: every field checked for presence, type and range.

``deepad.load`` hands a detector's ``_set_state`` the ``state`` object of ``config.json`` and
the tensors of ``weights.safetensors``; both come from a file that may have been tampered
with. The readers here return a field only when it has the expected JSON type and a finite,
in-range value, and otherwise raise ``ValueError`` naming the file and the field
(``config.json: state['threshold'] must be a finite number; got nan.``), so a bad file never
surfaces as a bare ``KeyError`` / ``TypeError`` from deep inside a detector.

:class:`SavedTensors` remembers which tensors the detector used, so ``load`` can refuse a file
holding tensors that nothing reads (a tampered or foreign weights file).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"

REQUIRED: Any = object()
"""Default of the readers: the field must be present."""

_KINDS: dict[str, tuple[type, ...]] = {
    "int": (numbers.Integral,), "float": (numbers.Real,), "bool": (bool,), "str": (str,),
    "list": (list,), "dict": (dict,),
}
_NAMES = {"int": "an integer", "float": "a finite number", "bool": "true or false",
          "str": "a string", "list": "a list", "dict": "an object"}


def _bad_field(name: str, rule: str, value: Any) -> ValueError:
    shown = repr(value)
    if len(shown) > 80:
        shown = f"{type(value).__name__} {shown[:60]}..."
    return ValueError(f"{CONFIG_FILE}: state[{name!r}] must be {rule}; got {shown}.")


def read_field(state: dict[str, Any], name: str, kind: str, *, default: Any = REQUIRED,
               low: float | None = None, nullable: bool = False) -> Any:
    """``state[name]`` checked to be of ``kind`` (``"int"``, ``"float"`` (finite), ``"bool"``,
    ``"str"``, ``"list"``, ``"dict"``), at least ``low`` when given, or None when ``nullable``.

    A missing field is ``default`` (models saved before the field existed), or an error when
    it is :data:`REQUIRED`.
    """
    if not isinstance(state, dict):
        msg = f"{CONFIG_FILE}: 'state' must be an object; got {type(state).__name__}."
        raise ValueError(msg)
    if name not in state:
        if default is REQUIRED:
            msg = f"{CONFIG_FILE}: state[{name!r}] is missing."
            raise ValueError(msg)
        return default
    value = state[name]
    if value is None and nullable:
        return None
    rule = _NAMES[kind] + (" or null" if nullable else "")
    if isinstance(value, bool) and kind != "bool" or not isinstance(value, _KINDS[kind]):
        raise _bad_field(name, rule, value)
    if kind == "float":
        if not math.isfinite(value):
            raise _bad_field(name, rule, value)
        value = float(value)
    if kind == "int":
        value = int(value)
    if low is not None and value < low:
        raise _bad_field(name, f"{rule} >= {low}", value)
    return value


def read_history(state: dict[str, Any], name: str) -> list[dict[str, float]]:
    """A training log (list of ``{str: number}``); missing → ``[]``. NaN is allowed: it is a
    record of what training logged, not an input of scoring."""
    records = read_field(state, name, "list", default=[])
    for record in records:
        if not isinstance(record, dict) or not all(
                isinstance(k, str) and isinstance(v, numbers.Real) and not isinstance(v, bool)
                for k, v in record.items()):
            raise _bad_field(name, "a list of {name: number} records", record)
    return [{k: float(v) for k, v in record.items()} for record in records]


def read_strings(state: dict[str, Any], name: str, *, length: int | None = None) -> np.ndarray:
    """A list of strings (column names) as an object array, of ``length`` when given."""
    values = read_field(state, name, "list")
    if not all(isinstance(v, str) for v in values):
        raise _bad_field(name, "a list of strings", values)
    if length is not None and len(values) != length:
        raise _bad_field(name, f"a list of {length} strings", values)
    return np.asarray(values, dtype=object)


class SavedTensors(dict):
    """The tensors of a weights file; remembers which ones the loader read.

    ``tensors[name]`` of a missing tensor raises ``ValueError`` naming it; :meth:`take`
    hands out the tensors under a prefix (a sub-model's) as their own ``SavedTensors``.
    """

    def __init__(self, tensors: dict[str, torch.Tensor], prefix: str = "") -> None:
        super().__init__(tensors)
        self.prefix = prefix
        self.used: set[str] = set()
        self.children: list[SavedTensors] = []

    def __getitem__(self, name: str) -> torch.Tensor:
        if name not in self:
            msg = f"{WEIGHTS_FILE}: tensor {self.prefix + name!r} is missing."
            raise ValueError(msg)
        self.used.add(name)
        return super().__getitem__(name)

    def take(self, prefix: str) -> SavedTensors:
        """The tensors whose names start with ``prefix``, without it (all marked as read)."""
        names = [k for k in self if k.startswith(prefix)]
        self.used.update(names)
        child = SavedTensors({k[len(prefix):]: super(SavedTensors, self).__getitem__(k)
                              for k in names}, self.prefix + prefix)
        self.children.append(child)
        return child

    def unused(self) -> Iterator[str]:
        """Full names of the tensors nobody read (here and in the taken sub-models)."""
        for name in self:
            if name not in self.used:
                yield self.prefix + name
        for child in self.children:
            yield from child.unused()


def read_tensor(tensors: dict[str, torch.Tensor], name: str, *, ndim: int | None = None,
                rows: int | None = None, floating: bool | None = None,
                dtype: torch.dtype | None = None) -> torch.Tensor:
    """``tensors[name]`` checked for its number of dimensions, its first dimension (``rows``)
    and its dtype (``floating``: any floating-point dtype; ``dtype``: exactly this one)."""
    if name not in tensors:
        prefix = getattr(tensors, "prefix", "")
        msg = f"{WEIGHTS_FILE}: tensor {prefix + name!r} is missing."
        raise ValueError(msg)
    tensor = tensors[name]
    where = f"{WEIGHTS_FILE}: tensor {getattr(tensors, 'prefix', '') + name!r}"
    if ndim is not None and tensor.dim() != ndim:
        msg = f"{where} must have {ndim} dimension(s); got shape {tuple(tensor.shape)}."
        raise ValueError(msg)
    if rows is not None and (tensor.dim() == 0 or tensor.shape[0] != rows):
        msg = (f"{where} must have {rows} rows (one per training sample); got shape "
               f"{tuple(tensor.shape)}.")
        raise ValueError(msg)
    if floating is not None and tensor.is_floating_point() != floating:
        kind = "a floating-point" if floating else "an integer"
        msg = f"{where} must be {kind} tensor; got {tensor.dtype}."
        raise ValueError(msg)
    if dtype is not None and tensor.dtype != dtype:
        msg = f"{where} must be {dtype}; got {tensor.dtype}."
        raise ValueError(msg)
    return tensor


def take_tensors(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors under ``prefix`` (prefix removed), marked as read when ``tensors`` is a
    :class:`SavedTensors` (a plain dict is accepted too: a detector's state set directly)."""
    if isinstance(tensors, SavedTensors):
        return tensors.take(prefix)
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
