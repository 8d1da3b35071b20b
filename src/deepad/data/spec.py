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
  keys), stored flat;
- a :class:`~deepad.data.graph.Graph`: an attributed graph, one sample per node,
  ``n_features`` attributes per node.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from deepad.data.graph import Graph


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


MODALITY_SIZES: dict[str, tuple[str, ...]] = {
    "tabular": ("n_features",), "sequence": ("n_features", "window"),
    "image": ("n_features", "height", "width"), "categorical": ("n_features",),
    "event": ("n_features",), "video": ("n_features", "window", "height", "width"),
    "graph": ("n_features",),
}
"""The sizes each modality's spec holds."""

SPEC_BOUNDS: dict[str, int] = {"n_features": 2**24, "window": 2**20, "height": 2**12,
                               "width": 2**12}
"""Largest sizes a saved spec may declare (:meth:`InputSpec.from_dict`): far beyond any data
deepad fits in memory, and small enough that a network built for them is bounded."""

MAX_SAMPLE_VALUES = 2**24
"""Largest number of values of one sample (a window of 4096 steps x 4096 channels)."""

MAX_IMAGE_PIXELS = 2**20
"""Largest image a saved spec may declare (1024 x 1024 pixels): tables built per pixel, such
as GEOM's transformation sources (72 x pixels int64), stay below 1 GB."""


@dataclass(frozen=True)
class InputSpec:
    """What a detector was fitted on; backbones are built from it and inputs checked against it.

    ``n_features`` is the number of features of a row or time step (the channels of a pixel
    for images), the number of columns of a categorical row, and 1 for event sessions (one key
    per event). ``window`` is set for sequence windows only, ``height`` and ``width`` for
    images only; video clips ``(n, T, C, H, W)`` set all three (``window`` = frames per clip
    ``T``, ``n_features`` = channels ``C``).
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
        if self.modality == "video":
            return (self.window, self.n_features, self.height, self.width)
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
        """The spec written by :meth:`to_dict`, checked strictly (it is read from a saved
        model, which may have been tampered with): a known modality, and positive integer
        sizes within :data:`SPEC_BOUNDS`, present exactly for the modality that has them.

        Raises
        ------
        ValueError
            Naming the field (``spec['n_features']``) and what it must be.
        """
        if not isinstance(data, dict):
            msg = f"spec must be an object; got {type(data).__name__}."
            raise ValueError(msg)
        modality = data.get("modality")
        if modality not in MODALITY_SIZES:
            msg = f"spec['modality'] must be one of {list(MODALITY_SIZES)}; got {modality!r}."
            raise ValueError(msg)
        sizes: dict[str, int | None] = {}
        for key in ("n_features", "window", "height", "width"):
            value = data.get(key)
            if key not in MODALITY_SIZES[modality]:
                if value is not None:
                    msg = f"spec[{key!r}] must be absent for {modality} input; got {value!r}."
                    raise ValueError(msg)
                sizes[key] = None
                continue
            bound = SPEC_BOUNDS[key]
            if (isinstance(value, bool) or not isinstance(value, int | np.integer)
                    or not 1 <= value <= bound):
                msg = f"spec[{key!r}] must be an integer in [1, {bound}]; got {value!r}."
                raise ValueError(msg)
            sizes[key] = int(value)
        if modality == "event" and sizes["n_features"] != 1:
            msg = f"spec['n_features'] must be 1 for event sessions; got {sizes['n_features']}."
            raise ValueError(msg)
        if (modality in ("image", "video")
                and sizes["height"] * sizes["width"] > MAX_IMAGE_PIXELS):
            msg = (f"spec['height'] x spec['width'] must be at most {MAX_IMAGE_PIXELS} pixels; "
                   f"got {sizes['height']} x {sizes['width']}.")
            raise ValueError(msg)
        spec = cls(modality=modality, **sizes)
        values = math.prod(spec.sample_shape)
        if values > MAX_SAMPLE_VALUES:
            msg = (f"spec describes samples of {values} values ({spec.sample_shape}); at most "
                   f"{MAX_SAMPLE_VALUES} are supported.")
            raise ValueError(msg)
        return spec

    @classmethod
    def of(cls, X: np.ndarray | Sessions | Graph) -> InputSpec:
        if isinstance(X, Graph):
            return cls("graph", n_features=X.n_features)
        if isinstance(X, Sessions):
            return cls("event", n_features=1)
        if X.dtype == object:
            return cls("categorical", n_features=X.shape[1])
        if X.ndim == 3:
            return cls("sequence", n_features=X.shape[2], window=X.shape[1])
        if X.ndim == 4:
            return cls("image", n_features=X.shape[1], height=X.shape[2], width=X.shape[3])
        if X.ndim == 5:  # video clips (n, frames, channels, height, width)
            return cls("video", n_features=X.shape[2], window=X.shape[1], height=X.shape[3],
                       width=X.shape[4])
        return cls("tabular", n_features=X.shape[1])
