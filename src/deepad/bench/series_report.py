"""The time-series benchmark report: per-group tables of AUC-ROC, AUC-PR and range-based F1,
all metrics side by side, fit times, skipped series and failures.

:func:`write_series_report` takes the rows of series jobs (setting ``"series"``, as
:func:`deepad.bench.load_results` returns them) and writes ``report.md``, ``report.html`` and a
box plot. :func:`deepad.bench.report.write_report` calls it when every row is a series job, so
``deepad report series.db`` writes this report.

Groups are ``SMAP/MSL``, ``UCR`` and one per NAB category (``NAB/realTweets``, ...,
:func:`deepad.bench.series.series_group`). In a group table a cell is the mean ± sample
standard deviation over the seeds that finished ok, as in the tabular report; the group-mean
row averages the series on which every compared detector has a result.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from deepad._version import __version__
from deepad.bench import figures
from deepad.bench.render import (
    Block,
    Bullets,
    Heading,
    Image,
    Paragraph,
    Table,
    to_html,
    to_markdown,
)
from deepad.bench.report_parts import (
    ALL_MEAN_LEGEND,
    NOT_RUN,
    PEER_LEGEND,
    STALE_LEGEND,
    all_rows,
    best_positions,
    cell_text,
    has_stale,
    number,
    peer_note_blocks,
    ran_methods,
    seed_text,
    seeds_text,
    stale_blocks,
    status_rows,
    time_blocks,
    values,
    version_blocks,
)
from deepad.bench.series import group_key, series_group
from deepad.bench.summary import (
    OK,
    SKIPPED,
    check_results,
    method_order,
    metric_cells,
    natural_key,
    one_line,
    pivot_means,
    status_counts,
)

logger = logging.getLogger(__name__)

DEFAULT_TITLE = "deepad time-series benchmark report"
SERIES_METRICS = ("best_f1", "range_f1", "pa_f1")
GROUP_METRICS = {"auc_roc": "AUC-ROC", "auc_pr": "AUC-PR", "range_f1": "range F1"}
ALL_METRICS = {"auc_roc": "AUC-ROC", "auc_pr": "AUC-PR", "best_f1": "best F1",
               "range_f1": "range F1", "pa_f1": "PA F1 (optimistic)"}
PROTOCOL = (
    "Each job trains on the series' training part without labels and scores every timestamp "
    "of its test part; both parts are min-max scaled per channel with the training part's "
    "minimum and range.",
    "deepad detectors score sliding windows through deepad.series.SeriesDetector (window and "
    "stride below; a timestamp's score is the mean over the windows covering it); DeepOD "
    "time-series detectors run as published with seq_len = window, their default "
    "hyperparameters, the seed and device=cpu.",
    "AUC-ROC, AUC-PR: point-wise, threshold-free.",
    "best F1: point-wise F1 at the threshold that maximises it, chosen with the test labels "
    "(an upper bound for a threshold set without them).",
    "range F1: range-based F1 of Tatbul et al. (NeurIPS 2018; alpha = 0, flat bias, "
    "cardinality one) of the predictions at that same best-F1 threshold.",
    "PA F1 (optimistic): best point-adjusted F1 over thresholds; one detected timestamp "
    "credits its whole anomaly segment, so even random scores reach high values on long "
    "segments (Kim et al., AAAI 2022). Shown for comparison with the literature, never used "
    "to rank.",
)


def write_series_report(results: pd.DataFrame, out_dir: str | Path,
                        title: str = DEFAULT_TITLE) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and ``boxplot_auc_roc.png`` of series jobs.

    Parameters
    ----------
    results : DataFrame
        One row per series job with the columns of
        :data:`deepad.bench.summary.REQUIRED_COLUMNS` and, where present, ``best_f1``,
        ``range_f1`` and ``pa_f1`` (missing ones count as not measured).
    out_dir : str or Path
        Folder to write to (created if missing).
    title : str
        Page title.

    Returns
    -------
    dict of str to Path
        Every file written, keyed by its file name.
    """
    frame = check_results(results)
    for column in SERIES_METRICS:
        frame[column] = (pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
                         if column in frame.columns else np.nan)
    frame["group"] = [series_group(name) for name in frame["dataset"]]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images: list[Path] = []
    blocks: list[Block] = [Heading(title, 1), *_summary_blocks(frame), *_protocol_blocks(frame),
                           *_reading_blocks(frame), *_overview_blocks(frame, out, images)]
    groups = sorted(frame["group"].unique(), key=group_key)
    for group in groups:
        blocks += _group_blocks(group, frame[frame["group"] == group])
    blocks += _time_blocks(frame) + _skipped_blocks(frame) + _failure_blocks(frame)
    markdown, page = out / "report.md", out / "report.html"
    markdown.write_text(to_markdown(blocks), encoding="utf-8")
    page.write_text(to_html(blocks, title), encoding="utf-8")
    logger.info("time-series report written to %s", out)
    return {p.name: p for p in (markdown, page, *images)}


