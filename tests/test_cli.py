"""The ``deepad`` command line and the data helpers it uses (tables, the built-in dataset)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import deepad
from deepad.cli import app
from deepad.cli.app import (
    README_END,
    README_START,
    parse_params,
    readme_block,
    reveal_labels,
    taxonomy_markdown,
)
from deepad.core.taxonomy import CATEGORIES, SUBCATEGORIES
from deepad.data import builtin, tables
from deepad.data.builtin import load_default_dataset
from deepad.data.tables import load_table

REPO_ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
N_LEAVES = sum(len(leaves) for leaves in SUBCATEGORIES.values())
FAST_DEVNET = ["--param", "epochs=2", "--param", "n_batches=2", "--param", "batch_size=32",
               "--param", "n_reference=100"]

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="session")
def labelled_csv(tmp_path_factory) -> Path:
    """160 normal rows and 8 shifted anomalies, 4 features, a 'label' column."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(160, 4)), rng.normal(5.0, 1.0, size=(8, 4))])
    y = np.r_[np.zeros(160, dtype=int), np.ones(8, dtype=int)]
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"]).assign(label=y)
    path = tmp_path_factory.mktemp("tables") / "labelled.csv"
    frame.to_csv(path, index=False)
    return path


# ---------------------------------------------------------------------------- list
def test_list_text_shows_every_leaf_and_detector():
    result = invoke("list")
    assert result.exit_code == 0, result.output
    for category, leaves in SUBCATEGORIES.items():
        assert f"{category}: {CATEGORIES[category]}" in result.stdout
        for leaf in leaves:
            assert f"  {leaf}: " in result.stdout
    leaves_filled = {(d["category"], d["subcategory"]) for d in deepad.list_detectors()}
    n_empty = sum(1 for category, leaves in SUBCATEGORIES.items() for leaf in leaves
                  if (category, leaf) not in leaves_filled)
    n_leaves = sum(len(leaves) for leaves in SUBCATEGORIES.values())
    assert f"{n_leaves - n_empty} of {n_leaves} leaves filled" in result.stdout
    # the header names the empty leaves' mark only when there are some, then each empty leaf
    assert result.stdout.count("(none yet)") == n_empty + (1 if n_empty else 0)
    for name in ("AutoEncoder", "DeepSVDD", "DevNet"):
        assert name in result.stdout
    assert "weakly-supervised" in result.stdout
    # the shallow baselines come after the taxonomy, apart, and not in its counts
    taxonomy, _, baselines = result.stdout.partition("Outside the taxonomy")
    assert baselines and "baselines: Shallow baselines" in baselines
    for name in ("IsolationForest", "LOF", "KNN", "ECOD"):
        assert f"    {name} " in baselines and f" {name} " not in taxonomy  # not DeepKNN
    n_deep = sum(1 for d in deepad.list_detectors() if d["category"] in CATEGORIES)
    assert f"{n_deep} detector(s); " in taxonomy and f" of {N_LEAVES} leaves filled" in taxonomy


def test_list_json_is_the_registry():
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows == deepad.list_detectors()
    assert {"AutoEncoder", "DeepSVDD", "DevNet"} <= {row["name"] for row in rows}


def test_list_markdown_has_one_row_per_leaf():
    result = invoke("list", "--markdown")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "| branch | leaf | detectors | supervision | modalities | reference |"
    assert len(lines) == 2 + N_LEAVES
    assert result.stdout.strip() == taxonomy_markdown()
    devnet = next(line for line in lines if "DevNet" in line)
    assert "`score_learning`" in devnet and "weakly-supervised" in devnet and "KDD 2019" in devnet
    assert sum(1 for line in lines if "| — |" in line) == N_LEAVES - len(
        {(d["category"], d["subcategory"]) for d in deepad.list_detectors()
         if d["category"] in CATEGORIES})
    assert "IsolationForest" not in result.stdout  # the baselines are not in the taxonomy


def test_list_json_and_markdown_conflict():
    result = invoke("list", "--json", "--markdown")
    assert result.exit_code == 2
    assert "cannot be combined" in result.output


