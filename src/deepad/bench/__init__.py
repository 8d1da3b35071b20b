"""The benchmark runner: detectors × datasets × seeds × settings, each job run under the
evaluation protocol of its data (ADBench for tabular data, a train-part / scored-test-part
protocol for time series).

Jobs run in isolated worker processes (or on Dask) with a time limit and a memory guard; every
outcome, failures included, is one row of a SQLite store, so an interrupted benchmark resumes
where it stopped. Each row records the resolved hyperparameters (defaults expanded, part of
the run key) and the identity of the code that made it (:mod:`~deepad.bench.identity`), so a
report marks the rows made by other code than the current one and ``--rerun-stale`` redoes
them.

Protocols
---------
Everything that depends on the kind of data sits behind one interface,
:class:`~deepad.bench.protocol.Protocol`:

- ``claims(config)`` / ``datasets(config)``: which suites and dataset names are its own, and
  the datasets of a plan (with a reason when no metric is defined on one);
- ``job_settings(config)``: the settings of its jobs (each protocol owns its settings, so a
  job's ``setting`` names its protocol);
- ``detector(ref, cls, params)``: check a detector, add the protocol's parameters and
  resolve every hyperparameter (the run key holds them);
- ``load(job)``: load and split one dataset for the job's seed (setting, label ratio);
- ``build(ref, params, seed, data)``: the estimator; the worker fits it on ``data.train``
  (with ``data.labels`` when it learns from them) and scores ``data.test``;
- ``metrics(y_test, scores)``: a dict with AUC-ROC, AUC-PR and precision@n (store columns)
  and any protocol-specific metrics (the row's JSON ``metrics`` column);
- ``write_report(frame, out, title)``: the report of its rows.

Implementations: :class:`~deepad.bench.tabular.TabularProtocol` (``adbench``: settings
``unsupervised`` and ``weak``) and :class:`~deepad.bench.series_protocol.SeriesProtocol`
(``series``). A new modality (images, video, graphs) writes one subclass and registers it with
:func:`deepad.bench.protocols.register`; the planner (:mod:`~deepad.bench.plan`), the worker
(:mod:`~deepad.bench.worker`), the store, the runner and the report dispatcher
(:mod:`~deepad.bench.report`) do not change. A protocol whose jobs do not fit that mould sets
``runs_own_jobs`` and implements ``run_own(values, dry_run, echo)``: ``deepad bench`` hands it
the whole benchmark (:class:`~deepad.bench.video_protocol.VideoProtocol`, suite ``ped2``).

Modules: :mod:`~deepad.bench.config` (flags and TOML), :mod:`~deepad.bench.suites`,
:mod:`~deepad.bench.detectors` and :mod:`~deepad.bench.peers` (what a detector spec means),
:mod:`~deepad.bench.protocol` / :mod:`~deepad.bench.protocols` (the interface, the registry),
:mod:`~deepad.bench.plan` (the jobs), :mod:`~deepad.bench.worker` (one job),
:mod:`~deepad.bench.child` and :mod:`~deepad.bench.pool` (isolation),
:mod:`~deepad.bench.dask_backend`, :mod:`~deepad.bench.store`, :mod:`~deepad.bench.identity`,
:mod:`~deepad.bench.runner`; reports: :mod:`~deepad.bench.report` (dispatch),
:mod:`~deepad.bench.tabular_report`, :mod:`~deepad.bench.series_report`,
:mod:`~deepad.bench.report_parts`.

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
from deepad.bench.protocols import PROTOCOLS, register, suite_names
from deepad.bench.runner import RunSummary, run_benchmark
from deepad.bench.store import ResultStore, load_results
from deepad.bench.suites import SUITES

__all__ = ["FAILED", "PROTOCOLS", "SERIES", "SETTINGS", "STATUSES", "SUITES", "BenchConfig",
           "Job", "Outcome", "Plan", "ResultStore", "RunSummary", "load_results", "make_config",
           "make_plan", "read_toml", "register", "run_benchmark", "suite_names"]
