"""Pieces shared by the protocols' reports: number formatting, score cells, the fit-time
table, the stale-row summary and the mean rows over every dataset.

Every report of a protocol (:meth:`deepad.bench.protocol.Protocol.write_report`) builds on
these; none of them imports a report module, so the reports do not import each other.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from deepad.bench.render import Block, Heading, Paragraph, Table
from deepad.bench.stats import AllDatasets, all_datasets_summary
from deepad.bench.summary import counterpart, peer_package, time_table

NOT_RUN, FAILED, SKIPPED = "—", "fail", "skipped"
DIGITS = 3
STALE_MARK = "†"
STALE_LEGEND = (f"{STALE_MARK} = the cell holds stale rows: made by other detector code than "
                "the current one, or before code identities were recorded (see Run summary).")
ALL_MEAN_LEGEND = (
    "\"mean, all\" and \"average rank, all\" use every dataset on which any detector has a "
    "result: a detector without a result there (failed, timed out, not run) gets the worst "
    "rank on it, and, in the mean, the lowest score any detector reached on it; \"fails\" "
    "counts those datasets. A detector whose jobs all failed is ranked last on every dataset.")


PEER_LEGEND = (
    "Each deepad detector is followed by its PyOD / DeepOD counterparts (pyod:Name, "
    "deepod:Name: the same method as the peer library implements it, run on the same splits); "
    "peers without a deepad counterpart come last.")
LIBRARY_COLUMNS = {"deepad": "deepad_version", "torch": "torch_version",
                   "numpy": "numpy_version", "scikit-learn": "sklearn_version",
                   "python": "python_version"}
CHANCE = 0.5
KNOWN_PEER_DEFECTS = {
    "pyod:DevNet": (
        "PyOD's DevNet calls its loss as `deviation_loss(outputs, labels)` while the function "
        "is defined as `deviation_loss(y_true, y_pred)` (pyod/models/devnet.py): the network's "
        "outputs stand where the labels belong and the labels where the scores belong, so it "
        "does not learn the deviation objective of the paper, and its scores rank the "
        "anomalies below chance on several datasets. deepad's DevNet follows the authors' "
        "release."),
    "pyod:ALAD": (
        "PyOD's ALAD trains, with its defaults, 200 single batches of 32 rows and scores by "
        "the squared difference of its D_xx discriminator's output probabilities; on these "
        "datasets that score stays near or below chance."),
}
"""Explanations of peer detectors' known defects, rendered wherever the peer has results."""


def number(value: float | None, fmt: str = f".{DIGITS}f") -> str:
    """``value`` formatted, or :data:`NOT_RUN` for None / NaN / infinite."""
    return NOT_RUN if value is None or not math.isfinite(value) else format(value, fmt)


def values(items) -> str:
    """Items joined with commas."""
    return ", ".join(str(v) for v in items)


def seed_text(value) -> str:
    """A seed as an integer where it is one."""
    found = pd.to_numeric(value, errors="coerce")
    return str(int(found)) if pd.notna(found) and float(found).is_integer() else str(value)


def seeds_text(frame: pd.DataFrame) -> str:
    """The seeds of a table, sorted and joined."""
    seeds = pd.to_numeric(frame["seed"], errors="coerce").dropna()
    return values(sorted({int(s) for s in seeds})) or NOT_RUN


def best_positions(scores: dict[int, float], lowest: bool = False) -> set[int]:
    """Positions holding the best value after rounding to the shown digits."""
    shown = {i: round(v, DIGITS) for i, v in scores.items() if math.isfinite(v)}
    if not shown:
        return set()
    target = min(shown.values()) if lowest else max(shown.values())
    return {i for i, v in shown.items() if v == target}


def cell_text(row: pd.Series) -> str:
    """A score cell: ``mean ± std (n_ok/n_jobs)``, ``fail`` or ``skipped``; with
    :data:`STALE_MARK` when the cell holds stale rows."""
    mark = f" {STALE_MARK}" if row.get("n_stale", 0) else ""
    if row["n_ok"] == 0:
        return (SKIPPED if row["n_skipped"] == row["n_jobs"] else FAILED) + mark
    text = number(row["mean"])
    if math.isfinite(row["std"]):
        text += f" ± {number(row['std'])}"
    if row["n_ok"] < row["n_jobs"]:
        text += f" ({int(row['n_ok'])}/{int(row['n_jobs'])})"
    return text + mark


