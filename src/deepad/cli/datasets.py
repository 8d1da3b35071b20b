"""``deepad datasets``: what data is available locally, with sizes and anomaly ratios."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from deepad.cli.app import _clean_errors, app


def _size(n_bytes: int | None) -> str:
    return "—" if n_bytes is None else f"{n_bytes / 1e6:.1f} MB"


@app.command("datasets")
def datasets_command(
    source: Annotated[list[str] | None, typer.Option(
        "--source", "-s", metavar="NAME",
        help="Only these sources (repeatable): adbench, nab, smap_msl, ucr, smd, mnist.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list instead of a table.")]
    = False,
) -> None:
    """List the datasets found in $DEEPAD_DATA_DIR and ~/.cache/deepad.

    Rows are samples (tabular) or timestamps, train and test together (series); anomalies
    are labelled rows or timestamps.
    """
    from deepad.data.adbench import data_dirs, missing_data_dirs
    from deepad.data.catalog import local_datasets

    for folder in missing_data_dirs():
        typer.echo(f"Warning: DEEPAD_DATA_DIR names {folder}, which does not exist; check the "
                   "path (folders are separated by ':' on Linux and macOS, ';' on Windows).",
                   err=True)
    with _clean_errors():
        entries = local_datasets(tuple(source) if source else None)
    if as_json:
        typer.echo(json.dumps([e.to_dict() for e in entries], indent=1))
        return
    if not entries:
        folders = ", ".join(str(d) for d in data_dirs())
        typer.echo(f"No datasets found in {folders}. Set DEEPAD_DATA_DIR to the folder that "
                   "holds them (e.g. shared/datasets).")
        return
    header = ("source", "name", "rows", "features", "anomalies", "ratio", "size")
    rows = [(e.source, e.name, f"{e.rows:,}", str(e.features), f"{e.anomalies:,}",
             f"{100 * e.anomaly_ratio:.2f} %", _size(e.bytes)) for e in entries]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    right = {2, 3, 4, 5, 6}
    for row in (header, *rows):
        typer.echo("  ".join(cell.rjust(w) if i in right else cell.ljust(w)
                             for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
                   .rstrip())
    typer.echo(f"{len(entries)} datasets")
