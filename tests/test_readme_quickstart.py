"""The README's Python quickstart runs as written where the shared datasets folder is not in
reach: ``load_adbench("cardio")`` finds nothing in ``$DEEPAD_DATA_DIR`` (unset), downloads the
file into the cache and verifies its sha256. No network: the download comes from a local
``file://`` mirror holding a copy of the shared file, laid out as ADBench's repository is."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def quickstart_code() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Quickstart (Python)"):]
    match = re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert match, "README has no python block under 'Quickstart (Python)'"
    return match.group(1)


def test_quickstart_uses_no_local_path():
    code = quickstart_code()
    assert 'load_adbench("cardio")' in code
    assert "shared" not in code and "print(" in code


@pytest.mark.slow
def test_readme_quickstart_runs_as_written(tmp_path, shared_datasets):
    original = shared_datasets / "adbench" / "classical" / "6_cardio.npz"
    if not original.is_file():
        pytest.skip(f"{original} is absent")
    mirror = tmp_path / "mirror" / "Classical"
    mirror.mkdir(parents=True)
    shutil.copyfile(original, mirror / "6_cardio.npz")
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    (work / "quickstart.py").write_text(quickstart_code(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "DEEPAD_DATA_DIR"}
    env |= {"DEEPAD_CACHE_DIR": str(cache), "DEEPAD_ADBENCH_URL": mirror.parent.as_uri(),
            "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "quickstart.py"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "cardio: 1831 rows, 21 features" in out
    assert re.search(r"DeepSVDD: AUC-ROC 0\.\d{3}, AUC-PR 0\.\d{3}, \d+ of 550", out), out
    assert re.search(r"DevNet with \d+ labelled anomalies: AUC-ROC 0\.\d{3}", out), out
    assert "reloaded: the same scores" in out and "500 window scores" in out
    # downloaded into the cache and verified: the very bytes of the original
    assert (cache / "6_cardio.npz").read_bytes() == original.read_bytes()
    assert (work / "svdd-model" / "config.json").is_file()
