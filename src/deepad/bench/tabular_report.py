"""The benchmark report: ``report.md`` and a self-contained ``report.html`` with figures.

:func:`write_report` turns a results table (one row per finished job, as returned by
:func:`deepad.bench.load_results`) into a run summary, per-dataset mean ± std tables of
AUC-ROC and AUC-PR with average ranks, the Friedman test and Nemenyi critical difference,
a critical-difference diagram, a box plot, AUC against fit time, a fit-time table and the
list of failed jobs. Runs of different settings (unsupervised, weak at each label budget)
get separate sections. Failed jobs are never dropped: they are counted, marked in the tables
and listed one per line. A table of time-series jobs (setting ``"series"``) gets the
time-series report instead (:func:`deepad.bench.series_report.write_series_report`).
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

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
from deepad.bench.stats import RankStatistics, rank_statistics
from deepad.bench.suites import suite_notes
from deepad.bench.summary import (
    OK,
    check_results,
    failures,
    method_order,
    metric_cells,
    natural_key,
    pivot_means,
    sections,
    status_counts,
    time_table,
)

logger = logging.getLogger(__name__)

DEFAULT_TITLE = "deepad benchmark report"
METRICS = {"auc_roc": "AUC-ROC", "auc_pr": "AUC-PR"}
CELL_LEGEND = (
    "Cells: mean ± sample standard deviation over the seeds that finished ok; "
    "(2/3) = only 2 of 3 seeds finished; \"fail\" = no seed finished (see Failures); "
    "\"skipped\" = every job was skipped; \"—\" = not run. Bold = best in the row.")
RANK_LEGEND = (
    "The \"mean\" and \"average rank\" rows (complete cases) use the datasets on which every "
    "compared detector has a result (rank 1 = highest AUC, ties share the average rank); the "
    "sentence above each table names the datasets and detectors left out.")
MIN_CD_DETECTORS = 3
"""A critical-difference diagram is drawn only when at least this many detectors are ranked."""


def write_tabular_report(results: pd.DataFrame, out_dir: str | Path,
                         title: str = DEFAULT_TITLE) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and the PNG figures of a benchmark to ``out_dir``.

    Parameters
    ----------
    results : DataFrame
        One row per job with the columns of :data:`deepad.bench.summary.REQUIRED_COLUMNS`.
    out_dir : str or Path
        Folder to write to (created if missing; existing report files are replaced).
    title : str, default "deepad benchmark report"
        Page title.

    Returns
    -------
    dict of str to Path
        Every file written, keyed by its file name (``"report.md"``, ``"report.html"``,
        ``"cd_diagram.png"``, ...). With several settings the figure names end in the
        setting (``"cd_diagram_weak_labeled_ratio_0.1.png"``).

    Raises
    ------
    ValueError
        When the table is empty or lacks a required column.
    """
    frame = check_results(results)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts = sections(frame)
    several = len(parts) > 1
    blocks: list[Block] = [Heading(title, 1), *_summary_blocks(frame), *_reading_blocks(frame)]
    images: list[Path] = []
    for name, rows in parts:
        suffix = f"_{_slug(name)}" if several else ""
        blocks.append(Heading(f"Results: {name}", 2))
        blocks += _section_blocks(name, rows, out, suffix, images)
    blocks += _failure_blocks(frame, several)
    markdown, page = out / "report.md", out / "report.html"
    markdown.write_text(to_markdown(blocks), encoding="utf-8")
    page.write_text(to_html(blocks, title), encoding="utf-8")
    logger.info("report written to %s", out)
    return {p.name: p for p in (markdown, page, *images)}


# ---------------------------------------------------------------------------- formatting
def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_")


# ---------------------------------------------------------------------------- summary
def _summary_blocks(frame: pd.DataFrame) -> list[Block]:
    n_jobs = len(frame)
    counts = frame["status"].value_counts()
    n_ok = int(counts.get(OK, 0))
    bad = [f"{int(n)} {status}" for status, n in counts.items() if status != OK]
    if bad:
        jobs = (f"{n_jobs} jobs: {n_ok} finished ok, {n_jobs - n_ok} did not "
                f"({', '.join(bad)}). Each of those is listed under Failures.")
    else:
        jobs = f"{n_jobs} jobs, all finished ok."
    methods = method_order(frame)
    datasets = sorted(frame["dataset"].unique(), key=natural_key)
    settings = [f"{name} ({len(rows)} jobs)" for name, rows in sections(frame)]
    header, rows = status_rows(status_counts(frame), frame)
    return [
        Paragraph(f"Generated by deepad {__version__} from {n_jobs} benchmark jobs."),
        Heading("Run summary", 2),
        Paragraph(jobs),
        *stale_blocks(frame),
        Bullets((f"Detectors ({len(methods)}): {values(methods)}",
                 f"Datasets ({len(datasets)}): {values(datasets)}",
                 f"Seeds: {seeds_text(frame)}",
                 f"Settings: {values(settings)}")),
        *(Paragraph(note) for note in suite_notes(datasets)),
        *version_blocks(frame),
        Paragraph("Jobs by detector and status:"),
        Table(header, rows),
    ]


