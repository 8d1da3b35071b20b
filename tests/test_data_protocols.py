"""ADBench loading (every shared file; download against a local server), the split's
documented numbers, the robustness settings and the synthetic anomaly types."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

from deepad.data import robustness
from deepad.data._adbench_checksums import ADBENCH_FILES
from deepad.data.adbench import adbench_split, load_adbench
from deepad.data.download import download_adbench
from deepad.data.synthetic_anomalies import KINDS, make_adbench_synthetic

pytestmark = pytest.mark.needs_shared


@pytest.fixture
def classical(shared_datasets: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = shared_datasets / "adbench" / "classical"
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(folder))
    return folder


# ---------------------------------------------------------------------------- loading
def test_load_cardio_by_short_name(classical):
    X, y = load_adbench("cardio")
    assert X.shape == (1831, 21) and int(y.sum()) == 176
    assert X.dtype == np.float64 and y.dtype == np.int64


def test_every_shared_adbench_file_loads(shared_datasets):
    files = sorted((shared_datasets / "adbench").rglob("*.npz"))
    assert len(files) == 49
    for path in files:
        X, y = load_adbench(path)
        assert X.ndim == 2 and len(X) == len(y) > 0, path.name
        assert set(np.unique(y)) == {0, 1}, path.name
        assert np.isfinite(X).all(), path.name


def test_checksum_table_matches_shared_copies(shared_datasets):
    import hashlib
    for name, (relative, size, sha256) in ADBENCH_FILES.items():
        found = list((shared_datasets / "adbench").rglob(Path(relative).name))
        assert len(found) == 1, name
        data = found[0].read_bytes()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha256, name


# ---------------------------------------------------------------------------- download
@pytest.fixture
def mirror(tmp_path: Path, shared_datasets: Path) -> Iterator[tuple[Path, str, list[str]]]:
    """A local HTTP server laid out like ADBench's ``adbench/datasets`` folder."""
    root = tmp_path / "mirror"
    (root / "Classical").mkdir(parents=True)
    shutil.copy(shared_datasets / "adbench" / "classical" / "6_cardio.npz", root / "Classical")
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            requests.append(self.path)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


def test_download_then_load_from_cache(mirror, tmp_path, monkeypatch, shared_datasets):
    _, url, requests = mirror
    cache = tmp_path / "cache"
    monkeypatch.setenv("DEEPAD_ADBENCH_URL", url)
    monkeypatch.setenv("DEEPAD_CACHE_DIR", str(cache))
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(tmp_path / "empty"))
    X, y = load_adbench("cardio")
    assert X.shape == (1831, 21) and int(y.sum()) == 176
    original = shared_datasets / "adbench" / "classical" / "6_cardio.npz"
    assert (cache / "6_cardio.npz").read_bytes() == original.read_bytes()
    assert [p.name for p in cache.iterdir()] == ["6_cardio.npz"]
    load_adbench("6_cardio")  # second time from the cache
    assert len(requests) == 1


def test_checksum_mismatch_leaves_nothing(mirror, tmp_path, monkeypatch):
    root, url, _ = mirror
    tampered = root / "Classical" / "6_cardio.npz"
    data = bytearray(tampered.read_bytes())
    data[100] ^= 0xFF
    tampered.write_bytes(bytes(data))
    monkeypatch.setenv("DEEPAD_ADBENCH_URL", url)
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="failed verification"):
        download_adbench("cardio", cache)
    assert list(cache.iterdir()) == []


