"""``deepad run`` on a user's table, and the model it saves (issue 21).

- a saved model carries its whole preprocessing (columns, encoding, scaling):
  ``deepad.load(DIR).decision_function(raw_table)`` gives the scores the CLI wrote;
- ``--id-column`` / ``--ignore-columns``, and warnings for index-like and label-like columns;
- categories from the command line: encoded columns are never scaled, APE runs with default
  flags;
- the weakly-supervised histogram separates the revealed anomalies from the others;
- data errors in the words of the command line (empty / semicolon CSV, missing
  ``DEEPAD_DATA_DIR`` folder, a dataset by name).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import deepad
from deepad import APE, AutoEncoder
from deepad.cli import app
from deepad.cli.plot import score_groups
from deepad.cli.tabular_input import suspicious_columns
from deepad.data.preprocess import TablePreprocessor
from deepad.tabular import TableDetector

REPO_ROOT = Path(__file__).resolve().parents[1]
FAST_DEVNET = ["--param", "epochs=2", "--param", "n_batches=2", "--param", "batch_size=32",
               "--param", "n_reference=100"]
FAST_AE = ["-d", "AutoEncoder", "--param", "epochs=2", "--param", "hidden_dims=(8,2)"]
QUIET = ["--plot", "none", "--top", "0"]

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def raw_csv(tmp_path_factory) -> Path:
    """A raw table as users have them: an id, unscaled numbers (units differ by 10^4), a text
    column, a label column; 150 normal rows then 10 shifted anomalies."""
    rng = np.random.default_rng(0)
    n, k = 150, 10
    frame = pd.DataFrame({
        "customer": [f"c{i:03d}" for i in range(n + k)],
        "amount": np.r_[rng.normal(100.0, 20.0, n), rng.normal(400.0, 20.0, k)],
        "age_days": np.r_[rng.normal(5000.0, 900.0, n), rng.normal(500.0, 90.0, k)],
        "ratio": rng.uniform(0.0, 1.0, n + k),
        "channel": rng.choice(["web", "shop", "phone"], n + k),
        "label": np.r_[np.zeros(n, dtype=int), np.ones(k, dtype=int)],
    })
    path = tmp_path_factory.mktemp("raw") / "raw.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def categorical_csv(tmp_path_factory) -> Path:
    """Categories only (strings and small integers), as APE reads them."""
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 3, 200)
    frame = pd.DataFrame({
        "colour": np.array(["red", "green", "blue"])[groups],
        "shape": np.array(["disc", "square", "star"])[(groups + (rng.random(200) < 0.1)) % 3],
        "size": (groups * 2 + (rng.random(200) < 0.1)).astype(int),
    })
    path = tmp_path_factory.mktemp("cats") / "cats.csv"
    frame.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------- item 1
def test_saved_devnet_scores_the_raw_table_as_the_cli_did(raw_csv, tmp_path):
    """The CLI scaled the features and encoded 'channel'; the saved model must do the same
    to the raw table read back with pandas (label and id columns included). Before, load
    returned the bare DevNet: the raw frame was refused (text column) or scored unscaled."""
    scores_csv, model_dir = tmp_path / "scores.csv", tmp_path / "model"
    result = invoke("run", raw_csv, "-d", "DevNet", "-l", "label", "--id-column", "customer",
                    "--categorical", "onehot", "--labeled-ratio", "0.3", *FAST_DEVNET,
                    "--output", scores_csv, *QUIET, "--save-model", model_dir)
    assert result.exit_code == 0, result.output
    written = pd.read_csv(scores_csv)
    loaded = deepad.load(model_dir)
    raw = pd.read_csv(raw_csv)
    np.testing.assert_array_equal(loaded.decision_function(raw), written["score"].to_numpy())
    # columns are found by name: another order, without label and id, scores the same
    shuffled = raw[["ratio", "channel", "age_days", "amount"]]
    np.testing.assert_array_equal(loaded.decision_function(shuffled), written["score"])
    np.testing.assert_array_equal(loaded.predict(raw), written["is_anomaly"])
    assert (model_dir / "config.json").is_file() and not (model_dir / "scaling.json").exists()
    assert loaded.preprocessor_.scale == "minmax"
    assert loaded.preprocessor_.encoding_.columns == ["channel"]


def test_saved_model_refuses_a_table_with_other_columns(raw_csv, tmp_path):
    model = TableDetector(AutoEncoder(epochs=1, random_state=0), categorical="onehot",
                          drop=["label", "customer"]).fit(pd.read_csv(raw_csv))
    raw = pd.read_csv(raw_csv)
    with pytest.raises(ValueError, match=r"lacks the feature column\(s\) \['amount'\]"):
        model.decision_function(raw.drop(columns=["amount"]))
    with pytest.raises(ValueError, match=r"has column\(s\) \['typo'\] the model was not"):
        model.decision_function(raw.assign(typo=1.0))


def test_encoded_columns_are_never_scaled():
    frame = pd.DataFrame({"x": [0.0, 10.0, 20.0, 40.0], "kind": ["b", "a", "b", "c"]})
    for how, expected in (("ordinal", [1.0, 0.0, 1.0, 2.0]), ("onehot", [1.0, 0.0, 1.0, 0.0])):
        out = TablePreprocessor(scale="standard", categorical=how).fit_transform(frame)
        column = "kind" if how == "ordinal" else "kind_b"
        assert out[column].tolist() == expected  # codes / indicators as encoded
        np.testing.assert_allclose(out["x"].mean(), 0.0, atol=1e-12)  # numbers scaled


def test_fitted_in_python_keeps_column_names_through_save(tmp_path):
    frame = pd.DataFrame(np.random.default_rng(2).normal(size=(60, 3)), columns=["p", "q", "r"])
    model = TableDetector(AutoEncoder(epochs=1, random_state=0)).fit(frame)
    loaded = deepad.load(model.save(tmp_path / "m"))
    assert list(loaded.feature_names_in_) == ["p", "q", "r"]
    assert list(loaded.detector_.feature_names_in_) == ["p", "q", "r"]
    np.testing.assert_array_equal(loaded.decision_function(frame), model.decision_scores_)
    with pytest.warns(UserWarning, match="valid feature names"):
        loaded.decision_function(frame.to_numpy())  # read in the fitted order, with a warning


@pytest.fixture(scope="module")
def saved_table_model(tmp_path_factory, raw_csv) -> Path:
    model = TableDetector(AutoEncoder(epochs=1, random_state=0), categorical="onehot",
                          drop=["label", "customer"]).fit(pd.read_csv(raw_csv))
    return model.save(tmp_path_factory.mktemp("saved") / "model")


def _tamper(source: Path, tmp_path: Path, edit) -> Path:
    target = tmp_path / "tampered"
    shutil.copytree(source, target)
    config = json.loads((target / "config.json").read_text())
    edit(config["state"]["preprocessing"])
    (target / "config.json").write_text(json.dumps(config))
    return target


@pytest.mark.parametrize(("edit", "field"), [
    (lambda p: p["multiply"].__setitem__(0, "2"), "multiply"),
    (lambda p: p.__setitem__("add", p["add"][:-1]), "add"),
    (lambda p: p["columns"].reverse(), "feature_names"),
    (lambda p: p.__setitem__("scale", "log"), "scale"),
    (lambda p: p["categories"]["channel"].append("web"), "categories['channel']"),
    (lambda p: p["feature_names"].__setitem__(-1, "other"), "feature_names"),
    (lambda p: p.pop("drop"), "drop"),
    (lambda p: p.__setitem__("extra", 1), "extra"),
])
def test_tampered_preprocessing_is_refused_naming_the_field(saved_table_model, tmp_path, edit,
                                                           field):
    path = _tamper(saved_table_model, tmp_path, edit)
    with pytest.raises(ValueError, match=r"config\.json: state\['preprocessing'\]") as error:
        deepad.load(path)
    assert field in str(error.value)


def test_preprocessing_and_detector_must_agree(saved_table_model, tmp_path):
    def drop_a_column(p):
        p["columns"].remove("ratio")
        p["scaled_columns"].remove("ratio")
        p["feature_names"].remove("ratio")
        p["multiply"].pop()
        p["add"].pop()

    with pytest.raises(ValueError, match="detector fitted on 6 columns"):
        deepad.load(_tamper(saved_table_model, tmp_path, drop_a_column))


def test_weights_file_has_the_permissions_of_the_config(saved_table_model):
    """safetensors' save_file created the weights owner-only (0600) beside a 0644 config."""
    folder = saved_table_model / "detector"
    mode = os.stat(folder / "config.json").st_mode & 0o777
    assert os.stat(folder / "weights.safetensors").st_mode & 0o777 == mode


