"""The ``deepad`` command: list the taxonomy, describe a detector, run one on a table.

Detectors are found only through the registry (:func:`deepad.list_detectors`,
:func:`deepad.get_detector`). Bad input ends with a one-line ``Error: ...`` on stderr and
exit code 2, never a traceback (``--verbose`` logs the traceback as well).
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import inspect
import json
import logging
import math
import time
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import numpy as np
import pandas as pd
import typer

from deepad._version import __version__
from deepad.core.registry import detector_info, get_detector, list_detectors
from deepad.core.taxonomy import (
    BASELINE_SUBCATEGORIES,
    BASELINES,
    CATEGORIES,
    REGISTERED_CATEGORIES,
    REGISTERED_SUBCATEGORIES,
    SUBCATEGORIES,
)

logger = logging.getLogger(__name__)

README_START = "<!-- taxonomy:start -->"
README_END = "<!-- taxonomy:end -->"
NONE_YET = "(none yet)"
SKIP_VALUES = ("", "none")  # --output / --plot values that turn the file off
RECOMMENDED_UNSUPERVISED = "REPEN"
"""``deepad run``'s detector for a table when none is named: the unsupervised detector chosen
on the quick suite within five times IsolationForest's fit time (the cheapest within 0.002 mean
AUC-ROC of the best single detector or ensemble under that bound,
docs/results/unsupervised_ensemble.md, docs/decisions.md) and checked on the 25 other ADBench
sets."""
RECOMMENDED_WEAK = "DeepXGBOD"
"""The weakly-supervised detector ``deepad run`` recommends when the table has labels: the best
mean AUC-ROC of deepad's weak detectors on the quick suite at 10 % and at 1 % labels
(docs/results/weak_boost_choice.md)."""
OTHER_DEFAULT = "AutoEncoder"
"""``deepad run``'s detector for images, series, graphs and video when none is named."""
CLEAN_ERRORS = (ValueError, TypeError, KeyError, ImportError, OSError, FloatingPointError)

app = typer.Typer(
    name="deepad",
    help="Deep anomaly detection: the taxonomy of Pang, Cao & Aggarwal (WSDM 2021), one "
         "scikit-learn compatible contract.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
)


class Categorical(str, Enum):
    """How ``deepad run`` treats non-numeric columns."""

    auto = "auto"
    error = "error"
    onehot = "onehot"
    ordinal = "ordinal"


class Scale(str, Enum):
    """Feature scaling applied before fitting."""

    auto = "auto"
    minmax = "minmax"
    standard = "standard"
    none = "none"


# ---------------------------------------------------------------------------- helpers
def _fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code=2)


def _message(error: BaseException) -> str:
    if isinstance(error, KeyError) and error.args:
        text = str(error.args[0])
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