def test_update_readme_rewrites_the_block_in_place(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n{README_START}\nold table\n{README_END}\nafter\n")
    result = invoke("list", "--markdown", "--update-readme", readme)
    assert result.exit_code == 0, result.output
    assert "updated" in result.stdout
    text = readme.read_text()
    assert readme_block(text) == taxonomy_markdown()
    assert text.startswith("# title\n\nbefore\n") and text.endswith(f"{README_END}\nafter\n")
    again = invoke("list", "--update-readme", readme)
    assert again.exit_code == 0 and "already up to date" in again.stdout
    assert readme.read_text() == text


def test_update_readme_without_markers_fails_cleanly(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# no block here\n")
    result = invoke("list", "--markdown", "--update-readme", readme)
    assert result.exit_code == 2
    assert README_START in result.output and "Traceback" not in result.output


def test_readme_taxonomy_block_is_current():
    readme = REPO_ROOT / "README.md"
    if not readme.is_file():
        pytest.skip("no README.md at the repository root")
    text = readme.read_text(encoding="utf-8")
    assert README_START in text, (
        f"README.md lacks the taxonomy block; add {README_START} / {README_END} and run "
        "`deepad list --markdown --update-readme README.md`")
    assert readme_block(text) == taxonomy_markdown(), (
        "README.md's taxonomy table is stale; run `deepad list --markdown --update-readme "
        "README.md`")


# ---------------------------------------------------------------------------- info
def test_info_shows_metadata_and_defaults():
    result = invoke("info", "devnet")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("DevNet: Deviation Networks")
    assert "score_learning / prior" in out and "weakly-supervised" in out
    assert "KDD 2019" in out
    assert "margin          = 5.0" in out and "hidden_dims     = (20,)" in out


def test_info_json():
    result = invoke("info", "AutoEncoder", "--json")
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout)
    assert meta["name"] == "AutoEncoder"
    assert meta["params"]["epochs"] == deepad.AutoEncoder().get_params()["epochs"]


def test_info_unknown_name_is_a_clean_error():
    result = invoke("info", "DevNett")
    assert result.exit_code == 2
    assert "Did you mean DevNet" in result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # typer.Exit(2), not the KeyError


# ---------------------------------------------------------------------------- run
def test_run_default_dataset_writes_csv_and_png(tmp_path):
    csv, png = tmp_path / "scores.csv", tmp_path / "scores.png"
    result = invoke("run", "-d", "AutoEncoder",
                    "--param", "epochs=2", "--output", csv, "--plot", png, "--top", "5")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "breast-cancer" in out and "default_rng(0)" in out
    assert "367 rows x 30 features" in out
    assert "AUC-ROC" in out and "AUC-PR" in out and "precision@10" in out
    assert "rows flagged as anomalies" in out
    scores = pd.read_csv(csv)
    assert len(scores) == 367
    assert list(scores.columns) == ["row", "score", "is_anomaly", "label"]
    assert scores["label"].sum() == 10
    assert set(scores["is_anomaly"].unique()) <= {0, 1}
    assert png.stat().st_size > 1000
    assert png.read_bytes()[:8] == PNG_MAGIC


def test_run_csv_with_label_column_and_saved_model(labelled_csv, tmp_path):
    csv, model_dir = tmp_path / "scores.csv", tmp_path / "model"
    result = invoke("run", "-d", "AutoEncoder",
                    labelled_csv, "--label-column", "label", "--param", "epochs=2",
                    "--param", "hidden_dims=(8,2)", "--scale", "standard", "--output", csv,
                    "--plot", "none", "--save-model", model_dir)
    assert result.exit_code == 0, result.output
    assert "168 rows x 4 features" in result.stdout
    assert "hidden_dims=(8, 2)" in result.stdout
    assert "AUC-ROC" in result.stdout
    scores = pd.read_csv(csv)
    assert len(scores) == 168 and scores["label"].sum() == 8
    loaded = deepad.load(model_dir)
    assert loaded.detector_.get_params()["hidden_dims"] == (8, 2)
    np.testing.assert_allclose(loaded.decision_scores_, scores["score"].to_numpy(), rtol=1e-6)
    # the scaling is part of the model (no side file): the raw table scores as the CLI did
    assert loaded.preprocessor_.scale == "standard"
    assert loaded.preprocessor_.columns_ == ["a", "b", "c", "d"]
    assert not (model_dir / "scaling.json").exists()
    np.testing.assert_allclose(loaded.decision_function(pd.read_csv(labelled_csv)),
                               scores["score"].to_numpy(), rtol=1e-6)
    assert not (tmp_path / "none").exists()


def test_run_devnet_reveals_some_labels(labelled_csv, tmp_path):
    csv = tmp_path / "scores.csv"
    result = invoke("run", labelled_csv, "-d", "DevNet", "-l", "label", "--labeled-ratio", "0.5",
                    *FAST_DEVNET, "--output", csv, "--plot", tmp_path / "p.png")
    assert result.exit_code == 0, result.output
    assert "4 of 8 anomalies revealed" in result.stdout
    assert "metrics on the 164 rows whose labels were not revealed, 4 anomalies" in result.stdout
    scores = pd.read_csv(csv)
    assert list(scores.columns) == ["row", "score", "is_anomaly", "label", "revealed"]
    assert scores["revealed"].sum() == 4
    assert (scores.loc[scores["revealed"] == 1, "label"] == 1).all()


def test_run_devnet_without_labels_fails_cleanly(tmp_path):
    data = tmp_path / "unlabelled.csv"
    pd.DataFrame(np.random.default_rng(1).normal(size=(30, 3)), columns=list("xyz")).to_csv(
        data, index=False)
    result = invoke("run", data, "--detector", "DevNet", "--output", "none", "--plot", "none")
    assert result.exit_code == 2
    assert "needs labels" in result.output and "Traceback" not in result.output


def test_run_class_label_detector_fails_cleanly(tmp_path):
    data = tmp_path / "rows.csv"
    pd.DataFrame(np.random.default_rng(1).normal(size=(30, 3)), columns=list("xyz")).to_csv(
        data, index=False)
    result = invoke("run", data, "--detector", "MSP", "--output", "none", "--plot", "none")
    assert result.exit_code == 2
    assert "fit(X, y_class)" in result.output and "Traceback" not in result.output


def test_run_with_nan_fails_cleanly(tmp_path):
    data = tmp_path / "nan.csv"
    frame = pd.DataFrame(np.random.default_rng(2).normal(size=(20, 3)), columns=list("xyz"))
    frame.iloc[4, 1] = np.nan
    frame.to_csv(data, index=False)
    result = invoke("run", "-d", "AutoEncoder",
                    data, "--param", "epochs=2", "--output", tmp_path / "s.csv")
    assert result.exit_code == 2
    assert "NaN" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()[-1]) > 0
    assert not (tmp_path / "s.csv").exists()


