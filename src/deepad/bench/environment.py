"""Where a job ran: library versions, host name and how many CPU cores the process may use."""

from __future__ import annotations

import functools
import os
import platform
import socket
from importlib import metadata


def package_version(distribution: str) -> str | None:
    """Installed version of ``distribution`` (``"pyod"``), or None when it is not installed."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions of deepad, torch, numpy, scikit-learn and Python in this process."""
    import numpy
    import sklearn
    import torch

    from deepad._version import __version__

    return {"deepad": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "sklearn": sklearn.__version__, "python": platform.python_version()}


def host_name() -> str:
    """Name of this machine."""
    return socket.gethostname()


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads_per_job(cores: int, concurrent_jobs: int) -> int:
    """Torch / BLAS threads per job so that ``concurrent_jobs × threads ≤ cores`` (at least 1).

    >>> threads_per_job(16, 4), threads_per_job(2, 3)
    (4, 1)
    """
    return max(1, cores // max(1, concurrent_jobs))
