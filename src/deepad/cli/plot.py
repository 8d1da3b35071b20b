"""The score histogram written by ``deepad run --plot``.

matplotlib is imported here, when a plot is asked for, and only its object-oriented API with
the Agg canvas is used: no pyplot, no global backend switch, no display needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def score_groups(scores: np.ndarray, labels: np.ndarray | None = None,
                 revealed: np.ndarray | None = None) -> list[tuple[str, np.ndarray, str]]:
    """The histogram's groups of rows: ``(legend label, scores, colour)`` each.

    Without labels, one group. With labels, the normal rows and the labelled anomalies; with
    ``revealed`` (the mask of anomalies shown to a weakly-supervised detector as y=1) the
    anomalies are split into those the detector was not shown and those it was, so the
    legend never counts as "known" the anomalies it did not see.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if labels is None:
        return [(f"all rows ({len(scores)})", scores, "tab:blue")]
    labels = np.asarray(labels)
    normal, anomalous = labels == 0, labels == 1
    groups = [(f"label 0 ({int(normal.sum())})", scores[normal], "tab:blue")]
    if revealed is None:
        groups.append((f"label 1: anomalies ({int(anomalous.sum())})", scores[anomalous],
                       "tab:red"))
        return groups
    revealed = np.asarray(revealed, dtype=bool)
    hidden = anomalous & ~revealed
    shown = anomalous & revealed
    groups.append((f"label 1, not shown to the detector ({int(hidden.sum())})", scores[hidden],
                   "tab:red"))
    groups.append((f"label 1, revealed to the detector as y=1 ({int(shown.sum())})",
                   scores[shown], "tab:orange"))
    return groups


def plot_scores(path: str | Path, scores: np.ndarray, threshold: float,
                labels: np.ndarray | None = None, *, revealed: np.ndarray | None = None,
                title: str = "") -> Path:
    """Write a PNG histogram of ``scores`` with a vertical line at ``threshold``.

    When ``labels`` (1 = anomaly) are given, the anomalies get their own histogram colour and
    a rug mark each along the bottom axis; ``revealed`` (weak supervision) separates the
    anomalies the detector was shown from the others (:func:`score_groups`).
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:  # a declared dependency, but keep the message clear
        msg = "Plotting needs matplotlib: pip install matplotlib."
        raise ImportError(msg) from error

    path = Path(path)
    scores = np.asarray(scores, dtype=np.float64)
    figure = Figure(figsize=(7, 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    bins = np.histogram_bin_edges(scores, bins=min(50, max(10, len(scores) // 10)))
    for index, (label, values, colour) in enumerate(score_groups(scores, labels, revealed)):
        ax.hist(values, bins=bins, color=colour, alpha=0.7 if index == 0 else 0.8, label=label)
        if index > 0:  # anomalies: a rug mark each
            ax.plot(values, np.zeros_like(values), linestyle="none", marker="|",
                    markersize=14, color=colour, transform=ax.get_xaxis_transform())
    ax.axvline(threshold, color="black", linestyle="--", linewidth=1.2,
               label=f"threshold_ = {threshold:.4g}")
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.5)  # a bin holding one row stays visible on the log scale
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("rows (log scale)")
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small")
    figure.savefig(path, format="png")
    return path
