"""Time-series benchmark jobs: plan, run, store every metric, resume, failures, report.

The series are tiny SMAP/MSL-, UCR- and NAB-layout files written to a temporary folder
(``$DEEPAD_DATA_DIR``); the detectors are a tiny windowed ``AutoEncoder`` and the numpy fakes
of ``tests/bench_series_fakes.py`` (``python:bench_series_fakes:Name``, whole-series detectors
like DeepOD's), so the runner, not training, takes the time. Runs that start worker processes
are shared by module-scoped fixtures.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from deepad.bench import Job, Outcome, ResultStore, load_results, make_config
from deepad.bench.jobs import SERIES
from deepad.bench.plan import make_plan
from deepad.bench.series import (
    load_series,
    peer_params,
    scale_series,
    series_group,
    series_metrics,
)
from deepad.bench.store import ADDED_COLUMNS
from deepad.cli import app
from deepad.metrics import best_f1, point_adjusted_f1, range_f1

TESTS = Path(__file__).resolve().parent
FAKE = "python:bench_series_fakes:"
AE = ["-p", "AutoEncoder.epochs=1", "-p", "AutoEncoder.hidden_dims=(8, 4)",
      "-p", "AutoEncoder.batch_size=64", "-p", "AutoEncoder.window=16",
      "-p", "AutoEncoder.stride=4"]
DETECTORS = f"AutoEncoder,{FAKE}SeriesMean,{FAKE}SeriesRaises,{FAKE}SeriesShort,DevNet"
SERIES_NAMES = {"smap_msl/X-1", "smap_msl/Y-2", "ucr/001_UCR_Anomaly_Toy_300_521_540",
                "nab/realToy/a", "nab/realToy/b", "nab/artificialNoAnomaly/flat"}

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, ["bench", *(str(a) for a in args)])


def planted(rng: np.random.Generator, n: int, channels: int, ranges: list[tuple[int, int]]
            ) -> tuple[np.ndarray, np.ndarray]:
    """Noisy sinusoids with a level shift of 3 over each ``[start, stop)`` range."""
    t = np.arange(n)[:, None]
    series = np.sin(2 * np.pi * t / 25 + np.arange(channels)) + 0.1 * rng.normal(size=(n, channels))
    y = np.zeros(n, dtype=np.int64)
    for start, stop in ranges:
        series[start:stop] += 3.0
        y[start:stop] = 1
    return series, y


def write_nab(folder: Path, rng: np.random.Generator) -> None:
    stamps = pd.date_range("2020-01-01", periods=600, freq="5min")
    windows = {}
    for name, ranges in (("realToy/a", [(300, 330)]), ("realToy/b", [(200, 220), (450, 470)]),
                         ("artificialNoAnomaly/flat", [])):
        values, _ = planted(rng, 600, 1, ranges)
        path = folder / "data" / f"{name}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"),
                      "value": values[:, 0]}).to_csv(path, index=False)
        windows[f"{name}.csv"] = [[f"{stamps[a]}.000000", f"{stamps[b - 1]}.000000"]
                                  for a, b in ranges]
    (folder / "labels").mkdir(parents=True)
    (folder / "labels" / "combined_windows.json").write_text(json.dumps(windows))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Two SMAP/MSL channels, one UCR series and three NAB series in two categories (one
    without anomalies)."""
    root = tmp_path_factory.mktemp("series-data")
    rng = np.random.default_rng(0)
    smap = root / "smap_msl"
    rows = ["chan_id,spacecraft,anomaly_sequences,class,num_values"]
    for channel, ranges in (("X-1", [(200, 230)]), ("Y-2", [(100, 120), (300, 340)])):
        for part in ("train", "test"):
            series, _ = planted(rng, 400, 3, ranges if part == "test" else [])
            (smap / part).mkdir(parents=True, exist_ok=True)
            np.save(smap / part / f"{channel}.npy", series)
        sequences = [[a, b - 1] for a, b in ranges]
        classes = "[" + ", ".join(["point"] * len(ranges)) + "]"
        rows.append(f'{channel},SMAP,"{sequences}","{classes}",400')
    (smap / "labeled_anomalies.csv").write_text("\n".join(rows) + "\n")
    ucr = root / "ucr"
    ucr.mkdir()
    series, _ = planted(rng, 800, 1, [(520, 540)])
    (ucr / "001_UCR_Anomaly_Toy_300_521_540.txt").write_text(
        "\n".join(f"{v:.6f}" for v in series[:, 0]))
    write_nab(root / "nab", rng)
    return root


