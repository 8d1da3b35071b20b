"""PNG pictures of one explained sample: a bar chart for a row, a heat strip under the
series for a window, an overlay for an image.

matplotlib's object-oriented API with the Agg canvas only (no pyplot, no display), imported
when a picture is asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepad.explain.explanation import Explanation, _fmt

RAISES, LOWERS, NORMAL_BAND, VALUE = "tab:red", "tab:blue", "#d9d9d9", "black"
METHOD_WORDS = {
    "exact": "exact split of the reconstruction error",
    "integrated_gradients": "integrated gradients",
    "saliency": "gradient magnitude (saliency)",
    "gradient_x_input": "gradient x (input - baseline)",
    "deeplift": "DeepLIFT",
    "shap": "SHAP values (permutation)",
    "occlusion": "occlusion",
}


def _figure(width: float, height: float):
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:  # a declared dependency, but keep the message clear
        msg = "Plotting needs matplotlib: pip install matplotlib."
        raise ImportError(msg) from error
    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def plot_explanation(explanation: Explanation, i: int, path: str | Path, *, title: str = "",
                     k: int = 10, threshold: float | None = None) -> Path:
    """Write the picture of sample ``i`` of ``explanation`` to ``path`` (PNG)."""
    if explanation.modality == "tabular":
        figure = _row_figure(explanation, i, title, k, threshold)
    elif explanation.modality == "sequence":
        figure = _window_figure(explanation, i, title, k, threshold)
    else:
        figure = _image_figure(explanation, i, title, threshold)
    path = Path(path)
    figure.savefig(path, format="png")
    return path


def _heading(explanation: Explanation, i: int, title: str, threshold: float | None) -> str:
    score = f"anomaly score {explanation.scores[i]:.4g}"
    if threshold is not None:
        score += f" (threshold {threshold:.4g})"
    return (title + " — " if title else "") + score


def _row_figure(explanation: Explanation, i: int, title: str, k: int,
                threshold: float | None):
    top = explanation.top_features(i, k)
    n = len(top)
    figure = _figure(12, 1.7 + 0.42 * n)
    bars, ranges = figure.subplots(1, 2, width_ratios=(1.15, 0.75))
    y = np.arange(n)[::-1]  # largest attribution on top
    colours = [RAISES if a > 0 else LOWERS for a in top["attribution"]]
    bars.barh(y, top["attribution"], color=colours, height=0.6)
    bars.axvline(0, color="black", linewidth=0.8)
    bars.set_yticks(y, [str(f) for f in top["feature"]])
    bars.set_ylim(-0.6, n - 0.4)
    bars.set_xlabel("contribution to the anomaly score\n(red: raises it, blue: lowers it)")
    bars.set_title("Which features make this row anomalous\n"
                   f"method: {METHOD_WORDS.get(explanation.method, explanation.method)}",
                   fontsize="medium")
    for yy, share, value in zip(y, top["share"], top["attribution"], strict=True):
        if value > 0:
            bars.annotate(f" {100 * share:.0f} %", (value, yy), va="center", fontsize="small")
    bars.margins(x=0.15)

    # right panel: each value against its normal range, the range drawn as [0, 1]; the
    # numbers as tick labels on the right, so they never cover a marker
    ranges.axvspan(0, 1, color=NORMAL_BAND, zorder=0)
    labels = []
    for yy, (_, row) in zip(y, top.iterrows(), strict=True):
        low, high = row["normal_low"], row["normal_high"]
        if not np.isfinite(low):
            labels.append(f"{row['value']} (category)")
            continue
        try:
            value = float(row["value"])
        except (TypeError, ValueError):
            labels.append(str(row["value"]))
            continue
        span = high - low if high > low else 1.0
        where = (value - low) / span
        position = float(np.clip(where, -1.5, 2.5))
        marker = ">" if where > 2.5 else "<" if where < -1.5 else "o"
        outside = row["direction"].endswith("than normal")
        ranges.plot([position], [yy], marker=marker, color=RAISES if outside else VALUE,
                    markersize=8)
        arrow = " ↑ high" if value > high else " ↓ low" if value < low else ""
        labels.append(f"{_fmt(value)}{arrow}   (normal {_fmt(low)} to {_fmt(high)})")
    ranges.set_xlim(-1.6, 2.6)
    ranges.set_ylim(-0.6, n - 0.4)
    ranges.set_xticks([0, 1], ["5 %", "95 %"])
    ranges.yaxis.tick_right()
    ranges.set_yticks(y, labels)
    ranges.set_xlabel("grey: the normal range (5 % to 95 % of normal rows)\n"
                      "red marker: outside it (arrow: far outside)")
    ranges.set_title("The row's value of each feature", fontsize="medium")
    figure.suptitle(_heading(explanation, i, title, threshold))
    return figure


def _window_figure(explanation: Explanation, i: int, title: str, k: int,
                   threshold: float | None):
    values = np.asarray(explanation.values)[i]
    attributions = explanation.attributions[i]
    start, stop, share = explanation.span(i)
    offset = 0 if explanation.window_starts is None else int(explanation.window_starts[i])
    steps = offset + np.arange(len(values))
    channels = [c for c, _ in explanation.top_channels(i, start, stop, min(k, 4))]
    figure = _figure(10, 5.2)
    series, strip = figure.subplots(2, 1, height_ratios=(2, 1.2), sharex=True)
    for c in channels:
        series.plot(steps, values[:, c], label=explanation.feature_names[c], linewidth=1.2)
    series.axvspan(offset + start - 0.5, offset + stop - 0.5, color="tab:red", alpha=0.15,
                   label=f"span carrying {100 * share:.0f} % of the attribution")
    series.set_ylabel("value")
    series.legend(loc="upper left", fontsize="small")
    series.set_title("The window's most contributing channels, and the time span that "
                     "contributes most", fontsize="medium")
    names = explanation.feature_names
    order = np.argsort(-attributions.sum(axis=0), kind="stable")[:min(k, len(names))]
    limit = float(np.abs(attributions[:, order]).max()) or 1.0
    image = strip.imshow(attributions[:, order].T, aspect="auto", cmap="RdBu_r",
                         vmin=-limit, vmax=limit, interpolation="nearest",
                         extent=(steps[0] - 0.5, steps[-1] + 0.5, len(order) - 0.5, -0.5))
    strip.set_yticks(np.arange(len(order)), [names[c] for c in order])
    strip.set_xlabel("timestamp" if explanation.window_starts is not None else "time step")
    strip.set_title(f"Contribution per time step and channel "
                    f"({METHOD_WORDS.get(explanation.method, explanation.method)}; red raises "
                    "the score)", fontsize="medium")
    figure.colorbar(image, ax=strip, label="contribution", shrink=0.9)
    figure.suptitle(_heading(explanation, i, title, threshold))
    return figure


def _image_figure(explanation: Explanation, i: int, title: str, threshold: float | None):
    image = np.asarray(explanation.values)[i]
    shown = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
    low, high = float(shown.min()), float(shown.max())
    shown = (shown - low) / (high - low) if high > low else np.zeros_like(shown)
    heat = np.clip(explanation.maps()[i], 0, None)
    figure = _figure(10, 3.8)
    axes = figure.subplots(1, 3)
    cmap = "gray" if shown.ndim == 2 else None
    axes[0].imshow(shown, cmap=cmap)
    axes[0].set_title("image", fontsize="medium")
    picture = axes[1].imshow(heat, cmap="inferno")
    axes[1].set_title("where the score comes from", fontsize="medium")
    figure.colorbar(picture, ax=axes[1], shrink=0.8, label="contribution")
    axes[2].imshow(shown, cmap=cmap)
    top = heat.max() or 1.0
    axes[2].imshow(np.ma.masked_less(heat, 0.2 * top), cmap="inferno", alpha=0.6,
                   vmin=0, vmax=top)
    axes[2].set_title("overlay: the map where it is\nabove 20 % of its maximum",
                      fontsize="medium")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.suptitle(_heading(explanation, i, title, threshold) + "\n"
                    + METHOD_WORDS.get(explanation.method, explanation.method))
    return figure