@contextlib.contextmanager
def _clean_errors(verbose: bool = False) -> Iterator[None]:
    """Turn the errors bad input raises into ``Error: ...`` and exit code 2."""
    try:
        yield
    except CLEAN_ERRORS as error:
        if verbose:
            logger.debug("traceback of the error below", exc_info=True)
        _fail(_message(error))


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"deepad {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option(
        "--version", callback=_version_callback, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Deep anomaly detection: list the taxonomy, describe a detector, run one on a table."""


# ---------------------------------------------------------------------------- list
def _by_leaf() -> dict[tuple[str, str], list[dict[str, Any]]]:
    leaves: dict[tuple[str, str], list[dict[str, Any]]] = {
        (category, leaf): [] for category in CATEGORIES for leaf in SUBCATEGORIES[category]}
    for info in list_detectors():
        if info["category"] in CATEGORIES:  # the baselines are listed apart
            leaves[(info["category"], info["subcategory"])].append(info)
    return leaves


def _detector_lines(detectors: list[dict[str, Any]]) -> list[str]:
    width = max((len(d["name"]) for d in detectors), default=0)
    return [f"    {info['name']:<{width}}  [{', '.join(info['supervision'])}]"
            f"  modalities: {', '.join(info['modalities'])}" for info in detectors]


def baselines_text() -> str:
    """The shallow baselines and the outlier ensembles (outside the taxonomy), as plain text."""
    lines = []
    for category, title in BASELINES.items():
        lines.append(f"{category}: {title}")
        for leaf, leaf_title in BASELINE_SUBCATEGORIES[category].items():
            lines.append(f"  {leaf}: {leaf_title}")
            lines += _detector_lines(list_detectors(category=category, subcategory=leaf))
    return "\n".join(lines)


def taxonomy_text() -> str:
    """The taxonomy tree with the registered detectors under each leaf, then the shallow
    baselines apart (they are not in the taxonomy, nor in its counts), as plain text."""
    leaves = _by_leaf()
    n_detectors = sum(len(d) for d in leaves.values())
    n_empty = sum(1 for d in leaves.values() if not d)
    lines = [f"Deep anomaly detection taxonomy (Pang, Cao & Aggarwal, WSDM 2021): "
             f"{n_detectors} detector(s); {len(leaves) - n_empty} of {len(leaves)} leaves filled"
             + (f", {n_empty} marked {NONE_YET}." if n_empty else ".")]
    for category, title in CATEGORIES.items():
        lines.append("")
        lines.append(f"{category}: {title}")
        for leaf, leaf_title in SUBCATEGORIES[category].items():
            detectors = leaves[(category, leaf)]
            lines.append(f"  {leaf}: {leaf_title}" + ("" if detectors else f"  {NONE_YET}"))
            lines += _detector_lines(detectors)
    lines += ["", "Outside the taxonomy: baselines to compare with, ensembles of registered "
              "detectors:", "", baselines_text()]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def taxonomy_markdown() -> str:
    """One markdown table row per taxonomy leaf: branch | leaf | detectors | supervision |
    modalities | reference. Several detectors in a leaf are separated by ``<br>``, aligned
    across columns; a leaf without a detector shows "—". This is the README block."""
    rows = ["| branch | leaf | detectors | supervision | modalities | reference |",
            "|---|---|---|---|---|---|"]
    for (category, leaf), detectors in _by_leaf().items():
        branch = f"`{category}`"
        leaf_cell = _cell(SUBCATEGORIES[category][leaf])
        if not detectors:
            rows.append(f"| {branch} | {leaf_cell} | — | — | — | — |")
            continue
        columns = [
            [d["name"] for d in detectors],
            [", ".join(d["supervision"]) for d in detectors],
            [", ".join(d["modalities"]) for d in detectors],
            [d["reference"] for d in detectors],
        ]
        cells = " | ".join("<br>".join(_cell(v) for v in values) for values in columns)
        rows.append(f"| {branch} | {leaf_cell} | {cells} |")
    return "\n".join(rows)


def readme_block(text: str) -> str:
    """The text between the taxonomy markers of a README, stripped.

    Raises ``ValueError`` when the markers are missing or out of order.
    """
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < 0 or end < start:
        msg = (f"the README has no taxonomy block: add a line {README_START} followed by a "
               f"line {README_END} where the table belongs.")
        raise ValueError(msg)
    return text[start + len(README_START):end].strip()


def update_readme(path: str | Path, markdown: str) -> bool:
    """Replace the taxonomy block of the README at ``path`` by ``markdown``.

    Returns whether the file changed.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    readme_block(text)  # raises when the markers are missing
    start = text.find(README_START) + len(README_START)
    end = text.find(README_END)
    new = f"{text[:start]}\n{markdown}\n{text[end:]}"
    if new == text:
        return False
    path.write_text(new, encoding="utf-8")
    return True


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print deepad.list_detectors() as JSON.")] = False,
    markdown: Annotated[bool, typer.Option(
        "--markdown", help="Print the README table: one row per taxonomy leaf.")] = False,
    readme: Annotated[Path | None, typer.Option(
        "--update-readme", metavar="PATH",
        help="Rewrite the table between the taxonomy markers of this README in place "
             "(implies --markdown).")] = None,
) -> None:
    """The taxonomy of deep anomaly detection, with the detectors under each leaf."""
    if as_json and (markdown or readme is not None):
        _fail("--json cannot be combined with --markdown or --update-readme.")
    if as_json:
        typer.echo(json.dumps(list_detectors(), indent=2))
        return
    if readme is not None:
        with _clean_errors():
            changed = update_readme(readme, taxonomy_markdown())
        typer.echo(f"{readme}: taxonomy table {'updated' if changed else 'already up to date'}.")
        return
    typer.echo(taxonomy_markdown() if markdown else taxonomy_text())


