"""The benchmark report: :func:`write_report` hands a results table to the report of its
protocol (:meth:`deepad.bench.protocol.Protocol.write_report`).

The rows' ``setting`` names their protocol (:func:`deepad.bench.protocols.protocol_of_setting`):
``unsupervised`` / ``weak`` rows get the tabular report (:mod:`deepad.bench.tabular_report`),
``series`` rows the time-series report (:mod:`deepad.bench.series_report`). A table mixing the
rows of two protocols is refused. A ``stale`` column (:func:`deepad.bench.identity.mark_stale`)
makes the reports mark the rows made by other code than the current.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from deepad.bench.protocols import protocol_of_setting
from deepad.bench.summary import check_results


def write_report(results: pd.DataFrame, out_dir: str | Path,
                 title: str | None = None) -> dict[str, Path]:
    """Write ``report.md``, ``report.html`` and the PNG figures of a benchmark to ``out_dir``.

    Parameters
    ----------
    results : DataFrame
        One row per job with the columns of :data:`deepad.bench.summary.REQUIRED_COLUMNS`
        (what :func:`deepad.bench.load_results` returns), optionally ``stale``.
    out_dir : str or Path
        Folder to write to (created if missing; existing report files are replaced).
    title : str, optional
        Page title (default: the protocol report's own).

    Returns
    -------
    dict of str to Path
        Every file written, keyed by its file name (``"report.md"``, ``"report.html"``,
        ``"cd_diagram.png"``, ...).

    Raises
    ------
    ValueError
        When the table is empty, lacks a required column, or mixes the rows of two
        protocols.
    """
    check_results(results)
    protocols = {}
    for setting, count in results["setting"].astype(str).value_counts(sort=False).items():
        protocols.setdefault(protocol_of_setting(setting).name, []).append((setting, count))
    if len(protocols) > 1:
        parts = "; ".join(f"{sum(n for _, n in found)} {name} jobs "
                          f"({', '.join(s for s, _ in found)})"
                          for name, found in protocols.items())
        msg = (f"the results mix the jobs of several protocols ({parts}); report them "
               "separately (keep each protocol's jobs in their own --db, or filter with "
               "--setting).")
        raise ValueError(msg)
    protocol = protocol_of_setting(str(results["setting"].iloc[0]))
    return protocol.write_report(results, Path(out_dir), title)