def test_missing_on_server_and_offline_errors(mirror, tmp_path, monkeypatch):
    _, url, _ = mirror
    monkeypatch.setenv("DEEPAD_ADBENCH_URL", url)
    with pytest.raises(ConnectionError, match="Put 38_thyroid.npz"):
        download_adbench("thyroid", tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
    monkeypatch.setenv("DEEPAD_ADBENCH_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(tmp_path / "empty"))
    with pytest.raises(ConnectionError, match="Offline"):
        load_adbench("cardio")
    with pytest.raises(FileNotFoundError, match="not found"):
        load_adbench("cardio", download=False)
    with pytest.raises(KeyError, match="No checksum"):
        download_adbench("no_such_dataset", tmp_path / "cache")


# ---------------------------------------------------------------------------- split
def test_donors_split_numbers(classical):
    X, y = load_adbench("11_donors")
    split = adbench_split(X, y, seed=0)
    assert len(split.X_train) == 7000 and len(split.X_test) == 3000
    n_train, n_test = split.y_train.sum(), split.y_test.sum()
    assert abs(n_train - round(0.7 * (n_train + n_test))) <= 1
    labelled = adbench_split(X, y, seed=0, labeled_anomalies=0.1)
    assert labelled.y_semi.sum() == int(0.1 * labelled.y_train.sum())
    assert np.all(labelled.y_train[labelled.y_semi == 1] == 1)
    again = adbench_split(X, y, seed=0, labeled_anomalies=0.1)
    for a, b in zip(vars(labelled).values(), vars(again).values(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(adbench_split(X, y, seed=1).X_train, split.X_train)


def test_at_least_one_labelled_anomaly():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    y = np.zeros(2000, np.int64)
    y[:20] = 1  # 14 training anomalies: int(0.05 * 14) = 0, ceil = 1
    assert adbench_split(X, y, 0, labeled_anomalies=0.05).y_semi.sum() == 0
    assert adbench_split(X, y, 0, labeled_anomalies=0.05, at_least_one=True).y_semi.sum() == 1
    assert adbench_split(X, y, 0, labeled_anomalies=3).y_semi.sum() == 3
    with pytest.raises(ValueError, match="labelled anomalies"):
        adbench_split(X, y, 0, labeled_anomalies=100)


# ---------------------------------------------------------------------------- robustness
@pytest.fixture(scope="module")
def cardio(shared_datasets):
    return load_adbench(shared_datasets / "adbench" / "classical" / "6_cardio.npz")


def test_robustness_defaults_change_nothing(cardio):
    X, y = cardio
    plain = adbench_split(X, y, 3, labeled_anomalies=0.1)
    explicit = adbench_split(X, y, 3, labeled_anomalies=0.1, irrelevant_features=0.0,
                             duplicate_anomalies=1, label_noise=0.0, train_contamination=1.0)
    for a, b in zip(vars(plain).values(), vars(explicit).values(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_irrelevant_features(cardio):
    X, y = cardio
    split = adbench_split(X, y, 0, irrelevant_features=0.5)
    assert split.X_train.shape[1] == 21 + 21
    noisy = robustness.add_irrelevant_features(X, 0.2, np.random.RandomState(0))
    assert noisy.shape[1] == 21 + int(0.2 / 0.8 * 21)
    # the original columns are all still there, in some order
    kept = {tuple(col) for col in noisy.T}
    assert all(tuple(col) in kept for col in X.T)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        adbench_split(X, y, 0, irrelevant_features=1.0)


def test_duplicated_anomalies(cardio):
    X, y = cardio
    X2, y2 = robustness.duplicate_anomalies(X, y, 3, np.random.RandomState(0))
    assert (y2 == 0).sum() == (y == 0).sum() and (y2 == 1).sum() == 3 * 176
    anomalies = {tuple(row) for row in X[y == 1]}
    assert all(tuple(row) in anomalies for row in X2[y2 == 1])
    split = adbench_split(X, y, 0, duplicate_anomalies=2)
    assert split.y_train.sum() + split.y_test.sum() == 2 * 176


def test_label_noise_labels_some_normal_rows(cardio):
    X, y = cardio
    flipped = robustness.flip_labels(y, 0.1, 0.2, np.random.RandomState(0))
    assert ((y == 0) & (flipped == 1)).sum() == np.ceil(0.1 * (y == 0).sum())
    assert ((y == 1) & (flipped == 0)).sum() == np.ceil(0.2 * 176)
    split = adbench_split(X, y, 0, labeled_anomalies=0.5, label_noise=(0.05, 0.0))
    assert (split.y_train[split.y_semi == 1] == 0).any()  # noisy labels reach y_semi
    assert split.y_train.sum() == adbench_split(X, y, 0).y_train.sum()  # truth kept


def test_train_contamination(cardio):
    X, y = cardio
    clean = adbench_split(X, y, 0, labeled_anomalies=5, train_contamination=0.0)
    assert clean.y_train.sum() == clean.y_semi.sum() == 5
    half = adbench_split(X, y, 0, train_contamination=0.5)
    full = adbench_split(X, y, 0)
    assert half.y_train.sum() == round(0.5 * full.y_train.sum())
    assert (half.y_train == 0).sum() == (full.y_train == 0).sum()
    np.testing.assert_array_equal(half.X_test, full.X_test)


# ---------------------------------------------------------------------------- synthetic
@pytest.mark.parametrize("kind", KINDS)
def test_synthetic_anomaly_types(cardio, kind):
    X, y = cardio
    X_new, y_new = make_adbench_synthetic(X, y, kind, seed=0)
    assert X_new.shape == X.shape and int(y_new.sum()) == 176 and np.isfinite(X_new).all()
    again = make_adbench_synthetic(X, y, kind, seed=0)
    np.testing.assert_array_equal(X_new, again[0])
    scores = -IsolationForest(random_state=0).fit(X_new).score_samples(X_new)
    assert roc_auc_score(y_new, scores) > 0.7  # every kind is detectable, none trivially absent


def test_global_anomalies_are_the_easiest(cardio):
    X, y = cardio
    auc = {}
    for kind in ("local", "global"):
        X_new, y_new = make_adbench_synthetic(X, y, kind, seed=0, normals="real")
        auc[kind] = roc_auc_score(
            y_new, -IsolationForest(random_state=0).fit(X_new).score_samples(X_new))
    assert auc["global"] > 0.98 and auc["global"] > auc["local"]


def test_dependency_anomalies_keep_marginals_break_dependence(cardio):
    X, y = cardio
    X_new, y_new = make_adbench_synthetic(X, y, "dependency", seed=0, normals="real",
                                          n_anomalies=2000)
    normal, anomalies = X_new[y_new == 0], X_new[y_new == 1]
    i, j = np.unravel_index(np.argmax(np.abs(np.corrcoef(normal.T) - np.eye(21))), (21, 21))
    assert abs(np.corrcoef(normal[:, i], normal[:, j])[0, 1]) > 0.6
    assert abs(np.corrcoef(anomalies[:, i], anomalies[:, j])[0, 1]) < 0.1
    # marginals kept up to kernel smoothing: same mean and spread per feature (features
    # with a handful of values are left out: a rare far value makes the spread noisy)
    smooth = [k for k in range(21) if len(np.unique(normal[:, k])) > 10]
    spread = normal[:, smooth].std(axis=0)
    assert np.all(np.abs(anomalies[:, smooth].mean(axis=0) - normal[:, smooth].mean(axis=0))
                  < 0.1 * spread)
    assert np.all(np.abs(anomalies[:, smooth].std(axis=0) / spread - 1) < 0.15)


def test_synthetic_errors(cardio):
    X, y = cardio
    with pytest.raises(ValueError, match="kind must be one of"):
        make_adbench_synthetic(X, y, "weird")
    with pytest.raises(ValueError, match="normals"):
        make_adbench_synthetic(X, y, "local", normals="fake")
    with pytest.raises(ValueError, match="no anomalies"):
        make_adbench_synthetic(X, np.zeros_like(y), "local")
