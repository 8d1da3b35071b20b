r"""Range-based precision and recall for time series (Tatbul et al., NeurIPS 2018).

A range is a maximal run of consecutive 1s: the real ranges :math:`R_1, \dots, R_{N_r}` come
from ``y_true``, the predicted ranges :math:`P_1, \dots, P_{N_p}` from ``y_pred``.

Recall averages, over the real ranges, a reward for existence and one for overlap:

.. math::

    \mathrm{Recall}_T = \frac{1}{N_r} \sum_{i=1}^{N_r}
        \Big( \alpha\, \mathrm{Existence}(R_i, P)
        + (1 - \alpha)\, \gamma(R_i, P) \sum_{j} \omega(R_i, R_i \cap P_j, \delta) \Big),

with :math:`\mathrm{Existence}(R_i, P) = 1` when some :math:`P_j` overlaps :math:`R_i` (else 0).
Precision averages the overlap reward over the predicted ranges, without an existence term
(:math:`\alpha = 0`, as in the paper):

.. math::

    \mathrm{Precision}_T = \frac{1}{N_p} \sum_{i=1}^{N_p}
        \gamma(P_i, R) \sum_{j} \omega(P_i, P_i \cap R_j, \delta).

**Positional bias.** For a range :math:`A` of length :math:`\ell` and the overlap set
:math:`O \subseteq A`, with :math:`A[k]` its :math:`k`-th timestamp (:math:`k = 1..\ell`),

.. math::

    \omega(A, O, \delta) = \frac{\sum_{k:\, A[k] \in O} \delta(k, \ell)}
                                {\sum_{k=1}^{\ell} \delta(k, \ell)},

    \delta_{\text{flat}} = 1, \quad
    \delta_{\text{front}} = \ell - k + 1, \quad
    \delta_{\text{back}} = k, \quad
    \delta_{\text{middle}} = \begin{cases} k & k \le \ell / 2 \\
                                           \ell - k + 1 & \text{otherwise.} \end{cases}

**Cardinality.** With :math:`x` the number of ranges of the other series overlapping
:math:`A`, :math:`\gamma = 1` when :math:`x \le 1`; otherwise :math:`\gamma = 1` for
``cardinality="one"`` and :math:`\gamma = 1 / x` for ``cardinality="reciprocal"``.

Since the ranges of one series are disjoint, :math:`\sum_j \omega(A, A \cap B_j, \delta)` is
the weighted share of :math:`A` covered by the other series; everything is computed with
per-timestamp range ids and ``np.bincount``, no loop over ranges.

References
----------
.. [1] N. Tatbul, T. J. Lee, S. Zdonik, M. Alam, J. Gottschlich, "Precision and Recall for
   Time Series", NeurIPS 2018, Sec. 4 (range-based recall and precision, the ω and δ
   functions).
"""

from __future__ import annotations

import numbers
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from deepad.metrics._segments import run_ids, runs
from deepad.metrics._validation import check_labels_and_predictions, require_anomaly
from deepad.metrics.prf import PRF

Cardinality = Literal["one", "reciprocal"]
Bias = Literal["flat", "front", "middle", "back"]
_CARDINALITIES = ("one", "reciprocal")
_BIASES = ("flat", "front", "middle", "back")


def _positional_weights(k: np.ndarray, length: np.ndarray, bias: str) -> np.ndarray:
    """δ(k, ℓ) for 1-based positions ``k`` in ranges of length ``length``."""
    if bias == "flat":
        return np.ones(len(k), dtype=np.float64)
    if bias == "front":
        return (length - k + 1).astype(np.float64)
    if bias == "back":
        return k.astype(np.float64)
    return np.where(k <= length / 2, k, length - k + 1).astype(np.float64)


def _range_rewards(ranges_of: np.ndarray, other: np.ndarray, alpha: float,
                   cardinality: str, bias: str) -> np.ndarray:
    """Reward of every range of ``ranges_of`` against the ranges of ``other``.

    ``alpha * Existence + (1 - alpha) * γ * Σ_j ω(A, A ∩ B_j, δ)`` for each range ``A`` of
    ``ranges_of`` (``B_j`` the ranges of ``other``), in range order.
    """
    starts, ends = runs(ranges_of)
    n_ranges = len(starts)
    ids = run_ids(ranges_of)
    inside = np.flatnonzero(ids >= 0)
    range_of = ids[inside]
    position = inside - starts[range_of] + 1
    weights = _positional_weights(position, (ends - starts)[range_of], bias)
    covered = other[inside] == 1
    omega = (np.bincount(range_of, weights=weights * covered, minlength=n_ranges)
             / np.bincount(range_of, weights=weights, minlength=n_ranges))
    # A range of `other` overlapping A starts inside A, or began before A and covers A's first
    # timestamp: count the covered timestamps whose predecessor is uncovered or outside A.
    previous = np.concatenate(([0], other[:-1]))[inside]
    opens = covered & ((previous == 0) | (position == 1))
    n_overlapping = np.bincount(range_of, weights=opens, minlength=n_ranges)
    gamma = np.ones(n_ranges)
    if cardinality == "reciprocal":
        many = n_overlapping > 1
        gamma[many] = 1.0 / n_overlapping[many]
    existence = (n_overlapping >= 1).astype(np.float64)
    return alpha * existence + (1.0 - alpha) * gamma * omega


