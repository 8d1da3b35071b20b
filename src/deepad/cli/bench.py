"""``deepad bench``: run detectors × datasets × seeds × settings and store every outcome
(time series: ``--suite series`` or series names, :mod:`deepad.bench.series`).

The work is done by :mod:`deepad.bench`; this module reads the flags (or a TOML file with the
same keys, flags winning), prints the progress on stderr and, on stdout, a summary, each
detector's mean AUC-ROC / AUC-PR over the benchmark's finished jobs and the ``deepad report``
command to run next; bad input becomes a one-line ``Error: ...`` with exit code 2. Failed
jobs are results, stored with their reason, and leave the exit code at 0, unless every job
of the benchmark failed (exit code 1: nothing was measured; skipped jobs do not count).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from deepad.cli.app import _clean_errors, _configure_logging, app

if TYPE_CHECKING:
    import pandas as pd

    from deepad.bench import BenchConfig
    from deepad.bench.runner import RunSummary

EXIT_INTERRUPTED = 130
EXIT_ALL_FAILED = 1


def _missing_packages(config: BenchConfig) -> list[str]:
    """One line per peer detector (pyod:, deepod:) whose library cannot be imported here: its
    jobs would only record the import error. (A python: spec whose module is missing is
    refused when the plan is made, like any bad input.)"""
    from deepad.bench import peers
    from deepad.bench.detectors import parse_detector

    refs = dict.fromkeys(parse_detector(spec) for spec in config.detectors)
    return [f"missing  {ref.spec}: {ref.kind} is not importable here; its jobs would record "
            f"the error (pip install {ref.kind})." for ref in refs
            if ref.kind in peers.PACKAGES and not peers.is_installed(ref.kind)]


def means_table(frame: pd.DataFrame) -> str:
    """Each detector's (and setting's) mean AUC-ROC and AUC-PR over its ok jobs, with how many
    jobs of how many were ok, best mean AUC-ROC first, as aligned plain text."""
    rows = []
    for (detector, setting), group in frame.groupby(["detector", "setting"], sort=False):
        ok = group[(group["status"] == "ok") & group["auc_roc"].notna()]
        roc = float(ok["auc_roc"].mean()) if len(ok) else math.nan
        pr = float(ok["auc_pr"].mean()) if len(ok) else math.nan
        rows.append((str(detector), str(setting), f"{len(ok)}/{len(group)}", roc, pr,
                     group.loc[group.index.isin(ok.index), "dataset"].nunique()))
    rows.sort(key=lambda r: (math.isnan(r[3]), -r[3] if not math.isnan(r[3]) else 0.0, r[0]))
    header = ("detector", "setting", "ok jobs", "AUC-ROC", "AUC-PR", "datasets")
    cells = [header] + [(d, s, n, "—" if math.isnan(roc) else f"{roc:.3f}",
                         "—" if math.isnan(pr) else f"{pr:.3f}", str(k))
                        for d, s, n, roc, pr, k in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) if i < 2 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                     for row in cells)


def _print_results(config: BenchConfig, summary: RunSummary) -> pd.DataFrame | None:
    """Print the benchmark's mean AUC table (its rows in the store, this run's and earlier
    ones) and the report command to run next; return those rows (None when there are none)."""
    from deepad.bench.config import DEFAULT_DB
    from deepad.bench.store import load_results

    if not config.db.is_file():
        return None
    frame = load_results(config.db)
    frame = frame[frame["run_key"].isin(summary.keys) | frame["slot"].isin(summary.slots)]
    if frame.empty:
        return None
    typer.echo("")
    typer.echo("Mean over datasets and seeds (ok jobs only; compare detectors on the same "
               "datasets, see the report):")
    typer.echo(means_table(frame))
    where = "" if config.db == Path(DEFAULT_DB) else f" {config.db}"
    typer.echo("")
    typer.echo(f"Next: deepad report{where} --out report   (tables per dataset, ranks, "
               "critical-difference diagram)")
    return frame


def _dry_run(config: BenchConfig) -> None:
    from deepad.bench.plan import make_plan
    from deepad.bench.runner import Stored, jobs_to_run
    from deepad.bench.store import stored_rows

    plan = make_plan(config)
    stored = Stored(stored_rows(config.db))
    to_run, to_skip = jobs_to_run(plan, stored, config.retry_failed, config.rerun_stale)
    missing = _missing_packages(config)
    run_keys = {job.key for job in to_run}
    skip_keys = {job.key for job, _ in to_skip}
    for job in plan.all_jobs:
        row = stored.find(job)
        stale = ", stale" if row is not None and row.run_key in stored.stale else ""
        state = ("run" if job.key in run_keys else "skip" if job.key in skip_keys
                 else f"stored ({row.status if row else '?'}{stale})")
        params = "" if not job.params else f" {job.params_json}"
        typer.echo(f"{state:<18} {job.describe()}{params}")
    total = len(plan.all_jobs)
    typer.echo(f"{total} job{'' if total == 1 else 's'}: {len(to_run)} to run, {len(to_skip)} "
               f"to record as skipped, {total - len(to_run) - len(to_skip)} already in "
               f"{config.db}.")
    for line in missing:
        typer.echo(line)
    if not missing:
        typer.echo("Every detector's package imports.")


@app.command("bench")
def bench(
    config_file: Annotated[Path | None, typer.Option(
        "--config", metavar="TOML",
        help="A TOML file with the same keys as the flags (suite, datasets, detectors, seeds, "
             "setting, labeled_ratio, params, db, jobs, timeout, memory_limit, dask); flags "
             "override it.")] = None,
    suite: Annotated[str | None, typer.Option(
        help="Named dataset suite: quick (8 ADBench sets), adbench-shared (25 more), "
             "adbench (every ADBench .npz in the data folders), mvtec-embeddings (ADBench's "
             "15 MVTec-AD ResNet-18 sets), series (every SMAP/MSL, UCR and NAB time series "
             "found: trained on the train part, every test timestamp scored), "
             "fashion-oneclass / mnist-oneclass (raw images, one normal class at a time: "
             "10 datasets fashion_mnist/0-9 or mnist/0-9), graphs (the BOND graphs books, "
             "disney, enron, reddit, inj_cora: node outliers, fitted on the whole graph), "
             "ped2 (the video detectors on UCSD Ped2 with their Ped2 settings; --detectors "
             "names its jobs, --db its result folder, --timeout its per-job limit).")
    ] = None,
    datasets: Annotated[str | None, typer.Option(
        metavar="A,B", help="Dataset names (6_cardio or cardio), .npz paths, or CSV / "
                            "Parquet tables with a 0/1 label column (--label-column); or "
                            "time series: smap_msl/A-1, ucr/135, nab/realKnownCause/nyc_taxi; "
                            "or one-class images: fashion_mnist/3, mnist/7; or graphs: "
                            "books, reddit.")
    ] = None,
    label_column: Annotated[str | None, typer.Option(
        "--label-column", metavar="COL",
        help="The label column (1 = anomaly, 0 = normal) of CSV / Parquet datasets; every "
             "other column is a feature and must be numeric.  [default: label]")] = None,
    detectors: Annotated[str | None, typer.Option(
        metavar="A,B", help="Registry names (DeepSVDD), pyod:Name, deepod:Name, "
                            "catboost:CatBoostClassifier, xgboost:XGBClassifier, "
                            "lightgbm:LGBMClassifier (weak setting) or "
                            "python:package.module:ClassName.")] = None,
    seeds: Annotated[str | None, typer.Option(
        metavar="0,1,2", help="Seeds of the split and of the detectors.  [default: 0]")] = None,
    setting: Annotated[str | None, typer.Option(
        metavar="unsupervised|weak",
        help="unsupervised: no labels; weak: --labeled-ratio of the training anomalies are "
             "labelled for the detectors that learn from labels; both: "
             "unsupervised,weak.  [default: unsupervised]")] = None,
    labeled_ratio: Annotated[float | None, typer.Option(
        help="Weak setting: ratio of training anomalies labelled (at least one).  "
             "[default: 0.1]")] = None,
    params: Annotated[list[str] | None, typer.Option(
        "--params", "-p", metavar="DETECTOR.KEY=VALUE",
        help="A detector hyperparameter, repeatable: --params DeepSVDD.epochs=5. Values are "
             "Python literals, else strings. Time series: also the window protocol, "
             "--params DeepSVDD.window=64 (stride, reduce, ...), deepod:USAD.window=64.")
    ] = None,
    db: Annotated[Path | None, typer.Option(
        help="SQLite result store; re-running the same command resumes it.  "
             "[default: deepad-bench.db]")] = None,
    jobs: Annotated[int | None, typer.Option(
        min=1, help="Jobs at a time (worker processes).  [default: 1]")] = None,
    timeout: Annotated[float | None, typer.Option(
        min=0, metavar="SECONDS",
        help="Time limit per job; 0 for none.  [default: 3600]")] = None,
    memory_limit: Annotated[float | None, typer.Option(
        min=0, metavar="GB",
        help="Memory guard: kill a job whose process tree holds more resident memory.  "
             "[default: none]")] = None,
    dask: Annotated[str | None, typer.Option(
        metavar="ADDRESS|local",
        help="Run on a Dask cluster (tcp://host:8786), or on a local one with --jobs "
             "workers. Needs pip install 'deepad[dask]'.")] = None,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Run failed jobs (error, timeout, nan, memory) again.")] = False,
    rerun_stale: Annotated[bool, typer.Option(
        "--rerun-stale", help="Run stale jobs again: rows made by other detector code than "
                              "the current one (its source or its peer's version changed), "
                              "or stored before code identities were recorded.")] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="List the jobs and what the store already holds; run nothing.")
    ] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress bar or failure lines.")] = False,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Tracebacks of bad input.")] = False,
) -> None:
    """Benchmark detectors on ADBench datasets or time series; every job's outcome is stored
    in --db.

    Examples: deepad bench --suite quick --detectors DeepSVDD,pyod:IForest --seeds 0,1,2
    --params DeepSVDD.epochs=20 --jobs 2;  deepad bench --suite series --detectors
    AutoEncoder,deepod:USAD --db series.db;  deepad bench --config bench.toml.
    """
    _configure_logging(verbose)
    with _clean_errors(verbose):
        from deepad.bench import make_config, read_toml, run_benchmark
        from deepad.bench.protocols import own_protocol

        file_values = read_toml(config_file) if config_file is not None else {}
        flags = {"suite": suite, "datasets": datasets, "label_column": label_column,
                 "detectors": detectors, "seeds": seeds,
                 "setting": setting, "labeled_ratio": labeled_ratio, "params": params or None,
                 "db": db, "jobs": jobs, "timeout": timeout, "memory_limit": memory_limit,
                 "dask": dask, "retry_failed": True if retry_failed else None,
                 "rerun_stale": True if rerun_stale else None}
        own = own_protocol(suite or file_values.get("suite"))
        if own is not None:  # a protocol that runs its whole benchmark itself (--suite ped2)
            values = {**file_values, **{k: v for k, v in flags.items() if v is not None}}
            own.run_own(values, dry_run=dry_run, echo=typer.echo)
            return
        config = make_config(file_values, flags)
        if dry_run:
            _dry_run(config)
            return
        try:
            summary = run_benchmark(config, progress=not quiet)
        except RuntimeError as error:  # the worker processes cannot start
            typer.echo(f"Error: {error}", err=True)
            raise typer.Exit(code=1) from None
        except KeyboardInterrupt:
            typer.echo(f"Interrupted: finished jobs are stored in {config.db}; run the same "
                       "command again to resume.", err=True)
            raise typer.Exit(code=EXIT_INTERRUPTED) from None
    typer.echo(f"Done: {summary.text}. Results: {config.db} "
               "(deepad.bench.load_results reads them).")
    with _clean_errors(verbose):
        rows = _print_results(config, summary)
    if rows is not None:
        from deepad.bench.jobs import FAILED

        failed = int(rows["status"].isin(FAILED).sum())
        if failed and not (rows["status"] == "ok").any():
            typer.echo(f"Error: every job of the benchmark failed ({failed}); nothing was "
                       f"measured. The reasons are stored in {config.db} (deepad report lists "
                       "them under Failures).", err=True)
            raise typer.Exit(code=EXIT_ALL_FAILED)
