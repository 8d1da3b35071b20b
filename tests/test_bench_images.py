"""One-class image benchmark: plan, split, inputs per detector kind, run, report; the
``mvtec-embeddings`` tabular suite.

The images are tiny IDX sets in Fashion-MNIST's and MNIST's layout, written to a temporary
``$DEEPAD_DATA_DIR``; each class has its own grey level, so a detector trained on the right
images ranks the other classes on top. The detectors are numpy fakes
(``tests/bench_image_fakes.py``, ``tests/bench_fakes.py``).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from deepad.bench import Job, load_results, make_config
from deepad.bench.image_protocol import ONECLASS, FlatRows, ImageProtocol, _source, parse_name
from deepad.bench.plan import make_plan
from deepad.bench.suites import MVTEC_EMBEDDINGS, suite_datasets, suite_notes
from deepad.cli import app
from deepad.detectors import GOAD

IMAGE_FAKE = "python:bench_image_fakes:ImageMean"
ROW_FAKE = "python:bench_fakes:MeanDistance"
runner = CliRunner()


def idx_gz(array: np.ndarray) -> bytes:
    header = struct.pack(">4B", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def write_set(folder: Path, prefix: str, n: int, rng: np.random.Generator) -> None:
    labels = np.arange(n) % 10
    images = labels[:, None, None] * 25 + rng.integers(0, 5, size=(n, 28, 28))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(idx_gz(images))
    (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(idx_gz(labels))


@pytest.fixture(scope="module")
def image_env(tmp_path_factory):
    """Fashion-MNIST (40 train + 20 test images) and MNIST (40 test images) look-alikes in
    ``$DEEPAD_DATA_DIR`` for the whole module (worker processes inherit it)."""
    root = tmp_path_factory.mktemp("imagedata")
    rng = np.random.default_rng(0)
    write_set(root / "images" / "fashion_mnist", "train", 40, rng)
    write_set(root / "images" / "fashion_mnist", "t10k", 20, rng)
    write_set(root / "images" / "mnist", "t10k", 40, rng)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DEEPAD_DATA_DIR", str(root))
        _source.cache_clear()
        yield root
        _source.cache_clear()


@pytest.fixture(scope="module")
def image_run(image_env, tmp_path_factory):
    """One run (one worker start): the ``fashion-oneclass`` classes and two MNIST digits,
    an image fake and a row fake, seeds 0 and 1."""
    db = tmp_path_factory.mktemp("bench") / "images.db"
    datasets = ",".join([*(f"fashion_mnist/{c}" for c in range(10)), "mnist/3", "mnist/5"])
    result = runner.invoke(app, ["bench", "--datasets", datasets, "--detectors",
                                 f"{IMAGE_FAKE},{ROW_FAKE}", "--seeds", "0,1", "--db", str(db),
                                 "--quiet"])
    return db, result


@pytest.fixture(scope="module")
def image_report(image_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    result = runner.invoke(app, ["report", str(image_run[0]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out, (out / "report.md").read_text(encoding="utf-8")


def test_every_class_runs_with_images_and_rows(image_run):
    db, result = image_run
    assert result.exit_code == 0, result.output
    rows = load_results(db)
    assert len(rows) == 12 * 2 * 2 and set(rows.setting) == {ONECLASS}
    assert set(rows.dataset) == {*(f"fashion_mnist/{c}" for c in range(10)), "mnist/3",
                                 "mnist/5"}
    # the image fake raises unless it gets uint8 (n, 1, 28, 28) images; the row fake would
    # fail on them, so it got rows: both finish, and both rank the other classes on top
    assert (rows.status == "ok").all(), rows.error.tolist()
    assert rows.auc_roc.min() > 0.99 and rows.auc_pr.min() > 0.99


def test_report_has_per_class_tables_with_protocol(image_report):
    out, text = image_report
    assert 'Protocol "ruff": Ruff et al.' in text
    for heading in ("Fashion-MNIST: AUC-ROC per normal class", "Fashion-MNIST: AUC-PR per "
                    "normal class", "Fashion-MNIST: fit time", "MNIST: AUC-ROC per normal "
                    "class"):
        assert heading in text
    assert "| 9 Ankle boot |" in text and "mean (10 classes with every result)" in text
    assert "median fit (s)" in text and "None: every job finished ok" in text
    assert (out / "boxplot_auc_roc_fashion_mnist.png").stat().st_size > 1000


def test_report_mnist_is_within_test_beside_the_paper(image_report):
    mnist = image_report[1][image_report[1].index("## MNIST"):]
    assert 'Protocol "within-test"' in mnist and "Not the papers' protocol" in mnist
    assert "Deep SVDD paper (other protocol)" in mnist
    assert "| 3 |" in mnist and "0.919" in mnist and "0.885" in mnist  # Ruff et al., 3 and 5
    assert "\n| 0 |" not in mnist  # only the digits that ran


def test_splits_follow_each_source_protocol(image_env):
    protocol = ImageProtocol()
    job = Job(IMAGE_FAKE, {}, "fashion_mnist/3", 0, ONECLASS, None)
    data = protocol.load(job)
    assert data.train.shape == (4, 1, 28, 28) and data.train.dtype == np.uint8
    assert data.test.shape == (20, 1, 28, 28) and int(data.y_test.sum()) == 18
    assert data.info["protocol"] == "ruff"
    assert (data.train // 25 == 3).all()  # only the normal class's training images
    again = protocol.load(Job(IMAGE_FAKE, {}, "fashion_mnist/3", 7, ONECLASS, None))
    np.testing.assert_array_equal(again.test, data.test)  # the seed moves the detector only
    mnist = [protocol.load(Job(IMAGE_FAKE, {}, "mnist/3", s, ONECLASS, None)) for s in (0, 1)]
    assert mnist[0].info["protocol"] == "within-test" and len(mnist[0].test) == 12
    assert not np.array_equal(mnist[0].test, mnist[1].test)


def test_flat_rows_give_row_detectors_scaled_pixels():
    seen = {}

    class Rows:
        def fit(self, X, y=None):
            seen["fit"] = X
            return self

        def decision_function(self, X):
            return X.sum(axis=1)

    images = np.full((3, 1, 2, 2), 255, dtype=np.uint8)
    scores = FlatRows(Rows()).fit(images).decision_function(images)
    assert seen["fit"].shape == (3, 4) and seen["fit"].dtype == np.float32
    np.testing.assert_allclose(scores, 4.0)


def test_plan_errors_are_clear(image_env):
    with pytest.raises(ValueError, match="DeepLog does not accept images"):
        make_plan(make_config({"suite": "mnist-oneclass", "detectors": "DeepLog"}))
    with pytest.raises(ValueError, match="one setting \\(oneclass"):
        make_plan(make_config({"suite": "mnist-oneclass", "detectors": IMAGE_FAKE,
                               "setting": "weak"}))
    with pytest.raises(ValueError, match="mixes one-class image datasets"):
        make_plan(make_config({"datasets": "mnist/1,6_cardio", "detectors": IMAGE_FAKE}))
    with pytest.raises(ValueError, match="not a one-class image dataset"):
        parse_name("mnist/12")
    plan = make_plan(make_config({"suite": "mnist-oneclass", "detectors": IMAGE_FAKE,
                                  "seeds": "0,1"}))
    assert len(plan.jobs) == 20 and {j.setting for j in plan.jobs} == {ONECLASS}


def test_a_class_image_settings_are_the_job_params_unless_given(image_env):
    from deepad import DeepSVDD
    from deepad.bench.plan import plan_detectors

    settings = DeepSVDD.modality_defaults["image"]
    assert settings and "image" in DeepSVDD.modalities
    (entry,) = plan_detectors(make_config({"suite": "mnist-oneclass", "detectors": "DeepSVDD"}))
    assert entry.params == settings
    assert {k: entry.resolved[k] for k in settings} == settings
    (given,) = plan_detectors(make_config({"suite": "mnist-oneclass", "detectors": "DeepSVDD",
                                           "params": ["DeepSVDD.epochs=3"]}))
    assert given.params["epochs"] == given.resolved["epochs"] == 3
    assert given.params["lr"] == settings["lr"]
    (plain,) = plan_detectors(make_config({"suite": "mnist-oneclass", "detectors": IMAGE_FAKE}))
    assert plain.params == {}
    (goad,) = plan_detectors(make_config({"suite": "mnist-oneclass", "detectors": "GOAD"}))
    goad_settings = GOAD.modality_defaults["image"]
    assert goad_settings["epochs"] == 1 and goad_settings["batch_size"] == 4
    assert goad.params == goad_settings
    assert {k: goad.resolved[k] for k in goad_settings} == goad_settings


def test_missing_image_files_say_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="Fashion-MNIST train files"):
        make_plan(make_config({"suite": "fashion-oneclass", "detectors": IMAGE_FAKE}))


@pytest.mark.needs_shared
def test_mvtec_embeddings_suite_and_reference(shared_datasets, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(shared_datasets / "adbench"))
    assert suite_datasets("mvtec-embeddings") == list(MVTEC_EMBEDDINGS)
    plan = make_plan(make_config({"suite": "mvtec-embeddings", "detectors": ROW_FAKE}))
    assert len(plan.jobs) == 15 and {j.setting for j in plan.jobs} == {"unsupervised"}
    assert all(Path(j.path).parent.name == "cv_resnet18" for j in plan.jobs)
    assert suite_notes(MVTEC_EMBEDDINGS) and "CBLOF" in suite_notes(MVTEC_EMBEDDINGS)[0]
    assert suite_notes(MVTEC_EMBEDDINGS[:3]) == []
