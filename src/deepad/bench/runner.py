"""Run a benchmark: plan the jobs, leave out those already stored, run the others on local
worker processes or on Dask, and store each outcome the moment it arrives."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from deepad.bench.config import BenchConfig
from deepad.bench.environment import host_name, library_versions, threads_per_job, usable_cores
from deepad.bench.jobs import FAILED, Job, Outcome, utc_now
from deepad.bench.plan import Plan, make_plan
from deepad.bench.pool import WorkerPool
from deepad.bench.progress import Progress, status_counts
from deepad.bench.store import ResultStore

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
    """

    planned: int
    already_done: int
    counts: Counter = field(default_factory=Counter)
    db: Path = Path()

    @property
    def text(self) -> str:
        """One line: ``12 jobs; 4 already in bench.db; this run: 6 ok, 1 error, 1 skipped``."""
        done = f"; {self.already_done} already in {self.db}" if self.already_done else ""
        jobs = "job" if self.planned == 1 else "jobs"
        return f"{self.planned} {jobs}{done}; this run: {status_counts(self.counts)}"


def jobs_to_run(plan: Plan, stored: dict[str, str], retry_failed: bool
                ) -> tuple[list[Job], list[tuple[Job, str]]]:
    """The planned jobs without a stored row (or with a failed one, when ``retry_failed``),
    and the skipped jobs without a stored row."""
    def wanted(job: Job) -> bool:
        status = stored.get(job.key)
        return status is None or (retry_failed and status in FAILED)

    return ([job for job in plan.jobs if wanted(job)],
            [(job, reason) for job, reason in plan.skipped if job.key not in stored])


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
                   host=host_name(), started_at=now, finished_at=now)


def run_benchmark(config: BenchConfig, *, progress: bool = False,
                  stream: IO[str] | None = None) -> RunSummary:
    """Run the benchmark ``config`` describes and store every outcome in ``config.db``.

    Jobs already stored are not run again (resume), except failed ones when
    ``config.retry_failed``. Bad input raises before any job starts (``ValueError``,
    ``KeyError``, ``FileNotFoundError``, ``ImportError``).

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
        stored = store.statuses()
        to_run, to_skip = jobs_to_run(plan, stored, config.retry_failed)
        summary = RunSummary(planned=len(plan.all_jobs),
                             already_done=len(plan.all_jobs) - len(to_run) - len(to_skip),
                             db=config.db)
        bar = Progress(len(to_run), enabled=progress, stream=stream)
        try:
            for note in dict.fromkeys(f"SKIPPED {job.detector} ({job.setting}): {reason}"
                                      for job, reason in to_skip):
                bar.note(note)
            for job, reason in to_skip:
                store.write(job, _skipped(job, reason))
                summary.counts["skipped"] += 1
            for job, outcome in outcomes(config, to_run):
                store.write(job, outcome)
                summary.counts[outcome.status] += 1
                bar.update(job, outcome)
        finally:
            bar.close()
    return summary
