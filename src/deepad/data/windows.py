"""Cut a time series into windows, label the windows, and map window scores back to points.

numpy only. The four functions share one definition of where windows start
(:func:`window_starts`), so windows, window labels and the window → timestamp mapping always
agree: window ``i`` covers timestamps ``starts[i] .. starts[i] + window - 1``.

When ``stride`` does not divide ``n_timestamps - window``, a regular grid of starts would
leave the last few timestamps uncovered. A final window that ends exactly at the last
timestamp is then added; with ``stride <= window`` every timestamp then lies in at least one
window and gets a score. That final window overlaps its predecessor by more than
``window - stride`` points. A ``stride`` larger than ``window`` skips points between windows:
allowed for cutting and labelling windows, refused when mapping scores back to timestamps.
"""

from __future__ import annotations

import operator

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["sliding_windows", "window_labels", "window_scores_to_points", "window_starts"]

LABEL_RULES = ("any", "last")
REDUCTIONS = ("mean", "max", "last")


def _as_int(name: str, value: object) -> int:
    """``value`` as a Python int; a TypeError naming the parameter for anything else."""
    if isinstance(value, bool | np.bool_):
        msg = f"{name} must be an integer; got the boolean {value!r}."
        raise TypeError(msg)
    try:
        return operator.index(value)
    except TypeError as error:
        msg = f"{name} must be an integer; got {value!r} ({type(value).__name__})."
        raise TypeError(msg) from error


def window_starts(n_timestamps: int, window: int, stride: int = 1) -> np.ndarray:
    """Start index of every window over a series of ``n_timestamps`` points.

    Starts are ``0, stride, 2 * stride, ...`` up to ``n_timestamps - window``. When
    ``(n_timestamps - window) % stride != 0`` the regular grid stops short of the end, and one
    more window starting at ``n_timestamps - window`` is added, so that the last window ends
    exactly at the last timestamp. With ``stride <= window`` every timestamp is then covered
    by at least one window; a larger stride leaves ``stride - window`` points between
    consecutive regular windows uncovered.

    Parameters
    ----------
    n_timestamps : int
        Length of the series.
    window : int
        Points per window, ``1 <= window <= n_timestamps``.
    stride : int, default=1
        Step between consecutive regular starts, ``>= 1``.

    Returns
    -------
    starts : ndarray of int64, shape (n_windows,)
        Increasing start indices; ``n_windows = ceil((n_timestamps - window) / stride) + 1``.

    Raises
    ------
    TypeError
        A non-integer argument.
    ValueError
        ``window < 1``, ``stride < 1``, or ``window > n_timestamps``.

    Examples
    --------
    >>> window_starts(10, window=4, stride=3)
    array([0, 3, 6])
    >>> window_starts(11, window=4, stride=3)  # 7 added so that point 10 is covered
    array([0, 3, 6, 7])
    """
    n_timestamps = _as_int("n_timestamps", n_timestamps)
    window = _as_int("window", window)
    stride = _as_int("stride", stride)
    if window < 1:
        msg = f"window must be >= 1; got window={window}."
        raise ValueError(msg)
    if stride < 1:
        msg = f"stride must be >= 1; got stride={stride}."
        raise ValueError(msg)
    if window > n_timestamps:
        msg = (f"window={window} is longer than the series ({n_timestamps} timestamps); "
               "use a window of at most the series length.")
        raise ValueError(msg)
    last = n_timestamps - window
    starts = np.arange(0, last + 1, stride, dtype=np.int64)
    if starts[-1] != last:
        starts = np.append(starts, np.int64(last))
    return starts