@pytest.fixture(scope="module")
def series_env(data_dir):
    """``$DEEPAD_DATA_DIR`` for the whole module (worker processes inherit it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEEPAD_DATA_DIR", str(data_dir))
        load_series.cache_clear()
        yield data_dir
        load_series.cache_clear()


@pytest.fixture(scope="module")
def series_run(series_env, tmp_path_factory) -> tuple[Path, object]:
    """The ``series`` suite with a windowed AutoEncoder, a working fake, two failing fakes
    and a weakly-supervised-only detector, one seed, two local workers."""
    db = tmp_path_factory.mktemp("series") / "series.db"
    result = invoke("--suite", "series", "--detectors", DETECTORS, *AE, "--db", db,
                    "--jobs", 2, "--quiet")
    return db, result


# ---------------------------------------------------------------------------- runs
def test_series_suite_is_planned_run_and_stored_with_every_metric(series_run):
    db, result = series_run
    assert result.exit_code == 0, result.output
    rows = load_results(db)
    assert len(rows) == 6 * 5 and set(rows.dataset) == SERIES_NAMES
    assert set(rows.setting) == {SERIES} and rows.labeled_ratio.isna().all()
    ok = rows[rows.status == "ok"]
    assert set(ok.detector) == {"AutoEncoder", f"{FAKE}SeriesMean"}
    assert len(ok) == 2 * 5  # every measured series (the anomaly-free one is skipped)
    for column in ("auc_roc", "auc_pr", "precision_at_n", "best_f1", "range_f1", "pa_f1"):
        values = ok[column].to_numpy(dtype=float)
        assert np.isfinite(values).all() and ((values >= 0) & (values <= 1)).all(), column
    assert (ok.pa_f1 >= ok.best_f1 - 1e-12).all()  # point adjustment only adds hits
    fake = ok[ok.detector == f"{FAKE}SeriesMean"]
    assert fake.auc_roc.min() > 0.7  # level shifts, smeared over the 64-step trailing window
    details = json.loads(fake.metrics.iloc[0])
    assert {"threshold", "range_precision", "range_recall", "pa_precision", "n_ranges",
            "n_anomalies", "n_test"} <= set(details)
    ae = ok[ok.detector == "AutoEncoder"]
    assert all(json.loads(p) == {"epochs": 1, "hidden_dims": [8, 4], "batch_size": 64,
                                 "window": 16, "stride": 4} for p in ae.params)
    assert all(json.loads(p) == {"window": 64} for p in fake.params)  # the suite's window


def test_failures_and_skips_are_rows_with_their_reason(series_run):
    rows = load_results(series_run[0])
    failed = rows[rows.detector == f"{FAKE}SeriesRaises"]
    assert set(failed.status) == {"error", "skipped"}
    assert (failed[failed.status == "error"].error == "RuntimeError: boom").all()
    short = rows[(rows.detector == f"{FAKE}SeriesShort") & (rows.status == "error")]
    assert len(short) == 5 and short.error.str.contains("expected").all()
    devnet = rows[rows.detector == "DevNet"]
    assert set(devnet.status) == {"skipped"}
    assert devnet.error.str.contains("weakly supervised only").all()
    flat = rows[(rows.dataset == "nab/artificialNoAnomaly/flat") & (rows.detector != "DevNet")]
    assert set(flat.status) == {"skipped"}
    assert flat.error.str.contains("holds no anomaly").all()


def test_rerun_resumes_without_running_anything(series_run, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(series_run[0], db)
    before = load_results(db)
    again = invoke("--suite", "series", "--detectors", DETECTORS, *AE, "--db", db, "--quiet")
    assert again.exit_code == 0, again.output
    assert "30 jobs; 30 already in" in again.output
    pd.testing.assert_frame_equal(load_results(db), before)


@pytest.mark.slow
def test_retry_failed_reruns_only_the_failures(series_run, tmp_path):
    db = tmp_path / "copy.db"
    shutil.copy(series_run[0], db)
    before = load_results(db).set_index("run_key")
    retry = invoke("--suite", "series", "--detectors", DETECTORS, *AE, "--db", db,
                   "--retry-failed", "--quiet")
    assert retry.exit_code == 0, retry.output
    assert "this run: 10 error" in retry.output
    after = load_results(db).set_index("run_key").loc[before.index]
    changed = after.finished_at != before.finished_at
    assert set(after[changed].status) == {"error"} and changed.sum() == 10


@pytest.mark.slow
def test_time_limit_gives_a_timeout_row(series_env, tmp_path):
    db = tmp_path / "slow.db"
    result = invoke("--datasets", "ucr/001", "--detectors", f"{FAKE}SeriesSleeps",
                    "--timeout", 1, "--db", db, "--quiet")
    assert result.exit_code == 1, result.output  # every job of the benchmark failed
    rows = load_results(db)
    assert rows.status.tolist() == ["timeout"] and "timeout after 1 s" in rows.error.iloc[0]
    assert rows.dataset.tolist() == ["ucr/001_UCR_Anomaly_Toy_300_521_540"]
    assert json.loads(rows.params.iloc[0]) == {}  # no window: its constructor takes none


def test_report_groups_series_and_lists_failures(series_run, tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["report", str(series_run[0]), "--out", str(out),
                                 "--title", "Series run"])
    assert result.exit_code == 0, result.output
    text = (out / "report.md").read_text(encoding="utf-8")
    order = [text.index(f"## Results: {g}") for g in
             ("SMAP/MSL", "UCR", "NAB/artificialNoAnomaly", "NAB/realToy")]
    assert order == sorted(order)
    realtoy = text[text.index("## Results: NAB/realToy"):]
    assert "| a |" in realtoy and "| b |" in realtoy  # NAB series under their category
    for heading in ("AUC-ROC, mean ± std", "AUC-PR, mean ± std", "range F1, mean ± std"):
        assert f"NAB/realToy: {heading}" in text
    assert "| detector | AUC-ROC | AUC-PR | best F1 | range F1 | PA F1 (optimistic) |" in text
    assert "best-F1 threshold" in text and "optimistic" in text
    assert "median fit (s)" in text
    skipped = text[text.index("## Skipped"):text.index("## Failures")]
    assert "holds no anomaly" in skipped and "weakly supervised only" in skipped
    failures = text[text.index("## Failures"):]
    assert "RuntimeError: boom" in failures and "SeriesShort" in failures
    assert "holds no anomaly" not in failures
    assert (out / "boxplot_auc_roc.png").stat().st_size > 1000
    assert "<title>Series run</title>" in (out / "report.html").read_text(encoding="utf-8")


def test_dry_run_lists_series_jobs(series_run):
    result = invoke("--datasets", "smap_msl/X-1,nab/flat", "--detectors",
                    f"{FAKE}SeriesMean,DevNet", "--db", series_run[0], "--dry-run")
    assert result.exit_code == 0, result.output
    assert "stored (ok)" in result.output and "SeriesMean smap_msl/X-1 seed=0 series" in \
        result.output
    assert "4 jobs: 0 to run, 0 to record as skipped, 4 already in" in result.output


# ---------------------------------------------------------------------------- planning
@pytest.mark.parametrize(("args", "expected"), [
    (["--detectors", "pyod:IForest"], "takes rows, not series"),
    (["--detectors", "ICL"], "not sequence windows"),
    (["--detectors", "AutoEncoder", "-p", "AutoEncoder.stride=99"], "larger than window"),
    (["--detectors", "AutoEncoder", "-p", "AutoEncoder.window=0"], "'window' parameter"),
    (["--detectors", "AutoEncoder", "-p", "AutoEncoder.windw=8"], "Did you mean window"),
    (["--detectors", "AutoEncoder", "--setting", "weak"], "one setting (series"),
])
def test_bad_series_input_is_a_one_line_error(series_env, tmp_path, args, expected):
    result = invoke("--datasets", "smap_msl/X-1", *args, "--db", tmp_path / "b.db")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: ") and expected in result.output
    assert not (tmp_path / "b.db").exists()


def test_names_and_mixtures(series_env, tmp_path):
    mixed = invoke("--datasets", "smap_msl/X-1,6_cardio", "--detectors", "AutoEncoder",
                   "--db", tmp_path / "b.db")
    assert mixed.exit_code == 2 and "mixes series" in mixed.output
    unknown = invoke("--datasets", "smap_msl/X-9", "--detectors", "AutoEncoder",
                     "--db", tmp_path / "b.db")
    assert unknown.exit_code == 2 and "Did you mean smap_msl/X-1" in unknown.output
    plan = make_plan(make_config({"datasets": "ucr/1,nab/a", "detectors": "AutoEncoder"}))
    assert [job.dataset for job in plan.jobs] == ["ucr/001_UCR_Anomaly_Toy_300_521_540",
                                                  "nab/realToy/a"]
    assert [series_group(job.dataset) for job in plan.jobs] == ["UCR", "NAB/realToy"]


def test_window_is_part_of_the_job():
    base = Job("AutoEncoder", {"window": 64, "stride": 1}, "smap_msl/A-1", 0, SERIES, None)
    other = Job("AutoEncoder", {"window": 32, "stride": 1}, "smap_msl/A-1", 0, SERIES, None)
    tabular = Job("AutoEncoder", {"window": 64, "stride": 1}, "smap_msl/A-1", 0,
                  "unsupervised", None)
    assert len({base.key, other.key, tabular.key}) == 3
    assert peer_params(None, {"window": 32, "epochs": 2}) == {"seq_len": 32, "epochs": 2}
    assert peer_params(None, {}) == {"seq_len": 64}


# ---------------------------------------------------------------------------- metrics
def test_series_metrics_match_the_metric_functions():
    rng = np.random.default_rng(3)
    y = np.zeros(300, dtype=np.int64)
    y[50:70] = 1
    y[200:203] = 1
    scores = rng.normal(size=300) + 2.0 * y
    found = series_metrics(y, scores)
    best = best_f1(y, scores)
    assert found["best_f1"] == best.f1
    assert found["range_f1"] == range_f1(y, (scores >= best.threshold).astype(int))
    assert found["pa_f1"] == point_adjusted_f1(y, scores).f1 >= best.f1
    assert found["n_ranges"] == 2 and found["n_anomalies"] == 23
    json.dumps(found, allow_nan=False)  # stored as JSON


def test_scaling_uses_the_training_part_only():
    train = np.array([[0.0, 7.0], [10.0, 7.0], [5.0, 7.0]])
    test = np.array([[20.0, 8.0]])
    scaled_train, scaled_test = scale_series(train, test)
    assert scaled_train[:, 0].min() == 0 and scaled_train[:, 0].max() == 1
    assert scaled_test.tolist() == [[2.0, 1.0]]  # constant channel: shifted only


# ---------------------------------------------------------------------------- store
OLD_SCHEMA = """
CREATE TABLE results (run_key TEXT NOT NULL UNIQUE, detector TEXT NOT NULL,
    params TEXT NOT NULL, dataset TEXT NOT NULL, seed INTEGER NOT NULL, setting TEXT NOT NULL,
    labeled_ratio REAL, status TEXT NOT NULL, auc_roc REAL, auc_pr REAL, precision_at_n REAL,
    fit_seconds REAL, score_seconds REAL, peak_memory_mb REAL, error TEXT,
    deepad_version TEXT, torch_version TEXT, numpy_version TEXT, sklearn_version TEXT,
    python_version TEXT, peer_version TEXT, host TEXT, started_at TEXT, finished_at TEXT);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
