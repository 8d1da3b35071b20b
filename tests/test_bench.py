"""``deepad bench``: jobs, isolation, the result store, resume, Dask, configuration, errors.

The datasets are tiny ADBench-style ``.npz`` files written to a temporary folder
(``$DEEPAD_DATA_DIR``), the detectors are ``AutoEncoder`` with two epochs and the numpy fakes
of ``tests/bench_fakes.py`` (``python:bench_fakes:Name``), so the runner, not training, is
what takes the time. Runs that start worker processes are shared by module-scoped fixtures.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from typer.testing import CliRunner

from deepad.bench import BenchConfig, Job, Outcome, ResultStore, load_results, make_config, peers
from deepad.bench.config import parse_param
from deepad.bench.protocol import given_params
from deepad.cli import app

TESTS = Path(__file__).resolve().parent
FAKE = "python:bench_fakes:"
PYOD_INSTALLED = peers.is_installed("pyod")  # when missing, a pyod job records why
DATASETS = "1_alpha,2_beta"
AE = ["-p", "AutoEncoder.epochs=2", "-p", "AutoEncoder.hidden_dims=(8, 4)",
      "-p", "AutoEncoder.batch_size=64"]

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, ["bench", *(str(a) for a in args)])


def write_dataset(path: Path, n: int, d: int, n_anomalies: int, shift: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(n - n_anomalies, d)),
                   rng.normal(shift, 1.0, size=(n_anomalies, d))])
    y = np.r_[np.zeros(n - n_anomalies, dtype=np.int64), np.ones(n_anomalies, dtype=np.int64)]
    np.savez(path, X=X, y=y)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Two small sets with overlapping anomalies (AUC well below 1): 400 rows (resampled to
    1,000 by the protocol) and 1,200 rows."""
    folder = tmp_path_factory.mktemp("bench-data")
    write_dataset(folder / "1_alpha.npz", 400, 5, 40, 1.0, seed=0)
    write_dataset(folder / "2_beta.npz", 1200, 6, 60, 0.8, seed=1)
    return folder