def time_blocks(rows: pd.DataFrame) -> list[Block]:
    """The fit-time table (medians over ok jobs) with its heading and legend."""
    table = time_table(rows)
    cpu = bool(table["fit_cpu_seconds"].notna().any())
    body = tuple(
        (str(m), str(int(t["jobs"])), str(int(t["ok"])), number(t["fit_seconds"], ".3g"),
         *((number(t["fit_cpu_seconds"], ".3g"),) if cpu else ()),
         number(t["score_seconds"], ".3g"), number(t["peak_memory_mb"], ".0f"))
        for m, t in table.iterrows())
    fastest = {i: -float(t["fit_seconds"]) for i, (_, t) in enumerate(table.iterrows())}
    bold = {(r, 3) for r in best_positions(fastest)}
    text = "Medians over the jobs that finished ok (bold = fastest fit)."
    if cpu:
        least = {i: -float(t["fit_cpu_seconds"]) for i, (_, t) in enumerate(table.iterrows())}
        bold |= {(r, 4) for r in best_positions(least)}
        text += (" Fit CPU: CPU seconds of the job's process during fit, every thread counted;"
                 " it does not grow when other work shares the cores, as wall time does"
                 " (empty where the store predates it).")
    header = ("detector", "jobs", "ok", "median fit (s)",
              *(("median fit CPU (s)",) if cpu else ()), "median score (s)",
              "median peak memory (MB)")
    return [Heading("Fit time", 3), Paragraph(text), Table(header, body, frozenset(bold))]


def has_stale(frame: pd.DataFrame) -> bool:
    """Whether the table says which rows are stale (a ``stale`` column)."""
    return "stale" in frame.columns


def stale_counts(frame: pd.DataFrame) -> pd.Series:
    """Stale rows per method (zeros without a ``stale`` column)."""
    flags = (frame["stale"].fillna(False).astype(bool) if has_stale(frame)
             else pd.Series(False, index=frame.index))
    return flags.groupby(frame["method"], sort=False).sum().astype(int)


def stale_blocks(frame: pd.DataFrame) -> list[Block]:
    """One paragraph: how many rows are stale and how to run them again (nothing without a
    ``stale`` column)."""
    if not has_stale(frame):
        return []
    flags = frame["stale"].fillna(False).astype(bool)
    n_stale = int(flags.sum())
    if not n_stale:
        return [Paragraph("Code: every row was made by the current code of its detector "
                          "(0 stale rows).")]
    codes = (frame["detector_code"] if "detector_code" in frame.columns
             else pd.Series(None, index=frame.index, dtype=object))
    unrecorded = int((flags & (codes.isna() | (codes == "unrecorded"))).sum())
    return [Paragraph(
        f"Code: {n_stale} of {len(frame)} rows are stale ({STALE_MARK}): {unrecorded} were "
        f"stored before code identities were recorded (\"unrecorded\"), "
        f"{n_stale - unrecorded} were made by other detector code than the current one "
        "(source hash or peer version). Their numbers may not be what the current code gives; "
        "`deepad bench --config <file> --rerun-stale` runs them again. The \"stale\" column "
        "below counts them per detector.")]


def status_rows(counts: pd.DataFrame, frame: pd.DataFrame) -> tuple[tuple, tuple]:
    """Header and rows of the jobs-by-detector-and-status table, with a ``stale`` column
    when the table marks stale rows."""
    stale = stale_counts(frame) if has_stale(frame) else None
    header = ("detector", *counts.columns, "total", *(("stale",) if stale is not None else ()))
    rows = tuple((str(m), *(str(int(v)) for v in row), str(int(row.sum())),
                  *((str(int(stale.get(m, 0))),) if stale is not None else ()))
                 for m, row in counts.iterrows())
    return header, rows


def ran_methods(cells: pd.DataFrame) -> set[str]:
    """Methods of :func:`deepad.bench.summary.metric_cells` with a job that was not skipped."""
    return set(cells.loc[cells["n_skipped"] < cells["n_jobs"], "method"])


