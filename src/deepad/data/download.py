"""Fetch ADBench files into the local cache, verified by sha256.

Only files listed in :data:`deepad.data._adbench_checksums.ADBENCH_FILES` are downloaded: a
file is written to the cache only after its whole content matched the recorded size and
sha256, so an interrupted or tampered download never leaves a file that later loads as data.
The base URL is ADBench's repository at the commit the checksums were taken from;
``$DEEPAD_ADBENCH_URL`` replaces it (a mirror, or a local server in the tests).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from deepad.data._adbench_checksums import ADBENCH_FILES

ADBENCH_COMMIT = "3dac8221081e190f157d78e93bfa8867f90d0965"
ADBENCH_URL = (f"https://raw.githubusercontent.com/Minqi824/ADBench/{ADBENCH_COMMIT}"
               "/adbench/datasets")
CHUNK = 1 << 16
TIMEOUT_S = 30

__all__ = ["ADBENCH_URL", "adbench_url", "cache_dir", "download_adbench", "known_adbench_name"]


def cache_dir() -> Path:
    """The download cache: ``$DEEPAD_CACHE_DIR``, else ``~/.cache/deepad``; always the last
    folder :func:`deepad.data.adbench.data_dirs` searches."""
    return Path(os.environ.get("DEEPAD_CACHE_DIR") or Path.home() / ".cache" / "deepad")


def adbench_url() -> str:
    """Base URL files are fetched from: ``$DEEPAD_ADBENCH_URL`` or :data:`ADBENCH_URL`."""
    return os.environ.get("DEEPAD_ADBENCH_URL", ADBENCH_URL).rstrip("/")


def known_adbench_name(name: str) -> str | None:
    """The checksum table's spelling of ``name`` ("cardio" → "6_cardio"), or None."""
    wanted = name.lower().removesuffix(".npz")
    for known in ADBENCH_FILES:
        low = known.lower()
        if low == wanted or low.split("_", 1)[-1] == wanted:
            return known
    return None


def download_adbench(name: str, directory: str | Path | None = None) -> Path:
    """Download ADBench dataset ``name`` into ``directory`` (default :func:`cache_dir`).

    Returns the path of the verified file. Raises ``KeyError`` for a name without a recorded
    checksum, ``ConnectionError`` when the server cannot be reached (the message says where
    to put the file by hand) and ``ValueError`` on a size or checksum mismatch; in every
    failure the target folder is left without a new file.
    """
    known = known_adbench_name(name)
    if known is None:
        msg = (f"No checksum is recorded for ADBench dataset {name!r}, so it is not "
               "downloaded; put its .npz file in $DEEPAD_DATA_DIR or ~/.cache/deepad.")
        raise KeyError(msg)
    relative, size, sha256 = ADBENCH_FILES[known]
    target_dir = Path(directory) if directory is not None else cache_dir()
    target = target_dir / Path(relative).name
    url = f"{adbench_url()}/{relative}"
    target_dir.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target_dir, prefix=f".{known}-", suffix=".part")
    try:
        digest, written = hashlib.sha256(), 0
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=TIMEOUT_S) as r:
            while chunk := r.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                written += len(chunk)
        if written != size or digest.hexdigest() != sha256:
            msg = (f"Download of {url} failed verification: got {written} bytes with sha256 "
                   f"{digest.hexdigest()}, expected {size} bytes with sha256 {sha256}. "
                   "Nothing was saved; retry, or put the file in the cache by hand.")
            raise ValueError(msg)
        os.replace(temporary, target)
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        msg = (f"Could not download ADBench dataset {known!r} from {url} ({error}). Offline? "
               f"Put {Path(relative).name} (from github.com/Minqi824/ADBench, folder "
               f"adbench/datasets/{Path(relative).parent}) in {target_dir} or in a folder "
               "named by $DEEPAD_DATA_DIR.")
        raise ConnectionError(msg) from error
    finally:
        Path(temporary).unlink(missing_ok=True)
    return target
