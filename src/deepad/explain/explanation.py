"""The result of :func:`deepad.explain.explain` and its actionable summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NORMAL_QUANTILES = (0.05, 0.95)
"""The normal range of a feature: these quantiles of the reference (normal) data."""


@dataclass
class Explanation:
    """Attributions of anomaly scores, shaped like the explained input, with what is needed
    to act on them.

    Attributes
    ----------
    attributions : ndarray of float64
        One value per input value: ``(n, d)`` rows (``d`` the user's columns for a
        :class:`~deepad.TableDetector`, one-hot indicators summed into their column),
        ``(n, T, d)`` windows, ``(n, C, H, W)`` images. Positive = pushes the score up.
    scores : ndarray of float64, shape (n,)
        The anomaly scores of the explained samples (higher = more anomalous).
    method : str
        The attribution method used (resolved from ``"auto"``).
    reason : str
        Why that method (what ``"auto"`` saw), in words.
    modality : {"tabular", "sequence", "image"}
    values : ndarray or DataFrame
        The explained samples as the user gave them (raw columns for a TableDetector).
    feature_names : list of str
        Column names (rows), channel names (windows), channel indices (images).
    baseline : ndarray
        The baseline sample (model input space) of the gradient and occlusion methods.
    baseline_score : float or None
        The detector's score of the baseline.
    normal_low, normal_high : ndarray or None
        Per feature (rows) or per channel (windows) the 5 % and 95 % quantiles of the
        reference data, in the user's units; None for images and categorical columns (NaN).
    representation_terms : ndarray or None
        Deep SVDD / Deep SAD: ``(φ(x)_k − c_k)²`` per representation dimension ``(n,
        rep_dim)``, the exact split of the squared distance to the centre.
    window_starts : ndarray or None
        For windows cut from a series: the timestamp each window starts at.
    """

    attributions: np.ndarray
    scores: np.ndarray
    method: str
    reason: str
    modality: str
    values: Any
    feature_names: list[str]
    baseline: np.ndarray | None = None
    baseline_score: float | None = None
    normal_low: np.ndarray | None = None
    normal_high: np.ndarray | None = None
    representation_terms: np.ndarray | None = None
    window_starts: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ rows
    def _value_array(self) -> np.ndarray:
        if isinstance(self.values, pd.DataFrame):
            return self.values.to_numpy(dtype=object)
        return np.asarray(self.values)

    def top_features(self, i: int, k: int = 5) -> pd.DataFrame:
        """The ``k`` features of row ``i`` that raise its score most (largest attribution),
        with the row's value, the normal range and the direction.

        Columns: ``feature``, ``attribution``, ``share`` (of the summed positive
        attributions), ``value``, ``normal_low``, ``normal_high``, ``direction``
        ("higher than normal", "lower than normal", "within the normal range", or "unusual
        category" / "" where no range applies).
        """
        self._require("tabular", "top_features")
        attributions = self.attributions[i]
        order = np.argsort(-attributions, kind="stable")[:k]
        positive = attributions[attributions > 0].sum()
        values = self._value_array()[i]
        rows = []
        for j in order:
            low, high = self._range(j)
            value = values[j]
            rows.append({
                "feature": self.feature_names[j], "attribution": float(attributions[j]),
                "share": float(attributions[j] / positive) if positive > 0 else 0.0,
                "value": value, "normal_low": low, "normal_high": high,
                "direction": _direction(value, low, high)})
        return pd.DataFrame(rows)

    def _range(self, j: int) -> tuple[float, float]:
        if self.normal_low is None or self.normal_high is None:
            return float("nan"), float("nan")
        return float(self.normal_low[j]), float(self.normal_high[j])

    def lines(self, i: int, k: int = 5) -> list[str]:
        """Plain sentences about sample ``i``: its score and, for a row, the top ``k``
        features (``V14 = -9.3, normal range [-2.1, 1.8], lower than normal``); for a window,
        the span of time steps that contributes most and the channels there; for an image, the
        region of the map that contributes most."""
        head = f"score {self.scores[i]:.4g}"
        if self.modality == "tabular":
            out = [head + " — the features that raise it most:"]
            top = self.top_features(i, k)
            top = top[(top["attribution"] > 0) | (np.arange(len(top)) == 0)]
            for _, row in top.iterrows():
                value = _fmt(row["value"])
                rng = (f"normal range [{_fmt(row['normal_low'])}, {_fmt(row['normal_high'])}]"
                       if np.isfinite(row["normal_low"]) else "categorical")
                out.append(f"  {row['feature']} = {value}, {rng}, {row['direction']} "
                           f"({100 * row['share']:.0f} % of the attribution)")
            return out
        if self.modality == "sequence":
            start, stop, share = self.span(i)
            channels = self.top_channels(i, start, stop, k)
            offset = 0 if self.window_starts is None else int(self.window_starts[i])
            where = (f"timestamps {offset + start}-{offset + stop - 1}" if self.window_starts
                     is not None else f"time steps {start}-{stop - 1} of the window")
            out = [head + f" — {where} carry {100 * share:.0f} % of the attribution; "
                   "channels there:"]
            values = np.asarray(self.values)[i]
            for c, part in channels:
                segment = values[start:stop, c]
                low, high = self._range(c)
                rng = f", normal range [{_fmt(low)}, {_fmt(high)}]" if np.isfinite(low) else ""
                out.append(f"  {self.feature_names[c]}: values {_fmt(segment.min())} to "
                           f"{_fmt(segment.max())}{rng}, "
                           f"{_direction_span(segment, low, high)} "
                           f"({100 * part:.0f} % of the span's attribution)")
            return out
        heat = self.maps()[i]
        r, c = np.unravel_index(np.argmax(heat), heat.shape)
        positive = np.clip(heat, 0, None)
        total = positive.sum()
        top = np.sort(positive.ravel())[::-1][:max(1, positive.size // 20)].sum()
        return [head + f" — strongest pixel at row {r}, column {c}; the top 5 % of pixels "
                f"carry {100 * top / total if total > 0 else 0:.0f} % of the attribution "
                "(see the map)."]

    # ------------------------------------------------------------------ windows
    def span(self, i: int) -> tuple[int, int, float]:
        """The contiguous time steps ``[start, stop)`` of window ``i`` that contribute most:
        the maximum-sum run of the per-step attributions (summed over channels) minus their
        median (Kadane's algorithm), and the share of the positive attribution inside it."""
        self._require("sequence", "span")
        per_step = self.attributions[i].sum(axis=1)
        centred = per_step - np.median(per_step)
        best, best_span, run, run_start = -np.inf, (0, 1), 0.0, 0
        for t, value in enumerate(centred):
            if run <= 0:
                run, run_start = value, t
            else:
                run += value
            if run > best:
                best, best_span = run, (run_start, t + 1)
        start, stop = best_span
        positive = np.clip(per_step, 0, None)
        total = positive.sum()
        share = float(positive[start:stop].sum() / total) if total > 0 else 0.0
        return start, stop, share

    def top_channels(self, i: int, start: int, stop: int, k: int) -> list[tuple[int, float]]:
        """The channels of window ``i`` with the largest attribution over steps
        ``[start, stop)``, with their share of the span's positive attribution."""
        per_channel = self.attributions[i, start:stop].sum(axis=0)
        positive = np.clip(per_channel, 0, None).sum()
        order = np.argsort(-per_channel, kind="stable")[:k]
        return [(int(c), float(per_channel[c] / positive) if positive > 0 else 0.0)
                for c in order if per_channel[c] > 0 or c == order[0]]

    # ------------------------------------------------------------------ images
    def maps(self) -> np.ndarray:
        """Per-pixel maps ``(n, H, W)``: the attributions summed over channels (for
        ``method="exact"`` on an autoencoder, the detector's ``anomaly_map`` divided by the
        number of values per image)."""
        self._require("image", "maps")
        return self.attributions.sum(axis=1)

    # ------------------------------------------------------------------ export
    def to_frame(self) -> pd.DataFrame:
        """Long table of the attributions: ``sample``, the position (``feature`` /
        ``step, channel`` / ``channel, row, column``), ``attribution``, and the score."""
        n = len(self.attributions)
        if self.modality == "tabular":
            frame = pd.DataFrame(self.attributions, columns=self.feature_names)
            frame.insert(0, "score", self.scores)
            frame.insert(0, "sample", np.arange(n))
            return frame
        index = np.indices(self.attributions.shape).reshape(self.attributions.ndim, -1)
        names = (["sample", "step", "channel"] if self.modality == "sequence"
                 else ["sample", "channel", "row", "column"])
        frame = pd.DataFrame(dict(zip(names, index, strict=True)))
        if self.modality == "sequence":
            frame["channel"] = np.asarray(self.feature_names, dtype=object)[frame["channel"]]
        frame["attribution"] = self.attributions.ravel()
        frame["score"] = self.scores[index[0]]
        return frame

    def _require(self, modality: str, what: str) -> None:
        if self.modality != modality:
            msg = (f"{what} applies to {modality} explanations; this one explains "
                   f"{self.modality} data.")
            raise ValueError(msg)


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating | int | np.integer) and not isinstance(value, bool):
        value = float(value)
        if not np.isfinite(value):
            return "nan"
        return f"{value:.4g}"
    return str(value)


def _direction(value: Any, low: float, high: float) -> str:
    if not np.isfinite(low):
        return "category"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return ""
    if number > high:
        return "higher than normal"
    if number < low:
        return "lower than normal"
    return "within the normal range (unusual with the other features)"


def _direction_span(segment: np.ndarray, low: float, high: float) -> str:
    if not np.isfinite(low):
        return ""
    if segment.max() > high and segment.min() < low:
        return "both above and below normal"
    if segment.max() > high:
        return "higher than normal"
    if segment.min() < low:
        return "lower than normal"
    return "within the normal range (an unusual shape)"
