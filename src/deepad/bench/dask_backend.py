"""Run jobs on a Dask cluster (``--dask tcp://host:8786``, or ``--dask local`` for a
``distributed.LocalCluster`` of worker processes on this machine).

Each Dask task runs its job the way the local runner does: in a child process of the Dask
worker (a :class:`~deepad.bench.pool.WorkerPool` of one, kept alive between the tasks of a
worker thread), so a time-out, a crash or the memory guard kills that child and never wedges
the Dask worker. Outcomes stream back with ``as_completed``; the caller stores them one by
one, as in the local runner. Needs ``pip install 'deepad[dask]'``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from deepad.bench.environment import threads_per_job, usable_cores
from deepad.bench.jobs import Job, Outcome, utc_now
from deepad.bench.pool import WorkerPool

_local = threading.local()


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        msg = ("--dask needs dask.distributed, which is not installed: "
               "pip install 'deepad[dask]'")
        raise ImportError(msg) from error
    return distributed


def _host(address: str) -> str:
    return urlsplit(address if "://" in address else f"tcp://{address}").hostname or address


def run_isolated(job: Job, timeout: float | None, memory_limit_mb: float | None,
                 host_threads: dict[str, int]) -> Outcome:
    """The Dask task: run ``job`` in this worker thread's child process.

    ``host_threads`` gives the Dask threads on each host, so that the torch threads of the
    children of one host add up to at most its cores.
    """
    distributed = _import_distributed()
    worker = distributed.get_worker()
    busy = host_threads.get(_host(worker.address), 1)
    settings = (threads_per_job(usable_cores(), busy), timeout, memory_limit_mb)
    pool = getattr(_local, "pool", None)
    if pool is None or getattr(_local, "settings", None) != settings:
        if pool is not None:
            pool.close()
        pool = WorkerPool(1, threads=settings[0], timeout=timeout,
                          memory_limit_mb=memory_limit_mb)
        _local.pool, _local.settings = pool, settings
    for _, outcome in pool.map([job]):
        return outcome
    msg = "the worker pool returned no outcome"  # map yields exactly once per job
    raise RuntimeError(msg)


def _threads_by_host(client: Any) -> dict[str, int]:
    totals: dict[str, int] = {}
    for address, info in client.scheduler_info(n_workers=-1)["workers"].items():
        host = info.get("host") or _host(address)
        totals[host] = totals.get(host, 0) + int(info.get("nthreads", 1))
    return totals


@contextlib.contextmanager
def connect(address: str, workers: int) -> Iterator[Any]:
    """A Dask client: to the scheduler at ``address``, or to a new local cluster of
    ``workers`` single-threaded worker processes when ``address`` is ``"local"``."""
    distributed = _import_distributed()
    if address.strip().lower() == "local":
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None,
                                           silence_logs=logging.ERROR)
        with cluster, distributed.Client(cluster) as client:
            yield client
    else:
        with distributed.Client(address, timeout="30s") as client:
            yield client


def dask_outcomes(client: Any, jobs: Sequence[Job], *, timeout: float | None,
                  memory_limit_mb: float | None) -> Iterator[tuple[Job, Outcome]]:
    """Submit every job and yield ``(job, outcome)`` as each task completes. A task that
    fails in Dask itself (a lost worker) becomes an ``error`` outcome."""
    distributed = _import_distributed()
    if not jobs:
        return
    host_threads = _threads_by_host(client)
    futures = {client.submit(run_isolated, job, timeout, memory_limit_mb, host_threads,
                             pure=False, retries=0,
                             key=f"deepad-bench-{job.key}-{uuid.uuid4().hex[:8]}"): job
               for job in jobs}
    try:
        for future in distributed.as_completed(futures):
            job = futures.pop(future)
            try:
                outcome = future.result()
            except Exception as error:  # the task itself failed (worker lost, ...)
                outcome = Outcome("error", error=f"Dask task failed: {type(error).__name__}: "
                                                 f"{error}", finished_at=utc_now())
            future.release()
            yield job, outcome
    finally:
        if futures:
            client.cancel(list(futures))