def test_a_fresh_interpreter_loads_wrapper_formats(saved_table_model):
    """deepad.load imports the module of a wrapper's format (it used to refuse a
    SeriesDetector or TableDetector directory unless that module was imported first)."""
    code = ("import sys, deepad; m = deepad.load(sys.argv[1]); "
            "print(type(m).__name__)")
    done = subprocess.run([sys.executable, "-c", code, str(saved_table_model)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "TableDetector"


def test_old_side_file_gets_a_warning(tmp_path):
    X = np.random.default_rng(3).normal(size=(40, 2))
    path = AutoEncoder(epochs=1).fit(X).save(tmp_path / "old")
    (path / "scaling.json").write_text(json.dumps({"scale": "minmax", "columns": ["f0", "f1"],
                                                   "multiply": [1, 1], "add": [0, 0]}))
    with pytest.warns(UserWarning, match="expects features scaled as .*scaling.json"):
        loaded = deepad.load(path)
    assert isinstance(loaded, AutoEncoder)


# ---------------------------------------------------------------------------- item 2
def test_id_and_ignored_columns_are_not_features(raw_csv, tmp_path):
    scores_csv = tmp_path / "s.csv"
    result = invoke("run", raw_csv, "-l", "label", "--id-column", "customer",
                    "--ignore-columns", "channel,ratio", *FAST_AE, "--output", scores_csv,
                    "--plot", "none", "--top", "3")
    assert result.exit_code == 0, result.output
    assert "160 rows x 2 features" in result.stdout
    written = pd.read_csv(scores_csv)
    assert list(written.columns) == ["row", "customer", "score", "is_anomaly", "label"]
    assert written["customer"].tolist() == pd.read_csv(raw_csv)["customer"].tolist()
    assert "customer" in result.stdout.split("top 3 rows")[1]  # ids in the top rows too


def test_unknown_ignored_column_is_a_clean_error(raw_csv):
    result = invoke("run", raw_csv, "--ignore-columns", "nope", "--output", "none", *QUIET)
    assert result.exit_code == 2
    assert "--ignore-columns" in result.output and "'nope'" in result.output


def test_pandas_index_column_is_warned_about(tmp_path):
    """A CSV written with its pandas index has 'Unnamed: 0': a feature that, anomalies last,
    leaks the labels. Before, nothing was said."""
    path = tmp_path / "with_index.csv"
    frame = pd.DataFrame(np.random.default_rng(4).normal(size=(50, 2)), columns=["u", "v"])
    frame.assign(label=np.r_[np.zeros(45, dtype=int), np.ones(5, dtype=int)]).to_csv(path)
    result = invoke("run", path, "-l", "label", *FAST_AE, "--output", "none", *QUIET)
    assert result.exit_code == 0, result.output
    assert "'Unnamed: 0' looks like a saved row index" in result.output
    assert "--ignore-columns 'Unnamed: 0'" in result.output
    quiet = invoke("run", path, "-l", "label", "--ignore-columns", "Unnamed: 0", *FAST_AE,
                   "--output", "none", *QUIET)
    assert quiet.exit_code == 0 and "row index" not in quiet.output


def test_suspicious_columns():
    n = 20
    frame = pd.DataFrame({"rowid": np.arange(n), "one_based": np.arange(1, n + 1),
                          "x": np.linspace(0.0, 1.0, n), "Is-Anomaly": np.zeros(n, dtype=int),
                          "Target": np.zeros(n)})
    lines = suspicious_columns(frame, label_given=False)
    assert len(lines) == 4
    assert "'rowid' looks like a saved row index (holds the row numbers)" in lines[0]
    assert "'one_based' looks like a saved row index" in lines[1]
    assert "--label-column Is-Anomaly" in lines[2] and "--label-column Target" in lines[3]
    assert len(suspicious_columns(frame, label_given=True)) == 2  # no label-name warning


def test_label_named_column_without_label_option_is_warned_about(raw_csv):
    result = invoke("run", raw_csv, "--ignore-columns", "customer,channel", *FAST_AE,
                    "--output", "none", *QUIET)
    assert result.exit_code == 0, result.output
    assert "column 'label' is named like a label" in result.output
    assert "--label-column label" in result.output


# ---------------------------------------------------------------------------- item 4
def test_ape_runs_with_default_flags_on_a_categorical_csv(categorical_csv, tmp_path):
    """Before, the text columns needed --categorical ordinal, which the default min-max
    scaling then turned into fractions, and APE refused them."""
    model_dir = tmp_path / "ape"
    result = invoke("run", categorical_csv, "-d", "APE", "--param", "epochs=1",
                    "--output", tmp_path / "s.csv", *QUIET, "--save-model", model_dir)
    assert result.exit_code == 0, result.output
    assert "scale: none" in result.stdout and "ordinal encoded, not scaled" in result.stdout
    loaded = deepad.load(model_dir)
    assert isinstance(loaded.detector_, APE)
    np.testing.assert_array_equal(loaded.decision_function(pd.read_csv(categorical_csv)),
                                  pd.read_csv(tmp_path / "s.csv")["score"].to_numpy())


@pytest.mark.parametrize(("args", "expected"), [
    (["--scale", "minmax"], "--scale minmax does not apply to APE"),
    (["--categorical", "onehot"], "--categorical onehot does not apply to APE"),
])
def test_ape_refuses_scaling_and_onehot_in_cli_words(categorical_csv, args, expected):
    result = invoke("run", categorical_csv, "-d", "APE", *args, "--output", "none", *QUIET)
    assert result.exit_code == 2
    assert expected in result.output


def test_ape_refuses_continuous_columns_in_cli_words(tmp_path):
    path = tmp_path / "mixed.csv"
    pd.DataFrame({"kind": ["a", "b"] * 10, "price": np.linspace(0.5, 9.7, 20)}).to_csv(
        path, index=False)
    result = invoke("run", path, "-d", "APE", "--output", "none", *QUIET)
    assert result.exit_code == 2
    assert "'price' hold non-integral numbers" in result.output
    assert "--ignore-columns price" in result.output


def test_text_column_error_speaks_the_cli(raw_csv):
    result = invoke("run", raw_csv, "-l", "label", "--id-column", "customer",
                    "--output", "none", *QUIET)
    assert result.exit_code == 2
    assert "--categorical onehot" in result.output and "'channel'" in result.output
    assert 'categorical="onehot"' not in result.output


# ---------------------------------------------------------------------------- item 5
def test_histogram_marks_the_revealed_anomalies_apart():
    scores = np.arange(10, dtype=float)
    labels = np.array([0] * 6 + [1] * 4)
    revealed = np.zeros(10, dtype=bool)
    revealed[9] = True
    groups = score_groups(scores, labels, revealed)
    names = [name for name, _, _ in groups]
    assert names == ["label 0 (6)", "label 1, not shown to the detector (3)",
                     "label 1, revealed to the detector as y=1 (1)"]
    assert groups[2][1].tolist() == [9.0]
    assert not any("known anomalies (4)" in name for name in names)
    assert [n for n, _, _ in score_groups(scores, labels)] == ["label 0 (6)",
                                                               "label 1: anomalies (4)"]


# ---------------------------------------------------------------------------- data errors
@pytest.mark.parametrize(("content", "expected"), [
    ("", "is empty: a CSV needs a header line"),
    ("\n\n", "is empty: a CSV needs a header line"),
    ("a,b,c\n", "has a header (3 column(s): 'a', 'b', 'c') but no rows"),
    ("a;b;c\n1,5;2;3\n4;5;6\n", "looks semicolon-separated"),
    ("a\tb\n1\t2\n", "looks tab-separated"),
])
def test_csv_problems_get_their_own_message(tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    result = invoke("run", path, "--output", "none", *QUIET)
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output


@pytest.fixture
def tiny_dataset_dir(tmp_path) -> Path:
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal(size=(60, 3)), rng.normal(4.0, 1.0, size=(6, 3))])
    y = np.r_[np.zeros(60, dtype=int), np.ones(6, dtype=int)]
    np.savez(tmp_path / "99_tiny.npz", X=X, y=y)
    return tmp_path


def test_run_accepts_a_dataset_name(tiny_dataset_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(tiny_dataset_dir))
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "tiny", *FAST_AE, "--output", "none", *QUIET)
    assert result.exit_code == 0, result.output
    assert "99_tiny (adbench" in result.stdout and "66 rows x 3 features" in result.stdout
    assert "AUC-ROC" in result.stdout