def sliding_windows(series: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """Windows of a series, one per start of :func:`window_starts`.

    Parameters
    ----------
    series : array-like, shape (T,) or (T, C)
        The series; a 1-D series is treated as one channel.
    window : int
        Points per window.
    stride : int, default=1
        Step between window starts (see :func:`window_starts` for the added final window).

    Returns
    -------
    windows : ndarray, shape (n_windows, window, C)
        ``windows[i] == series[starts[i] : starts[i] + window]``, same dtype as ``series``.
        The result is always **read-only**. When ``(T - window) % stride == 0`` (always for
        ``stride=1``) it is a strided view of ``series`` made with
        :func:`numpy.lib.stride_tricks.sliding_window_view`, so no data is copied; otherwise
        the added final window forces a copy, which is made read-only as well so both cases
        behave alike. Call ``.copy()`` before writing into it.

    Raises
    ------
    ValueError
        ``series`` is not 1-D or 2-D, or the window / stride is invalid.

    Examples
    --------
    >>> w = sliding_windows(np.arange(7.0), window=3, stride=2)
    >>> w.shape
    (3, 3, 1)
    >>> w[:, :, 0]
    array([[0., 1., 2.],
           [2., 3., 4.],
           [4., 5., 6.]])
    >>> sliding_windows(np.arange(7.0), window=3, stride=3)[:, :, 0]
    array([[0., 1., 2.],
           [3., 4., 5.],
           [4., 5., 6.]])
    """
    series = np.asarray(series)
    if series.ndim == 1:
        series = series[:, None]
    if series.ndim != 2:
        msg = (f"series must be 1-D (T,) or 2-D (T, C); got an array of shape "
               f"{series.shape}.")
        raise ValueError(msg)
    starts = window_starts(len(series), window, stride)
    # (T - window + 1, C, window) -> (T - window + 1, window, C)
    view = sliding_window_view(series, window, axis=0).transpose(0, 2, 1)
    regular = view[::stride]
    if len(regular) == len(starts):
        return regular
    windows = view[starts]
    windows.flags.writeable = False
    return windows


def _check_point_labels(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        msg = f"y must be 1-D with one 0/1 label per timestamp; got shape {y.shape}."
        raise ValueError(msg)
    if y.dtype.kind == "b":
        return y.astype(np.int64)
    if y.dtype.kind not in "iuf" or not np.isin(y, (0, 1)).all():
        found = np.unique(y[~np.isin(y, (0, 1))]).tolist() if y.dtype.kind in "iuf" else []
        shown = f"; found {found[:10]}" if found else f" (dtype {y.dtype})"
        msg = f"y must hold 0 (normal) or 1 (anomaly) per timestamp{shown}."
        raise ValueError(msg)
    return y.astype(np.int64)


def window_labels(y: np.ndarray, window: int, stride: int = 1, rule: str = "any") -> np.ndarray:
    """One 0/1 label per window from point labels.

    Parameters
    ----------
    y : array-like of 0/1, shape (T,)
        Point labels, 1 = anomaly.
    window, stride : int
        As in :func:`window_starts`.
    rule : {"any", "last"}, default="any"
        ``"any"``: a window is anomalous if any of its points is. ``"last"``: the window takes
        the label of its last point (the point a forecasting or streaming detector scores).

    Returns
    -------
    labels : ndarray of int64, shape (n_windows,)

    Raises
    ------
    ValueError
        Labels other than 0/1, ``y`` not 1-D, an unknown rule, or an invalid window / stride.

    Examples
    --------
    >>> y = np.array([0, 0, 1, 0, 0, 0])
    >>> window_labels(y, window=3, stride=1)
    array([1, 1, 1, 0])
    >>> window_labels(y, window=3, stride=1, rule="last")
    array([1, 0, 0, 0])
    """
    if rule not in LABEL_RULES:
        msg = f"rule must be one of {LABEL_RULES}; got {rule!r}."
        raise ValueError(msg)
    y = _check_point_labels(y)
    starts = window_starts(len(y), window, stride)
    if rule == "last":
        return y[starts + (window - 1)]
    cumulative = np.concatenate(([0], np.cumsum(y)))
    return (cumulative[starts + window] - cumulative[starts] > 0).astype(np.int64)


def window_scores_to_points(scores: np.ndarray, n_timestamps: int, window: int,
                            stride: int = 1, reduce: str = "mean") -> np.ndarray:
    """One anomaly score per timestamp from one score per window.

    Window ``i`` covers ``starts[i] .. starts[i] + window - 1`` with ``starts`` from
    :func:`window_starts`, which covers every timestamp at least once when
    ``stride <= window``.

    Parameters
    ----------
    scores : array-like, shape (n_windows,)
        Window scores, in the order of :func:`window_starts` (as :func:`sliding_windows`
        returns the windows); higher = more anomalous.
    n_timestamps : int
        Length of the series the windows were cut from.
    window, stride : int
        As used to cut the windows; ``stride <= window`` so that every timestamp is covered.
    reduce : {"mean", "max", "last"}, default="mean"
        ``"mean"`` / ``"max"``: the mean / maximum over all windows that cover the point.
        ``"last"``: the score of the most recent window that has ended at or before the point
        (with ``stride=1``, the window ending exactly at that point), i.e. what a streaming
        detector knows at that time. Points before the end of the first window
        (``t < window - 1``) get the first window's score.

    Returns
    -------
    point_scores : ndarray of float64, shape (n_timestamps,)

    Raises
    ------
    ValueError
        ``scores`` not 1-D, not finite, or not one per window; an unknown ``reduce``; an
        invalid window / stride, or ``stride > window`` (points between windows would have
        no score).

    Notes
    -----
    The computation loops over the ``window`` offsets inside a window (``window`` vectorised
    steps over all windows at once), never over windows or timestamps: O(window × n_windows)
    work, about 0.4 s for 200,000 points with ``window=1000, stride=1`` per reduction. Each
    point's mean is summed over its own covering windows only (no running cumulative sum
    over the whole series), so rounding error does not grow with the series length.

    Examples
    --------
    >>> window_scores_to_points([1.0, 3.0], n_timestamps=4, window=3, stride=1)
    array([1., 2., 2., 3.])
    >>> window_scores_to_points([1.0, 3.0], n_timestamps=4, window=3, reduce="max")
    array([1., 3., 3., 3.])
    >>> window_scores_to_points([1.0, 3.0], n_timestamps=4, window=3, reduce="last")
    array([1., 1., 1., 3.])
    """
    if reduce not in REDUCTIONS:
        msg = f"reduce must be one of {REDUCTIONS}; got {reduce!r}."
        raise ValueError(msg)
    starts = window_starts(n_timestamps, window, stride)
    if stride > window:
        msg = (f"stride={stride} is larger than window={window}: the {stride - window} "
               "point(s) between consecutive windows are in no window and get no score; use "
               "stride <= window.")
        raise ValueError(msg)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or len(scores) != len(starts):
        msg = (f"scores has shape {scores.shape}; expected ({len(starts)},): one score per "
               f"window of a {n_timestamps}-point series with window={window}, "
               f"stride={stride}.")
        raise ValueError(msg)
    if not np.isfinite(scores).all():
        msg = f"scores contain {int((~np.isfinite(scores)).sum())} NaN or infinite value(s)."
        raise ValueError(msg)
    if reduce == "last":
        ends = starts + (window - 1)
        latest = np.searchsorted(ends, np.arange(n_timestamps), side="right") - 1
        return scores[np.maximum(latest, 0)]
    if reduce == "max":
        out = np.full(n_timestamps, -np.inf)
        for offset in range(window):
            # starts are distinct, so each index appears once per offset
            points = starts + offset
            out[points] = np.maximum(out[points], scores)
        return out
    total = np.zeros(n_timestamps)
    count = np.zeros(n_timestamps)
    for offset in range(window):
        total[starts + offset] += scores
        count[starts + offset] += 1.0
    return total / count