def _reading_blocks(frame: pd.DataFrame) -> list[Block]:
    """The caption rules of every score table on the page, stated once."""
    rules = [CELL_LEGEND, RANK_LEGEND, ALL_MEAN_LEGEND]
    if has_stale(frame):
        rules.append(STALE_LEGEND)
    if frame["method"].astype(str).str.contains(":").any():
        rules.append(PEER_LEGEND)
    return [Heading("How to read the tables", 2), Bullets(tuple(rules))]


# ---------------------------------------------------------------------------- one setting
def _section_blocks(name: str, rows: pd.DataFrame, out: Path, suffix: str,
                    images: list[Path]) -> list[Block]:
    methods = method_order(rows)
    n_ok = int((rows["status"] == OK).sum())
    blocks: list[Block] = [Paragraph(
        f"{len(methods)} detectors on {rows['dataset'].nunique()} datasets, seeds "
        f"{seeds_text(rows)}: {len(rows)} jobs, {n_ok} ok, {len(rows) - n_ok} not ok.")]
    ranked: dict[str, tuple[pd.DataFrame, RankStatistics]] = {}
    for metric, label in METRICS.items():
        cells = metric_cells(rows, metric)
        means = pivot_means(cells, methods)
        stats = rank_statistics(means)
        ranked[label] = (means, stats)
        blocks += [Heading(f"{label}: mean ± std over seeds", 3),
                   Paragraph(_rank_legend(stats)),
                   _score_table(cells, means, stats)]
        if metric == "auc_roc":
            blocks += peer_note_blocks(means, rows, label)
    blocks += _statistics_blocks(name, ranked, out, suffix, images)
    blocks += _figure_blocks(name, rows, ranked["AUC-ROC"], out, suffix, images)
    blocks += time_blocks(rows)
    return blocks


def _rank_legend(stats: RankStatistics) -> str:
    n = len(stats.block)
    text = f"Complete cases (the \"mean\" and \"average rank\" rows): {n} dataset(s)"
    if stats.left_out_datasets:
        text += f"; left out: {values(stats.left_out_datasets)}"
    if stats.left_out_methods:
        text += f"; detectors without any result: {values(stats.left_out_methods)}"
    return text + "."


def _score_table(cells: pd.DataFrame, means: pd.DataFrame, stats: RankStatistics) -> Table:
    methods = list(means.columns)
    lookup = {(r.dataset, r.method): r for r in cells.itertuples(index=False)}
    rows, bold = [], set()
    for r, dataset in enumerate(means.index):
        texts = []
        for method in methods:
            found = lookup.get((dataset, method))
            texts.append(NOT_RUN if found is None else cell_text(pd.Series(found._asdict())))
        rows.append((str(dataset), *texts))
        row_means = {i + 1: float(means.at[dataset, m]) for i, m in enumerate(methods)}
        bold |= {(r, c) for c in best_positions(row_means)}
    summary_mean = stats.block.mean(axis=0) if len(stats.block) else pd.Series(dtype=float)
    mean_values = {i + 1: float(summary_mean.get(m, math.nan)) for i, m in enumerate(methods)}
    rank_values = {i + 1: float(stats.ranks.get(m, math.nan)) for i, m in enumerate(methods)}
    r = len(rows)
    rows.append(("mean", *(number(v) for v in mean_values.values())))
    rows.append(("average rank", *(number(v, ".2f") for v in rank_values.values())))
    bold |= {(r, c) for c in best_positions(mean_values)}
    bold |= {(r + 1, c) for c in best_positions(rank_values, lowest=True)}
    extra, extra_bold, _ = all_rows(means, methods, r + 2, ran_methods(cells))
    rows += extra
    bold |= extra_bold
    return Table(("dataset", *methods), tuple(rows), frozenset(bold))


def _friedman_text(label: str, stats: RankStatistics) -> str:
    n, k = stats.block.shape
    if stats.friedman is None:
        return f"{label}: no Friedman test: {stats.friedman_note}."
    f = stats.friedman
    text = (f"{label}: Friedman chi-square = {f.statistic:.3f} (p = {f.pvalue:.3g}; "
            f"Iman-Davenport F = {f.f_statistic:.3f}, p = {f.f_pvalue:.3g}) over {k} detectors "
            f"and {n} datasets")
    if not math.isfinite(f.pvalue):
        return text + ": undefined, every dataset ties every detector."
    if f.pvalue < stats.alpha:
        verdict = (f"the detectors' average ranks differ (p < {stats.alpha:g}); two detectors "
                   f"differ significantly when their average ranks differ by more than the "
                   f"Nemenyi CD = {stats.cd:.3f}")
    else:
        verdict = (f"no significant difference between the detectors (p >= {stats.alpha:g}); "
                   f"the Nemenyi groups below (CD = {stats.cd:.3f}) are descriptive only")
    return f"{text}: {verdict}."


