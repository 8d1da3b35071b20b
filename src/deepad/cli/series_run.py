"""``deepad run SERIES.csv --window W``: score every timestamp of one time series.

The table's rows are the timestamps, in time order; its numeric columns are the channels. A
detector that takes sequence windows is wrapped in :class:`deepad.series.SeriesDetector`
(windows of ``W`` rows, fitted every ``--train-stride`` rows, scored every ``--score-stride``
rows, a timestamp's score the mean over the windows covering it), fitted on the whole series,
and the command writes

- the scores CSV: one row per timestamp (its time stamp or row number, score, flag, label);
- a PNG: the series (up to :data:`MAX_CHANNELS_SHOWN` channels) above the score over time
  with the threshold, the labelled anomalous stretches shaded in both panels.

Channels are min-max scaled with the series' own range by default (``--scale``), as the
series benchmarks do, so channels in different units weigh alike.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer

TIME_NAMES = ("timestamp", "time", "datetime", "date")
"""Column names taken as the time axis when ``--timestamp-column`` is not given."""
MAX_CHANNELS_SHOWN = 8


def read_series_table(path: Path) -> pd.DataFrame:
    """The table of a series file (``.csv`` or ``.parquet``), with a clear error otherwise."""
    if not path.exists():
        msg = f"{path} does not exist."
        raise FileNotFoundError(msg)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path)
    elif suffix in (".parquet", ".pq"):
        frame = pd.read_parquet(path)
    else:
        msg = (f"A series run (--window) reads a .csv or .parquet table with one row per "
               f"timestamp; got {path.name}.")
        raise ValueError(msg)
    if frame.empty:
        msg = f"{path} holds no rows."
        raise ValueError(msg)
    return frame


def _pick_time_column(frame: pd.DataFrame, timestamp_column: str | None) -> str | None:
    if timestamp_column is not None:
        if timestamp_column not in frame.columns:
            msg = (f"--timestamp-column {timestamp_column!r} is not a column of the table; "
                   f"columns: {', '.join(map(str, frame.columns[:10]))}.")
            raise ValueError(msg)
        return timestamp_column
    named = [c for c in frame.columns if str(c).strip().lower() in TIME_NAMES]
    return str(named[0]) if named else None


def _parse_times(column: pd.Series, name: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column):
        times = column
    else:
        try:
            times = pd.to_datetime(column)
        except (ValueError, TypeError) as error:
            msg = (f"the timestamp column {name!r} could not be read as dates or numbers "
                   f"({error}).")
            raise ValueError(msg) from error
    if times.isna().any():
        msg = f"the timestamp column {name!r} has {int(times.isna().sum())} empty value(s)."
        raise ValueError(msg)
    if not times.is_monotonic_increasing:
        msg = (f"the timestamp column {name!r} is not in increasing order: a series run "
               "needs the rows in time order (sort the file by time first).")
        raise ValueError(msg)
    return times


def split_series(frame: pd.DataFrame, *, label_column: str | None,
                 timestamp_column: str | None, ignore_columns: list[str]
                 ) -> tuple[pd.DataFrame, np.ndarray | None, pd.Series | None, str | None]:
    """Channels, per-timestamp labels, time stamps and the time column's name."""
    from deepad.core.validation import check_array

    time_name = _pick_time_column(frame, timestamp_column)
    times = None if time_name is None else _parse_times(frame[time_name], time_name)
    y = None
    if label_column is not None:
        if label_column not in frame.columns:
            msg = (f"--label-column {label_column!r} is not a column of the table; columns: "
                   f"{', '.join(map(str, frame.columns[:10]))}.")
            raise ValueError(msg)
        labels = frame[label_column]
        if labels.isna().any() or not labels.isin((0, 1)).all():
            msg = (f"--label-column {label_column!r} must hold 0 (normal) or 1 (anomaly) at "
                   "every timestamp.")
            raise ValueError(msg)
        y = labels.to_numpy(dtype=np.int64)
    missing = [c for c in ignore_columns if c not in frame.columns]
    if missing:
        msg = f"--ignore-columns names columns the table does not have: {missing}."
        raise ValueError(msg)
    dropped = {c for c in (time_name, label_column, *ignore_columns) if c is not None}
    channels = frame[[c for c in frame.columns if c not in dropped]]
    if channels.shape[1] == 0:
        msg = "the table has no channel left besides the time, label and ignored columns."
        raise ValueError(msg)
    text = [str(c) for c in channels.columns
            if not pd.api.types.is_numeric_dtype(channels[c])]
    if text:
        msg = (f"series channels must be numeric; non-numeric column(s) {text[:5]} (a time "
               "column: --timestamp-column; others: --ignore-columns).")
        raise ValueError(msg)
    check_array(channels, name="the series")
    return channels, y, times, time_name