@pytest.fixture(scope="module")
def bench_env(data_dir):
    """``$DEEPAD_DATA_DIR`` for the whole module (worker processes inherit it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEEPAD_DATA_DIR", str(data_dir))
        yield data_dir


@pytest.fixture(scope="module")
def local_run(bench_env, tmp_path_factory) -> tuple[Path, object]:
    """AutoEncoder, a deterministic fake and a weakly-supervised-only fake, on two datasets,
    two seeds, both settings, two local workers."""
    db = tmp_path_factory.mktemp("local") / "bench.db"
    result = invoke("--datasets", DATASETS, "--detectors",
                    f"AutoEncoder,{FAKE}MeanDistance,{FAKE}LabelledMean", "--seeds", "0,1",
                    "--setting", "unsupervised,weak", *AE, "--db", db, "--jobs", 2)
    return db, result


@pytest.fixture(scope="module")
def failure_run(bench_env, tmp_path_factory) -> tuple[Path, object]:
    """One job of each kind of failure next to one that works. The time limit leaves the
    memory hog 15 s to touch its 800 MB (with 5 s, a busy machine timed it out first)."""
    db = tmp_path_factory.mktemp("failures") / "bench.db"
    specs = ["MeanDistance", "Raises", "NaNScores", "Sleeps", "Crashes", "Segfaults", "Hog"]
    detectors = [FAKE + s for s in specs] + ([] if PYOD_INSTALLED else ["pyod:IForest"])
    result = invoke("--datasets", "1_alpha", "--detectors", ",".join(detectors),
                    "-p", f"{FAKE}Sleeps.seconds=60", "-p", f"{FAKE}Hog.megabytes=800",
                    "-p", f"{FAKE}Hog.seconds=60", "--timeout", 15, "--memory-limit", 0.8,
                    "--db", db, "--jobs", 2)
    return db, result


# ---------------------------------------------------------------------------- end to end
def test_cli_run_writes_one_row_per_job_with_sane_metrics(local_run):
    db, result = local_run
    assert result.exit_code == 0, result.output
    assert "Done: 24 jobs; this run: 20 ok, 4 skipped" in result.output
    rows = load_results(db)
    assert len(rows) == 24 and rows.run_key.is_unique
    assert set(rows.dataset) == {"1_alpha", "2_beta"} and set(rows.seed) == {0, 1}
    ok = rows[rows.status == "ok"]
    assert len(ok) == 20
    for metric in ("auc_roc", "auc_pr", "precision_at_n"):
        assert ok[metric].between(0, 1).all()
    assert ok.auc_roc.min() > 0.6 and ok.auc_roc.max() < 1.0  # overlapping anomalies
    assert (ok.fit_seconds > 0).all() and (ok.score_seconds > 0).all()
    assert (ok.fit_cpu_seconds > 0).all()
    assert (ok.peak_memory_mb > 50).all()
    assert (ok.finished_at >= ok.started_at).all()
    assert ok.deepad_version.notna().all() and ok.torch_version.notna().all()
    assert ok.peer_version.isna().all()
    ae = rows[rows.detector == "AutoEncoder"]
    assert {json.loads(p)["epochs"] for p in ae.params} == {2}
    assert json.loads(ae.params.iloc[0])["hidden_dims"] == [8, 4]


def test_weak_setting_gives_labels_only_to_detectors_that_learn_from_them(local_run):
    db, _ = local_run
    rows = load_results(db)
    weak = rows[rows.setting == "weak"]
    assert (weak.labeled_ratio == 0.1).all() and (weak.status == "ok").all()
    assert rows[rows.setting == "unsupervised"].labeled_ratio.isna().all()
    skipped = rows[rows.status == "skipped"]
    assert set(skipped.detector) == {f"{FAKE}LabelledMean"}
    assert set(skipped.setting) == {"unsupervised"}
    assert skipped.error.str.contains("weakly supervised only").all()
    # the unsupervised fake scores the same with or without labels on offer
    mean = rows[rows.detector == f"{FAKE}MeanDistance"].pivot_table(
        index=["dataset", "seed"], columns="setting", values="auc_roc")
    np.testing.assert_allclose(mean["weak"], mean["unsupervised"])


# ---------------------------------------------------------------------------- isolation
def test_each_failure_is_recorded_and_the_other_jobs_finish(failure_run):
    db, result = failure_run
    assert result.exit_code == 0, result.output
    rows = load_results(db).set_index("detector")
    status = rows.status.to_dict()
    expected = {f"{FAKE}MeanDistance": "ok", f"{FAKE}Raises": "error",
                f"{FAKE}NaNScores": "nan", f"{FAKE}Sleeps": "timeout",
                f"{FAKE}Crashes": "error", f"{FAKE}Segfaults": "error", f"{FAKE}Hog": "memory"}
    if not PYOD_INSTALLED:
        expected["pyod:IForest"] = "error"
        assert "pyod is not installed" in rows.error["pyod:IForest"]
    assert status == expected
    error = rows.error.to_dict()
    assert error[f"{FAKE}Raises"] == "RuntimeError: boom"
    assert error[f"{FAKE}NaNScores"] == "150 of 300 test scores are NaN or infinite"
    assert error[f"{FAKE}Sleeps"] == "timeout after 15 s"
    assert "exited with code 3" in error[f"{FAKE}Crashes"]
    assert "SIGSEGV" in error[f"{FAKE}Segfaults"]
    assert "Fatal Python error: Segmentation fault" in error[f"{FAKE}Segfaults"]  # its stderr
    assert "memory guard" in error[f"{FAKE}Hog"]
    assert rows.loc[f"{FAKE}Hog", "peak_memory_mb"] > 0.8 * 1024
    assert rows.loc[f"{FAKE}MeanDistance", "auc_roc"] > 0.6
    assert f"FAILED {FAKE}Sleeps 1_alpha seed=0: timeout after 15 s" in result.output
    n_errors = 3 if PYOD_INSTALLED else 4
    assert f"1 ok, {n_errors} error, 1 timeout, 1 nan, 1 memory" in result.output


def test_failed_rows_record_the_code_that_made_them(failure_run):
    """A time-out, a memory kill or a crash leaves no worker to say which code ran: the
    supervisor records it, so such rows are not stale (only rows of other code are)."""
    from deepad.bench.identity import mark_stale

    db, _ = failure_run
    rows = load_results(db).set_index("detector")
    for spec in ("Sleeps", "Hog", "Segfaults", "Raises"):
        assert rows.loc[f"{FAKE}{spec}", "detector_code"].startswith("sha256:"), spec
    assert rows.code_version.notna().all()
    assert not mark_stale(rows.reset_index()).stale.any()


# ---------------------------------------------------------------------------- resume
def test_rerun_skips_finished_jobs_and_retry_failed_reruns_failures(bench_env, tmp_path):
    db = tmp_path / "bench.db"
    args = ["--datasets", "1_alpha", "--detectors", f"{FAKE}MeanDistance,{FAKE}Raises",
            "--seeds", "0,1", "--db", db, "-q"]
    assert invoke(*args).exit_code == 0
    first = load_results(db).set_index("run_key")
    again = invoke(*args)
    assert again.exit_code == 0 and "4 already in" in again.output
    assert "this run: nothing" in again.output
    pd.testing.assert_frame_equal(load_results(db).set_index("run_key"), first)
    listing = invoke(*args, "--dry-run", "--retry-failed").output
    assert listing.count("stored (ok)") == 2 and listing.count("run ") == 2
    retried = invoke(*args, "--retry-failed")
    assert retried.exit_code == 0 and "this run: 2 error" in retried.output
    after = load_results(db).set_index("run_key")
    assert len(after) == 4 and after.index.is_unique
    failed = first.status == "error"
    assert (after.finished_at[failed] > first.finished_at[failed]).all()
    assert (after.finished_at[~failed] == first.finished_at[~failed]).all()


def _row_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as connection:
            return connection.execute("SELECT count(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:  # created, table not there yet
        return 0


def test_sigkill_mid_run_loses_only_jobs_in_flight_and_resume_completes(bench_env, tmp_path):
    db = tmp_path / "bench.db"
    n_jobs = 12
    command = [sys.executable, "-m", "deepad", "bench", "--datasets", "1_alpha",
               "--detectors", f"{FAKE}Sleeps", "-p", f"{FAKE}Sleeps.seconds=0.4",
               "--seeds", ",".join(map(str, range(n_jobs))), "--db", str(db), "--jobs", "2",
               "-q"]
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _row_count(db) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    workers = psutil.Process(process.pid).children()
    process.send_signal(signal.SIGKILL)
    process.wait()
    stored = load_results(db).set_index("run_key")
    assert 3 <= len(stored) < n_jobs, process.stderr.read().decode()
    assert workers and psutil.wait_procs(workers, timeout=10)[1] == []  # no orphans left
    subprocess.run(command, env=env, check=True, capture_output=True)
    final = load_results(db).set_index("run_key")
    assert len(final) == n_jobs and final.index.is_unique
    assert sorted(final.seed) == list(range(n_jobs)) and (final.status == "ok").all()
    kept = final.loc[stored.index]
    pd.testing.assert_series_equal(kept.finished_at, stored.finished_at)  # not run again


# ---------------------------------------------------------------------------- dask
def test_dask_backend_stores_the_same_rows_as_local_workers(local_run, tmp_path):
    pytest.importorskip("distributed")
    local_db, _ = local_run
    db = tmp_path / "dask.db"
    result = invoke("--datasets", DATASETS, "--detectors", f"AutoEncoder,{FAKE}MeanDistance",
                    "--seeds", "0", *AE, "--db", db, "--jobs", 2, "--dask", "local", "-q")
    assert result.exit_code == 0, result.output
    on_dask = load_results(db).set_index("run_key").sort_index()
    local = load_results(local_db).set_index("run_key").loc[on_dask.index]
    assert len(on_dask) == 4 and (on_dask.status == "ok").all()
    columns = ["detector", "params", "dataset", "seed", "setting", "auc_roc", "auc_pr",
               "precision_at_n"]
    pd.testing.assert_frame_equal(on_dask[columns], local[columns], check_exact=True)


# ---------------------------------------------------------------------------- configuration
def test_toml_config_equals_the_flags_and_flags_override_it(bench_env, tmp_path):
    toml = tmp_path / "bench.toml"
    toml.write_text(f"""