# ---------------------------------------------------------------------------- helpers
def _group_counts(frame: pd.DataFrame) -> str:
    counts = frame.groupby("group")["dataset"].nunique()
    return "; ".join(f"{g} {int(counts[g])}" for g in sorted(counts.index, key=group_key))


# ---------------------------------------------------------------------------- summary
def _summary_blocks(frame: pd.DataFrame) -> list[Block]:
    n_jobs = len(frame)
    counts = frame["status"].value_counts()
    n_ok = int(counts.get(OK, 0))
    bad = [f"{int(n)} {status}" for status, n in counts.items() if status != OK]
    if bad:
        jobs = (f"{n_jobs} jobs: {n_ok} finished ok, {n_jobs - n_ok} did not "
                f"({', '.join(bad)}); skipped jobs are listed under Skipped, the others under "
                "Failures.")
    else:
        jobs = f"{n_jobs} jobs, all finished ok."
    header, rows = status_rows(status_counts(frame), frame)
    methods = method_order(frame)
    return [
        Paragraph(f"Generated by deepad {__version__} from {n_jobs} time-series jobs."),
        Heading("Run summary", 2),
        Paragraph(jobs),
        *stale_blocks(frame),
        Bullets((f"Detectors ({len(methods)}): {values(methods)}",
                 f"Series ({frame['dataset'].nunique()}): {_group_counts(frame)}",
                 f"Seeds: {seeds_text(frame)}")),
        *version_blocks(frame),
        Paragraph("Jobs by detector and status:"),
        Table(header, rows),
    ]


def _reading_blocks(frame: pd.DataFrame) -> list[Block]:
    """The caption rules of every table on the page, stated once."""
    rules = [
        "Overview tables: each cell is the mean over the series of the group of each series' "
        "mean over seeds; (n/N) = only n of the group's N measured series have a result for "
        "that detector. Series skipped for every detector (no anomaly in the test part) are "
        "not counted. The last three rows count every measured series, failures included.",
        "Per-group tables: cells are mean ± std over seeds; the first mean row uses the "
        "series on which every detector has a result (complete cases).",
        "Bold = best in the row.",
        ALL_MEAN_LEGEND.replace("dataset", "series"),
    ]
    if has_stale(frame):
        rules.append(STALE_LEGEND)
    if frame["method"].astype(str).str.contains(":").any():
        rules.append(PEER_LEGEND)
    return [Heading("How to read the tables", 2), Bullets(tuple(rules))]


def _protocol_blocks(frame: pd.DataFrame) -> list[Block]:
    windows = []
    for method, rows in frame.groupby("method", sort=False):
        found = []
        for text in rows["params"].unique():
            params = _params(text)
            parts = [f"{k} {params[k]}" for k in ("window", "stride") if k in params]
            found.append(", ".join(parts) or "its own")
        windows.append(f"{method}: {'; '.join(dict.fromkeys(found))}")
    return [Heading("Protocol and metrics", 2), Bullets(PROTOCOL),
            Paragraph("Windows: " + "; ".join(windows) + ".")]


