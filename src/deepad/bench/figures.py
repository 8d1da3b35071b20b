"""The report's PNG figures: critical-difference diagram, AUC box plot, AUC against fit time.

matplotlib's object-oriented API with the Agg canvas only (no pyplot, no global backend, no
display). Figure sizes grow with the number of detectors and labels are sized for twenty
detectors with long names; ``bbox_inches="tight"`` keeps every label inside the image.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

DPI = 110
FONT = 9
LABEL_ROW = 0.26  # inches between two detector labels of the CD diagram
CHAR_WIDTH = 0.075  # rough width of one label character in inches at FONT points
MIN_SECONDS = 1e-3  # fit times below this are drawn at this value on the log axis


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:  # a declared dependency, but keep the message clear
        msg = "The report figures need matplotlib: pip install matplotlib."
        raise ImportError(msg) from error
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    figure.savefig(path, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.15)
    return path


def cd_diagram(path: str | Path, ranks: pd.Series, cd: float | None,
               groups: list[list[str]], *, title: str = "") -> Path:
    """Critical-difference diagram in the style of Demšar (2006, Figure 1).

    The axis shows average ranks with the best (rank 1) on the right; the better half of the
    detectors is labelled on the right, the other half on the left; a thick bar joins each
    group of detectors whose ranks differ by at most the critical difference, drawn above the
    axis as a scale bar.

    Parameters
    ----------
    path : str or Path
        PNG file to write.
    ranks : Series
        Average rank per detector (at least 2).
    cd : float or None
        Nemenyi critical difference; None draws no scale bar and no groups.
    groups : list of list of str
        Groups of detectors not significantly different (see :func:`.stats.cliques`).
    title : str, optional

    Returns
    -------
    Path
    """
    ranks = ranks.sort_values(kind="stable")
    names, values = [str(n) for n in ranks.index], ranks.to_numpy(dtype=np.float64)
    k = len(names)
    if k < 2:
        msg = f"a critical-difference diagram needs at least 2 detectors; got {k}."
        raise ValueError(msg)
    low, high = 1.0, float(k)
    axis_width = max(4.5, 0.35 * k)
    margin = 0.4 + CHAR_WIDTH * max(len(n) + 7 for n in names)
    left, right = margin, margin + axis_width
    top = 0.35 if title else 0.0
    axis_y = top + 0.8
    bar_top = axis_y + 0.22
    labels_y = bar_top + 0.13 * len(groups) + 0.2
    n_right = math.ceil(k / 2)
    height = labels_y + LABEL_ROW * (n_right - 1) + 0.3
    width = right + margin

    def x(rank: float) -> float:
        return left + (high - rank) / (high - low) * axis_width

    figure = _figure(width, height)
    ax = figure.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_axis_off()
    line = {"color": "black", "linewidth": 0.9}
    if title:
        ax.text(width / 2, 0.1, title, ha="center", va="top", fontsize=FONT + 2)

    # the axis, best rank on the right
    ax.plot([left, right], [axis_y, axis_y], **line)
    for tick in np.arange(low, high + 0.25, 0.5):
        major = float(tick).is_integer()
        ax.plot([x(tick)] * 2, [axis_y, axis_y - (0.1 if major else 0.05)], **line)
        if major and (k <= 12 or int(tick) % 2 == 1 or tick == high):
            ax.text(x(tick), axis_y - 0.13, f"{int(tick)}", ha="center", va="bottom",
                    fontsize=FONT)

    # the critical difference as a scale bar at the left end of the axis
    if cd is not None:
        drawn = min(cd, high - low)
        bar_y = axis_y - 0.55
        ax.plot([x(high), x(high - drawn)], [bar_y] * 2, **line)
        for end in (x(high), x(high - drawn)):
            ax.plot([end, end], [bar_y - 0.05, bar_y + 0.05], **line)
        label = f"CD = {cd:.2f}" + ("" if drawn == cd else " (longer than the axis)")
        ax.text((x(high) + x(high - drawn)) / 2, bar_y - 0.07, label, ha="center",
                va="bottom", fontsize=FONT)

    # detector labels: best half on the right (best at the top), the rest on the left
    for i, (name, rank) in enumerate(zip(names[:n_right], values[:n_right], strict=True)):
        y = labels_y + LABEL_ROW * i
        ax.plot([x(rank), x(rank), right + 0.15], [axis_y, y, y], **line)
        ax.text(right + 0.2, y, f"{name} ({rank:.2f})", ha="left", va="center", fontsize=FONT)
    rest = list(zip(names[n_right:], values[n_right:], strict=True))[::-1]
    for i, (name, rank) in enumerate(rest):
        y = labels_y + LABEL_ROW * i
        ax.plot([x(rank), x(rank), left - 0.15], [axis_y, y, y], **line)
        ax.text(left - 0.2, y, f"{name} ({rank:.2f})", ha="right", va="center", fontsize=FONT)
    ax.plot([x(v) for v in values], [axis_y] * k, linestyle="none", marker="o", markersize=3,
            color="black")

    # groups not significantly different: thick bars under the axis
    if cd is not None:
        position = dict(zip(names, values, strict=True))
        for j, group in enumerate(groups):
            y = bar_top + 0.13 * j
            lo, hi = min(position[g] for g in group), max(position[g] for g in group)
            ax.plot([x(lo) + 0.06, x(hi) - 0.06], [y, y], color="black", linewidth=3.5,
                    solid_capstyle="round")
    return _save(figure, path)


def _horizontal() -> dict[str, object]:
    """The keyword of ``Axes.boxplot`` for horizontal boxes (``vert`` before matplotlib 3.10,
    deprecated since)."""
    import matplotlib

    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def boxplot_auc(path: str | Path, means: pd.DataFrame, *, metric: str = "AUC-ROC",
                title: str = "") -> Path:
    """Horizontal box plot of each detector's per-dataset score, best median on top.

    Parameters
    ----------
    path : str or Path
        PNG file to write.
    means : DataFrame
        Rows = datasets, columns = detectors, the mean score over seeds (NaN = no result).
    metric : str, default "AUC-ROC"
        Axis label.
    title : str, optional

    Returns
    -------
    Path
    """
    columns = [c for c in means.columns if means[c].notna().any()]
    if not columns:
        msg = "a box plot needs at least one detector with a result."
        raise ValueError(msg)
    medians = means[columns].median(axis=0).sort_values(ascending=True, kind="stable")
    order = list(medians.index)  # the bottom box first, so the best ends on top
    data = [means[c].dropna().to_numpy(dtype=np.float64) for c in order]
    labels = [f"{c}  (n={len(d)})" for c, d in zip(order, data, strict=True)]
    width = 5.5 + CHAR_WIDTH * max(len(label) for label in labels)
    figure = _figure(width, max(2.8, 0.32 * len(order) + 1.3))
    ax = figure.add_subplot()
    ax.boxplot(data, widths=0.6, showfliers=False, **_horizontal(),
               medianprops={"color": "tab:red", "linewidth": 1.5})
    rng = np.random.default_rng(0)
    for i, values in enumerate(data, start=1):
        ax.plot(values, i + rng.uniform(-0.15, 0.15, len(values)), linestyle="none",
                marker="o", markersize=3, alpha=0.6, color="tab:blue")
    ax.set_yticks(range(1, len(order) + 1), labels, fontsize=FONT)
    ax.axvline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel(f"{metric} per dataset (mean over seeds); dotted line = random ranking")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=FONT + 2)
    figure.set_layout_engine("constrained")
    return _save(figure, path)


def _spread(positions: np.ndarray, gap: float) -> np.ndarray:
    """Move sorted 1-d label positions apart so neighbours are at least ``gap`` apart,
    keeping their mean."""
    order = np.argsort(positions, kind="stable")
    placed = positions[order].astype(np.float64).copy()
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    placed += (positions[order] - placed).mean()
    result = np.empty_like(placed)
    result[order] = placed
    return result


def auc_vs_time(path: str | Path, auc: pd.Series, seconds: pd.Series, *,
                metric: str = "AUC-ROC", title: str = "") -> Path:
    """Scatter of mean score against median fit time (log scale), one labelled point per
    detector.

    Parameters
    ----------
    path : str or Path
        PNG file to write.
    auc : Series
        Mean score per detector.
    seconds : Series
        Median fit seconds per detector (values below 1 ms are drawn at 1 ms).
    metric : str, default "AUC-ROC"
        Axis label.
    title : str, optional

    Returns
    -------
    Path
    """
    frame = pd.DataFrame({"auc": auc, "seconds": seconds}).dropna()
    if frame.empty:
        msg = "no detector has both a mean score and a fit time."
        raise ValueError(msg)
    frame["seconds"] = frame["seconds"].clip(lower=MIN_SECONDS)
    k = len(frame)
    height = max(4.5, 0.24 * k + 1.5)
    figure = _figure(9.0, height)
    ax = figure.add_subplot()
    ax.set_xscale("log")
    ax.scatter(frame["seconds"], frame["auc"], s=30, color="tab:blue", zorder=3)
    lo, hi = frame["seconds"].min(), frame["seconds"].max()
    span = max(frame["auc"].max() - frame["auc"].min(), 0.02)
    ax.set_ylim(frame["auc"].min() - 0.12 * span, frame["auc"].max() + 0.12 * span)
    ax.set_xlabel("median fit time per job (seconds, log scale)")
    ax.set_ylabel(f"mean {metric} over datasets")
    ax.grid(alpha=0.3, which="both")
    if title:
        ax.set_title(title, fontsize=FONT + 2)
    figure.set_layout_engine("constrained")
    figure.canvas.draw()
    # labels right of the points, the x axis long enough to hold them, moved apart
    # vertically (in points) where crowded
    axes_inches = ax.get_window_extent().width / figure.dpi
    start = math.log10(lo / 3)
    span = math.log10(hi * 2) - start
    for name, value in frame["seconds"].items():
        label = min(0.6, (0.3 + CHAR_WIDTH * (FONT - 1) / FONT * len(str(name))) / axes_inches)
        span = max(span, (math.log10(value) - start) / (1 - label))
    ax.set_xlim(10**start, 10 ** (start + span))
    to_pixels = ax.transData.transform(frame[["seconds", "auc"]].to_numpy())
    y_points = to_pixels[:, 1] * 72.0 / figure.dpi
    placed = _spread(y_points, gap=FONT * 1.25)
    for (name, row), y0, y1 in zip(frame.iterrows(), y_points, placed, strict=True):
        moved = abs(y1 - y0) > 1
        ax.annotate(str(name), (row["seconds"], row["auc"]), xytext=(8, y1 - y0),
                    textcoords="offset points", ha="left", va="center", fontsize=FONT - 1,
                    arrowprops={"arrowstyle": "-", "color": "grey", "linewidth": 0.6}
                    if moved else None)
    return _save(figure, path)
