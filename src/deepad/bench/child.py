"""The worker process: ``python -m deepad.bench.child THREADS``.

It is a fresh interpreter (spawn semantics: torch is never forked) started by
:class:`deepad.bench.pool.WorkerPool`. It reads pickled :class:`~deepad.bench.jobs.Job`
objects from stdin, one at a time, and answers each with a pickled
:class:`~deepad.bench.jobs.Outcome` on stdout; ``None`` or the end of stdin stops it.
Anything the detectors print goes to stderr, so it cannot corrupt the answers. The process
also ends by itself when its parent dies (a killed supervisor leaves no workers behind).

A plain subprocess rather than ``multiprocessing``: Dask runs its tasks in daemonic
processes, which ``multiprocessing`` forbids to have children.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import sys
import threading
import time
from typing import IO, Any

PARENT_CHECK_SECONDS = 1.0


def send(stream: IO[bytes], kind: str, payload: Any) -> None:
    """Write one message (``(kind, payload)``) to the supervisor."""
    pickle.dump((kind, payload), stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _limit_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:  # already set, or parallel work has started
        pass


def main(argv: list[str]) -> int:
    """Serve jobs until told to stop; returns the exit code."""
    threads = int(argv[0]) if argv else 1
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints land on stderr
    faulthandler.enable()
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True,
                     name="deepad-orphan-check").start()
    _limit_threads(threads)
    from deepad.bench.environment import library_versions
    from deepad.bench.worker import run_job

    send(answers, "ready", {"pid": os.getpid(), "versions": library_versions()})
    jobs = sys.stdin.buffer
    while True:
        try:
            job = pickle.load(jobs)
        except EOFError:
            return 0
        if job is None:
            return 0
        try:
            send(answers, "result", run_job(job))
        except BrokenPipeError:  # the supervisor is gone
            return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