def _check_options(alpha: float, cardinality: str, bias: str,
                   precision_bias: str | None) -> tuple[float, str]:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        msg = f"alpha must be a number in [0, 1] (the existence reward's weight); got {alpha!r}."
        raise ValueError(msg)
    if cardinality not in _CARDINALITIES:
        msg = f"cardinality must be one of {_CARDINALITIES}; got {cardinality!r}."
        raise ValueError(msg)
    for name, value in (("bias", bias), ("precision_bias", precision_bias)):
        if value is not None and value not in _BIASES:
            msg = f"{name} must be one of {_BIASES}; got {value!r}."
            raise ValueError(msg)
    return float(alpha), bias if precision_bias is None else precision_bias


def range_precision_recall(y_true: ArrayLike, y_pred: ArrayLike, alpha: float = 0.0,
                           cardinality: Cardinality = "one", bias: Bias = "flat",
                           precision_bias: Bias | None = None) -> PRF:
    r"""Range-based precision and recall of 0/1 predictions (Tatbul et al., NeurIPS 2018).

    Ranges are the maximal runs of 1s in ``y_true`` (real) and ``y_pred`` (predicted); the
    definitions of :math:`\mathrm{Recall}_T`, :math:`\mathrm{Precision}_T`, ω, δ and γ are
    in the module docstring (:mod:`deepad.metrics.range_based`). In short, each real range
    earns ``alpha`` for being touched at all plus ``1 - alpha`` times the (positionally
    weighted) share of it that is predicted, scaled by γ when several predicted ranges
    split it; precision is the same overlap reward seen from each predicted range, with no
    existence term. With ``bias="flat"``, ``alpha=0`` and ``cardinality="one"`` on series
    whose ranges are all single timestamps, both reduce to point-wise precision and recall.

    No predicted range gives precision 0 (the paper leaves :math:`N_p = 0` undefined); F1 is
    0 when precision + recall = 0.

    Parameters
    ----------
    y_true : array-like of shape (n_timestamps,)
        1 for an anomalous timestamp, 0 for a normal one; at least one anomaly.
    y_pred : array-like of shape (n_timestamps,)
        Predicted 0/1 labels.
    alpha : float, default=0.0
        Weight in [0, 1] of the existence reward in recall (precision never has one).
    cardinality : {"one", "reciprocal"}, default="one"
        γ when :math:`x > 1` ranges of the other series overlap a range: 1, or :math:`1/x`.
    bias : {"flat", "front", "middle", "back"}, default="flat"
        Positional bias δ: which timestamps of a range weigh more in its overlap reward.
    precision_bias : {"flat", "front", "middle", "back"}, optional
        δ for the predicted ranges in precision; ``None`` (default) uses ``bias`` for both,
        as the paper's single δ does.

    Returns
    -------
    PRF
        ``precision`` (:math:`\mathrm{Precision}_T`), ``recall`` (:math:`\mathrm{Recall}_T`),
        their harmonic mean ``f1``, and ``threshold=None``.

    Raises
    ------
    ValueError
        On lengths that differ, values other than 0/1, no anomaly in ``y_true``, ``alpha``
        outside [0, 1], or an unknown ``cardinality`` / ``bias``.

    See Also
    --------
    range_f1, deepad.metrics.point_adjusted_f1

    References
    ----------
    N. Tatbul, T. J. Lee, S. Zdonik, M. Alam, J. Gottschlich, "Precision and Recall for
    Time Series", NeurIPS 2018, Sec. 4.

    Examples
    --------
    One real range of 4 timestamps, half of it predicted by one range of 3 timestamps of
    which 2 are real:

    >>> from deepad.metrics import range_precision_recall
    >>> prf = range_precision_recall([0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1])
    >>> round(prf.precision, 4), prf.recall
    (0.6667, 0.5)

    With ``bias="front"`` the predicted back half of the real range is worth 3 of its 10
    weight units (δ = 4, 3, 2, 1), and ``alpha=0.5`` adds half a point for touching it:

    >>> range_precision_recall([0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 0], bias="front",
    ...                        alpha=0.5).recall
    0.65
    """
    alpha, bias_p = _check_options(alpha, cardinality, bias, precision_bias)
    y_true, y_pred = check_labels_and_predictions(y_true, y_pred)
    require_anomaly(y_true, "range-based recall")
    recall = float(_range_rewards(y_true, y_pred, alpha, cardinality, bias).mean())
    precision_rewards = _range_rewards(y_pred, y_true, 0.0, cardinality, bias_p)
    precision = float(precision_rewards.mean()) if len(precision_rewards) else 0.0
    return PRF.from_precision_recall(precision, recall)


def range_f1(y_true: ArrayLike, y_pred: ArrayLike, alpha: float = 0.0,
             cardinality: Cardinality = "one", bias: Bias = "flat",
             precision_bias: Bias | None = None) -> float:
    r"""Harmonic mean of range-based precision and recall (Tatbul et al., NeurIPS 2018).

    :math:`F_1 = 2 P_T R_T / (P_T + R_T)`, 0 when both are 0; the arguments and errors are
    those of :func:`range_precision_recall`, which this calls.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_timestamps,)
        True and predicted 0/1 labels; ``y_true`` holds at least one anomaly.
    alpha, cardinality, bias, precision_bias
        As in :func:`range_precision_recall`.

    Returns
    -------
    float
        The range-based F1 in [0, 1].

    See Also
    --------
    range_precision_recall

    Examples
    --------
    >>> from deepad.metrics import range_f1
    >>> round(range_f1([0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1]), 4)
    0.5714
    """
    return range_precision_recall(y_true, y_pred, alpha=alpha, cardinality=cardinality,
                                  bias=bias, precision_bias=precision_bias).f1
