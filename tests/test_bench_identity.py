"""Benchmark rows tied to the code that made them (issue 16, defect 5): resolved
hyperparameters in the run key, one row per slot, code identity per row, stale rows marked by
``deepad report`` and run again by ``deepad bench --rerun-stale``; and the protocol registry."""

from __future__ import annotations

import importlib
import json
import re
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from deepad.bench import Job, Outcome, ResultStore, load_results, make_config
from deepad.bench.detectors import parse_detector
from deepad.bench.environment import package_version
from deepad.bench.identity import (
    UNRECORDED,
    code_version,
    detector_code,
    mark_stale,
    source_files,
    stale_mask,
)
from deepad.bench.plan import make_plan, plan_detectors
from deepad.bench.protocol import Protocol, plain_value
from deepad.bench.protocols import (
    PROTOCOLS,
    get_protocol,
    protocol_for,
    protocol_of_setting,
    register,
)
from deepad.bench.runner import Stored
from deepad.bench.store import stored_rows
from deepad.cli import app

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
runner = CliRunner()

MODULE = '''
import numpy as np


class Scaled:
    def __init__(self, k=1, depth=3):
        self.k = k
        self.depth = depth

    def fit(self, X, y=None):
        self.mean_ = np.asarray(X).mean(axis=0)
        return self

    def decision_function(self, X):
        return self.k * ((np.asarray(X) - self.mean_) ** 2).sum(axis=1)
'''


@pytest.fixture
def fake_module(tmp_path, monkeypatch):
    """A detector module written to a temporary folder: ``python:idfake:Scaled``."""
    path = tmp_path / "idfake.py"
    path.write_text(MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("idfake", None)
    yield path
    sys.modules.pop("idfake", None)


@pytest.fixture
def dataset(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(360, 4)), rng.normal(2.0, 1.0, size=(40, 4))])
    y = np.r_[np.zeros(360, dtype=np.int64), np.ones(40, dtype=np.int64)]
    path = tmp_path / "1_tiny.npz"
    np.savez(path, X=X, y=y)
    return path


def _config(dataset: Path, detector: str, db: Path | None = None, **extra):
    values = {"datasets": str(dataset), "detectors": detector, **extra}
    if db is not None:
        values["db"] = str(db)
    return make_config(values)


# ---------------------------------------------------------------------------- resolved key
def test_the_key_holds_the_resolved_defaults_and_the_slot_the_given_params():
    config = make_config({"datasets": "x.npz", "detectors": "DeepSVDD",
                          "params": ["DeepSVDD.epochs=3"]})
    (entry,) = plan_detectors(config)
    from deepad import DeepSVDD

    defaults = DeepSVDD().get_params()
    assert entry.resolved["epochs"] == 3 and entry.resolved["device"] == "cpu"
    assert {k for k in defaults if k != "random_state"} <= set(entry.resolved)
    assert "random_state" not in entry.resolved  # the seed is its own key field
    job = Job("DeepSVDD", entry.params, "d", 0, "unsupervised", None, resolved=entry.resolved)
    other = Job("DeepSVDD", entry.params, "d", 0, "unsupervised", None,
                resolved={**entry.resolved, "lr": 0.5})
    legacy = Job("DeepSVDD", entry.params, "d", 0, "unsupervised", None)
    assert job.key != other.key and job.slot == other.slot == legacy.slot == legacy.key


def test_a_changed_default_is_a_new_job_that_replaces_the_old_row(fake_module, dataset,
                                                                  tmp_path):
    before = make_plan(_config(dataset, "python:idfake:Scaled")).jobs[0]
    assert before.resolved == {"depth": 3, "k": 1}
    fake_module.write_text(MODULE.replace("k=1", "k=2"), encoding="utf-8")
    importlib.reload(importlib.import_module("idfake"))
    after = make_plan(_config(dataset, "python:idfake:Scaled")).jobs[0]
    assert after.resolved == {"depth": 3, "k": 2}
    assert after.key != before.key and after.slot == before.slot
    db = tmp_path / "store.db"
    with ResultStore(db) as store:
        store.write(before, Outcome("ok", auc_roc=0.7, code={"detector": "x"}))
        stored = Stored(store.rows())
        assert stored.find(before) is not None
        assert stored.find(after) is None  # recorded with other defaults: run it again
        store.write(after, Outcome("ok", auc_roc=0.8, code={"detector": "y"}))
        assert store.statuses() == {after.key: "ok"}  # one row per slot: the newest


def test_a_row_without_resolved_params_answers_its_slot_and_is_stale(tmp_path):
    db = tmp_path / "old.db"
    legacy = Job("python:bench_fakes:MeanDistance", {}, "1_tiny", 0, "unsupervised", None)
    with ResultStore(db) as store:
        store.write(legacy, Outcome("ok", auc_roc=0.7))  # no identity: as a migrated row
    job = Job(legacy.detector, {}, "1_tiny", 0, "unsupervised", None,
              resolved={"power": 2.0})
    stored = Stored(stored_rows(db))
    assert stored.find(job).run_key == legacy.key
    assert stored.stale == {legacy.key}