datasets = ["1_alpha", "2_beta"]
detectors = ["AutoEncoder", "{FAKE}MeanDistance"]
seeds = [0, 1]
setting = "weak"
labeled-ratio = 0.2
db = "{(tmp_path / 'bench.db').as_posix()}"

[params.AutoEncoder]
epochs = 2
hidden_dims = [8, 4]
""")
    flags = ["--datasets", DATASETS, "--detectors", f"AutoEncoder,{FAKE}MeanDistance",
             "--seeds", "0,1", "--setting", "weak", "--labeled-ratio", 0.2, "-p",
             "AutoEncoder.epochs=2", "-p", "AutoEncoder.hidden_dims=[8, 4]",
             "--db", tmp_path / "bench.db"]
    from_file = invoke("--config", toml, "--dry-run")
    from_flags = invoke(*flags, "--dry-run")
    assert from_file.exit_code == 0, from_file.output
    assert from_file.output == from_flags.output
    assert "8 jobs: 8 to run" in from_file.output
    overridden = invoke("--config", toml, "--seeds", 5, "-p", "AutoEncoder.epochs=3",
                        "--dry-run").output
    assert "4 jobs: 4 to run" in overridden and "seed=5" in overridden
    assert '"epochs":3' in overridden and '"hidden_dims":[8,4]' in overridden
    suite = invoke("--suite", "adbench", "--detectors", "DeepSVDD", "--seeds", "0,1",
                   "--db", tmp_path / "bench.db", "--dry-run").output
    assert "4 jobs: 4 to run" in suite and "DeepSVDD 2_beta seed=1" in suite


def test_config_layers_and_param_parsing():
    config = make_config({"detectors": ["DeepSVDD"], "suite": "quick", "seeds": "0,1",
                          "params": {"DeepSVDD": {"epochs": 5, "lr": 0.1}}},
                         {"params": ["DeepSVDD.epochs=7"], "timeout": 0, "jobs": None})
    assert config.seeds == [0, 1] and config.timeout is None and config.jobs == 1
    assert config.params == {"DeepSVDD": {"epochs": 7, "lr": 0.1}}
    assert parse_param("python:pkg.mod:Fake.name=abc") == ("python:pkg.mod:Fake", "name", "abc")
    assert isinstance(BenchConfig().db, Path)


def test_flag_detector_list_drops_the_files_parameters_of_detectors_it_leaves_out():
    file = {"detectors": ["DeepSVDD", "AutoEncoder"], "suite": "quick",
            "params": {"DeepSVDD": {"epochs": 5}, "AutoEncoder": {"epochs": 3}}}
    config = make_config(file, {"detectors": "AutoEncoder"})
    assert config.detectors == ["AutoEncoder"]
    assert config.params == {"AutoEncoder": {"epochs": 3}}
    # parameters given beside the narrower list still have to name one of its detectors
    config = make_config(file, {"detectors": "AutoEncoder", "params": ["DeepSVDD.epochs=7"]})
    with pytest.raises(ValueError, match="not among the detectors"):
        given_params(config)
    # one layer: the file's own parameters must name its own detectors
    with pytest.raises(ValueError, match="not among the detectors"):
        given_params(make_config({**file, "detectors": ["AutoEncoder"]}))


@pytest.mark.parametrize(("args", "expected"), [
    (["--datasets", "1_alpha", "--detectors", "DeepSVD"], "Did you mean DeepSVDD"),
    (["--suite", "quik", "--detectors", "DeepSVDD"], "Did you mean quick"),
    (["--datasets", "1_alpah", "--detectors", "DeepSVDD"], "Did you mean 1_alpha"),
    (["--datasets", "1_alpha", "--detectors", "DeepSVDD", "-p", "DeepSVDD.epoch=5"],
     "Did you mean epochs"),
    (["--datasets", "1_alpha", "--detectors", "DeepSVDD", "-p", "epochs=5"],
     "DETECTOR.KEY=VALUE"),
    (["--datasets", "1_alpha", "--detectors", "DeepSVDD", "-p", "AutoEncoder.epochs=5"],
     "not among the detectors"),
    (["--datasets", "1_alpha", "--detectors", "DeepSVDD", "-p", "DeepSVDD.epochs=-1"],
     "epochs"),
    (["--datasets", "1_alpha", "--suite", "quick", "--detectors", "DeepSVDD"],
     "exactly one of --suite"),
    (["--datasets", "1_alpha", "--detectors", "DeepSVDD", "--setting", "semi"],
     "setting must be one of"),
    (["--datasets", "1_alpha", "--detectors", "DeepSVDD", "--labeled-ratio", 0],
     "labeled_ratio must be in (0, 1]"),
    (["--datasets", "1_alpha", "--detectors", "pyodd:IForest"], "Did you mean pyod:"),
    (["--datasets", "1_alpha", "--detectors", "python:no_such_module:X"], "cannot import"),
    (["--datasets", "1_alpha", "--detectors", f"{FAKE}NoSuchClass"], "has no class"),
    (["--datasets", "1_alpha"], "no detectors"),
])
def test_bad_input_is_a_one_line_error_with_exit_code_2(bench_env, tmp_path, args, expected):
    result = invoke(*args, "--db", tmp_path / "bench.db")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert expected in result.output
    assert not (tmp_path / "bench.db").exists()  # nothing runs, nothing is created


def test_unknown_config_key_is_an_error(tmp_path):
    toml = tmp_path / "bench.toml"
    toml.write_text('detectors = ["DeepSVDD"]\nsuite = "quick"\nseed-list = [1]\n')
    result = invoke("--config", toml)
    assert result.exit_code == 2 and "unknown benchmark setting 'seed_list'" in result.output


# ---------------------------------------------------------------------------- units
def test_run_key_is_what_makes_a_job_the_same():
    job = Job("DeepSVDD", {"epochs": 5, "lr": 0.01}, "6_cardio", 0, "unsupervised", None, "/a")
    same = Job("DeepSVDD", {"lr": 0.01, "epochs": 5}, "6_cardio", 0, "unsupervised", None, "/b")
    assert job.key == same.key and len(job.key) == 32
    others = [Job("DeepSVDD", {"epochs": 6, "lr": 0.01}, "6_cardio", 0, "unsupervised", None),
              Job("DeepSVDD", {"epochs": 5, "lr": 0.01}, "6_cardio", 1, "unsupervised", None),
              Job("DeepSVDD", {"epochs": 5, "lr": 0.01}, "6_cardio", 0, "weak", 0.1),
              Job("DeepSVDD", {"epochs": 5, "lr": 0.01}, "6_cardio", 0, "weak", 0.2),
              Job("AutoEncoder", {"epochs": 5, "lr": 0.01}, "6_cardio", 0, "unsupervised", None)]
    assert len({job.key, *(other.key for other in others)}) == 6
    assert Job("X", {"h": (8, 4)}, "d", 0, "unsupervised", None).key == \
        Job("X", {"h": [8, 4]}, "d", 0, "unsupervised", None).key


def test_store_keeps_one_row_per_key(tmp_path):
    job = Job("DeepSVDD", {}, "6_cardio", 0, "unsupervised", None)
    with ResultStore(tmp_path / "r.db") as store:
        store.write(job, Outcome("error", error="boom", versions={"deepad": "0"}))
        store.write(job, Outcome("ok", auc_roc=0.9, auc_pr=0.5, precision_at_n=0.4))
        assert store.statuses() == {job.key: "ok"}
    rows = load_results(tmp_path / "r.db")
    assert len(rows) == 1 and rows.auc_roc.iloc[0] == 0.9 and rows.error.isna().all()
    with pytest.raises(FileNotFoundError, match="No benchmark database"):
        load_results(tmp_path / "missing.db")


class _Unsupervised:
    def __init__(self, n_estimators: int = 10, random_state: int | None = None,
                 device: str | None = None) -> None:
        self.n_estimators, self.random_state, self.device = n_estimators, random_state, device

    def fit(self, X, y=None):
        return self


class _Supervised(_Unsupervised):
    def __init__(self, random_seed: int = 42) -> None:
        self.random_seed = random_seed

    def fit(self, X, y):
        return self


def test_peer_adapter_passes_seed_and_cpu_and_reads_label_use():
    assert peers.peer_kwargs(_Unsupervised, 3) == {"random_state": 3, "device": "cpu"}
    assert peers.peer_kwargs(_Supervised, 3) == {"random_seed": 3}
    assert not peers.learns_from_labels("pyod", _Unsupervised)
    assert peers.learns_from_labels("pyod", _Supervised)
    devnet = type("DevNet", (_Unsupervised,), {})
    assert peers.learns_from_labels("deepod", devnet)
    assert not peers.learns_from_labels("deepod", _Unsupervised)
