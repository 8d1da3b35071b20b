"""Run a benchmark: plan the jobs, leave out those already stored, run the others on local
worker processes or on Dask, and store each outcome the moment it arrives."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from deepad.bench.config import BenchConfig
from deepad.bench.detectors import parse_detector
from deepad.bench.environment import host_name, library_versions, threads_per_job, usable_cores
from deepad.bench.identity import code_version, job_identity, stale_mask
from deepad.bench.jobs import FAILED, Job, Outcome, utc_now
from deepad.bench.plan import Plan, make_plan
from deepad.bench.pool import WorkerPool
from deepad.bench.progress import Progress, status_counts
from deepad.bench.protocols import protocol_of_setting
from deepad.bench.store import ResultStore, StoredRow

GB_IN_MB = 1024.0


@dataclass
class RunSummary:
    """What one call of :func:`run_benchmark` did.

    Attributes
    ----------
    planned : int
        Jobs in the benchmark (run, skipped, or already stored).
    already_done : int
        Jobs found in the store and not run again.
    counts : Counter
        Statuses recorded by this run.
    db : Path
    keys : set of str
        Run keys of every job of the benchmark (its rows in the store, old or new).
    slots : set of str
        Their slots (rows stored before resolved hyperparameters were recorded).
    """

    planned: int
    already_done: int
    counts: Counter = field(default_factory=Counter)
    db: Path = Path()
    keys: set[str] = field(default_factory=set)
    slots: set[str] = field(default_factory=set)

    @property
    def text(self) -> str:
        """One line: ``12 jobs; 4 already in bench.db; this run: 6 ok, 1 error, 1 skipped``."""
        done = f"; {self.already_done} already in {self.db}" if self.already_done else ""
        jobs = "job" if self.planned == 1 else "jobs"
        return f"{self.planned} {jobs}{done}; this run: {status_counts(self.counts)}"


@dataclass
class Stored:
    """The stored rows of a benchmark, found by run key and by slot, and which are stale
    (:mod:`deepad.bench.identity`)."""

    rows: list[StoredRow]

    def __post_init__(self) -> None:
        self.by_key = {row.run_key: row for row in self.rows}
        self.by_slot = {row.slot: row for row in self.rows}
        flags = stale_mask([r.detector for r in self.rows], [r.setting for r in self.rows],
                           [r.status for r in self.rows], [r.detector_code for r in self.rows])
        self.stale = {row.run_key for row, flag in zip(self.rows, flags, strict=True) if flag}

    def find(self, job: Job) -> StoredRow | None:
        """The row that answers ``job``: the row of its key, or the row of its slot when that
        row's resolved hyperparameters were not recorded (a version 1 row, which may have
        been run with the same ones). A slot row recorded with other resolved
        hyperparameters answers nothing: a default changed, so the job is run again."""
        row = self.by_key.get(job.key)
        if row is None:
            row = self.by_slot.get(job.slot)
            if row is not None and row.resolved:
                return None
        return row


def jobs_to_run(plan: Plan, stored: Stored, retry_failed: bool, rerun_stale: bool = False
                ) -> tuple[list[Job], list[tuple[Job, str]]]:
    """The planned jobs without a stored row (or with a failed one, when ``retry_failed``, or
    a stale one, when ``rerun_stale``), and the skipped jobs without a stored row."""
    def wanted(job: Job) -> bool:
        row = stored.find(job)
        return (row is None or (retry_failed and row.status in FAILED)
                or (rerun_stale and row.run_key in stored.stale))

    return ([job for job in plan.jobs if wanted(job)],
            [(job, reason) for job, reason in plan.skipped if stored.find(job) is None])


def outcomes(config: BenchConfig, jobs: Sequence[Job]) -> Iterator[tuple[Job, Outcome]]:
    """``(job, outcome)`` pairs as jobs finish, on the backend ``config`` asks for."""
    if not jobs:
        return
    memory_mb = None if config.memory_limit is None else config.memory_limit * GB_IN_MB
    if config.dask:
        from deepad.bench.dask_backend import connect, dask_outcomes

        with connect(config.dask, config.jobs) as client:
            yield from dask_outcomes(client, jobs, timeout=config.timeout,
                                     memory_limit_mb=memory_mb)
        return
    workers = min(config.jobs, len(jobs))
    with WorkerPool(workers, threads=threads_per_job(usable_cores(), workers),
                    timeout=config.timeout, memory_limit_mb=memory_mb) as pool:
        yield from pool.map(jobs)


def _skipped(job: Job, reason: str) -> Outcome:
    now = utc_now()
    return Outcome("skipped", error=reason, versions=dict(library_versions()),
                   code={"version": code_version()}, host=host_name(), started_at=now,
                   finished_at=now)


class Identities:
    """The code identity of each (detector, setting) as the supervisor sees it, for outcomes
    whose worker could not record it (a time-out, a memory kill, a crash, a skip)."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], dict[str, str]] = {}

    def complete(self, job: Job, outcome: Outcome) -> Outcome:
        """``outcome`` with ``code`` filled in where the worker left it empty."""
        if outcome.code.get("detector"):
            return outcome
        key = (job.detector, job.setting)
        if key not in self._found:
            try:
                self._found[key] = job_identity(parse_detector(job.detector),
                                                protocol_of_setting(job.setting))
            except (ImportError, KeyError, ValueError, TypeError, OSError):
                self._found[key] = {"version": code_version()}
        return outcome.replace(code={**self._found[key], **outcome.code})


def run_benchmark(config: BenchConfig, *, progress: bool = False,
                  stream: IO[str] | None = None) -> RunSummary:
    """Run the benchmark ``config`` describes and store every outcome in ``config.db``.

    Jobs already stored are not run again (resume), except failed ones when
    ``config.retry_failed`` and stale ones (made by other detector code,
    :mod:`deepad.bench.identity`) when ``config.rerun_stale``. Bad input raises before any
    job starts (``ValueError``, ``KeyError``, ``FileNotFoundError``, ``ImportError``).

    Parameters
    ----------
    config : BenchConfig
    progress : bool
        Show a progress bar, one line per failure and per skipped detector on ``stream``
        (default stderr).

    Returns
    -------
    RunSummary
    """
    plan = make_plan(config)
    with ResultStore(config.db) as store:
        stored = Stored(store.rows())
        to_run, to_skip = jobs_to_run(plan, stored, config.retry_failed, config.rerun_stale)
        summary = RunSummary(planned=len(plan.all_jobs),
                             already_done=len(plan.all_jobs) - len(to_run) - len(to_skip),
                             db=config.db, keys={job.key for job in plan.all_jobs},
                             slots={job.slot for job in plan.all_jobs})
        bar = Progress(len(to_run), enabled=progress, stream=stream)
        identities = Identities()
        try:
            for note in dict.fromkeys(f"SKIPPED {job.detector} ({job.setting}): {reason}"
                                      for job, reason in to_skip):
                bar.note(note)
            for job, reason in to_skip:
                store.write(job, identities.complete(job, _skipped(job, reason)))
                summary.counts["skipped"] += 1
            for job, outcome in outcomes(config, to_run):
                store.write(job, identities.complete(job, outcome))
                summary.counts[outcome.status] += 1
                bar.update(job, outcome)
        finally:
            bar.close()
    return summary
