"""Declared hyperparameter constraints, checked at ``fit`` (never in ``__init__``).

A detector class declares ``_parameter_constraints = {"name": [constraint, ...]}``; a value
is valid when it satisfies any one constraint of its list. The error names the parameter,
the rule and the value received, in the style of scikit-learn.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Interval:
    """A number of type ``kind`` (``numbers.Integral`` or ``numbers.Real``) in a range."""

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"  # "both", "left", "right" or "neither"

    def is_satisfied_by(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, self.kind):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and self.closed in ("right", "neither")):
                return False
        if self.high is not None:
            if value > self.high or (value == self.high and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self) -> str:
        kind = "an int" if self.kind is numbers.Integral else "a float"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"{kind} in the range {left}{low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values (usually strings)."""

    values: tuple

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, str | int | float | type(None)) and value in self.values

    def __str__(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)


@dataclass(frozen=True)
class PositiveInts:
    """A non-empty list or tuple of positive ints (layer widths)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and len(value) > 0
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0
                    for v in value)
        )

    def __str__(self) -> str:
        return "a non-empty tuple of positive ints"


@dataclass(frozen=True)
class Indices:
    """A non-empty list or tuple of distinct non-negative ints (column or channel indices)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return (
            isinstance(value, list | tuple)
            and len(value) > 0
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0
                    for v in value)
            and len(set(value)) == len(value)
        )

    def __str__(self) -> str:
        return "a non-empty tuple of distinct non-negative ints"


class _Boolean:
    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, bool)

    def __str__(self) -> str:
        return "a bool"


class _NoneValue:
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None

    def __str__(self) -> str:
        return "None"


BOOLEAN = _Boolean()
NONE = _NoneValue()


def validate_parameters(estimator: Any) -> None:
    """Check every declared hyperparameter of ``estimator``; raise ``ValueError`` on the first
    value that satisfies none of its constraints."""
    for name, constraints in type(estimator)._parameter_constraints.items():
        value = getattr(estimator, name)
        if any(c.is_satisfied_by(value) for c in constraints):
            continue
        rules = " or ".join(str(c) for c in constraints)
        msg = (f"The '{name}' parameter of {type(estimator).__name__} must be {rules}. "
               f"Got {value!r} instead.")
        raise ValueError(msg)