# ---------------------------------------------------------------------------- info
def summary(cls: type) -> str:
    """First paragraph of the class docstring, on one line."""
    doc = inspect.cleandoc(cls.__doc__ or "")
    return " ".join(doc.split("\n\n", 1)[0].split())


@app.command()
def info(
    name: Annotated[str, typer.Argument(help="Registered detector name (case-insensitive).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Metadata and hyperparameters (with defaults) of one detector."""
    with _clean_errors():
        cls = get_detector(name)
    meta = detector_info(cls)
    meta["summary"] = summary(cls)
    params = cls().get_params(deep=False)
    if as_json:
        typer.echo(json.dumps({**meta, "params": params}, indent=2, default=repr))
        return
    category, leaf = meta["category"], meta["subcategory"]
    width = max((len(k) for k in params), default=0)
    lines = [
        f"{meta['name']}: {meta['summary']}",
        f"  {'taxonomy' if category in CATEGORIES else 'outside   '}   {category} / {leaf}  "
        f"({REGISTERED_CATEGORIES[category]} / {REGISTERED_SUBCATEGORIES[category][leaf]})",
        f"  supervision  {', '.join(meta['supervision'])}",
        f"  modalities   {', '.join(meta['modalities'])}",
        f"  reference    {meta['reference']}",
        f"  module       {meta['module']}",
        "  hyperparameters (defaults):",
        *(f"    {key:<{width}} = {value!r}" for key, value in params.items()),
    ]
    typer.echo("\n".join(lines))


# ---------------------------------------------------------------------------- run
def parse_params(items: list[str], valid: dict[str, Any], detector: str) -> dict[str, Any]:
    """``["epochs=20", "hidden_dims=(32,8)"]`` → ``{"epochs": 20, "hidden_dims": (32, 8)}``.

    Values are read with :func:`ast.literal_eval`, falling back to the raw string.
    """
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            msg = f"--param expects KEY=VALUE (e.g. --param epochs=20); got {item!r}."
            raise ValueError(msg)
        if key not in valid:
            close = difflib.get_close_matches(key, list(valid), n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            msg = (f"{detector} has no parameter {key!r}.{hint} Valid parameters: "
                   f"{', '.join(valid)}.")
            raise ValueError(msg)
        try:
            params[key] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            params[key] = raw.strip()
    return params


def reveal_labels(y: np.ndarray, ratio: float, seed: int) -> np.ndarray:
    """Mask of the anomalies shown to a weakly-supervised detector: ``ratio`` of them, at
    least one, drawn with ``numpy.random.default_rng(seed)``."""
    anomalies = np.flatnonzero(y == 1)
    if len(anomalies) == 0:
        msg = "the labels hold no anomaly (y == 1), so none can be revealed to the detector."
        raise ValueError(msg)
    k = min(len(anomalies), max(1, math.floor(ratio * len(anomalies) + 1e-9)))
    chosen = np.random.default_rng(seed).choice(anomalies, size=k, replace=False)
    mask = np.zeros(len(y), dtype=bool)
    mask[chosen] = True
    return mask


def _skip(value: str) -> bool:
    return value.strip().lower() in SKIP_VALUES


def _configure_logging(verbose: bool) -> None:
    if not verbose:
        return
    package = logging.getLogger("deepad")
    package.setLevel(logging.DEBUG)
    if not package.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        package.addHandler(handler)


@app.command()
def run(
    data: Annotated[Path | None, typer.Argument(
        metavar="[DATA]",
        help="A .csv (comma-separated), .parquet or .npz table (npz: arrays X and optional "
             "y), or the name of a table that deepad datasets lists (e.g. cardio). Default: "
             "the built-in breast-cancer data (benign tumours + 10 malignant ones). Images: "
             "a folder of PNG / JPEG files (or the MVTec-AD layout), or an .npy / .npz array "
             "(n, H, W) or (n, C, H, W); their default detector AutoEncoder accepts them, and "
             "--plot writes a grid of the most anomalous and most normal images with their "
             "anomaly maps. Graphs: an .npz with x (nodes x attributes), edge_index (2 x "
             "edges) and optional y: prints the top nodes with their degrees and --plot "
             "writes the score distribution by degree.",
        show_default=False)] = None,
    detector: Annotated[str | None, typer.Option(
        "--detector", "-d", show_default=False,
        help="Registered detector name (see deepad list). Default: for tables "
             f"{RECOMMENDED_UNSUPERVISED}, the recommended unsupervised detector "
             "(docs/which-detector.md); for images, series, graphs and video "
             f"{OTHER_DEFAULT}.")] = None,
    label_column: Annotated[str | None, typer.Option(
        "--label-column", "-l", metavar="COL",
        help="Column with labels, 1 = anomaly, 0 = normal; removed from the features.")] = None,
    id_column: Annotated[str | None, typer.Option(
        "--id-column", metavar="COL",
        help="Column identifying the rows: not a feature, written to the scores CSV.")] = None,
    ignore_columns: Annotated[list[str] | None, typer.Option(
        "--ignore-columns", metavar="COL[,COL...]",
        help="Columns that are not features (repeatable or comma-separated).")] = None,
    categorical: Annotated[Categorical, typer.Option(
        help="Non-numeric columns: 'error' stops with their names, 'onehot' / 'ordinal' "
             "encode them (never scaled). 'auto': ordinal codes for detectors of categories "
             "(APE), else 'error'.")] = Categorical.auto,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", metavar="KEY=VALUE",
        help="Detector hyperparameter, repeatable: --param epochs=20 "
             "--param hidden_dims=(32,8). Values are Python literals, else strings.")] = None,
    scale: Annotated[Scale, typer.Option(
        help="Scaling of the numeric columns, fitted on the data before the detector. "
             "'auto': minmax, none for detectors of categories (APE).")] = Scale.auto,
    labeled_ratio: Annotated[float, typer.Option(
        min=0.0, max=1.0,
        help="Weakly-supervised detectors named with -d: fraction of the known anomalies "
             "revealed to the detector as y=1 (at least one); metrics use the other rows. "
             "With no -d the recommended detector runs unsupervised.")] = 0.1,
    seed: Annotated[int, typer.Option(
        min=0, help="random_state of the detector and of the revealed labels.")] = 0,
    top: Annotated[int, typer.Option(min=0, help="How many top-scored rows to print.")] = 10,
    output: Annotated[str, typer.Option(
        metavar="CSV", help="Scores per row (row, score, is_anomaly, label); 'none' skips "
                            "it.")] = "deepad-scores.csv",
    plot: Annotated[str, typer.Option(
        metavar="PNG", help="Histogram of the scores with the threshold; 'none' skips "
                            "it.")] = "deepad-scores.png",
    save_model: Annotated[Path | None, typer.Option(
        "--save-model", metavar="DIR",
        help="Save the fitted model with its preprocessing (columns, encoding, scaling) to DIR "
             "(safetensors + JSON): deepad.load(DIR).decision_function(raw_table) gives "
             "these scores.")] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Progress bar, per-epoch losses, tracebacks.")] = False,
    image_size: Annotated[str | None, typer.Option(
        "--image-size", metavar="HxW",
        help="Images: resize every file to HEIGHTxWIDTH (needed when their sizes "
             "differ).")] = None,
    window: Annotated[int | None, typer.Option(
        "--window", metavar="W", min=1,
        help="Time series: DATA is one series (rows = timestamps in time order, numeric "
             "columns = channels); score every timestamp with windows of W rows "
             "(SeriesDetector) and plot the score over time.")] = None,
    train_stride: Annotated[int | None, typer.Option(
        "--train-stride", metavar="S", min=1,
        help="Series: fit on windows starting every S rows (default 1; larger is faster and "
             "can cost accuracy).")] = None,
    score_stride: Annotated[int, typer.Option(
        "--score-stride", metavar="S", min=1,
        help="Series: score windows starting every S rows (default 1: every timestamp gets "
             "its own score).")] = 1,
    timestamp_column: Annotated[str | None, typer.Option(
        "--timestamp-column", metavar="COL",
        help="Series: the time column (dates or numbers, increasing); default: a column "
             "named timestamp / time / datetime / date, else the row order.")] = None,
    explain: Annotated[bool, typer.Option(
        "--explain", help="Tables: explain the --top anomalies: print the features that make "
                          "each one anomalous (value, normal range, direction) and write a "
                          "PNG per anomaly and attributions.csv to --explain-out "
                          "(deepad.explain).")] = False,
    explain_out: Annotated[Path, typer.Option(
        "--explain-out", metavar="DIR",
        help="Folder for --explain's PNGs and CSV.")] = Path("deepad-explain"),
    video: Annotated[bool, typer.Option(
        "--video", help="Video: DATA is an .npz of frames (frames, optional label and clip "
                        "ids), a folder of frame images, a video file, or ped2 (UCSD Ped2: "
                        "fitted on its training videos, its test videos scored). Writes one "
                        "score per frame, the score over time (--plot) and the most "
                        "anomalous frame with its map (<plot>-overlay.png). "
                        "AutoEncoder (the default) is Hasan et al.'s Conv-AE over stacked "
                        "frames; -d FuturePrediction predicts frames. --image-size HxW "
                        "resizes the frames.")] = False,
    clip_length: Annotated[int, typer.Option(
        "--clip-length", metavar="T", min=2,
        help="Video: frames per clip (FuturePrediction: T - 1 past frames predict the "
             "last).")] = 5,
) -> None:
    """Fit a detector on a table or on images and report its scores (and metrics when labels
    are known).

    Scores are those of the rows the detector was fitted on (higher = more anomalous); the
    row number is the 0-based position in the table.
    """
    _configure_logging(verbose)
    from deepad.cli.image_run import is_image_input

    if explain and (window is not None or (data is not None and is_image_input(data))):
        _fail("--explain explains table rows; for a series or images save the model "
              "(--save-model DIR) and run deepad explain DIR DATA.")
    named = detector is not None
    if detector is None:
        detector = OTHER_DEFAULT
    if video:
        from deepad.cli.image_run import parse_size
        from deepad.cli.video_run import VIDEO_AUTOENCODER, run_video

        with _clean_errors(verbose):
            cls = get_detector(detector)
            valid = cls().get_params(deep=False)
            params = {k: v for k, v in (("random_state", seed), ("verbose", verbose))
                      if k in valid}
            if cls.name == "AutoEncoder":  # Conv-AE widths for frames (deepad.cli.video_run)
                params.update(VIDEO_AUTOENCODER)
            params.update(parse_params(param or [], valid, cls.name))
            for option, value in (("--output", output), ("--plot", plot)):
                if not _skip(value) and not Path(value).parent.is_dir():
                    msg = f"{option} {value}: the folder {Path(value).parent} does not exist."
                    raise FileNotFoundError(msg)
            run_video(data if data is not None else Path("ped2"), detector=cls.name,
                      params=params, clip_length=clip_length,
                      frame_size=parse_size(image_size), top=top,
                      output=None if _skip(output) else output,
                      plot=None if _skip(plot) else plot, save_model=save_model,
                      echo=typer.echo)
        return
    if window is not None:
        with _clean_errors(verbose):
            _run_series(data, window=window, train_stride=train_stride,
                        score_stride=score_stride, timestamp_column=timestamp_column,
                        detector=detector, label_column=label_column,
                        ignore_columns=ignore_columns or [], param=param or [], scale=scale,
                        seed=seed, top=top, output=output, plot=plot, save_model=save_model,
                        verbose=verbose)
        return
    if train_stride is not None or score_stride != 1 or timestamp_column is not None:
        _fail("--train-stride, --score-stride and --timestamp-column apply to a time series: "
              "add --window W.")
    from deepad.cli.graph_run import is_graph_file

    if data is not None and is_graph_file(data):
        with _clean_errors(verbose):
            _run_graph(data, detector, param or [], labeled_ratio, seed, top, output, plot,
                       save_model, verbose)
        return
    if data is not None and is_image_input(data):
        with _clean_errors(verbose):
            _run_images(data, detector, param or [], seed, top, output, plot, save_model,
                        verbose, image_size)
        return
    if image_size is not None:
        _fail("--image-size applies to images (a folder, or an .npy / .npz of images).")
    with _clean_errors(verbose):
        _run(data, detector=detector if named else None, label_column=label_column,
             id_column=id_column,
             ignore_columns=ignore_columns or [], categorical=categorical, param=param or [],
             scale=scale, labeled_ratio=labeled_ratio, seed=seed, top=top, output=output,
             plot=plot, save_model=save_model, verbose=verbose,
             explain_out=explain_out if explain else None)


def _run_series(data: Path | None, *, window: int, train_stride: int | None,
                score_stride: int, timestamp_column: str | None, detector: str,
                label_column: str | None, ignore_columns: list[str], param: list[str],
                scale: Scale, seed: int, top: int, output: str, plot: str,
                save_model: Path | None, verbose: bool) -> None:
    """``deepad run SERIES --window W`` (:mod:`deepad.cli.series_run`)."""
    from deepad.cli.series_run import run_series

    if data is None:
        msg = "--window needs a DATA file: a .csv or .parquet series, one row per timestamp."
        raise ValueError(msg)
    cls = get_detector(detector)
    for option, value in (("--output", output), ("--plot", plot)):
        if not _skip(value) and not Path(value).parent.is_dir():
            msg = f"{option} {value}: the folder {Path(value).parent} does not exist."
            raise FileNotFoundError(msg)
    valid = cls().get_params(deep=False)
    params = {k: v for k, v in (("random_state", seed), ("verbose", verbose)) if k in valid}
    params.update(parse_params(param, valid, cls.name))
    columns = [c.strip() for item in ignore_columns for c in item.split(",") if c.strip()]
    run_series(data, cls=cls, params=params, window=window, train_stride=train_stride,
               score_stride=score_stride, label_column=label_column,
               timestamp_column=timestamp_column, ignore_columns=columns,
               scale="minmax" if scale.value == "auto" else scale.value, top=top,
               output=None if _skip(output) else output, plot=None if _skip(plot) else plot,
               save_model=save_model)


def _run_graph(data: Path, detector: str, param: list[str], labeled_ratio: float, seed: int,
               top: int, output: str, plot: str, save_model: Path | None,
               verbose: bool) -> None:
    """``deepad run`` on a graph ``.npz`` (:mod:`deepad.cli.graph_run`)."""
    from deepad.cli.graph_run import graph_detector, run_graph

    cls = graph_detector(detector)
    for option, value in (("--output", output), ("--plot", plot)):
        if not _skip(value) and not Path(value).parent.is_dir():
            msg = f"{option} {value}: the folder {Path(value).parent} does not exist."
            raise FileNotFoundError(msg)
    valid = cls().get_params(deep=False)
    params = {k: v for k, v in (("random_state", seed), ("verbose", verbose)) if k in valid}
    params.update(parse_params(param, valid, cls.name))
    run_graph(data, detector=cls.name, params=params, labeled_ratio=labeled_ratio, seed=seed,
              top=top, output=None if _skip(output) else output,
              plot=None if _skip(plot) else plot, save_model=save_model)


def _run_images(data: Path, detector: str, param: list[str], seed: int, top: int, output: str,
                plot: str, save_model: Path | None, verbose: bool,
                image_size: str | None) -> None:
    """``deepad run`` on images (:mod:`deepad.cli.image_run`)."""
    from deepad.cli.image_run import image_detector, parse_size, run_images

    cls = image_detector(detector)
    for option, value in (("--output", output), ("--plot", plot)):
        if not _skip(value) and not Path(value).parent.is_dir():
            msg = f"{option} {value}: the folder {Path(value).parent} does not exist."
            raise FileNotFoundError(msg)
    valid = cls().get_params(deep=False)
    params = {k: v for k, v in (("random_state", seed), ("verbose", verbose)) if k in valid}
    params.update(parse_params(param, valid, cls.name))
    run_images(data, detector=cls.name, params=params, top=top, output=output, plot=plot,
               save_model=save_model, size=parse_size(image_size), skip=_skip)


def _run(data: Path | None, *, detector: str | None, label_column: str | None,
         id_column: str | None, ignore_columns: list[str], categorical: Categorical,
         param: list[str], scale: Scale, labeled_ratio: float, seed: int, top: int, output: str,
         plot: str, save_model: Path | None, verbose: bool,
         explain_out: Path | None = None) -> None:
    from deepad.cli.tabular_input import categorical_problem, read_input, split_names
    from deepad.tabular import TableDetector, reads_categories

    chosen_by_default = detector is None
    cls = get_detector(RECOMMENDED_UNSUPERVISED if chosen_by_default else detector)
    for option, value in (("--output", output), ("--plot", plot)):
        folder = Path(value).parent
        if not _skip(value) and not folder.is_dir():
            msg = f"{option} {value}: the folder {folder} does not exist."
            raise FileNotFoundError(msg)
    valid = cls().get_params(deep=False)
    given = parse_params(param, valid, cls.name)
    params = {k: v for k, v in (("random_state", seed), ("verbose", verbose)) if k in valid}
    params.update(given)
    categories = reads_categories(cls)
    if categories and scale not in (Scale.auto, Scale.none):
        msg = (f"--scale {scale.value} does not apply to {cls.name}: it reads categories "
               "(integer codes), which are never scaled. Leave --scale out.")
        raise ValueError(msg)
    if categories and categorical not in (Categorical.auto, Categorical.ordinal):
        msg = (f"--categorical {categorical.value} does not apply to {cls.name}: it reads "
               "categories, given as ordinal codes. Leave --categorical out.")
        raise ValueError(msg)

    # ---- data
    table = read_input(data, label_column=label_column, id_column=id_column,
                       ignore_columns=split_names(ignore_columns),
                       warn=lambda line: typer.echo(f"Warning: {line}", err=True))
    X, y, dataset = table.features, table.y, table.name
    typer.echo(f"data: {table.description}")
    model = TableDetector(cls(**params), scale=scale.value, categorical=categorical.value,
                          drop=table.not_features)
    preprocessor = model.make_preprocessor()
    problem = categorical_problem(X, detector=cls.name, reads_categories=categories,
                                  categorical=preprocessor.categorical)
    if problem:
        raise ValueError(problem)
    n_features = preprocessor.fit_transform(X).shape[1]  # errors before a long fit
    encoded = preprocessor.encoding_.columns
    typer.echo(f"shape: {X.shape[0]} rows x {n_features} features"
               + (f" ({X.shape[1]} columns; {len(encoded)} categorical, "
                  f"{preprocessor.categorical} encoded, not scaled)" if encoded else "")
               + "; labels: "
               + ("none" if y is None else f"{int(y.sum())} anomalies "
                  f"({100 * y.mean():.1f} %)"))

    if chosen_by_default:
        members = getattr(cls(), "members", ())
        typer.echo(f"No detector named (-d): using {cls.name}"
                   + (f" ({' + '.join(members)})" if members else "")
                   + ", the recommended unsupervised detector for tables "
                     "(docs/which-detector.md).")
        if y is not None:
            typer.echo(f"Labels are given: with a few labelled anomalies the recommended "
                       f"detector is {RECOMMENDED_WEAK} (-d {RECOMMENDED_WEAK}; "
                       "--labeled-ratio of the anomalies are revealed to it; its default "
                       "booster needs CatBoost: pip install \"deepad[boost]\").")

    # ---- supervision
    if "class-labels" in cls.supervision:
        msg = (f"{cls.name} works on a classifier of in-distribution classes (supervision "
               "'class-labels'): fit it in Python with fit(X, y_class), y_class the integer "
               "class of each training sample; deepad run reads anomaly labels, not classes.")
        raise ValueError(msg)
    # The recommended detector was chosen and checked unsupervised (REPEN can also take
    # labels): with no -d, labels only measure it.
    weak = "weakly-supervised" in cls.supervision and not chosen_by_default
    needs_labels = "unsupervised" not in cls.supervision
    revealed = None
    if needs_labels and y is None:
        msg = (f"{cls.name} is weakly supervised and needs labels: give a CSV / Parquet file "
               "with --label-column COL (1 = anomaly, 0 = normal) or a .npz file with an array "
               "y; --labeled-ratio of the anomalies are then revealed to it.")
        raise ValueError(msg)
    if needs_labels and labeled_ratio == 0:
        msg = f"{cls.name} is weakly supervised: --labeled-ratio must be above 0."
        raise ValueError(msg)
    if weak and y is not None and labeled_ratio > 0:
        revealed = reveal_labels(y, labeled_ratio, seed)
        typer.echo(f"weak supervision: {int(revealed.sum())} of {int(y.sum())} anomalies "
                   f"revealed as y=1 (--labeled-ratio {labeled_ratio:g}, seed {seed}); all other "
                   "rows y=0. Metrics use only the rows whose labels were not revealed.")

    # ---- fit
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items() if k != "verbose")
    typer.echo(f"detector: {cls.name} ({cls.category} / {cls.subcategory}); {shown}; "
               f"scale: {preprocessor.scale}")
    start = time.perf_counter()
    model.fit(X, None if revealed is None else revealed.astype(np.int64))
    seconds = time.perf_counter() - start
    scores = np.asarray(model.decision_scores_, dtype=np.float64)
    flagged = np.asarray(model.labels_, dtype=np.int64)
    contamination = getattr(model.detector_, "contamination", None)
    typer.echo(f"fit: {seconds:.2f} s")
    typer.echo(f"threshold_: {model.threshold_:.6g}"
               + (f" (contamination {contamination:g})" if contamination is not None else "")
               + f"; {int(flagged.sum())} of {len(scores)} rows flagged as anomalies")

    # ---- top rows
    if top > 0:
        order = np.argsort(-scores, kind="stable")[:top]
        typer.echo(f"top {len(order)} rows by score:")
        ids = None if table.ids is None else table.ids.astype(str).to_numpy()
        width = 0 if ids is None else max(len(id_column or ""), *(len(ids[r]) for r in order))
        header = f"  {'rank':>4}  {'row':>7}" + ("" if ids is None else
                                                  f"  {id_column:>{width}}")
        typer.echo(header + f"  {'score':>12}" + ("" if y is None else "  label"))
        for rank, row in enumerate(order, start=1):
            line = (f"  {rank:>4}  {row:>7}" + ("" if ids is None else f"  {ids[row]:>{width}}")
                    + f"  {scores[row]:>12.6g}")
            if y is not None:
                line += f"  {y[row]:>5}" + ("  (revealed)" if revealed is not None
                                             and revealed[row] else "")
            typer.echo(line)

    # ---- metrics
    if y is not None:
        _report_metrics(y, scores, revealed)

    # ---- files
    if not _skip(output):
        written = pd.DataFrame({"row": np.arange(len(scores))})
        if table.ids is not None:
            written[id_column] = table.ids.to_numpy()
        written["score"] = scores
        written["is_anomaly"] = flagged
        if y is not None:
            written["label"] = y
        if revealed is not None:
            written["revealed"] = revealed.astype(np.int64)
        written.to_csv(output, index=False)
        typer.echo(f"scores written to {output}")
    if not _skip(plot):
        from deepad.cli.plot import plot_scores

        plot_scores(plot, scores, float(model.threshold_), y, revealed=revealed,
                    title=f"{cls.name} on {dataset}")
        typer.echo(f"histogram written to {plot}")
    if explain_out is not None and top > 0:
        from deepad.cli.explain import explain_table

        explain_table(model, X, scores, top=top, out=explain_out, ids=table.ids,
                      id_name=id_column or "id")
    if save_model is not None:
        model.save(save_model)
        typer.echo(f"model saved to {save_model} with its preprocessing: "
                   f"deepad.load({str(save_model)!r}).decision_function(table) scores a raw "
                   "table with these columns")


def _report_metrics(y: np.ndarray, scores: np.ndarray, revealed: np.ndarray | None) -> None:
    from deepad.metrics import auc_pr, auc_roc, precision_at_n

    if revealed is None:
        keep = np.ones(len(y), dtype=bool)
        where = f"all {len(y)} rows (the detector did not see the labels)"
    else:
        keep = ~revealed
        where = f"the {int(keep.sum())} rows whose labels were not revealed"
    y_eval, s_eval = y[keep], scores[keep]
    n_anomalies = int(y_eval.sum())
    if n_anomalies == 0 or n_anomalies == len(y_eval):
        typer.echo(f"metrics skipped: {where} hold only one class.")
        return
    typer.echo(f"metrics on {where}, {n_anomalies} anomalies:")
    for label, value in (("AUC-ROC", auc_roc(y_eval, s_eval)), ("AUC-PR", auc_pr(y_eval, s_eval)),
                         (f"precision@{n_anomalies}", precision_at_n(y_eval, s_eval))):
        typer.echo(f"  {label:<15}{value:.4f}")