def test_missing_data_dir_is_named(monkeypatch, tmp_path):
    missing = tmp_path / "no-such-folder"
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(missing))
    monkeypatch.chdir(tmp_path)
    result = invoke("run", "cardio", "--output", "none", *QUIET)
    assert result.exit_code == 2
    assert f"$DEEPAD_DATA_DIR names {missing}, which does not exist" in result.output
    listed = invoke("datasets")
    assert f"DEEPAD_DATA_DIR names {missing}, which does not exist" in listed.output


def test_parquet_is_read_by_the_default_install(raw_csv, tmp_path):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    dependencies = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "dependencies"]
    assert any(d.startswith("pyarrow") for d in dependencies)
    path = tmp_path / "raw.parquet"
    pd.read_csv(raw_csv).to_parquet(path)
    result = invoke("run", path, "-l", "label", "--ignore-columns", "customer,channel",
                    *FAST_AE, "--output", "none", *QUIET)
    assert result.exit_code == 0, result.output
    assert "160 rows x 3 features" in result.stdout


def test_no_warning_for_a_clean_table(raw_csv):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = invoke("run", raw_csv, "-l", "label", "--id-column", "customer",
                        "--categorical", "ordinal", *FAST_AE, "--output", "none", *QUIET)
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output


def test_series_detector_weights_have_the_permissions_of_its_config(tmp_path):
    from deepad import Forecaster, SeriesDetector

    series = np.random.default_rng(6).normal(size=(80, 2))
    path = SeriesDetector(Forecaster(epochs=1, random_state=0), window=8).fit(series).save(
        tmp_path / "series")
    mode = os.stat(path / "config.json").st_mode & 0o777
    assert os.stat(path / "weights.safetensors").st_mode & 0o777 == mode


def test_table_detector_follows_its_detector_threshold(raw_csv):
    raw = pd.read_csv(raw_csv)
    model = TableDetector(AutoEncoder(epochs=1, random_state=0), categorical="onehot",
                          drop=["label", "customer"]).fit(raw)
    model.set_threshold("iqr")
    assert model.threshold_ == model.detector_.threshold_
    np.testing.assert_array_equal(model.predict(raw),
                                  (model.decision_function(raw) > model.threshold_).astype(int))
    labels, confidence = model.predict(raw, return_confidence=True)
    assert confidence.shape == (len(raw),) and ((confidence >= 0) & (confidence <= 1)).all()