def scale_channels(channels: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Min-max (or standard) scale each channel with its own range; "none" leaves them."""
    if scale == "none":
        return channels
    values = channels.to_numpy(dtype=np.float64)
    if scale == "standard":
        shift, spread = values.mean(axis=0), values.std(axis=0)
    else:
        shift, spread = values.min(axis=0), np.ptp(values, axis=0)
    spread = np.where(spread > 0, spread, 1.0)  # a constant channel is only shifted
    return pd.DataFrame((values - shift) / spread, columns=channels.columns)


def anomalous_stretches(y: np.ndarray) -> list[tuple[int, int]]:
    """``[(first, last), ...]`` row ranges (inclusive) of consecutive labels 1.

    >>> anomalous_stretches(np.array([0, 1, 1, 0, 1]))
    [(1, 2), (4, 4)]
    """
    padded = np.concatenate(([0], np.asarray(y, dtype=np.int64), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def plot_series_scores(path: str | Path, channels: pd.DataFrame, scores: np.ndarray,
                       threshold: float, labels: np.ndarray | None = None,
                       times: pd.Series | None = None, *, title: str = "") -> Path:
    """PNG: the series above its per-timestamp scores, threshold dashed, labelled anomalous
    stretches shaded red in both panels (matplotlib's Agg canvas, no pyplot)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        msg = "Plotting needs matplotlib: pip install matplotlib."
        raise ImportError(msg) from error

    path = Path(path)
    x = np.arange(len(scores)) if times is None else times.to_numpy()
    figure = Figure(figsize=(11, 5.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    shown = list(channels.columns[:MAX_CHANNELS_SHOWN])
    for column in shown:
        top.plot(x, channels[column].to_numpy(), linewidth=0.8, label=str(column))
    more = channels.shape[1] - len(shown)
    top.set_ylabel("value" + (f" (first {len(shown)} of {channels.shape[1]} channels)"
                              if more > 0 else ""))
    if len(shown) > 1:
        top.legend(loc="upper right", fontsize="x-small", ncols=min(4, len(shown)))
    bottom.plot(x, scores, color="black", linewidth=0.8, label="score")
    bottom.axhline(threshold, color="tab:orange", linestyle="--", linewidth=1.2,
                   label=f"threshold_ = {threshold:.4g}")
    if labels is not None:
        for i, (first, last) in enumerate(anomalous_stretches(labels)):
            for ax in (top, bottom):
                ax.axvspan(x[first], x[last], color="tab:red", alpha=0.2, linewidth=0,
                           label="labelled anomaly" if i == 0 and ax is bottom else None)
    bottom.set_ylabel("anomaly score")
    bottom.set_xlabel("row" if times is None else str(times.name))
    bottom.legend(loc="upper right", fontsize="small")
    if title:
        top.set_title(title)
    figure.savefig(path, format="png")
    return path


def run_series(data: Path, *, cls: type, params: dict[str, Any], window: int,
               train_stride: int | None, score_stride: int, label_column: str | None,
               timestamp_column: str | None, ignore_columns: list[str], scale: str, top: int,
               output: str | None, plot: str | None, save_model: Path | None) -> None:
    """Fit ``cls(**params)`` on the windows of the series in ``data`` and report per timestamp.

    ``output`` / ``plot`` None skip those files. Errors are ``ValueError`` / ``TypeError`` /
    ``OSError`` with a one-line message for the command to print.
    """
    from deepad.metrics import auc_pr, auc_roc, best_f1
    from deepad.series import SeriesDetector

    if "sequence" not in cls.modalities:
        from deepad.core.registry import list_detectors

        names = [info["name"] for info in list_detectors(modalities="sequence")]
        msg = (f"{cls.name} takes {list(cls.modalities)} input, not windows of a series; "
               f"detectors for --window: {', '.join(names)}.")
        raise ValueError(msg)
    if "unsupervised" not in cls.supervision:
        msg = (f"{cls.name} is weakly supervised; a series run (--window) fits unsupervised "
               "detectors (the labels, when given, are only used for the metrics and the "
               "plot).")
        raise ValueError(msg)
    if save_model is not None and scale != "none":
        msg = ("--save-model with --window saves the SeriesDetector, which does not hold the "
               f"--scale {scale} scaling of the channels; add --scale none (the detector's "
               "own input scaling is saved with it).")
        raise ValueError(msg)
    frame = read_series_table(data)
    channels, y, times, time_name = split_series(
        frame, label_column=label_column, timestamp_column=timestamp_column,
        ignore_columns=ignore_columns)
    from deepad.cli.tabular_input import suspicious_columns

    for line in suspicious_columns(channels, label_given=label_column is not None):
        typer.echo(f"Warning: {line.replace('feature', 'channel')}", err=True)
    typer.echo(f"data: {data} (a series: {len(channels)} timestamps x {channels.shape[1]} "
               f"channel(s)" + (f", time column {time_name!r}" if time_name else ", row order")
               + "); labels: " + ("none" if y is None else
                                  f"{int(y.sum())} anomalous timestamps "
                                  f"({len(anomalous_stretches(y))} stretches)"))
    if len(channels) < window:
        msg = (f"the series has {len(channels)} timestamps, fewer than --window {window}; use "
               "a shorter window.")
        raise ValueError(msg)
    fitted_on = scale_channels(channels, scale)
    model = SeriesDetector(cls(**params), window=window, train_stride=train_stride,
                           score_stride=score_stride)
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items() if k != "verbose")
    typer.echo(f"detector: {cls.name} on windows of {window} (train stride "
               f"{train_stride or 1}, score stride {score_stride}); {shown}; scale: {scale}")
    start = time.perf_counter()
    model.fit(fitted_on)
    typer.echo(f"fit: {time.perf_counter() - start:.2f} s on {model.n_train_windows_} windows")
    scores = np.asarray(model.decision_scores_, dtype=np.float64)
    flagged = np.asarray(model.labels_, dtype=np.int64)
    typer.echo(f"threshold_: {model.threshold_:.6g}; {int(flagged.sum())} of {len(scores)} "
               "timestamps flagged as anomalies")
    where = np.arange(len(scores)) if times is None else times.to_numpy()
    if top > 0:
        order = np.argsort(-scores, kind="stable")[:top]
        typer.echo(f"top {len(order)} timestamps by score:")
        for rank, row in enumerate(order, start=1):
            when = row if times is None else times.iloc[row]
            line = f"  {rank:>4}  {str(when):>19}  {scores[row]:>12.6g}"
            typer.echo(line + ("" if y is None else f"  label {y[row]}"))
    if y is not None:
        if 0 < y.sum() < len(y):
            typer.echo(f"metrics on all {len(y)} timestamps (point-wise):")
            for label, value in (("AUC-ROC", auc_roc(y, scores)), ("AUC-PR", auc_pr(y, scores)),
                                 ("best F1", best_f1(y, scores).f1)):
                typer.echo(f"  {label:<15}{value:.4f}")
        else:
            typer.echo("metrics skipped: the labels hold only one class.")
    if output is not None:
        table = pd.DataFrame({time_name or "row": where, "score": scores,
                              "is_anomaly": flagged})
        if y is not None:
            table["label"] = y
        table.to_csv(output, index=False)
        typer.echo(f"scores written to {output}")
    if plot is not None:
        plot_series_scores(plot, channels, scores, float(model.threshold_), y, times,
                           title=f"{cls.name} on {data.name} (window {window})")
        typer.echo(f"plot written to {plot}")
    if save_model is not None:
        model.save(save_model)
        typer.echo(f"model saved to {save_model} (deepad.load(DIR).decision_function(series) "
                   "scores a series with the same channels)")
