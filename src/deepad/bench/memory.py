"""Resident memory: the peak of one job (measured inside the worker) and the size of a process
tree (watched by the supervisor's memory guard).

``RLIMIT_AS`` is not used as a guard: it limits virtual address space, which torch and the
BLAS libraries reserve far beyond what they touch, so a limit low enough to matter breaks
imports. The guard instead reads the resident size of the worker and its children.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType

import psutil

MB = 1024 * 1024
SAMPLE_SECONDS = 0.02


def tree_rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` and all its descendants in MB (None once gone)."""
    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
    except psutil.Error:
        return None
    return total / MB


def _max_rss_mb() -> float | None:
    """Lifetime peak resident memory of this process (``getrusage``), where the OS has it."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024  # bytes on macOS, else KB


class PeakMemory:
    """Peak resident memory of this process while the ``with`` block runs, in MB.

    A thread samples the resident size every 20 ms. When the block raises the process's
    lifetime peak (``getrusage``), that exact figure is used instead of the samples, so
    short spikes between two samples are not missed.

    Examples
    --------
    >>> with PeakMemory() as memory:
    ...     block = bytearray(50 * 1024 * 1024)
    >>> memory.peak_mb > 50
    True
    """

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lifetime_before: float | None = None

    def _sample(self) -> None:
        try:
            self.peak_mb = max(self.peak_mb, self._process.memory_info().rss / MB)
        except psutil.Error:
            pass

    def _watch(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._lifetime_before = _max_rss_mb()
        self._sample()
        self._thread = threading.Thread(target=self._watch, name="deepad-peak-memory",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        lifetime_after = _max_rss_mb()
        if (self._lifetime_before is not None and lifetime_after is not None
                and lifetime_after > self._lifetime_before):
            self.peak_mb = max(self.peak_mb, lifetime_after)
