"""The score histogram written by ``deepad run --plot``.

matplotlib is imported here, when a plot is asked for, and only its object-oriented API with
the Agg canvas is used: no pyplot, no global backend switch, no display needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def plot_scores(path: str | Path, scores: np.ndarray, threshold: float,
                labels: np.ndarray | None = None, *, title: str = "") -> Path:
    """Write a PNG histogram of ``scores`` with a vertical line at ``threshold``.

    When ``labels`` (1 = anomaly) are given, the known anomalies get their own histogram
    colour and a rug mark each along the bottom axis.
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
    if labels is None:
        ax.hist(scores, bins=bins, color="tab:blue", alpha=0.8, label=f"all rows ({len(scores)})")
    else:
        labels = np.asarray(labels)
        normal, anomalous = scores[labels == 0], scores[labels == 1]
        ax.hist(normal, bins=bins, color="tab:blue", alpha=0.7,
                label=f"label 0 ({len(normal)})")
        ax.hist(anomalous, bins=bins, color="tab:red", alpha=0.8,
                label=f"label 1: known anomalies ({len(anomalous)})")
        ax.plot(anomalous, np.zeros_like(anomalous), linestyle="none", marker="|",
                markersize=14, color="tab:red", transform=ax.get_xaxis_transform())
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
