"""The graph benchmark report: per setting (unsupervised, weak), one row per graph, AUC-ROC,
AUC-PR and Recall@k (k = number of outliers) as mean ± std over the seeds, fit time and peak
memory, and the failures.

:func:`write_graph_report` takes the rows of graph jobs (settings ``graph`` / ``graph-weak``,
:mod:`deepad.bench.graph_protocol`) and writes ``report.md``, ``report.html`` and a box plot
of AUC-ROC per graph; ``deepad report graphs.db`` calls it through the graph protocol.
"""

from __future__ import annotations

import logging
import math
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
from deepad.bench.summary import (
    OK,
    check_results,
    method_order,
    metric_cells,
    natural_key,
    one_line,
    pivot_means,
    status_counts,
)

logger = logging.getLogger(__name__)

DEFAULT_TITLE = "deepad graph benchmark report"
METRICS = {"auc_roc": "AUC-ROC", "auc_pr": "AUC-PR", "precision_at_n": "Recall@k"}
SECTION_TITLES = {"graph": "Unsupervised", "graph-weak": "Weakly supervised"}
PROTOCOL = (
    "BOND's transductive protocol (Liu et al., \"BOND: Benchmarking Unsupervised Outlier Node "
    "Detection on Static Attributed Graphs\", NeurIPS 2022): each detector is fitted on the "
    "whole graph and its scores of all nodes are compared with the outlier labels. Recall@k "
    "takes k = the number of outliers (so it equals precision@k). The seed changes only the "
    "detector. Weakly supervised detectors get 10 % of the outliers labelled (at least one, "
    "drawn with the seed; the labelled ones stay in the evaluation). Graphs are made "
    "undirected, coalesced and without self-loops before any detector sees them.")
DEFAULTS_NOTE = (
    "Every detector runs with its defaults (deepad detectors with their class's graph "
    "settings, `modality_defaults[\"graph\"]`: PyGOD's OCGNN settings for DeepSVDD, GDN's "
    "for DevNet; the OCGNN class carries its release's settings as its own defaults), on "
    "the CPU, with the job's seed, no hyperparameter search. BOND's published numbers are the "
    "best of 20 random-hyperparameter trials per method, so they are not comparable with "
    "these.")


def write_graph_report(results: pd.DataFrame, out_dir: str | Path,
                       title: str = DEFAULT_TITLE) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and ``boxplot_auc_roc_<setting>.png`` of graph
    jobs.

    Parameters
    ----------
    results : DataFrame
        One row per job with the columns of :data:`deepad.bench.summary.REQUIRED_COLUMNS`.
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
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images: list[Path] = []
    blocks: list[Block] = [Heading(title, 1), *_summary_blocks(frame),
                           Heading("Protocol and inputs", 2), Paragraph(PROTOCOL),
                           Paragraph(DEFAULTS_NOTE), *_params_blocks(frame)]
    for setting in ("graph", "graph-weak"):
        rows = _run_rows(frame[frame["setting"] == setting])
        if len(rows):
            blocks += _setting_blocks(setting, rows, out, images)
    blocks += _failure_blocks(frame)
    markdown, page = out / "report.md", out / "report.html"
    markdown.write_text(to_markdown(blocks), encoding="utf-8")
    page.write_text(to_html(blocks, title), encoding="utf-8")
    logger.info("graph report written to %s", out)
    return {p.name: p for p in (markdown, page, *images)}