"""


def test_older_store_is_read_and_migrated_without_changing_its_rows(tmp_path):
    db = tmp_path / "old.db"
    job = Job("DeepSVDD", {"epochs": 5}, "6_cardio", 0, "unsupervised", None)
    with sqlite3.connect(db) as connection:
        connection.executescript(OLD_SCHEMA)
        connection.execute("INSERT INTO results (run_key, detector, params, dataset, seed, "
                           "setting, status, auc_roc) VALUES (?, 'DeepSVDD', ?, '6_cardio', "
                           "0, 'unsupervised', 'ok', 0.75)", (job.key, job.params_json))
    old = load_results(db)  # read-only: no migration, the new columns read as missing
    assert old.auc_roc.tolist() == [0.75] and old.metrics.isna().all()
    assert old.code_version.tolist() == ["unrecorded"] and old.slot.tolist() == [job.key]
    with ResultStore(db) as store:
        assert store.statuses() == {job.key: "ok"}
        series = Job("AutoEncoder", {"window": 64}, "ucr/1", 0, SERIES, None)
        store.write(series, Outcome("ok", auc_roc=0.9, metrics={
            "best_f1": 0.5, "range_f1": 0.4, "pa_f1": 0.8, "threshold": 1.5}))
    with sqlite3.connect(db) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(results)")}
        version = connection.execute("SELECT value FROM meta").fetchone()[0]
    assert set(ADDED_COLUMNS) <= columns and version == "2"
    rows = load_results(db).set_index("run_key")
    assert rows.at[job.key, "auc_roc"] == 0.75 and pd.isna(rows.at[job.key, "range_f1"])
    assert rows.at[job.key, "detector_code"] == "unrecorded"  # migrated: stale
    assert rows.at[series.key, "range_f1"] == 0.4
    assert json.loads(rows.at[series.key, "metrics"]) == {
        "best_f1": 0.5, "range_f1": 0.4, "pa_f1": 0.8, "threshold": 1.5}


def test_version_1_series_columns_move_into_the_metrics_json(tmp_path):
    db = tmp_path / "v1.db"
    with sqlite3.connect(db) as connection:
        connection.executescript(OLD_SCHEMA)
        connection.executescript("ALTER TABLE results ADD COLUMN best_f1 REAL; "
                                 "ALTER TABLE results ADD COLUMN range_f1 REAL; "
                                 "ALTER TABLE results ADD COLUMN pa_f1 REAL; "
                                 "ALTER TABLE results ADD COLUMN metrics TEXT;")
        connection.execute("INSERT INTO results (run_key, detector, params, dataset, seed, "
                           "setting, status, auc_roc, best_f1, range_f1, pa_f1, metrics) "
                           "VALUES ('k', 'AE', '{}', 'ucr/1', 0, 'series', 'ok', 0.9, 0.5, "
                           "0.4, 0.8, '{\"threshold\": 1.5}')")
    before = load_results(db)  # read-only: read as the migration will leave it
    with ResultStore(db):
        pass
    after = load_results(db)
    for frame in (before, after):
        assert frame.range_f1.tolist() == [0.4] and frame.pa_f1.tolist() == [0.8]
        assert json.loads(frame.metrics.iloc[0]) == {
            "best_f1": 0.5, "range_f1": 0.4, "pa_f1": 0.8, "threshold": 1.5}
    with sqlite3.connect(db) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(results)")}
    assert not columns & {"best_f1", "range_f1", "pa_f1"}  # one row shape


def test_committed_quick_store_keeps_its_run_keys(tmp_path):
    committed = TESTS.parent / "benchmarks" / "results" / "quick.db"
    if not committed.is_file():
        pytest.skip("benchmarks/results/quick.db is not in this checkout")
    db = tmp_path / "quick.db"
    shutil.copy(committed, db)
    rows = load_results(db)
    for row in rows.itertuples(index=False):
        ratio = None if pd.isna(row.labeled_ratio) else float(row.labeled_ratio)
        # rows written since schema 2 are keyed by their resolved hyperparameters; migrated
        # rows (no resolved hyperparameters recorded) keep the key they were stored under
        resolved = None if pd.isna(row.resolved_params) else json.loads(row.resolved_params)
        job = Job(row.detector, json.loads(row.params), row.dataset, int(row.seed),
                  row.setting, ratio, resolved=resolved)
        assert job.key == row.run_key, row
        assert job.slot == row.slot, row
    with ResultStore(db) as store:  # migrates the copy
        assert store.statuses() == dict(zip(rows.run_key, rows.status, strict=True))
    assert len(load_results(db)) == len(rows)