def _groups_text(label: str, stats: RankStatistics) -> str:
    if stats.cd is None:
        return f"{label}: no Nemenyi critical difference: {stats.cd_note}."
    if not stats.groups:
        return f"{label}: every pair of detectors differs by more than CD = {stats.cd:.3f}."
    groups = "; ".join("{" + ", ".join(g) + "}" for g in stats.groups)
    return f"{label}: groups not significantly different (CD = {stats.cd:.3f}): {groups}."


def _statistics_blocks(name: str, ranked: dict[str, tuple[pd.DataFrame, RankStatistics]],
                       out: Path, suffix: str, images: list[Path]) -> list[Block]:
    stats = ranked["AUC-ROC"][1]
    blocks: list[Block] = [
        Heading("Statistical comparison", 3),
        Paragraph("Average ranks over datasets, the Friedman test and the Nemenyi critical "
                  "difference CD = q_alpha * sqrt(k (k + 1) / (6 N)) at alpha = "
                  f"{stats.alpha:g} (Demšar, JMLR 2006); q_alpha is the studentized range "
                  "quantile for k groups and infinite degrees of freedom divided by sqrt(2)."),
        Bullets(tuple(text for label, (_, s) in ranked.items()
                      for text in (_friedman_text(label, s), _groups_text(label, s)))),
    ]
    if stats.cd is not None and len(stats.ranks) >= MIN_CD_DETECTORS:
        path = figures.cd_diagram(
            out / f"cd_diagram{suffix}.png", stats.ranks, stats.cd, stats.groups,
            title=f"AUC-ROC average ranks, {name}: {len(stats.block)} datasets, "
                  f"Nemenyi CD at α = {stats.alpha:g}")
        images.append(path)
        blocks.append(Image(path, f"Critical-difference diagram of AUC-ROC ranks ({name})"))
    elif stats.cd is not None:
        blocks.append(Paragraph(
            f"No critical-difference diagram: {len(stats.ranks)} detectors ranked; the "
            f"diagram is drawn for {MIN_CD_DETECTORS} or more (two detectors compare in the "
            "table directly)."))
    else:
        blocks.append(Paragraph(f"No critical-difference diagram: {stats.cd_note}."))
    return blocks


def _figure_blocks(name: str, rows: pd.DataFrame, roc: tuple[pd.DataFrame, RankStatistics],
                   out: Path, suffix: str, images: list[Path]) -> list[Block]:
    means, stats = roc
    blocks: list[Block] = [Heading("Figures", 3)]
    if means.notna().to_numpy().any():
        path = figures.boxplot_auc(out / f"boxplot_auc_roc{suffix}.png", means,
                                   title=f"AUC-ROC per dataset, {name}")
        images.append(path)
        blocks += [Paragraph("AUC-ROC per dataset (mean over seeds) of each detector, over "
                             "every dataset it has a result on (n = number of datasets)."),
                   Image(path, f"Box plot of AUC-ROC per dataset ({name})")]
    seconds = time_table(rows)["fit_seconds"]
    if len(stats.block):
        auc = stats.block.mean(axis=0)
        path = figures.auc_vs_time(out / f"auc_vs_time{suffix}.png", auc, seconds,
                                   title=f"AUC-ROC against fit time, {name}")
        images.append(path)
        blocks += [Paragraph(f"Mean AUC-ROC over the {len(stats.block)} ranked datasets "
                             "against the median fit time per job."),
                   Image(path, f"AUC-ROC against fit time ({name})")]
    else:
        blocks.append(Paragraph("No plot of AUC-ROC against fit time: no dataset has a result "
                                "for every detector."))
    return blocks


# ---------------------------------------------------------------------------- failures
def _failure_blocks(frame: pd.DataFrame, several: bool) -> list[Block]:
    table = failures(frame)
    blocks: list[Block] = [Heading("Failures", 2)]
    if table.empty:
        return [*blocks, Paragraph("None: every job finished ok with a finite AUC-ROC.")]
    counts = table["status"].value_counts()
    blocks.append(Paragraph(
        f"{len(table)} of {len(frame)} jobs gave no result "
        f"({', '.join(f'{int(n)} {s}' for s, n in counts.items())}); each one is listed "
        "below with its error on one line."))
    header = (("setting",) if several else ()) + ("detector", "dataset", "seed", "status",
                                                  "error")
    rows = tuple(((str(f.section),) if several else ()) + (
        str(f.method), str(f.dataset), seed_text(f.seed), str(f.status), f.error)
        for f in table.itertuples(index=False))
    return [*blocks, Table(header, rows, text_columns=frozenset({len(header) - 1}))]
