"""Runs of consecutive 1s in a 0/1 series (anomaly segments, or ranges), found with np.diff."""

from __future__ import annotations

import numpy as np


def runs(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) index of every maximal run of 1s in ``binary``.

    >>> runs(np.array([0, 1, 1, 0, 1]))
    (array([1, 4]), array([3, 5]))
    """
    edges = np.diff(np.concatenate(([0], binary, [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def run_ids(binary: np.ndarray) -> np.ndarray:
    """For each timestamp, the index of the run of 1s it lies in, or -1 where ``binary`` is 0.

    >>> run_ids(np.array([0, 1, 1, 0, 1]))
    array([-1,  0,  0, -1,  1])
    """
    starts = np.diff(np.concatenate(([0], binary))) == 1
    ids = np.cumsum(starts) - 1
    ids[binary == 0] = -1
    return ids
