"""``InputSpec``: the modality and per-sample shape a detector was fitted on.

Backbones are built from it (:mod:`deepad.nets`) and inputs are checked against it
(:mod:`deepad.core.validation`). The modality is read from the validated input's type and
shape:

- a float32 array of 2 dimensions ``(n_samples, n_features)``: tabular rows;
- a float32 array of 3 dimensions ``(n_windows, window, n_features)``: sequence windows;
- a float32 array of 4 dimensions ``(n_images, channels, height, width)``: images, channels
  first (as PyTorch's convolutions take them);
- an object array of 2 dimensions ``(n_samples, n_columns)``: categorical rows, one category
  (a string, int or bool) per cell;
- :class:`Sessions`: event sessions, variable-length sequences of integer event keys (log
  keys), stored flat.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True, eq=False)
class Sessions:
    """Validated event sessions: variable-length sequences of non-negative integer keys.

    Attributes
    ----------
    keys : ndarray of int64, shape (n_events,)
        Every session's keys, concatenated in order.
    lengths : ndarray of int64, shape (n_sessions,)
        Number of events of each session (at least 1).
    """

    keys: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def offsets(self) -> np.ndarray:
        """Index in ``keys`` of each session's first event."""
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    @property
    def session_index(self) -> np.ndarray:
        """The session of each event, int64 of shape (n_events,)."""
        return np.repeat(np.arange(len(self.lengths), dtype=np.int64), self.lengths)


@dataclass(frozen=True)
class InputSpec:
    """What a detector was fitted on; backbones are built from it and inputs checked against it.

    ``n_features`` is the number of features of a row or time step (the channels of a pixel
    for images), the number of columns of a categorical row, and 1 for event sessions (one key
    per event). ``window`` is set for sequence windows only, ``height`` and ``width`` for
    images only.
    """

    modality: str
    n_features: int
    window: int | None = None
    height: int | None = None
    width: int | None = None

    @property
    def channels(self) -> int:
        """Channels of an image (``n_features``)."""
        return self.n_features

    @property
    def sample_shape(self) -> tuple[int, ...]:
        if self.modality == "sequence":
            return (self.window, self.n_features)
        if self.modality == "image":
            return (self.n_features, self.height, self.width)
        return (self.n_features,)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict; ``height`` / ``width`` only for images (so the
        specs of rows and windows read as they did before images existed)."""
        data = asdict(self)
        if self.height is None and self.width is None:
            del data["height"], data["width"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        def optional(key: str) -> int | None:
            return None if data.get(key) is None else int(data[key])

        return cls(modality=str(data["modality"]), n_features=int(data["n_features"]),
                   window=optional("window"), height=optional("height"),
                   width=optional("width"))

    @classmethod
    def of(cls, X: np.ndarray | Sessions) -> InputSpec:
        if isinstance(X, Sessions):
            return cls("event", n_features=1)
        if X.dtype == object:
            return cls("categorical", n_features=X.shape[1])
        if X.ndim == 3:
            return cls("sequence", n_features=X.shape[2], window=X.shape[1])
        if X.ndim == 4:
            return cls("image", n_features=X.shape[1], height=X.shape[2], width=X.shape[3])
        return cls("tabular", n_features=X.shape[1])