def _run_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows of the detectors that ran in a setting (not every job of theirs skipped:
    an unsupervised detector in the weak setting, a weakly supervised one without labels)."""
    ran = rows.groupby("method")["status"].transform(lambda s: bool((s != "skipped").any()))
    return rows[ran.astype(bool)]


def _summary_blocks(frame: pd.DataFrame) -> list[Block]:
    n_jobs = len(frame)
    counts = frame["status"].value_counts()
    n_ok = int(counts.get(OK, 0))
    bad = [f"{int(n)} {status}" for status, n in counts.items() if status != OK]
    jobs = (f"{n_jobs} jobs: {n_ok} finished ok, {n_jobs - n_ok} did not ({', '.join(bad)}); "
            "each is listed under Failures." if bad else f"{n_jobs} jobs, all finished ok.")
    header, rows = status_rows(status_counts(frame), frame)
    methods = method_order(frame)
    graphs = sorted(frame["dataset"].astype(str).unique(), key=natural_key)
    return [
        Paragraph(f"Generated by deepad {__version__} from {n_jobs} graph jobs."),
        Heading("Run summary", 2), Paragraph(jobs), *stale_blocks(frame),
        Bullets((f"Detectors ({len(methods)}): {values(methods)}",
                 f"Graphs: {values(graphs)}", f"Seeds: {seeds_text(frame)}")),
        *version_blocks(frame),
        Paragraph("Jobs by detector and status:"), Table(header, rows)]


def _params_blocks(frame: pd.DataFrame) -> list[Block]:
    given = []
    for method, rows in frame.groupby("method", sort=False):
        texts = {str(t) for t in rows["params"].unique() if str(t) not in ("", "{}", "nan")}
        if texts:
            given.append(f"{method}: {'; '.join(sorted(texts))}")
    if not given:
        return [Paragraph("Parameters: every detector at its defaults.")]
    return [Paragraph("Parameters of the jobs (graph settings included; the others at their "
                      "defaults):"), Bullets(tuple(given))]


def _setting_blocks(setting: str, rows: pd.DataFrame, out: Path,
                    images: list[Path]) -> list[Block]:
    title = SECTION_TITLES[setting]
    methods = method_order(rows)
    n_ok = int((rows["status"] == OK).sum())
    legend = ["Each cell: mean ± sample std over the seeds that finished ok (n/N: n of N "
              "seeds). The first mean row averages the graphs on which every detector has a "
              "result.", ALL_MEAN_LEGEND.replace("datasets", "graphs").replace(
                  "dataset", "graph")]
    if has_stale(rows):
        legend.append(STALE_LEGEND)
    blocks: list[Block] = [
        Heading(f"{title}", 2),
        Paragraph(f"{rows['dataset'].nunique()} graph(s), {len(methods)} detector(s), seeds "
                  f"{seeds_text(rows)}: {len(rows)} jobs, {n_ok} ok."),
        Paragraph(" ".join(legend))]
    for metric, label in METRICS.items():
        cells = metric_cells(rows, metric)
        means = pivot_means(cells, methods)
        blocks += [Heading(f"{title}: {label} per graph", 3), _score_table(cells, means, methods)]
        if metric == "auc_roc":
            blocks += peer_note_blocks(means, rows, label, unit="graph(s)")
    means = pivot_means(metric_cells(rows, "auc_roc"), methods)
    if means.notna().to_numpy().any():
        path = figures.boxplot_auc(out / f"boxplot_auc_roc_{setting}.png", means,
                                   title=f"{title}: AUC-ROC per graph")
        images.append(path)
        blocks += [Paragraph(f"AUC-ROC per graph (mean over seeds), {title.lower()}."),
                   Image(path, f"Box plot of AUC-ROC per graph, {title.lower()}")]
    return [*blocks, Heading(f"{title}: fit time and peak memory", 3),
            *time_blocks(rows)[1:]]


def _score_table(cells: pd.DataFrame, means: pd.DataFrame, methods: list[str]) -> Table:
    lookup = {(r.dataset, r.method): r for r in cells.itertuples(index=False)}
    order = sorted(means.index, key=natural_key)
    rows, bold = [], set()
    for r, dataset in enumerate(order):
        texts = [NOT_RUN if (found := lookup.get((dataset, m))) is None
                 else cell_text(pd.Series(found._asdict())) for m in methods]
        rows.append((str(dataset), *texts))
        scores = {i + 1: float(means.at[dataset, m]) for i, m in enumerate(methods)}
        bold |= {(r, c) for c in best_positions(scores)}
    complete = means.loc[order].dropna(axis=0, how="any")
    scores = {i + 1: float(complete[m].mean()) if len(complete) else math.nan
              for i, m in enumerate(methods)}
    r = len(rows)
    rows.append((f"mean ({len(complete)} graph(s) with every result)",
                 *(number(v) for v in scores.values())))
    bold |= {(r, c) for c in best_positions(scores)}
    extra, extra_bold, _ = all_rows(means, methods, r + 1, ran_methods(cells))
    rows += extra
    bold |= extra_bold
    return Table(("graph", *methods), tuple(rows), frozenset(bold))


def _failure_blocks(frame: pd.DataFrame) -> list[Block]:
    auc = frame["auc_roc"].to_numpy(dtype=float)
    skipped = frame["status"] == "skipped"
    bad = ((frame["status"] != OK) | ~pd.Series(auc).apply(math.isfinite).to_numpy()) & ~skipped
    table = frame[bad]
    blocks: list[Block] = [Heading("Failures", 2)]
    if skipped.any():
        reasons = sorted({one_line(e) for e in frame.loc[skipped, "error"]})
        blocks += [Paragraph(f"{int(skipped.sum())} job(s) skipped by design (not failures):"),
                   Bullets(tuple(reasons))]
    if table.empty:
        return [*blocks, Paragraph("None: every job that ran finished ok with a finite "
                                   "AUC-ROC.")]
    order = sorted(range(len(table)), key=lambda i: (
        str(table["method"].iat[i]), natural_key(str(table["dataset"].iat[i])),
        natural_key(str(table["seed"].iat[i]))))
    rows = tuple((str(f.method), str(f.dataset), str(f.setting), seed_text(f.seed),
                  str(f.status), one_line(f.error))
                 for f in table.iloc[order].itertuples(index=False))
    return [*blocks, Paragraph(f"{len(table)} of {len(frame)} jobs gave no result."),
            Table(("detector", "graph", "setting", "seed", "status", "error"), rows,
                  text_columns=frozenset({5}))]
