"""Ranking metrics: how well the scores put anomalies above normal samples, at no threshold.

All take ``y_true`` (1 = anomaly, 0 = normal) and ``scores`` (higher = more anomalous) and
need both classes in ``y_true``.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, roc_auc_score

from deepad.metrics._validation import check_labels_and_scores, require_both_classes


def auc_roc(y_true: ArrayLike, scores: ArrayLike) -> float:
    r"""Area under the ROC curve.

    The probability that a random anomaly scores above a random normal sample, ties counting
    one half (the Mann-Whitney statistic):

    .. math::

        \mathrm{AUC} = \frac{1}{|A|\,|N|} \sum_{a \in A} \sum_{b \in N}
        \left( [s_a > s_b] + \tfrac{1}{2} [s_a = s_b] \right),

    with :math:`A` the anomalies and :math:`N` the normal samples. Computed by
    :func:`sklearn.metrics.roc_auc_score`; constant scores give 0.5.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal sample; both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite anomaly scores, higher = more anomalous.

    Returns
    -------
    float
        AUC-ROC in [0, 1]; 0.5 is a random ranking.

    Raises
    ------
    ValueError
        On lengths that differ, labels other than 0/1, non-finite scores or a single class.

    See Also
    --------
    auc_pr : area under the precision-recall curve, more telling when anomalies are rare.

    Examples
    --------
    >>> from deepad.metrics import auc_roc
    >>> auc_roc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    y_true, scores = check_labels_and_scores(y_true, scores)
    require_both_classes(y_true, "AUC-ROC")
    return float(roc_auc_score(y_true, scores))


def auc_pr(y_true: ArrayLike, scores: ArrayLike) -> float:
    r"""Area under the precision-recall curve, as average precision.

    Scikit-learn's definition (no interpolation): with one threshold per distinct score,
    taken from high to low,

    .. math::

        \mathrm{AP} = \sum_k (R_k - R_{k-1})\, P_k,

    where :math:`P_k` and :math:`R_k` are the precision and recall when every sample scoring
    at least the :math:`k`-th threshold is predicted anomalous (:math:`R_0 = 0`). Computed by
    :func:`sklearn.metrics.average_precision_score`. Constant scores give the anomaly ratio
    :math:`|A| / n`, which is also the expected value for a random ranking.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal sample; both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite anomaly scores, higher = more anomalous.

    Returns
    -------
    float
        Average precision in [0, 1].

    Raises
    ------
    ValueError
        On lengths that differ, labels other than 0/1, non-finite scores or a single class.

    See Also
    --------
    auc_roc, precision_at_n

    Examples
    --------
    >>> from deepad.metrics import auc_pr
    >>> round(auc_pr([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    y_true, scores = check_labels_and_scores(y_true, scores)
    require_both_classes(y_true, "AUC-PR")
    return float(average_precision_score(y_true, scores))


def precision_at_n(y_true: ArrayLike, scores: ArrayLike, n: int | None = None) -> float:
    r"""Precision among the ``n`` highest scores, with ties at the cut-off shared fairly.

    Let :math:`s_{(n)}` be the ``n``-th highest score. The :math:`a` samples scoring above it
    are all taken, with :math:`k_a` anomalies among them. The :math:`g` samples tied at
    :math:`s_{(n)}` fill the remaining :math:`n - a` slots; no order among them is better
    than another, so they count with the expected number of anomalies over a uniformly random
    tie-break, :math:`(n - a)\, k_g / g`, with :math:`k_g` the anomalies in the tied group:

    .. math::

        P@n = \frac{1}{n} \left( k_a + (n - a) \frac{k_g}{g} \right).

    Without ties at the cut-off this is the plain precision of the top ``n``. A sort that
    breaks ties by position (as ``argsort``) would instead make the value depend on the order
    of the rows. Constant scores give the anomaly ratio.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for an anomaly, 0 for a normal sample; both classes must be present.
    scores : array-like of shape (n_samples,)
        Finite anomaly scores, higher = more anomalous.
    n : int, optional
        How many top-scored samples to take, from 1 to ``n_samples``. Defaults to the number
        of anomalies in ``y_true`` (then precision@n equals recall@n, the R-precision).

    Returns
    -------
    float
        The expected precision of the top ``n``, in [0, 1].

    Raises
    ------
    ValueError
        On lengths that differ, labels other than 0/1, non-finite scores, a single class, or
        ``n`` not an integer in ``[1, n_samples]``.

    See Also
    --------
    auc_pr

    Examples
    --------
    Two samples tie at the cut-off for one remaining slot, one of them an anomaly, so that
    slot holds half an anomaly on average:

    >>> from deepad.metrics import precision_at_n
    >>> precision_at_n([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1])
    0.75
    """
    y_true, scores = check_labels_and_scores(y_true, scores)
    require_both_classes(y_true, "precision@n")
    if n is None:
        n = int(y_true.sum())
    elif isinstance(n, bool) or not isinstance(n, numbers.Integral):
        msg = f"n must be an integer in [1, {len(scores)}] (the number of samples); got {n!r}."
        raise ValueError(msg)
    n = int(n)
    if not 1 <= n <= len(scores):
        msg = f"n must be in [1, {len(scores)}] (the number of samples); got {n}."
        raise ValueError(msg)
    cutoff = np.partition(scores, len(scores) - n)[len(scores) - n]
    above, tied = scores > cutoff, scores == cutoff
    n_above, n_tied = int(above.sum()), int(tied.sum())
    anomalies_above, anomalies_tied = int(y_true[above].sum()), int(y_true[tied].sum())
    expected = anomalies_above + (n - n_above) * anomalies_tied / n_tied
    return float(expected / n)