def _params(text) -> dict:
    from deepad.bench.summary import _params as parse

    return parse(text)


# ---------------------------------------------------------------------------- overview
def _method_means(frame: pd.DataFrame, metric: str, methods: list[str]) -> pd.DataFrame:
    """Series × methods table of the mean over seeds (NaN = no result)."""
    return pivot_means(metric_cells(frame, metric), methods)


def _mean_cell(column: pd.Series, n_series: int) -> str:
    finite = column[np.isfinite(column.to_numpy(dtype=np.float64))]
    if finite.empty:
        return NOT_RUN
    text = number(float(finite.mean()))
    return text if len(finite) == n_series else f"{text} ({len(finite)}/{n_series})"


def _overview_blocks(frame: pd.DataFrame, out: Path, images: list[Path]) -> list[Block]:
    methods = method_order(frame)
    measured = frame[frame["status"] != SKIPPED]
    blocks: list[Block] = [
        Heading("Overview", 2)]
    if measured.empty:
        return [*blocks, Paragraph("No series was measured.")]
    groups = sorted(measured["group"].unique(), key=group_key)
    for metric, label in GROUP_METRICS.items():
        rows, bold = [], set()
        for r, group in enumerate([*groups, "all"]):
            part = measured if group == "all" else measured[measured["group"] == group]
            means = _method_means(part, metric, methods)
            n_series = len(means)
            cells = [_mean_cell(means[m], n_series) for m in methods]
            rows.append((f"{group} ({n_series})", *cells))
            scores = {i + 1: float(np.nanmean(means[m])) if means[m].notna().any()
                      else math.nan for i, m in enumerate(methods)}
            bold |= {(r, c) for c in best_positions(scores)}
        extra, extra_bold, _ = all_rows(means, methods, len(rows), set(measured["method"]))
        rows += extra
        bold |= extra_bold
        blocks += [Heading(f"{label} by group", 3),
                   Table(("group (series)", *methods), tuple(rows), frozenset(bold))]
        if metric == "auc_roc":
            blocks += peer_note_blocks(_method_means(measured, metric, methods), measured,
                                       label, unit="series")
    side = []
    for method in methods:
        part = measured[measured["method"] == method]
        cells = []
        for metric in ALL_METRICS:
            means = _method_means(part, metric, [method])[method]
            cells.append(_mean_cell(means, measured["dataset"].nunique()))
        side.append((method, *cells))
    blocks += [Heading("All metrics side by side (every measured series)", 3),
               Paragraph("Mean over the measured series (n/N: result on n of N). PA F1 is "
                         "optimistic: it is never the basis of a comparison."),
               Table(("detector", *ALL_METRICS.values()), tuple(side))]
    means = _method_means(measured, "auc_roc", methods)
    if means.notna().to_numpy().any():
        path = figures.boxplot_auc(out / "boxplot_auc_roc.png", means,
                                   title="Point-wise AUC-ROC per series")
        images.append(path)
        blocks += [Paragraph("Point-wise AUC-ROC per series (mean over seeds) of each "
                             "detector, over every series it has a result on."),
                   Image(path, "Box plot of AUC-ROC per series")]
    return blocks


# ---------------------------------------------------------------------------- one group
def _group_blocks(group: str, rows: pd.DataFrame) -> list[Block]:
    methods = method_order(rows)
    n_ok = int((rows["status"] == OK).sum())
    blocks: list[Block] = [
        Heading(f"Results: {group}", 2),
        Paragraph(f"{rows['dataset'].nunique()} series, {len(methods)} detectors, seeds "
                  f"{seeds_text(rows)}: {len(rows)} jobs, {n_ok} ok.")]
    for metric, label in GROUP_METRICS.items():
        cells = metric_cells(rows, metric)
        means = pivot_means(cells, methods)
        blocks += [Heading(f"{group}: {label}, mean ± std over seeds", 3),
                   _score_table(cells, means, methods)]
    return blocks


