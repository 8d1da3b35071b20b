"""``InputSpec``: the modality and per-sample shape a detector was fitted on.

Backbones are built from it (:mod:`deepad.nets`) and inputs are checked against it
(:mod:`deepad.core.validation`). The modality is read from the array's shape: 2-D rows are
tabular, 3-D ``(n_windows, window, n_features)`` arrays are sequence windows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class InputSpec:
    """What a detector was fitted on; backbones are built from it and inputs checked against it."""

    modality: str
    n_features: int
    window: int | None = None

    @property
    def sample_shape(self) -> tuple[int, ...]:
        if self.modality == "sequence":
            return (self.window, self.n_features)
        return (self.n_features,)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        return cls(modality=str(data["modality"]), n_features=int(data["n_features"]),
                   window=None if data.get("window") is None else int(data["window"]))

    @classmethod
    def of(cls, X: np.ndarray) -> InputSpec:
        if X.ndim == 3:
            return cls("sequence", n_features=X.shape[2], window=X.shape[1])
        return cls("tabular", n_features=X.shape[1])