def test_run_with_text_column_fails_cleanly(tmp_path):
    data = tmp_path / "text.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "colour": ["red", "blue", "red"]}).to_csv(data, index=False)
    result = invoke("run", data, "--output", "none", "--plot", "none")
    assert result.exit_code == 2
    assert "non-numeric" in result.output.lower() and "'colour'" in result.output


def test_run_encodes_categorical_columns_on_request(tmp_path):
    data = tmp_path / "text.csv"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60), "colour": rng.choice(["red", "blue"], 60)})
    frame.to_csv(data, index=False)
    result = invoke("run", "-d", "AutoEncoder",
                    data, "--categorical", "onehot", "--param", "epochs=2",
                    "--output", tmp_path / "s.csv", "--plot", "none")
    assert result.exit_code == 0, result.output
    assert "60 rows x 3 features" in result.output
    assert len(pd.read_csv(tmp_path / "s.csv")) == 60


@pytest.mark.parametrize(("args", "expected"), [
    (["--param", "epoch=2"], "Did you mean epochs?"),
    (["--param", "epochs"], "KEY=VALUE"),
    (["--detector", "AutoEncodr"], "Did you mean AutoEncoder"),
    (["missing.csv"], "No such file"),
    (["--label-column", "label"], "needs a DATA file"),
])
def test_run_bad_arguments_fail_cleanly(args, expected):
    result = invoke("run", "-d", "AutoEncoder", *args, "--output", "none", "--plot", "none")
    assert result.exit_code == 2
    assert expected in result.output and "Traceback" not in result.output


def test_run_invalid_hyperparameter_value_fails_cleanly():
    result = invoke("run", "-d", "AutoEncoder",
                    "--param", "epochs=0", "--output", "none", "--plot", "none")
    assert result.exit_code == 2
    assert "'epochs' parameter" in result.output


def test_parse_params_literals_and_strings():
    valid = {"epochs": 50, "hidden_dims": (64, 32), "device": None, "lr": 1e-3}
    params = parse_params(["epochs=20", "hidden_dims=(32,8)", "device=cpu", "lr = 1e-2"],
                          valid, "AutoEncoder")
    assert params == {"epochs": 20, "hidden_dims": (32, 8), "device": "cpu", "lr": 0.01}
    with pytest.raises(ValueError, match="Valid parameters: epochs, hidden_dims"):
        parse_params(["width=3"], valid, "AutoEncoder")


def test_reveal_labels_at_least_one_and_deterministic():
    y = np.r_[np.zeros(50, dtype=int), np.ones(5, dtype=int)]
    mask = reveal_labels(y, 0.1, seed=0)
    assert mask.sum() == 1 and y[mask].all()
    assert np.array_equal(mask, reveal_labels(y, 0.1, seed=0))
    assert reveal_labels(y, 1.0, seed=3).sum() == 5
    with pytest.raises(ValueError, match="no anomaly"):
        reveal_labels(np.zeros(10, dtype=int), 0.5, seed=0)


