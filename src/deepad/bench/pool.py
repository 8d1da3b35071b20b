"""Persistent worker processes with a time limit and a memory guard per job.

:class:`WorkerPool` keeps ``workers`` child processes (:mod:`deepad.bench.child`), each
running one job at a time, so the cost of starting Python and importing torch (1-3 s) is
paid once per process, not once per job. A child that crashes, runs past the time limit or
grows past the memory limit is killed with its own children and replaced; its job becomes an
``error`` / ``timeout`` / ``memory`` outcome and the other jobs go on.
"""

from __future__ import annotations

import collections
import os
import pickle
import queue
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from deepad.bench import peers
from deepad.bench.environment import host_name
from deepad.bench.jobs import Job, Outcome, utc_now
from deepad.bench.memory import tree_rss_mb

POLL_SECONDS = 0.1
START_TIMEOUT_SECONDS = 300.0
MAX_START_FAILURES = 3
STDERR_EXCERPT = 300
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def import_path() -> list[str]:
    """Entries of ``sys.path`` a child interpreter would not have by itself (the working
    folder, folders added by the caller or by pytest), so ``python:module:Class`` specs
    resolve the same in the workers as here."""
    own = [sys.prefix, sys.base_prefix, sys.exec_prefix]
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    paths = []
    for entry in sys.path:
        path = os.path.abspath(entry or os.getcwd())
        if any(path == p or path.startswith(p.rstrip(os.sep) + os.sep) for p in own) \
                or path == user_site:
            continue
        if path not in paths and os.path.exists(path):
            paths.append(path)
    return paths