def _score_table(cells: pd.DataFrame, means: pd.DataFrame, methods: list[str]) -> Table:
    lookup = {(r.dataset, r.method): r for r in cells.itertuples(index=False)}
    rows, bold = [], set()
    for r, dataset in enumerate(means.index):
        texts = []
        for method in methods:
            found = lookup.get((dataset, method))
            texts.append(NOT_RUN if found is None
                         else cell_text(pd.Series(found._asdict())))
        rows.append((_short(dataset), *texts))
        scores = {i + 1: float(means.at[dataset, m]) for i, m in enumerate(methods)}
        bold |= {(r, c) for c in best_positions(scores)}
    complete = means.dropna(axis=0, how="any")
    scores = {i + 1: float(complete[m].mean()) if len(complete) else math.nan
              for i, m in enumerate(methods)}
    r = len(rows)
    rows.append((f"mean ({len(complete)} series with every result)",
                 *(number(v) for v in scores.values())))
    bold |= {(r, c) for c in best_positions(scores)}
    extra, extra_bold, _ = all_rows(means, methods, r + 1, ran_methods(cells))
    rows += extra
    bold |= extra_bold
    return Table(("series", *methods), tuple(rows), frozenset(bold))


def _short(dataset: str) -> str:
    """The series name without its source prefix (the group says it)."""
    source, _, rest = dataset.partition("/")
    if source == "nab":
        return rest.partition("/")[2] or rest
    return rest or dataset


# ---------------------------------------------------------------------------- the rest
def _time_blocks(frame: pd.DataFrame) -> list[Block]:
    return [Heading("Fit time", 2), *time_blocks(frame)[1:]]


def _skipped_blocks(frame: pd.DataFrame) -> list[Block]:
    skipped = frame[frame["status"] == SKIPPED]
    blocks: list[Block] = [Heading("Skipped", 2)]
    if skipped.empty:
        return [*blocks, Paragraph("None.")]
    reasons = skipped.groupby("error", sort=False).agg(
        jobs=("error", "size"), detectors=("method", lambda m: values(dict.fromkeys(m))))
    rows = tuple((str(int(r.jobs)), r.detectors, one_line(reason, 300))
                 for reason, r in reasons.iterrows())
    blocks += [Paragraph(f"{len(skipped)} jobs were not run, for the reasons below (no "
                         "metric is defined on a test part without anomalies)."),
               Table(("jobs", "detectors", "reason"), rows, text_columns=frozenset({1, 2}))]
    return blocks


def _failure_blocks(frame: pd.DataFrame) -> list[Block]:
    auc = frame["auc_roc"].to_numpy(dtype=np.float64)
    bad = (frame["status"] != OK) & (frame["status"] != SKIPPED)
    bad |= (frame["status"] == OK) & ~np.isfinite(auc)
    table = frame[bad]
    blocks: list[Block] = [Heading("Failures", 2)]
    if table.empty:
        return [*blocks, Paragraph("None: every job that ran finished ok with a finite "
                                   "AUC-ROC.")]
    counts = table["status"].value_counts()
    blocks.append(Paragraph(
        f"{len(table)} of {len(frame)} jobs gave no result "
        f"({', '.join(f'{int(n)} {s}' for s, n in counts.items())}); each one is listed "
        "below with its error on one line."))
    methods = {name: i for i, name in enumerate(method_order(frame))}
    order = sorted(range(len(table)), key=lambda i: (
        methods[table["method"].iat[i]], group_key(table["group"].iat[i]),
        natural_key(table["dataset"].iat[i]), natural_key(table["seed"].iat[i])))
    rows = tuple((str(f.method), str(f.dataset), seed_text(f.seed), str(f.status),
                  one_line(f.error)) for f in table.iloc[order].itertuples(index=False))
    return [*blocks, Table(("detector", "series", "seed", "status", "error"), rows,
                           text_columns=frozenset({4}))]