def test_python_dash_m_deepad():
    result = subprocess.run([sys.executable, "-m", "deepad", "--version"], capture_output=True,
                            text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"deepad {deepad.__version__}"


# ---------------------------------------------------------------------------- data helpers
def test_load_default_dataset_recipe():
    X, y, description = load_default_dataset()
    assert X.shape == (367, 30) and y.shape == (367,) and y.dtype == np.int64
    assert int(y.sum()) == 10 and set(np.unique(y).tolist()) == {0, 1}
    assert "mean radius" in X.columns and list(X.index) == list(range(367))
    assert "357 benign" in description and "default_rng(0)" in description
    X2, y2, _ = load_default_dataset()
    pd.testing.assert_frame_equal(X, X2)
    assert np.array_equal(y, y2)
    X3, y3, _ = load_default_dataset(random_state=1)
    assert int(y3.sum()) == 10 and not X3.equals(X)
    assert builtin.DEFAULT_DATASET == "breast-cancer"


def test_load_table_csv_with_label_column(labelled_csv):
    X, y = load_table(labelled_csv, label_column="label")
    assert list(X.columns) == ["a", "b", "c", "d"] and len(X) == 168
    assert y.dtype == np.int64 and int(y.sum()) == 8
    X_all, y_none = load_table(labelled_csv)
    assert y_none is None and "label" in X_all.columns


def test_load_table_npz(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, X=np.arange(12.0).reshape(4, 3), y=np.array([0, 1, 0, 0]))
    X, y = load_table(path)
    assert list(X.columns) == ["f0", "f1", "f2"] and y.tolist() == [0, 1, 0, 0]
    np.savez(tmp_path / "x_only.npz", X=np.ones((3, 2)))
    assert load_table(tmp_path / "x_only.npz")[1] is None
    with pytest.raises(ValueError, match="array 'y'"):
        load_table(path, label_column="target")
    np.savez(tmp_path / "no_x.npz", data=np.ones((3, 2)))
    with pytest.raises(ValueError, match="no array 'X'"):
        load_table(tmp_path / "no_x.npz")
    np.savez(tmp_path / "objects.npz", X=np.array([[1, "a"]], dtype=object))
    with pytest.raises(ValueError, match="could not be read safely"):
        load_table(tmp_path / "objects.npz")


def test_load_table_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "data.parquet"
    pd.DataFrame({"x": [0.1, 0.2, 0.3], "is_bad": [0, 0, 1]}).to_parquet(path)
    X, y = load_table(path, label_column="is_bad")
    assert list(X.columns) == ["x"] and y.tolist() == [0, 0, 1]


def test_load_table_parquet_without_pyarrow(tmp_path, monkeypatch):
    path = tmp_path / "data.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match="needs pyarrow, a dependency of deepad"):
        load_table(path)


def test_load_table_errors(tmp_path, labelled_csv):
    with pytest.raises(FileNotFoundError, match="No such file"):
        load_table(tmp_path / "missing.csv")
    (tmp_path / "data.xlsx").write_bytes(b"x")
    with pytest.raises(ValueError, match="unknown extension '.xlsx'"):
        load_table(tmp_path / "data.xlsx")
    with pytest.raises(ValueError, match="no column 'target'; available columns: 'a', 'b'"):
        load_table(labelled_csv, label_column="target")
    bad = tmp_path / "bad_labels.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 2, 1]}).to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"must be 0 \(normal\) or 1 \(anomaly\); found 0, 1, 2"):
        load_table(bad, label_column="y")
    words = tmp_path / "word_labels.csv"
    pd.DataFrame({"x": [1.0, 2.0], "y": ["yes", "no"]}).to_csv(words, index=False)
    with pytest.raises(ValueError, match="found 'yes', 'no'"):
        load_table(words, label_column="y")
    only_label = tmp_path / "only_label.csv"
    pd.DataFrame({"y": [0, 1]}).to_csv(only_label, index=False)
    with pytest.raises(ValueError, match="no feature column"):
        load_table(only_label, label_column="y")


def test_load_table_keeps_non_numeric_columns(tmp_path):
    path = tmp_path / "mixed.csv"
    pd.DataFrame({"x": [1.0, 2.0], "colour": ["red", "blue"]}).to_csv(path, index=False)
    X, _ = load_table(path)
    assert list(X["colour"]) == ["red", "blue"]


DATA_MODULES = sorted(Path(tables.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", DATA_MODULES, ids=[p.stem for p in DATA_MODULES])
def test_data_layer_does_not_import_torch(path):
    """The data layer (DESIGN: numpy / pandas only) imports neither torch nor any deepad
    module outside ``deepad.data``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = {alias.name for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not {m for m in imported if m.split(".")[0] == "torch"}
    outside = {m for m in imported if m.split(".")[0] == "deepad"
               and not (m == "deepad.data" or m.startswith("deepad.data."))}
    assert not outside  # nothing that would pull in the torch layers
