"""The chunked forward pass: a function over many samples, a bounded number at a time.

Scoring and every whole-training-set pass of a method (Deep SVDD's centre, OC-NN's ``r``,
RDA's reconstructions, SDOR's re-ranking, the statistics of an error model, ...) run through
:func:`in_chunks`, so memory stays bounded and the number of Python iterations small. The
chunk size is :func:`chunk_rows`: ``FORWARD_POSITIONS`` rows, or as many windows / images as
hold about that many time steps / pixels. A method whose intermediate tensors grow with
something else (transformations per sample, distances to a reference set, kernel entries)
passes ``rows=element_rows(elements per sample)``: about ``CHUNK_ELEMENTS`` elements at once.

The chunk size never changes a result: every sample is computed on its own (networks are in
eval mode, :func:`forward_in_chunks`), and the outputs are concatenated in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

FORWARD_POSITIONS = 8192
"""Rows per forward pass; a window of ``w`` steps counts ``w`` rows, an image of ``h × w``
pixels ``h · w`` rows."""
CHUNK_ELEMENTS = 1 << 22
"""Elements of the largest intermediate tensor held at once by :func:`element_rows` chunks."""


def chunk_rows(shape: Sequence[int], positions: int = FORWARD_POSITIONS) -> int:
    """Samples per pass for inputs of ``shape``: ``positions`` rows ``(n, d)``, or as many
    windows ``(n, steps, d)`` / images ``(n, channels, height, width)`` as hold about that
    many steps / pixels; at least 1.

    >>> chunk_rows((10, 5)), chunk_rows((10, 64, 3)), chunk_rows((10, 1, 28, 28))
    (8192, 128, 10)
    """
    per_sample = 1
    if len(shape) == 3:  # (windows, steps, channels)
        per_sample = shape[1]
    elif len(shape) == 4:  # (images, channels, height, width)
        per_sample = shape[2] * shape[3]
    elif len(shape) == 5:  # video clips (clips, frames, channels, height, width)
        per_sample = shape[1] * shape[3] * shape[4]
    return max(1, positions // max(per_sample, 1))


def element_rows(per_sample: int, elements: int = CHUNK_ELEMENTS) -> int:
    """Samples per pass when each sample makes ``per_sample`` elements of the largest
    intermediate tensor: ``elements // per_sample``, at least 1.

    >>> element_rows(1024), element_rows(0), element_rows(1 << 30)
    (4096, 4194304, 1)
    """
    return max(1, elements // max(int(per_sample), 1))


def in_chunks(function: Callable[[Any], Any], X: Any, rows: int | None = None,
              dim: int = 0) -> Any:
    """``function(X)`` computed ``rows`` samples (first axis) at a time, the outputs
    concatenated along ``dim``.

    ``X`` is a tensor or an array (anything sliceable with a length); ``function`` returns
    tensors or numpy arrays. ``rows`` None → :func:`chunk_rows` of ``X``'s shape, or all of
    ``X`` at once when it says ``one_pass`` (a graph, whose every chunk would need a forward
    pass over the whole graph: :class:`deepad.core.graph_input.GraphSource`). Gradients
    flow as ``function``'s do (wrap the call in ``torch.no_grad()`` where none are needed, or
    use :func:`forward_in_chunks`).
    """
    if rows is None and getattr(X, "one_pass", False):
        return function(X)  # a graph: one pass over every node (each chunk would be one)
    rows = chunk_rows(X.shape) if rows is None else max(1, int(rows))
    if len(X) <= rows:
        return function(X)
    parts = [function(X[start:start + rows]) for start in range(0, len(X), rows)]
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts, axis=dim)
    return torch.cat(parts, dim=dim)


@torch.no_grad()
def forward_in_chunks(module: nn.Module, X: Any, function: Callable[[Any], Any] | None = None,
                      rows: int | None = None, dim: int = 0) -> Any:
    """:func:`in_chunks` without gradients, with ``module`` in eval mode (its mode is restored
    after): ``function`` (``module`` itself by default) over ``X``."""
    was_training = module.training
    module.eval()
    try:
        return in_chunks(module if function is None else function, X, rows=rows, dim=dim)
    finally:
        module.train(was_training)
