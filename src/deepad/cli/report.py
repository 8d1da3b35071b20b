"""``deepad report``: a Markdown and a self-contained HTML report of a benchmark database."""

from __future__ import annotations

import sqlite3
from enum import Enum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from deepad.cli.app import _clean_errors, _fail, app

DEFAULT_DB = "deepad-bench.db"
"""``deepad bench``'s default store (``deepad.bench.config.DEFAULT_DB``; not imported, so the
CLI starts without the bench package)."""


class Setting(str, Enum):
    """Which runs of the database to report on."""

    unsupervised = "unsupervised"
    weak = "weak"


@app.command("report")
def report_command(
    results: Annotated[Path, typer.Argument(
        metavar="[RESULTS.db]", help="The SQLite result store written by deepad bench.  "
                                     "[default: deepad-bench.db]",
        show_default=False)] = Path(DEFAULT_DB),
    out: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR",
        help="Folder for report.md, report.html and the PNG figures (created if "
             "missing).")] = Path("report"),
    title: Annotated[str, typer.Option(help="Title of the report.")] =
    "deepad benchmark report",
    setting: Annotated[Setting | None, typer.Option(
        help="Only the runs of this setting (default: all, one section per setting).")]
    = None,
    seeds: Annotated[str | None, typer.Option(
        metavar="1,2,3", help="Only the runs of these seeds (default: every seed stored), "
                              "e.g. a reference's own seeds beside the store's.")] = None,
) -> None:
    """Write report.md and report.html: AUC per dataset (mean ± std over seeds), average
    ranks (complete cases, and over every dataset with failures ranked last), the Friedman
    test, a critical-difference diagram, fit times and every failed job. Rows made by other
    detector code than the current one are marked stale (deepad bench --rerun-stale redoes
    them).

    report.html is one file with its images embedded, so it can be mailed on its own.
    """
    if not results.is_file():
        hint = (" Run deepad bench first (it writes deepad-bench.db here), or give the "
                "database's path." if results == Path(DEFAULT_DB) else "")
        _fail(f"no benchmark database at {results}.{hint}")
    from deepad.bench import load_results
    from deepad.bench.identity import mark_stale
    from deepad.bench.report import write_report

    with _clean_errors():
        try:
            frame = load_results(results)
        except (sqlite3.Error, pd.errors.DatabaseError) as error:
            reason = error.__cause__ if error.__cause__ is not None else error
            msg = f"{results} is not a deepad benchmark database ({reason})."
            raise ValueError(msg) from error
    if frame.empty:
        _fail(f"{results} holds no finished job yet: nothing to report.")
    if setting is not None:
        present = sorted({str(s) for s in frame["setting"]})
        frame = frame[frame["setting"] == setting.value]
        if frame.empty:
            _fail(f"{results} holds no {setting.value} runs; settings present: "
                  f"{', '.join(present)}.")
    if seeds is not None:
        frame = _only_seeds(frame, seeds, results)
    with _clean_errors():
        frame = mark_stale(frame)
        paths = write_report(frame, out, title=title)
    n_not_ok = int((frame["status"] != "ok").sum())
    n_stale = int(frame["stale"].sum())
    typer.echo(f"{len(frame)} jobs from {results}, {n_not_ok} of them not ok (listed under "
               f"Failures), {n_stale} stale (made by other detector code than the current)")
    for path in paths.values():
        typer.echo(f"wrote {path}")


def _only_seeds(frame: pd.DataFrame, seeds: str, results: Path) -> pd.DataFrame:
    """The rows of ``frame`` whose seed is one of the comma-separated ``seeds``."""
    from deepad.bench.config import parse_seeds

    with _clean_errors():
        wanted = parse_seeds(seeds)
    kept = frame[frame["seed"].isin(wanted)]
    if kept.empty:
        present = ", ".join(str(s) for s in sorted(set(frame["seed"].astype(int))))
        _fail(f"{results} holds no runs of seeds {seeds}; seeds present: {present}.")
    return kept
