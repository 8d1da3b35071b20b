"""``deepad bench`` as a user meets it: the mean AUC table and the next command it ends with,
the exit code when every job failed, ``--dry-run`` naming missing packages, CSV tables as
datasets (``--label-column``), and ``deepad report`` defaulting to ``deepad-bench.db``.

Datasets are tiny ADBench-style files in a temporary ``$DEEPAD_DATA_DIR`` and the detectors
the numpy fakes of ``tests/bench_fakes.py`` (as in ``tests/test_bench.py``), so each run takes
a second or two.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from deepad.bench import load_results, peers
from deepad.bench.config import DEFAULT_DB
from deepad.bench.tables import table_dataset, tables_folder
from deepad.cli import app
from deepad.cli.bench import means_table
from deepad.cli.report import DEFAULT_DB as REPORT_DEFAULT_DB

FAKE = "python:bench_fakes:"
runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, ["bench", *(str(a) for a in args)])


def planted(n: int, d: int, n_anomalies: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(n - n_anomalies, d)),
                   rng.normal(1.5, 1.0, size=(n_anomalies, d))])
    y = np.r_[np.zeros(n - n_anomalies, dtype=np.int64), np.ones(n_anomalies, dtype=np.int64)]
    return X, y


@pytest.fixture(scope="module")
def bench_env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench-ux-data")
    for name, seed in (("1_alpha", 0), ("2_beta", 1)):
        X, y = planted(300, 4, 30, seed)
        np.savez(folder / f"{name}.npz", X=X, y=y)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEEPAD_DATA_DIR", str(folder))
        yield folder


@pytest.fixture
def table(tmp_path):
    """A CSV with a 'label' column and four numeric features."""
    X, y = planted(300, 4, 30, seed=2)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    frame.insert(2, "label", y)
    path = tmp_path / "my_table.csv"
    frame.to_csv(path, index=False)
    return path, frame


# ---------------------------------------------------------------------------- the end of a run
def test_bench_ends_with_the_mean_table_and_the_report_command(bench_env, tmp_path):
    db = tmp_path / "bench.db"
    result = invoke("--datasets", "1_alpha,2_beta", "--detectors",
                    f"{FAKE}MeanDistance,{FAKE}Raises", "--seeds", "0,1", "--db", db, "-q")
    assert result.exit_code == 0, result.output  # some jobs failed, not all
    lines = result.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("detector"))
    assert lines[header].split() == ["detector", "setting", "ok", "jobs", "AUC-ROC", "AUC-PR",
                                     "datasets"]
    rows = load_results(db)
    ok = rows[rows.status == "ok"]
    mean_distance = next(line for line in lines if line.startswith(f"{FAKE}MeanDistance"))
    assert f"{ok.auc_roc.mean():.3f}" in mean_distance
    assert f"{ok.auc_pr.mean():.3f}" in mean_distance and " 4/4 " in mean_distance
    raises = next(line for line in lines if line.startswith(f"{FAKE}Raises"))
    assert " 0/4 " in raises and "—" in raises
    # the best mean first, the detector without an ok job last
    assert lines.index(mean_distance) < lines.index(raises)
    assert f"Next: deepad report {db} --out report" in result.stdout


def test_means_table_sorts_and_counts():
    frame = pd.DataFrame({
        "detector": ["A", "A", "B", "B", "C"], "setting": ["unsupervised"] * 5,
        "dataset": ["x", "y", "x", "y", "x"], "status": ["ok", "error", "ok", "ok", "timeout"],
        "auc_roc": [0.7, np.nan, 0.9, 0.8, np.nan], "auc_pr": [0.2, np.nan, 0.5, 0.3, np.nan]})
    lines = means_table(frame).splitlines()
    assert [line.split()[0] for line in lines] == ["detector", "B", "A", "C"]
    assert lines[1].split()[2:] == ["2/2", "0.850", "0.400", "2"]
    assert lines[2].split()[2:] == ["1/2", "0.700", "0.200", "1"]
    assert lines[3].split()[2:] == ["0/1", "—", "—", "0"]


def test_every_job_failing_exits_non_zero(bench_env, tmp_path):
    db = tmp_path / "bench.db"
    args = ["--datasets", "1_alpha", "--detectors", f"{FAKE}Raises", "--db", db, "-q"]
    result = invoke(*args)
    assert result.exit_code == 1, result.output
    assert "every job of the benchmark failed (1)" in result.output
    # resumed: still nothing measured
    assert invoke(*args).exit_code == 1
    # once one job of the benchmark is ok, failures are results again
    assert invoke("--datasets", "1_alpha", "--detectors", f"{FAKE}Raises,{FAKE}MeanDistance",
                  "--db", db, "-q").exit_code == 0


# ---------------------------------------------------------------------------- dry run
def test_dry_run_reports_missing_packages(bench_env, tmp_path):
    result = invoke("--datasets", "1_alpha", "--detectors", f"{FAKE}MeanDistance,pyod:IForest",
                    "--db", tmp_path / "bench.db", "--dry-run")
    assert result.exit_code == 0, result.output
    if peers.is_installed("pyod"):
        assert "pyod:IForest" not in "".join(
            line for line in result.stdout.splitlines() if line.startswith("missing"))
    else:
        assert ("missing  pyod:IForest: pyod is not importable here; its jobs would record the "
                "error (pip install pyod).") in result.stdout
    clean = invoke("--datasets", "1_alpha", "--detectors", f"{FAKE}MeanDistance",
                   "--db", tmp_path / "bench.db", "--dry-run")
    assert "Every detector's package imports." in clean.stdout
    assert "missing  " not in clean.stdout
    # a python: spec whose module is missing is bad input, refused before planning
    absent = invoke("--datasets", "1_alpha", "--detectors", "python:no_such_module_xyz:Det",
                    "--db", tmp_path / "bench.db", "--dry-run")
    assert absent.exit_code == 2 and "cannot import module 'no_such_module_xyz'" in absent.output


# ---------------------------------------------------------------------------- CSV tables
def test_bench_on_a_csv_table(bench_env, table, tmp_path):
    path, frame = table
    db = tmp_path / "bench.db"
    result = invoke("--datasets", path, "--detectors", f"{FAKE}MeanDistance", "--seeds", "0,1",
                    "--db", db, "-q")
    assert result.exit_code == 0, result.output
    rows = load_results(db)
    assert set(rows.dataset) == {"my_table"} and (rows.status == "ok").all()
    assert (rows.auc_roc > 0.7).all()  # the planted anomalies are found
    written = np.load(tables_folder(db) / "my_table.npz")
    np.testing.assert_array_equal(written["y"], frame["label"].to_numpy())
    np.testing.assert_array_equal(written["X"], frame[["a", "b", "c", "d"]].to_numpy())


def test_csv_label_column_flag(bench_env, table, tmp_path):
    path, frame = table
    renamed = tmp_path / "renamed.csv"
    frame.rename(columns={"label": "is_anomaly"}).to_csv(renamed, index=False)
    missing = invoke("--datasets", renamed, "--detectors", f"{FAKE}MeanDistance",
                     "--db", tmp_path / "a.db", "--dry-run")
    assert missing.exit_code == 2
    assert "has no column 'label'" in missing.output and "--label-column" in missing.output
    given = invoke("--datasets", renamed, "--label-column", "is_anomaly", "--detectors",
                   f"{FAKE}MeanDistance", "--db", tmp_path / "b.db", "--dry-run")
    assert given.exit_code == 0, given.output
    assert "1 job: 1 to run" in given.stdout and "renamed seed=0" in given.stdout


@pytest.mark.parametrize(("change", "expected"), [
    (lambda f: f.assign(kind="x"), r"non-numeric column\(s\) \['kind'\]"),
    (lambda f: f.assign(a=f["a"].where(f.index != 3)), r"1 missing or infinite value\(s\)"),
    (lambda f: f.assign(label=2 * f["label"]), r"must be 0 \(normal\) or 1 \(anomaly\); found"),
    (lambda f: f.assign(label=0), r"no anomaly \(1\)"),
])
def test_bad_tables_are_refused_before_any_job(table, tmp_path, change, expected):
    path, frame = table
    bad = tmp_path / "bad.csv"
    change(frame).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=expected):
        table_dataset(bad, "label", tmp_path / "out")


def test_a_written_index_is_refused(table, tmp_path):
    path, frame = table
    indexed = tmp_path / "indexed.csv"
    frame.to_csv(indexed)  # pandas writes the index as an unnamed first column
    with pytest.raises(ValueError, match=r"unnamed column\(s\) \['Unnamed: 0'\].*index=False"):
        table_dataset(indexed, "label", tmp_path / "out")


# ---------------------------------------------------------------------------- report default
def test_report_defaults_to_the_bench_database(bench_env, tmp_path, monkeypatch):
    assert REPORT_DEFAULT_DB == DEFAULT_DB
    monkeypatch.chdir(tmp_path)
    nothing = runner.invoke(app, ["report"])
    assert nothing.exit_code == 2
    assert "no benchmark database at deepad-bench.db" in nothing.output
    assert "Run deepad bench first" in nothing.output
    ran = invoke("--datasets", "1_alpha", "--detectors", f"{FAKE}MeanDistance", "-q")
    assert ran.exit_code == 0, ran.output
    assert "Next: deepad report --out report" in ran.stdout  # the default store: no path
    report = runner.invoke(app, ["report", "--out", "report"])
    assert report.exit_code == 0, report.output
    assert (tmp_path / "report" / "report.md").is_file()