# ---------------------------------------------------------------------------- identity
def test_code_version_names_the_checkout_commit():
    version = code_version()
    if (ROOT / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", version), version
    else:
        assert version.startswith("deepad ")


def test_detector_code_follows_the_source_and_the_peer_version(fake_module):
    protocol = get_protocol("adbench")
    ref = parse_detector("python:idfake:Scaled")
    first = detector_code(ref, protocol)
    assert first == detector_code(ref, protocol) and first.startswith("sha256:")
    fake_module.write_text(MODULE + "\n# changed\n", encoding="utf-8")
    assert detector_code(ref, protocol) != first
    assert detector_code(parse_detector("pyod:IForest"), protocol).startswith("pyod ")


def test_deepad_detector_hash_covers_its_base_classes_and_the_series_wrapper():
    from deepad import AutoEncoder

    files = {p.name for p in source_files([AutoEncoder])}
    assert "base.py" in files and len(files) >= 2
    ref = parse_detector("AutoEncoder")
    tabular = detector_code(ref, get_protocol("adbench"))
    series = detector_code(ref, get_protocol("series"))
    assert tabular != series  # the series protocol adds deepad.series.SeriesDetector


def test_stale_mask_rules(fake_module):
    current = detector_code(parse_detector("python:idfake:Scaled"), get_protocol("adbench"))
    flags = stale_mask(["python:idfake:Scaled"] * 4 + ["python:gone:X", "pyod:NoSuch"],
                       ["unsupervised"] * 6, ["ok", "ok", "error", "skipped", "ok", "ok"],
                       [current, "sha256:0000", UNRECORDED, UNRECORDED, "sha256:1",
                        "pyod 0.0.1"])
    pyod_here = package_version("pyod") is not None  # else its version cannot be compared
    assert flags == [False, True, True, False, False, pyod_here]


# ---------------------------------------------------------------------------- end to end
def invoke(*args: object):
    return runner.invoke(app, [*(str(a) for a in args)])


def test_report_marks_stale_rows_and_rerun_stale_redoes_them(dataset, tmp_path):
    db, out = tmp_path / "bench.db", tmp_path / "report"
    spec = "python:bench_fakes:MeanDistance"
    args = ("bench", "--datasets", dataset, "--detectors", spec, "--seeds", "0,1",
            "--db", db, "--quiet")
    first = invoke(*args)
    assert first.exit_code == 0, first.output
    rows = load_results(db)
    assert len(rows) == 2 and (rows.detector_code == rows.detector_code.iloc[0]).all()
    assert rows.detector_code.iloc[0].startswith("sha256:")
    assert json.loads(rows.resolved_params.iloc[0]) == {"power": 2.0}
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?|deepad \S+", rows.code_version.iloc[0])
    assert not mark_stale(rows).stale.any()
    with sqlite3.connect(db) as connection:  # as if the detector's code changed since
        connection.execute("UPDATE results SET detector_code = 'sha256:0000' WHERE seed = 1")
    report = invoke("report", db, "--out", out)
    assert report.exit_code == 0 and "1 stale" in report.output
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "1 of 2 rows are stale" in markdown and "†" in markdown
    dry = invoke(*args, "--rerun-stale", "--dry-run")
    assert "1 to run" in dry.output and "stored (ok, stale)" not in dry.output
    assert "stored (ok, stale)" in invoke(*args, "--dry-run").output
    kept = invoke(*args)
    assert "2 already in" in kept.output  # without the flag a stale row is kept
    rerun = invoke(*args, "--rerun-stale")
    assert rerun.exit_code == 0 and "1 ok" in rerun.output
    after = load_results(db)
    assert len(after) == 2 and not mark_stale(after).stale.any()


def test_migrated_committed_store_is_all_stale_and_keeps_every_row(tmp_path):
    committed = ROOT / "benchmarks" / "results" / "series_main.db"
    if not committed.is_file():
        pytest.skip("benchmarks/results/series_main.db is not in this checkout")
    db = tmp_path / "s.db"
    db.write_bytes(committed.read_bytes())
    before = load_results(db)
    with ResultStore(db):
        pass
    after = load_results(db)
    assert len(after) == len(before)
    pd.testing.assert_series_equal(after.auc_roc, before.auc_roc)
    measured = after[after.status != "skipped"]
    assert mark_stale(measured).stale.all()


# ---------------------------------------------------------------------------- registry
def test_protocols_are_found_by_setting_suite_and_datasets():
    assert set(PROTOCOLS) >= {"adbench", "series"}
    assert protocol_of_setting("weak").name == "adbench"
    assert protocol_of_setting("series").name == "series"
    assert protocol_for(make_config({"suite": "series", "detectors": "AE"})).name == "series"
    assert protocol_for(make_config({"datasets": "ucr/1", "detectors": "AE"})).name == "series"
    assert protocol_for(make_config({"datasets": "6_cardio", "detectors": "AE"})).name \
        == "adbench"
    with pytest.raises(ValueError, match="unknown suite 'serie'.*Did you mean series"):
        protocol_for(make_config({"suite": "serie", "detectors": "AE"}))
    with pytest.raises(ValueError, match="unknown setting"):
        protocol_of_setting("images")


def test_a_protocol_cannot_take_another_ones_setting():
    class Clash(Protocol):
        name = "clash"
        settings = ("weak",)

    Clash.__abstractmethods__ = frozenset()
    with pytest.raises(ValueError, match="shares \\['weak'\\] with protocol 'adbench'"):
        register(Clash())
    assert "clash" not in PROTOCOLS


def test_plain_value_is_stable_json():
    class Thing:
        pass

    values = plain_value({"f": np.mean, "c": Thing, "o": object(), "n": np.float32(0.5),
                          "t": (1, 2)})
    assert values["f"] == "numpy.mean" and values["c"].endswith("Thing")
    assert "0x" not in values["o"] and values["n"] == 0.5 and values["t"] == [1, 2]
    json.dumps(values)
