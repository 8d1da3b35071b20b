"""The one-class image benchmark report: per source (Fashion-MNIST, MNIST), one row per normal
class, AUC-ROC and AUC-PR as mean ± std over the seeds, the fit times, and the failures.

:func:`write_image_report` takes the rows of one-class image jobs (setting ``"oneclass"``,
:mod:`deepad.bench.image_protocol`) and writes ``report.md``, ``report.html`` and a box plot;
``deepad report images.db`` calls it through the image protocol. Every section says which
one-class protocol its numbers come from (:data:`deepad.data.images.ONE_CLASS_PROTOCOLS`). The
MNIST table sets the per-class numbers of the Deep SVDD paper beside the measured ones; they
come from another protocol (trained on MNIST's training set), and the report says so.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from deepad._version import __version__
from deepad.bench import figures
from deepad.bench.image_sets import SOURCE_TITLES, SOURCES, class_names, parse_name
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

DEFAULT_TITLE = "deepad one-class image benchmark report"
METRICS = {"auc_roc": "AUC-ROC", "auc_pr": "AUC-PR"}
INPUTS = ("Detectors that accept images get the uint8 images, shape (n, 1, 28, 28), and scale "
          "them to [0, 1] themselves; row detectors (PyOD, DeepOD) get each image as one row "
          "of 784 pixel values divided by 255. Every detector runs with its defaults unless "
          "the parameters below say otherwise, on the CPU, with the job's seed.")

DEEP_SVDD_PAPER_MNIST = (98.0, 99.7, 91.7, 91.9, 94.9, 88.5, 98.3, 94.6, 93.9, 96.5)
"""One-class Deep SVDD, AUC-ROC in % per MNIST digit 0-9: Ruff et al., "Deep One-Class
Classification", ICML 2018, Table 1 (mean over 10 seeds; trained on the digit's images of
MNIST's training set, tested on the whole test set)."""
PAPER_COLUMN = "Deep SVDD paper (other protocol)"


def write_image_report(results: pd.DataFrame, out_dir: str | Path,
                       title: str = DEFAULT_TITLE) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and ``boxplot_auc_roc_<source>.png`` of
    one-class image jobs.

    Parameters
    ----------
    results : DataFrame
        One row per job with the columns of :data:`deepad.bench.summary.REQUIRED_COLUMNS`
        and datasets named ``<source>/<class>``.
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
    frame["source"] = [parse_name(str(name))[0] for name in frame["dataset"]]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images: list[Path] = []
    blocks: list[Block] = [Heading(title, 1), *_summary_blocks(frame),
                           Heading("Protocol and inputs", 2), Paragraph(INPUTS),
                           *_params_blocks(frame)]
    for source in [s for s in SOURCES if s in set(frame["source"])]:
        blocks += _source_blocks(source, frame[frame["source"] == source], out, images)
    blocks += _failure_blocks(frame)
    markdown, page = out / "report.md", out / "report.html"
    markdown.write_text(to_markdown(blocks), encoding="utf-8")
    page.write_text(to_html(blocks, title), encoding="utf-8")
    logger.info("image report written to %s", out)
    return {p.name: p for p in (markdown, page, *images)}


def protocol_text(source: str) -> str:
    """The sentence that says which one-class protocol a source's jobs follow."""
    from deepad.data.images import ONE_CLASS_PROTOCOLS

    protocol = SOURCES[source]
    return f"Protocol \"{protocol}\": {ONE_CLASS_PROTOCOLS[protocol]}."