def _child_environment(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    extra = import_path()
    if extra:
        env["PYTHONPATH"] = os.pathsep.join([*extra, *filter(None, [env.get("PYTHONPATH")])])
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    return env


def _signal_name(code: int) -> str:
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


@dataclass
class _Child:
    number: int
    process: subprocess.Popen
    stderr: IO[bytes]  # read side of the file the child writes its stderr to
    spawned: float
    ready: bool = False
    versions: dict[str, str] = field(default_factory=dict)
    job: Job | None = None
    started: float = 0.0
    started_at: str = ""
    peak_mb: float | None = None

    def stderr_excerpt(self) -> str:
        """The telling line of what the child wrote to stderr during its job."""
        try:
            self.stderr.seek(0)
            text = self.stderr.read().decode("utf-8", errors="replace")
        except (OSError, ValueError):
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        fatal = [line for line in lines if line.startswith("Fatal Python error")]
        line = fatal[0] if fatal else lines[-1] if lines else ""
        return line[:STDERR_EXCERPT]


class WorkerPool:
    """Run jobs in persistent, isolated worker processes.

    Parameters
    ----------
    workers : int
        Number of child processes (jobs at a time).
    threads : int
        Torch / BLAS threads in each child; keep ``workers × threads`` at most the cores.
    timeout : float or None
        Seconds a job may run (fit and score) before its process is killed.
    memory_limit_mb : float or None
        Resident memory (the child and its own children) above which the job is killed.

    Examples
    --------
    >>> with WorkerPool(workers=2, timeout=600) as pool:                # doctest: +SKIP
    ...     for job, outcome in pool.map(jobs):
    ...         print(job.describe(), outcome.status)
    """

    def __init__(self, workers: int = 1, *, threads: int = 1, timeout: float | None = None,
                 memory_limit_mb: float | None = None) -> None:
        self.workers = workers
        self.threads = threads
        self.timeout = timeout
        self.memory_limit_mb = memory_limit_mb
        self._children: dict[int, _Child] = {}
        self._events: queue.Queue[tuple[str, int, Any]] = queue.Queue()
        self._spawned = 0
        self._start_failures = 0
        self._lost_sends = 0

    # ------------------------------------------------------------------ children
    def _spawn(self) -> None:
        self._spawned += 1
        handle, name = tempfile.mkstemp(prefix="deepad-bench-worker-", suffix=".log")
        os.close(handle)
        reader = open(name, "r+b")  # reads and truncates; closed when the child retires
        with open(name, "ab") as stderr:  # O_APPEND: truncating between jobs stays safe
            process = subprocess.Popen(
                [sys.executable, "-m", "deepad.bench.child", str(self.threads)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                env=_child_environment(self.threads), start_new_session=os.name == "posix")
        if os.name == "posix":  # both ends are open: no file is left behind, even on SIGKILL
            os.unlink(name)
        child = _Child(self._spawned, process, reader, time.monotonic())
        self._children[child.number] = child
        threading.Thread(target=self._read, args=(child.number, process.stdout), daemon=True,
                         name=f"deepad-bench-reader-{child.number}").start()

    def _read(self, number: int, stream: IO[bytes]) -> None:
        """Forward the child's messages to the event queue until its stdout closes (this
        thread, not the supervisor, closes the stream: closing a reader blocked in another
        thread would wait for it)."""
        with stream:
            while True:
                try:
                    kind, payload = pickle.load(stream)
                except Exception:  # EOF, a broken pipe, or a message cut short by a crash
                    self._events.put(("eof", number, None))
                    return
                self._events.put((kind, number, payload))

    def _kill(self, child: _Child) -> None:
        process = child.process
        if process.poll() is None:
            try:
                if os.name == "posix":
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.kill()
            except (ProcessLookupError, PermissionError):
                pass
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def _retire(self, child: _Child) -> None:
        self._children.pop(child.number, None)
        self._kill(child)
        try:
            child.process.stdin.close()
        except OSError:
            pass
        child.stderr.close()
        Path(child.stderr.name).unlink(missing_ok=True)  # already gone on POSIX

    def _top_up(self, needed: int) -> None:
        while len(self._children) < min(self.workers, needed):
            self._spawn()

    # ------------------------------------------------------------------ outcomes
    def _failure(self, child: _Child, status: str, message: str) -> tuple[Job, Outcome]:
        job = child.job
        versions = dict(child.versions)
        package = job.detector.partition(":")[0]
        if package in peers.PACKAGES and peers.is_installed(package):
            versions["peer"] = peers.peer_version(package) or "unknown"
        outcome = Outcome(status, error=message, peak_memory_mb=child.peak_mb,
                          versions=versions, host=host_name(), started_at=child.started_at,
                          finished_at=utc_now())
        return job, outcome

    def _on_exit(self, child: _Child) -> tuple[Job, Outcome] | None:
        try:
            code = child.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        excerpt = child.stderr_excerpt()
        detail = f"; stderr: {excerpt}" if excerpt else ""
        result = None
        if child.job is not None:
            how = ("did not exit" if code is None else f"was killed by {_signal_name(code)}"
                   if code < 0 else f"exited with code {code}")
            result = self._failure(child, "error", f"worker process crashed: it {how}{detail}")
        self._retire(child)
        if not child.ready:
            self._start_failures += 1
            if self._start_failures >= MAX_START_FAILURES:
                msg = f"benchmark worker processes fail to start (exit code {code}){detail}"
                raise RuntimeError(msg)
        return result

    def _handle(self, kind: str, number: int, payload: Any) -> tuple[Job, Outcome] | None:
        child = self._children.get(number)
        if child is None:  # a retired child's last words
            return None
        if kind == "ready":
            child.ready = True
            child.versions = payload["versions"]
            self._start_failures = 0
            return None
        if kind == "result" and child.job is not None:
            job, child.job = child.job, None
            peak = payload.peak_memory_mb
            if child.peak_mb is not None:
                peak = max(peak or 0.0, child.peak_mb)
            return job, payload.replace(started_at=child.started_at, finished_at=utc_now(),
                                        peak_memory_mb=peak)
        if kind == "eof":
            return self._on_exit(child)
        return None

    def _enforce_limits(self) -> list[tuple[Job, Outcome]]:
        results = []
        now = time.monotonic()
        for child in list(self._children.values()):
            if child.job is None:
                if not child.ready and now - child.spawned > START_TIMEOUT_SECONDS:
                    self._kill(child)  # its reader reports the exit
                continue
            rss = tree_rss_mb(child.process.pid)
            if rss is not None:
                child.peak_mb = round(max(child.peak_mb or 0.0, rss), 1)
            if self.timeout is not None and now - child.started > self.timeout:
                results.append(self._failure(child, "timeout",
                                             f"timeout after {self.timeout:g} s"))
                self._retire(child)
            elif (self.memory_limit_mb is not None and rss is not None
                  and rss > self.memory_limit_mb):
                results.append(self._failure(
                    child, "memory", f"memory guard: the job held {rss / 1024:.2f} GB, above "
                                     f"the limit of {self.memory_limit_mb / 1024:.3g} GB"))
                self._retire(child)
        return results

    # ------------------------------------------------------------------ scheduling
    def _dispatch(self, pending: collections.deque[Job]) -> list[tuple[Job, Outcome]]:
        results = []
        for child in list(self._children.values()):
            if not pending:
                break
            if not child.ready or child.job is not None:
                continue
            job = pending.popleft()
            try:
                message = pickle.dumps(job, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as error:  # a parameter value that cannot travel
                results.append((job, Outcome("error", error=f"cannot send the job: {error}",
                                             started_at=utc_now(), finished_at=utc_now())))
                continue
            os.ftruncate(child.stderr.fileno(), 0)  # keep only this job's stderr
            try:
                child.process.stdin.write(message)
                child.process.stdin.flush()
            except OSError as error:  # the child died while idle: the job never started
                pending.appendleft(job)
                self._retire(child)
                self._lost_sends += 1
                if self._lost_sends >= MAX_START_FAILURES:
                    msg = f"benchmark worker processes die before taking a job ({error})"
                    raise RuntimeError(msg) from error
                continue
            self._lost_sends = 0
            child.job, child.started, child.started_at = job, time.monotonic(), utc_now()
            child.peak_mb = None
        return results

    def _wait(self) -> list[tuple[Job, Outcome]]:
        results = []
        try:
            event = self._events.get(timeout=POLL_SECONDS)
            while True:
                result = self._handle(*event)
                if result is not None:
                    results.append(result)
                event = self._events.get_nowait()
        except queue.Empty:
            pass
        return results + self._enforce_limits()

    def map(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Outcome]]:
        """Run ``jobs`` and yield ``(job, outcome)`` pairs as they finish (in any order).

        Raises ``RuntimeError`` when worker processes repeatedly die before they are ready
        (a broken installation), rather than retrying forever.
        """
        pending = collections.deque(jobs)
        try:
            while pending or any(c.job is not None for c in self._children.values()):
                busy = sum(c.job is not None for c in self._children.values())
                self._top_up(len(pending) + busy)
                yield from self._dispatch(pending)
                yield from self._wait()
        finally:
            for child in list(self._children.values()):
                if child.job is not None:  # abandoned mid-job (interrupt): stop it
                    self._retire(child)

    def close(self) -> None:
        """Stop every worker process (idle ones are asked to exit, busy ones killed)."""
        children = list(self._children.values())
        for child in children:
            if child.job is None:
                try:
                    child.process.stdin.close()
                except OSError:
                    pass
        deadline = time.monotonic() + 2.0
        for child in children:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            self._retire(child)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
