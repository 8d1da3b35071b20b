"""``deepad explain MODEL DATA`` and the ``--explain`` step of ``deepad run``: why the top
anomalies are anomalous, as plain lines, a PNG each and a CSV of the attributions
(:mod:`deepad.explain`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from deepad.cli.app import _clean_errors, _configure_logging, app


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:40]


def _top_windows(scores: np.ndarray, window: int, top: int) -> np.ndarray:
    """Start indices of the ``top`` highest-scored windows that do not overlap (greedy)."""
    chosen: list[int] = []
    for start in np.argsort(-scores, kind="stable"):
        if all(abs(int(start) - c) >= window for c in chosen):
            chosen.append(int(start))
            if len(chosen) == top:
                break
    return np.asarray(chosen, dtype=np.int64)


def explain_table(model: Any, frame: pd.DataFrame, scores: np.ndarray, *, top: int, out: Path,
                  k: int = 10, method: str = "auto", reference: Any = None,
                  ids: pd.Series | None = None, id_name: str = "id",
                  echo=typer.echo) -> Path:
    """Explain the ``top`` highest-scored rows of ``frame`` (a raw table scored by the
    TableDetector ``model``): print the lines, write a PNG per row and ``attributions.csv``.

    The reference (normal ranges, baseline) is ``reference`` when given, else the rows of
    ``frame`` the model labels normal (score at or below ``threshold_``)."""
    from deepad.explain import explain
    from deepad.explain.plots import plot_explanation

    out.mkdir(parents=True, exist_ok=True)
    frame = frame.reset_index(drop=True)
    order = np.argsort(-scores, kind="stable")[:top]
    if reference is None:
        reference = frame[scores <= model.threshold_]
        if len(reference) == 0:
            msg = ("No row scores at or below the model's threshold_; give normal rows with "
                   "--reference FILE.")
            raise ValueError(msg)
    result = explain(model, frame.iloc[order], method=method, reference=reference)
    echo(f"explanations ({result.method}: {result.reason}); normal range = 5-95 % of "
         f"{len(reference)} normal rows:")
    rows = []
    for rank, row in enumerate(order, start=1):
        label = f"row {row}" + ("" if ids is None else f" ({id_name} {ids.iloc[row]})")
        lines = result.lines(rank - 1, k=min(k, 5))
        echo(f"  #{rank} {label}, {lines[0]}")
        for line in lines[1:]:
            echo(f"    {line.strip()}")
        name = out / f"rank{rank:02d}-row{row}.png"
        plot_explanation(result, rank - 1, name, title=f"#{rank}: {label}", k=k,
                         threshold=float(model.threshold_))
        record = {"rank": rank, "row": int(row)}
        if ids is not None:
            record[id_name] = ids.iloc[row]
        record["score"] = float(result.scores[rank - 1])
        record.update({f"attribution:{f}": float(a)
                       for f, a in zip(result.feature_names, result.attributions[rank - 1],
                                       strict=True)})
        rows.append(record)
    csv = out / "attributions.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    echo(f"explanations written to {out}/: {len(order)} PNG(s) (rank01-row*.png ...) and "
         f"{csv.name}")
    return csv


def explain_series(model: Any, series: pd.DataFrame | np.ndarray, *, top: int, out: Path,
                   k: int = 10, method: str = "auto", reference: Any = None,
                   echo=typer.echo) -> Path:
    """Explain the ``top`` highest-scored non-overlapping windows of ``series`` (a
    SeriesDetector's input): lines with the span that contributes most, a PNG per window
    (the series with a heat strip under it) and ``attributions.csv`` (long format)."""
    from numpy.lib.stride_tricks import sliding_window_view

    from deepad.explain import explain
    from deepad.explain.plots import plot_explanation

    out.mkdir(parents=True, exist_ok=True)
    window_scores = model.score_windows(series)  # starts every score_stride
    stride = model.score_stride_
    starts = _top_windows(window_scores, max(1, model.window // stride), top) * stride
    if reference is None:
        array = model._check_series(series)
        view = sliding_window_view(array, model.window, axis=0).transpose(0, 2, 1)
        inner = model.detector_
        normal = np.flatnonzero(window_scores <= inner.threshold_) * stride
        tiles = normal[::max(1, model.window // stride)]
        if len(tiles) == 0:
            msg = "No window scores at or below the threshold; give --reference FILE."
            raise ValueError(msg)
        reference_windows = np.ascontiguousarray(view[tiles], dtype=np.float32)
        result = _series_with_windows(model, series, starts, method, reference_windows)
    else:
        result = explain(model, series, method=method, reference=reference, windows=starts)
    echo(f"explanations ({result.method}: {result.reason}):")
    for rank, start in enumerate(starts, start=1):
        lines = result.lines(rank - 1, k=min(k, 3))
        echo(f"  #{rank} window at timestamps {start}-{start + model.window - 1}, {lines[0]}")
        for line in lines[1:]:
            echo(f"    {line.strip()}")
        plot_explanation(result, rank - 1, out / f"rank{rank:02d}-t{start}.png",
                         title=f"#{rank}: window at timestamp {start}", k=k)
    frame = result.to_frame()
    frame.insert(1, "timestamp", result.window_starts[frame["sample"]] + frame["step"])
    csv = out / "attributions.csv"
    frame.to_csv(csv, index=False)
    echo(f"explanations written to {out}/: {len(starts)} PNG(s) and {csv.name}")
    return csv


def _series_with_windows(model: Any, series: Any, starts: np.ndarray, method: str,
                         reference_windows: np.ndarray):
    """explain() on the chosen windows with reference windows (not a reference series)."""
    from deepad.explain.api import _explain_series_windows

    return _explain_series_windows(model, series, starts, method, reference_windows)


def explain_arrays(detector: Any, X: np.ndarray, *, top: int, out: Path, k: int = 10,
                   method: str = "auto", reference: Any = None, echo=typer.echo) -> Path:
    """Explain the ``top`` highest-scored samples (rows, windows or images) of a detector."""
    from deepad.explain import explain
    from deepad.explain.plots import plot_explanation

    out.mkdir(parents=True, exist_ok=True)
    scores = detector.decision_function(X)
    order = np.argsort(-scores, kind="stable")[:top]
    if reference is None:
        reference = X[scores <= detector.threshold_]
        if len(reference) == 0:
            msg = "No sample scores at or below the threshold; give --reference FILE."
            raise ValueError(msg)
    result = explain(detector, X[order], method=method, reference=reference)
    echo(f"explanations ({result.method}: {result.reason}):")
    for rank, index in enumerate(order, start=1):
        lines = result.lines(rank - 1, k=min(k, 5))
        echo(f"  #{rank} sample {index}, {lines[0]}")
        for line in lines[1:]:
            echo(f"    {line.strip()}")
        plot_explanation(result, rank - 1, out / f"rank{rank:02d}-sample{index}.png",
                         title=f"#{rank}: sample {index}", k=k,
                         threshold=float(detector.threshold_))
    frame = result.to_frame()
    frame["sample"] = order[frame["sample"]]
    csv = out / "attributions.csv"
    frame.to_csv(csv, index=False)
    echo(f"explanations written to {out}/: {len(order)} PNG(s) and {csv.name}")
    return csv


def _read_arrays(path: Path) -> np.ndarray:
    if path.suffix.lower() == ".npy":
        return np.load(path, allow_pickle=False)
    if path.suffix.lower() == ".npz":
        with np.load(path, allow_pickle=False) as data:
            if "X" not in data:
                msg = f"{path}: an .npz file needs an array named X; it has {list(data)}."
                raise ValueError(msg)
            return data["X"]
    from deepad.data.tables import load_table

    frame, _ = load_table(path, None)
    return frame.to_numpy(dtype=np.float32)


@app.command("explain")
def explain_command(
    model_dir: Annotated[Path, typer.Argument(
        metavar="MODEL", help="A saved model folder (deepad run --save-model DIR, or "
                              "det.save(DIR) in Python).", show_default=False)],
    data: Annotated[Path, typer.Argument(
        metavar="DATA", help="What to explain: a raw table (.csv / .parquet / .npz) for a "
                             "model saved by deepad run, a series (.csv / .parquet) for a "
                             "series model, an .npy / .npz array (X) of rows, windows or "
                             "images for a detector saved in Python.",
        show_default=False)],
    top: Annotated[int, typer.Option(min=1, help="How many top anomalies to explain.")] = 10,
    out: Annotated[Path, typer.Option(
        metavar="DIR", help="Folder for the PNGs and attributions.csv.")] = Path(
        "deepad-explain"),
    features: Annotated[int, typer.Option(
        min=1, help="Features (rows) or channels (windows) shown per anomaly.")] = 10,
    method: Annotated[str, typer.Option(
        help="auto, exact, integrated_gradients, saliency, gradient_x_input, deeplift, shap "
             "or occlusion (see deepad.explain.explain).")] = "auto",
    reference: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Normal data in DATA's format (best: the training data) for the "
                             "normal ranges and the baseline. Default: the rows of DATA the "
                             "model labels normal.")] = None,
    id_column: Annotated[str | None, typer.Option(
        "--id-column", metavar="COL", help="Tables: a column naming the rows in the "
                                           "output.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Tracebacks.")] = False,
) -> None:
    """Explain the top anomalies of DATA under a saved model: the features (time span,
    pixels) that make each one anomalous, with its values and the normal ranges; a PNG per
    anomaly and a CSV of the attributions in --out."""
    _configure_logging(verbose)
    with _clean_errors(verbose):
        import deepad
        from deepad.series import SeriesDetector
        from deepad.tabular import TableDetector

        if not model_dir.is_dir():
            msg = f"MODEL {model_dir}: no such folder (save one with deepad run --save-model)."
            raise FileNotFoundError(msg)
        if not data.exists():
            msg = f"DATA {data}: no such file."
            raise FileNotFoundError(msg)
        model = deepad.load(model_dir)
        if isinstance(model, TableDetector):
            from deepad.data.tables import load_table

            frame, _ = load_table(data, None)
            ref = None if reference is None else load_table(reference, None)[0]
            ids = None if id_column is None else frame[id_column]
            frame = frame.set_axis([str(c) for c in frame.columns], axis=1)
            columns = list(model.preprocessor_.columns_)
            missing = [c for c in columns if c not in frame.columns]
            if missing:
                msg = (f"DATA lacks the model's feature column(s) {missing[:10]}; the model "
                       f"reads {len(columns)} columns.")
                raise ValueError(msg)
            ignored = [c for c in frame.columns if c not in columns]
            if ignored:
                typer.echo(f"not features of the model, ignored: {ignored[:10]}")
            frame = frame[columns]
            scores = model.decision_function(frame)
            typer.echo(f"{data}: {len(frame)} rows scored by {type(model.detector_).__name__}; "
                       f"{int((scores > model.threshold_).sum())} above the threshold")
            explain_table(model, frame, scores, top=top, out=out, k=features, method=method,
                          reference=ref, ids=ids, id_name=id_column or "id")
        elif isinstance(model, SeriesDetector):
            from deepad.data.tables import load_table

            frame, _ = load_table(data, None)
            ref = None if reference is None else load_table(reference, None)[0]
            explain_series(model, frame, top=top, out=out, k=features, method=method,
                           reference=ref)
        else:
            X = _read_arrays(data)
            ref = None if reference is None else _read_arrays(reference)
            explain_arrays(model, X, top=top, out=out, k=features, method=method,
                           reference=ref)
