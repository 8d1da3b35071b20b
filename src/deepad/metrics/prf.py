"""The result of a thresholded metric: precision, recall, F1 and the threshold used."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PRF:
    """Precision, recall and F1 of one set of anomaly predictions.

    Parameters
    ----------
    precision : float
        Share of the predicted anomalies that are true anomalies; 0 when nothing is predicted.
    recall : float
        Share of the true anomalies that are predicted.
    f1 : float
        Harmonic mean :math:`F_1 = 2PR / (P + R)`, and 0 when :math:`P + R = 0`.
    threshold : float or None
        The score threshold (a sample is predicted anomalous when ``score >= threshold``), or
        ``None`` when the metric was given 0/1 predictions rather than scores.

    Examples
    --------
    >>> from deepad.metrics import PRF
    >>> PRF.from_precision_recall(0.5, 1.0).f1
    0.6666666666666666
    """

    precision: float
    recall: float
    f1: float
    threshold: float | None = None

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int, threshold: float | None = None) -> PRF:
        r"""Build from true-positive, false-positive and false-negative counts.

        :math:`P = tp / (tp + fp)` (0 when :math:`tp + fp = 0`), :math:`R = tp / (tp + fn)`
        and :math:`F_1 = 2\,tp / (2\,tp + fp + fn)`, which equals :math:`2PR / (P + R)` and
        is 0 when :math:`tp = 0`.
        """
        predicted, actual = tp + fp, tp + fn
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        denominator = 2 * tp + fp + fn
        f1 = 2 * tp / denominator if denominator else 0.0
        return cls(float(precision), float(recall), float(f1),
                   None if threshold is None else float(threshold))

    @classmethod
    def from_precision_recall(cls, precision: float, recall: float,
                              threshold: float | None = None) -> PRF:
        """Build from precision and recall; F1 is 0 when both are 0."""
        total = precision + recall
        f1 = 2 * precision * recall / total if total > 0 else 0.0
        return cls(float(precision), float(recall), float(f1),
                   None if threshold is None else float(threshold))
