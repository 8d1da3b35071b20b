"""The benchmark runner: detectors × datasets × seeds × settings under the ADBench protocol,
and time series (SMAP/MSL, UCR, NAB) under a train-part / scored-test-part protocol.

Each job fits on the training part of :func:`deepad.data.adbench.adbench_split` (with the
labelled anomalies ``y_semi`` in the weak setting, for detectors that learn from labels),
scores the test part and records AUC-ROC, AUC-PR and precision@n. Jobs run in isolated worker
processes (or on Dask) with a time limit and a memory guard; every outcome, failures included,
is one row of a SQLite store, so an interrupted benchmark resumes where it stopped.

Modules: :mod:`~deepad.bench.config` (flags and TOML), :mod:`~deepad.bench.suites`,
:mod:`~deepad.bench.detectors` and :mod:`~deepad.bench.peers` (what a detector spec means),
:mod:`~deepad.bench.plan` (the jobs), :mod:`~deepad.bench.worker` (one job),
:mod:`~deepad.bench.child` and :mod:`~deepad.bench.pool` (isolation),
:mod:`~deepad.bench.dask_backend`, :mod:`~deepad.bench.store`, :mod:`~deepad.bench.runner`;
time series: :mod:`~deepad.bench.series` (suite, protocol, metrics) and
:mod:`~deepad.bench.series_report`.

Examples
--------
>>> from deepad.bench import BenchConfig, load_results, run_benchmark   # doctest: +SKIP
>>> config = BenchConfig(detectors=["DeepSVDD", "pyod:IForest"], suite="quick",
...                      seeds=[0, 1, 2], params={"DeepSVDD": {"epochs": 20}}, jobs=2)
>>> print(run_benchmark(config, progress=True).text)                     # doctest: +SKIP
>>> load_results("deepad-bench.db").groupby("detector").auc_roc.mean()   # doctest: +SKIP
"""

from deepad.bench.config import BenchConfig, make_config, read_toml
from deepad.bench.jobs import FAILED, SERIES, SETTINGS, STATUSES, Job, Outcome
from deepad.bench.plan import Plan, make_plan
from deepad.bench.runner import RunSummary, run_benchmark
from deepad.bench.store import ResultStore, load_results
from deepad.bench.suites import SUITES

__all__ = ["FAILED", "SERIES", "SETTINGS", "STATUSES", "SUITES", "BenchConfig", "Job",
           "Outcome", "Plan", "ResultStore", "RunSummary", "load_results", "make_config",
           "make_plan", "read_toml", "run_benchmark"]