def all_rows(means: pd.DataFrame, methods: list[str], first_row: int,
             ran: set[str] | None = None
             ) -> tuple[list[tuple], set[tuple[int, int]], AllDatasets]:
    """The rows ``mean, all``, ``average rank, all`` and ``fails`` of a score table
    (:func:`deepad.bench.stats.all_datasets_summary`; ``ran``: methods compared even without
    a result), their bold cells (``first_row`` is the index of the first of them) and the
    summary."""
    found = all_datasets_summary(means, ran)
    n = found.n_datasets
    mean = {i + 1: float(found.mean.get(m, math.nan)) for i, m in enumerate(methods)}
    rank = {i + 1: float(found.ranks.get(m, math.nan)) for i, m in enumerate(methods)}
    fails = [str(int(found.n_failures[m])) if m in found.n_failures.index else NOT_RUN
             for m in methods]
    rows = [(f"mean, all {n}", *(number(v) for v in mean.values())),
            (f"average rank, all {n}", *(number(v, ".2f") for v in rank.values())),
            (f"fails (of {n})", *fails)]
    bold = {(first_row, c) for c in best_positions(mean)}
    bold |= {(first_row + 1, c) for c in best_positions(rank, lowest=True)}
    return rows, bold, found


def finite_mean(column: pd.Series) -> float:
    """Mean of the finite values (NaN when there are none)."""
    data = column.to_numpy(dtype=np.float64)
    data = data[np.isfinite(data)]
    return float(data.mean()) if data.size else math.nan


def version_blocks(frame: pd.DataFrame) -> list[Block]:
    """What made the rows: the library versions recorded in the store (deepad, torch, numpy,
    scikit-learn, Python) and each peer library's version, with how many rows each holds."""
    rows = []
    for library, column in LIBRARY_COLUMNS.items():
        if column in frame.columns:
            rows.append((library, _version_counts(frame[column])))
    if "peer_version" in frame.columns:
        packages = frame["detector"].astype(str).map(peer_package)
        for package in sorted(set(packages.dropna())):
            rows.append((package, _version_counts(frame.loc[packages == package,
                                                            "peer_version"])))
    if not rows:
        return []
    return [Paragraph("Versions recorded with the rows (rows per version; \"not recorded\" = "
                      "a failed job, or a row stored before versions were):"),
            Table(("library", "version (rows)"), tuple(rows))]


def _version_counts(column: pd.Series) -> str:
    texts = column.astype(object).where(column.notna(), "not recorded").astype(str)
    counts = texts.value_counts()
    return ", ".join(f"{v} ({int(n)})" for v, n in counts.items())


def peer_note_blocks(means: pd.DataFrame, frame: pd.DataFrame, metric: str = "AUC-ROC",
                     unit: str = "dataset(s)") -> list[Block]:
    """Notes under a score table: each peer with a known defect (:data:`KNOWN_PEER_DEFECTS`)
    that has a result in it, and every other peer whose mean over its datasets is below
    chance (0.5), with the peer library's version from the rows."""
    notes = []
    for method in means.columns:
        package = peer_package(str(method))
        if package is None:
            continue
        mean = finite_mean(means[method])
        if not math.isfinite(mean):
            continue
        name = str(method).split(" (", 1)[0]
        known = KNOWN_PEER_DEFECTS.get(name)
        if known is None and mean >= CHANCE:
            continue
        version = _peer_versions(frame, name)
        head = (f"{method} ({package} {version}): mean {metric} {number(mean)} over the "
                f"{int(means[method].notna().sum())} {unit} it has a result on")
        below = int((means[method] < CHANCE).sum())
        if below:
            head += f", below chance ({CHANCE:g}) on {below}"
        text = known if known is not None else (
            "No defect is known: scores that rank the anomalies below the normal rows point "
            "to an inverted score or a training that did not converge.")
        ours = counterpart(str(method))
        if ours in means.columns and math.isfinite(finite_mean(means[ours])):
            text += f" deepad's {ours} in the same table: mean {number(finite_mean(means[ours]))}."
        notes.append(f"{head}. {text}")
    return [Paragraph(f"Peer note: {note}") for note in notes]


def _peer_versions(frame: pd.DataFrame, detector: str) -> str:
    if "peer_version" not in frame.columns:
        return "version not recorded"
    found = frame.loc[frame["detector"].astype(str) == detector, "peer_version"].dropna()
    return ", ".join(sorted({str(v) for v in found})) or "version not recorded"