def _summary_blocks(frame: pd.DataFrame) -> list[Block]:
    n_jobs = len(frame)
    counts = frame["status"].value_counts()
    n_ok = int(counts.get(OK, 0))
    bad = [f"{int(n)} {status}" for status, n in counts.items() if status != OK]
    jobs = (f"{n_jobs} jobs: {n_ok} finished ok, {n_jobs - n_ok} did not ({', '.join(bad)}); "
            "each is listed under Failures." if bad else f"{n_jobs} jobs, all finished ok.")
    sources = [f"{SOURCE_TITLES[s]} {_classes(int(n))}"
               for s, n in frame.groupby("source")["dataset"].nunique().items()]
    header, rows = status_rows(status_counts(frame), frame)
    methods = method_order(frame)
    return [
        Paragraph(f"Generated by deepad {__version__} from {n_jobs} one-class image jobs."),
        Heading("Run summary", 2), Paragraph(jobs), *stale_blocks(frame),
        Bullets((f"Detectors ({len(methods)}): {values(methods)}",
                 f"Normal classes: {values(sources)}", f"Seeds: {seeds_text(frame)}")),
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
    return [Paragraph("Parameters given (the others at their defaults):"), Bullets(tuple(given))]


def _classes(n: int) -> str:
    return f"{n} class" if n == 1 else f"{n} classes"


def _label(source: str, dataset: str) -> str:
    normal = parse_name(dataset)[1]
    name = class_names(source)[normal]
    return str(normal) if name == str(normal) else f"{normal} {name}"


def _source_blocks(source: str, rows: pd.DataFrame, out: Path,
                   images: list[Path]) -> list[Block]:
    title = SOURCE_TITLES[source]
    methods = method_order(rows)
    n_ok = int((rows["status"] == OK).sum())
    legend = ["Each cell: mean ± sample std over the seeds that finished ok (n/N: n of N "
              "seeds). The first mean row averages the classes on which every detector has a "
              "result.", ALL_MEAN_LEGEND.replace("datasets", "classes").replace("dataset", "class")]
    if has_stale(rows):
        legend.append(STALE_LEGEND)
    blocks: list[Block] = [
        Heading(f"{title}: one normal class at a time", 2),
        Paragraph(protocol_text(source)),
        Paragraph(f"{_classes(rows['dataset'].nunique())}, {len(methods)} detectors, seeds "
                  f"{seeds_text(rows)}: {len(rows)} jobs, {n_ok} ok."),
        Paragraph(" ".join(legend))]
    for metric, label in METRICS.items():
        cells = metric_cells(rows, metric)
        means = pivot_means(cells, methods)
        paper = source == "mnist" and metric == "auc_roc"
        if paper:
            blocks.append(Paragraph(
                f"\"{PAPER_COLUMN}\": one-class Deep SVDD as published (Ruff et al., ICML "
                "2018, Table 1, AUC-ROC in % over 10 seeds), trained on the digit's images of "
                "MNIST's training set and tested on the whole test set; the measured columns "
                "use the within-test protocol above, so the numbers are set side by side, not "
                "compared. The training sets differ most: about 700 images of the digit here "
                "(70 % of the test set's 892 to 1,135), about 6,000 in the paper, so a "
                "detector whose schedule counts epochs takes about a ninth of the paper's "
                "gradient steps here."))
        blocks += [Heading(f"{title}: {label} per normal class", 3),
                   _score_table(source, cells, means, methods, paper)]
        if metric == "auc_roc":
            blocks += peer_note_blocks(means, rows, label, unit="normal class(es)")
    means = pivot_means(metric_cells(rows, "auc_roc"), methods)
    if means.notna().to_numpy().any():
        path = figures.boxplot_auc(out / f"boxplot_auc_roc_{source}.png", means,
                                   title=f"{title}: AUC-ROC per normal class")
        images.append(path)
        blocks += [Paragraph(f"AUC-ROC per normal class (mean over seeds), {title}."),
                   Image(path, f"Box plot of AUC-ROC per normal class, {title}")]
    return [*blocks, Heading(f"{title}: fit time", 3), *time_blocks(rows)[1:]]


def _score_table(source: str, cells: pd.DataFrame, means: pd.DataFrame, methods: list[str],
                 paper: bool) -> Table:
    lookup = {(r.dataset, r.method): r for r in cells.itertuples(index=False)}
    order = sorted(means.index, key=natural_key)
    rows, bold = [], set()
    for r, dataset in enumerate(order):
        texts = [NOT_RUN if (found := lookup.get((dataset, m))) is None
                 else cell_text(pd.Series(found._asdict())) for m in methods]
        extra = (number(DEEP_SVDD_PAPER_MNIST[parse_name(dataset)[1]] / 100),) if paper else ()
        rows.append((_label(source, dataset), *texts, *extra))
        scores = {i + 1: float(means.at[dataset, m]) for i, m in enumerate(methods)}
        bold |= {(r, c) for c in best_positions(scores)}
    complete = means.loc[order].dropna(axis=0, how="any")
    scores = {i + 1: float(complete[m].mean()) if len(complete) else math.nan
              for i, m in enumerate(methods)}
    paper_mean = ()
    if paper:
        shown = [DEEP_SVDD_PAPER_MNIST[parse_name(d)[1]] / 100 for d in complete.index]
        paper_mean = (number(float(np.mean(shown))) if shown else NOT_RUN,)
    r = len(rows)
    rows.append((f"mean ({_classes(len(complete))} with every result)",
                 *(number(v) for v in scores.values()), *paper_mean))
    bold |= {(r, c) for c in best_positions(scores)}
    extra, extra_bold, _ = all_rows(means, methods, r + 1, ran_methods(cells))
    if paper:
        extra = [(*row, "") for row in extra]
    rows += extra
    bold |= extra_bold
    header = ("normal class", *methods, *((PAPER_COLUMN,) if paper else ()))
    return Table(header, tuple(rows), frozenset(bold))


def _failure_blocks(frame: pd.DataFrame) -> list[Block]:
    auc = frame["auc_roc"].to_numpy(dtype=np.float64)
    bad = (frame["status"] != OK) | ~np.isfinite(auc)
    table = frame[bad]
    blocks: list[Block] = [Heading("Failures", 2)]
    if table.empty:
        return [*blocks, Paragraph("None: every job finished ok with a finite AUC-ROC.")]
    order = sorted(range(len(table)), key=lambda i: (
        str(table["method"].iat[i]), natural_key(str(table["dataset"].iat[i])),
        natural_key(str(table["seed"].iat[i]))))
    rows = tuple((str(f.method), str(f.dataset), seed_text(f.seed), str(f.status),
                  one_line(f.error)) for f in table.iloc[order].itertuples(index=False))
    return [*blocks, Paragraph(f"{len(table)} of {len(frame)} jobs gave no result."),
            Table(("detector", "normal class", "seed", "status", "error"), rows,
                  text_columns=frozenset({4}))]
