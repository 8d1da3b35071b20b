"""The identity of the code behind a benchmark row, and which rows are stale.

Every row records two things (:func:`job_identity`):

- ``code_version``: the git commit of the checkout deepad runs from, with ``-dirty`` when
  tracked files have uncommitted changes; ``deepad X.Y.Z`` when deepad is not run from a
  git checkout (an installed package). It says where a row came from; it is not compared.
- ``detector_code``: what decides the detector's results. For a deepad or ``python:``
  detector a hash of the source files of its class and of its base classes from the same
  package (for a series job also :class:`deepad.series.SeriesDetector`, the protocol's
  wrapper: :meth:`deepad.bench.protocol.Protocol.code_classes`); for a PyOD / DeepOD peer
  ``package version``.

A row is **stale** when its ``detector_code`` differs from the current one: its detector's
source (or its peer's version) changed since, or it was written before identities were
recorded (``unrecorded``). Where a detector cannot be loaded (a peer not installed in the
process that writes the report), only ``unrecorded`` rows count as stale. Code a detector
reaches through other modules (``deepad.nets``, the trainer) is not in the hash: a change
there shows only in ``code_version``. Rows recorded as ``skipped`` are decisions of the
planner, never stale. ``deepad report`` marks
stale rows; ``deepad bench --rerun-stale`` runs them again.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepad.bench import detectors, peers
from deepad.bench.environment import package_version
from deepad.bench.jobs import UNRECORDED
from deepad.bench.protocols import protocol_of_setting

if TYPE_CHECKING:
    import pandas as pd

    from deepad.bench.protocol import Protocol

__all__ = ["UNRECORDED", "code_version", "detector_code", "job_identity", "mark_stale",
           "source_files", "source_hash", "stale_mask"]
HASH_CHARS = 16
GIT_SECONDS = 10


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              text=True, timeout=GIT_SECONDS, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """``<commit>`` or ``<commit>-dirty`` when deepad runs from a git checkout, else
    ``deepad <version>`` (cached for the life of the process)."""
    import deepad
    from deepad._version import __version__

    package = Path(deepad.__file__).resolve().parent
    root = _git(package, "rev-parse", "--show-toplevel")
    commit = _git(package, "rev-parse", "HEAD") if root else None
    if not root or not commit or not (Path(root) / "src" / "deepad").is_dir():
        return f"deepad {__version__}"
    dirty = _git(package, "status", "--porcelain", "--untracked-files=no")
    return f"{commit}-dirty" if dirty else commit


def source_files(classes: list[type]) -> list[Path]:
    """The source files of ``classes`` and of their base classes from the same top-level
    package, without repeats, in method-resolution order."""
    files: dict[Path, None] = {}
    for cls in classes:
        package = cls.__module__.partition(".")[0]
        for base in cls.__mro__:
            if base.__module__.partition(".")[0] != package:
                continue
            try:
                path = inspect.getsourcefile(base)
            except (TypeError, OSError):
                continue
            if path:
                files.setdefault(Path(path).resolve(), None)
    return list(files)


def source_hash(classes: list[type]) -> str:
    """``sha256:<16 hex>`` of the source files of ``classes`` (:func:`source_files`): their
    names within the package and their bytes."""
    digest = hashlib.sha256()
    for path in source_files(classes):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"sha256:{digest.hexdigest()[:HASH_CHARS]}"


def detector_code(ref: detectors.DetectorRef, protocol: Protocol,
                  cls: type | None = None) -> str:
    """The current code identity of a detector under ``protocol`` (``package version`` for
    a peer; ``ImportError`` when a deepad or ``python:`` class cannot be loaded)."""
    if ref.kind in peers.PACKAGES:
        return f"{ref.kind} {package_version(ref.kind) or 'not installed'}"
    cls = detectors.load_class(ref) if cls is None else cls
    return source_hash(protocol.code_classes(ref, cls))


def job_identity(ref: detectors.DetectorRef, protocol: Protocol,
                 cls: type | None = None) -> dict[str, str]:
    """``{"version": code_version(), "detector": detector_code(...)}`` of a job run here."""
    return {"version": code_version(), "detector": detector_code(ref, protocol, cls)}


def _current(detector: str, setting: str) -> str | None:
    try:
        ref = detectors.parse_detector(detector)
        if ref.kind in peers.PACKAGES and package_version(ref.kind) is None:
            return None  # the peer is not installed here: its version cannot be compared
        return detector_code(ref, protocol_of_setting(setting))
    except (ImportError, KeyError, ValueError, TypeError, OSError):
        return None  # cannot be judged here: the detector or its protocol is unknown


def stale_mask(detector: Any, setting: Any, status: Any, recorded: Any) -> list[bool]:
    """Per row, whether it is stale (see the module doc). A row whose detector cannot be
    loaded here is stale only when its identity is unrecorded."""
    current: dict[tuple[str, str], str | None] = {}
    result = []
    for name, kind, state, code in zip(detector, setting, status, recorded, strict=True):
        if state == "skipped":
            result.append(False)
            continue
        if not isinstance(code, str) or not code or code == UNRECORDED:
            result.append(True)
            continue
        key = (str(name), str(kind))
        if key not in current:
            current[key] = _current(*key)
        result.append(current[key] is not None and current[key] != code)
    return result


def mark_stale(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a results table (:func:`deepad.bench.load_results`) with a boolean
    ``stale`` column."""
    table = frame.copy()
    recorded = table["detector_code"] if "detector_code" in table else [None] * len(table)
    table["stale"] = stale_mask(table["detector"], table["setting"], table["status"],
                                recorded)
    return table
