"""Shared fixtures: planted-anomaly data, and every registered detector fitted once per modality.

Detectors come from the registry (``deepad.list_detectors()``), so a newly registered
detector joins every parametrised test automatically: a test that takes the ``case``
argument runs once per (detector, modality) pair, one that takes ``detector_cls`` once per
detector class. Models are fitted with each class's tiny ``test_params`` and cached for the
whole session (``fitted``); tests never fit in per-test setup and never mutate a cached model
(they ``clone`` it first).
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS, limited to one thread below)
import sklearn.mixture  # noqa: F401  (loads scikit-learn's OpenMP, limited below)
import torch
from threadpoolctl import threadpool_limits

import deepad
from deepad.data.synthetic import make_planted_rows, make_planted_windows

# The models under test are tiny: one thread avoids OpenMP spin-waiting, which on a busy
# 2-core machine made a batch-norm forward pass a thousand times slower than single-threaded.
torch.set_num_threads(1)
# The same for numpy's and scipy's OpenBLAS and scikit-learn's OpenMP, loaded now, and for the
# libraries loaded later and the processes tests start (the variables): with two test workers
# on two cores, or on a busy machine, their spinning threads made a Gaussian-mixture fit of
# the synthetic anomalies 15 times costlier in CPU time (10.8 CPU s against 0.7).
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
threadpool_limits(1)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
"""The shared real datasets (``../shared/datasets`` from the repository root)."""

SUPPORTED_MODALITIES = ("tabular", "sequence", "categorical", "event", "image")
N_LABELLED = 5  # labelled anomalies given to weakly supervised detectors
SEED = 0


@dataclass(frozen=True)
class Case:
    """One registered detector class on one modality it supports."""

    cls: type
    modality: str

    @property
    def id(self) -> str:
        return f"{self.cls.name}-{self.modality}"


def registered_classes() -> list[type]:
    return [deepad.get_detector(info["name"]) for info in deepad.list_detectors()]


def registered_cases() -> list[Case]:
    return [Case(cls, modality) for cls in registered_classes()
            for modality in SUPPORTED_MODALITIES if modality in cls.modalities]


def pytest_configure(config: pytest.Config) -> None:
    # Tests never reach the internet nor the user's cache: downloads go to a closed local
    # port (instant ConnectionError) unless a test points them at its own local server.
    os.environ["DEEPAD_ADBENCH_URL"] = "http://127.0.0.1:9"
    os.environ["DEEPAD_CACHE_DIR"] = tempfile.mkdtemp(prefix="deepad-test-cache-")
    config.addinivalue_line(
        "markers", "needs_shared: needs ../shared/datasets; skipped with a reason when absent")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = registered_cases()
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])
    if "detector_cls" in metafunc.fixturenames:
        classes = registered_classes()
        metafunc.parametrize("detector_cls", classes, ids=[c.name for c in classes])


# Modules whose tests of a detector case read only session fixtures: under pytest-xdist their
# tests are grouped by case (see ``work_unit``). Tests elsewhere go with their module.
CASE_GROUPED_MODULES = ("tests/test_conformance.py", "tests/test_explain.py")


@functools.cache
def _case_ids_and_names() -> tuple[frozenset[str], frozenset[str]]:
    return (frozenset(case.id for case in registered_cases()),
            frozenset(cls.name for cls in registered_classes()))


def work_unit(nodeid: str) -> str:
    """The group of tests that one pytest-xdist worker runs together (``-n 2 --dist
    loadgroup``): in ``CASE_GROUPED_MODULES`` the tests of one (detector, modality) case, so
    the session's fitted model of that case is fitted in one worker only, and those of one
    detector class; every other test with the rest of its module, so module- and
    session-scoped fixtures (a docs build, a benchmark run) are built once."""
    module, _, test = nodeid.partition("::")
    if module in CASE_GROUPED_MODULES and test.endswith("]") and "[" in test:
        parts = test[test.index("[") + 1:-1].split("-")
        cases, names = _case_ids_and_names()
        for first, second in zip(parts, parts[1:], strict=False):
            if f"{first}-{second}" in cases:
                return f"case-{first}-{second}"
        for part in parts:
            if part in names:
                return f"class-{part}"
    return module


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` schedules the units of :func:`work_unit`. (pytest-xdist's own
    loadgroup reads ``xdist_group`` marks through a node id rewrite that pytest 9 no longer
    honours: every test became its own unit.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class CaseScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return CaseScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED.is_dir():
        return
    skip = pytest.mark.skip(reason=f"shared datasets folder {SHARED} is absent")
    for item in items:
        if "needs_shared" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The shared datasets folder; skips the test with the reason when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared datasets folder {SHARED} is absent")
    return SHARED


# ---------------------------------------------------------------------------- data
@pytest.fixture(scope="session")
def planted_rows() -> tuple[np.ndarray, np.ndarray]:
    """525 rows x 8 features in [0, 1]: 500 normal, 25 planted anomalies."""
    return make_planted_rows(n_normal=500, n_anomalies=25, n_features=8, random_state=SEED)


@pytest.fixture(scope="session")
def planted_windows() -> tuple[np.ndarray, np.ndarray]:
    """420 windows of 32 steps x 2 channels: 400 normal sinusoids, 20 planted anomalies."""
    return make_planted_windows(n_normal=400, n_anomalies=20, window=32, n_features=2,
                                random_state=SEED)


def make_planted_categorical(n_normal: int = 500, n_anomalies: int = 25, n_columns: int = 5,
                             n_values: int = 6, noise: float = 0.1,
                             random_state: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Rows of categories (object array of strings) with planted rare combinations.

    A normal row belongs to one of ``n_values`` latent groups and takes, in every column, that
    group's value of the column (another value with probability ``noise``). A planted anomaly
    takes in each column the value of a different group: every value is common, the
    combination is never seen. Returns ``(X, y)``, rows shuffled, y = 1 for the anomalies.
    """
    if n_values < n_columns:
        msg = "n_values must be at least n_columns (one distinct group per column)."
        raise ValueError(msg)
    rng = np.random.default_rng(random_state)
    groups = np.repeat(rng.integers(n_values, size=n_normal)[:, None], n_columns, axis=1)
    off = rng.random(groups.shape) < noise
    groups[off] = rng.integers(n_values, size=int(off.sum()))
    mixed = np.argsort(rng.random((n_anomalies, n_values)), axis=1)[:, :n_columns]
    codes = np.vstack([groups, mixed])
    # each column names the groups' values its own way
    names = np.array([[f"{chr(97 + j)}{v}" for v in rng.permutation(n_values)]
                      for j in range(n_columns)], dtype=object)
    X = names[np.arange(n_columns), codes]
    y = np.r_[np.zeros(n_normal, dtype=np.int64), np.ones(n_anomalies, dtype=np.int64)]
    order = rng.permutation(len(y))
    return X[order], y[order]


def make_planted_sessions(n_normal: int = 400, n_anomalies: int = 20,
                          random_state: int = SEED) -> tuple[list[np.ndarray], np.ndarray]:
    """Sessions of integer event keys from a small workflow, with planted broken transitions.

    Normal: ``1, (2, 3) x r, b, 6 x s, 7`` with r in 1..4, b in {4, 5}, s in 1..3. A planted
    anomaly is a normal session whose event at a random inner position is replaced by 1 or 7
    (keys that only open or close a session). Returns ``(sessions, y)``, shuffled.
    """
    rng = np.random.default_rng(random_state)
    n = n_normal + n_anomalies
    sessions = [np.array([1, *[2, 3] * int(r), int(b), *[6] * int(s), 7], dtype=np.int64)
                for r, b, s in zip(rng.integers(1, 5, n), rng.integers(4, 6, n),
                                   rng.integers(1, 4, n), strict=True)]
    for session in sessions[n_normal:]:
        session[rng.integers(1, len(session) - 1)] = rng.choice([1, 7])
    y = np.r_[np.zeros(n_normal, dtype=np.int64), np.ones(n_anomalies, dtype=np.int64)]
    order = rng.permutation(n)
    return [sessions[i] for i in order], y[order]


def make_planted_images(n_normal: int = 300, n_anomalies: int = 15, side: int = 16,
                        random_state: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """Grey images (n, 1, side, side) in about [0, 1]: oriented strokes, planted symmetric ones.

    A normal image is a "Γ": a long vertical stroke (10/16 of the side) with a short
    horizontal stroke (5/16) from its top, near the top-left corner (jittered by one pixel),
    of random intensity, on Gaussian noise (σ 0.1). The shape is chiral, so every flip and
    rotation of it is identifiable. A planted anomaly is a "+" of two equal strokes through
    the centre: the same ink, but its flips and rotations look alike. Returns ``(X, y)``
    (float32 images, shuffled; y = 1 for the anomalies).
    """
    rng = np.random.default_rng(random_state)
    n = n_normal + n_anomalies
    X = rng.normal(0.0, 0.1, size=(n, 1, side, side))
    long, short = round(side * 10 / 16), round(side * 5 / 16)
    ink = rng.uniform(0.7, 1.0, size=n)
    corner = round(side * 3 / 16)
    rows, cols = rng.integers(-1, 2, size=(2, n)) + corner
    for i in range(n_normal):
        r, c = rows[i], cols[i]
        X[i, 0, r:r + long, c] += ink[i]
        X[i, 0, r, c:c + short] += ink[i]
    half = long // 2
    for i in range(n_normal, n):
        r, c = side // 2 + rows[i] - corner, side // 2 + cols[i] - corner
        X[i, 0, r - half:r + half, c] += ink[i]
        X[i, 0, r, c - half:c + half] += ink[i]
    y = np.r_[np.zeros(n_normal, dtype=np.int64), np.ones(n_anomalies, dtype=np.int64)]
    order = rng.permutation(n)
    return X[order].astype(np.float32), y[order]


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for the module's tests, the previous count restored after."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def videos() -> dict[str, Any]:
    """Three normal training videos of a bouncing square, a test video whose square speeds up
    in frames [24, 32) and one with an extra object there, and the test frames' truth."""
    from video_clips import ANOMALY, N_FRAMES, square_video

    truth = np.zeros(N_FRAMES, dtype=int)
    truth[ANOMALY[0]:ANOMALY[1]] = 1
    return {"train": [square_video(seed) for seed in range(3)],
            "fast": square_video(10, fast=ANOMALY), "extra": square_video(11, extra=ANOMALY),
            "truth": truth}


@pytest.fixture(scope="session")
def planted_images() -> tuple[np.ndarray, np.ndarray]:
    """315 images of 1 x 16 x 16: 300 oriented "Γ" strokes, 15 planted symmetric "+"."""
    return make_planted_images()


@pytest.fixture(scope="session")
def planted_categorical() -> tuple[np.ndarray, np.ndarray]:
    """525 rows x 5 categorical columns (6 values each): 500 normal, 25 rare combinations."""
    return make_planted_categorical()


@pytest.fixture(scope="session")
def planted_sessions() -> tuple[list[np.ndarray], np.ndarray]:
    """420 sessions of 5-16 event keys: 400 normal, 20 with a broken transition."""
    return make_planted_sessions()


@pytest.fixture(scope="session")
def planted(planted_rows, planted_windows, planted_categorical, planted_sessions,
            planted_images) -> dict[str, tuple[Any, np.ndarray]]:
    """``{modality: (X, y)}`` of the planted-anomaly data."""
    return {"tabular": planted_rows, "sequence": planted_windows,
            "categorical": planted_categorical, "event": planted_sessions,
            "image": planted_images}


def weak_labels(y: np.ndarray, n_labelled: int = N_LABELLED) -> np.ndarray:
    """Weak supervision from true labels: 1 for the first ``n_labelled`` anomalies, else 0."""
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y == 1)[:n_labelled]] = 1
    return labels


def is_weakly_supervised_only(cls: type) -> bool:
    return "unsupervised" not in cls.supervision


def is_deterministic(cls: type) -> bool:
    """A detector without ``random_state`` (kNN, LOF, ECOD): nothing in it is random."""
    return "random_state" not in cls().get_params(deep=False)


def seeded_params(cls: type, seed: int | None, modality: str | None = None) -> dict[str, Any]:
    """``cls.test_params`` (with the class's ``modality_test_params`` of ``modality``) with
    ``random_state=seed``, for the classes that take one."""
    extra = getattr(cls, "modality_test_params", {}).get(modality, {})
    return {**cls.test_params, **extra,
            **({} if is_deterministic(cls) else {"random_state": seed})}


def planted_classes(X: Any, n_classes: int = 3) -> np.ndarray:
    """In-distribution class labels for the planted data (detectors of supervision
    ``"class-labels"``): k-means clusters (k = 3, seeded) of the flattened samples. The planted
    rows are three Gaussian clusters, which this recovers; the planted anomalies fall in
    whichever cluster is nearest, as contamination of the training classes."""
    from sklearn.cluster import KMeans

    flat = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    return KMeans(n_classes, n_init=10, random_state=SEED).fit_predict(flat).astype(np.int64)


@pytest.fixture(scope="session")
def fit_labels(planted) -> Callable[[type, str], np.ndarray | None]:
    """``fit_labels(cls, modality)``: the ``y`` to pass to ``cls.fit`` on the planted data
    (``N_LABELLED`` labelled anomalies for weakly supervised detectors, the classes of
    :func:`planted_classes` for class-label detectors, else None)."""
    classes: dict[str, np.ndarray] = {}

    def labels(cls: type, modality: str) -> np.ndarray | None:
        if "class-labels" in cls.supervision:
            if modality not in classes:
                classes[modality] = planted_classes(planted[modality][0])
            return classes[modality]
        return weak_labels(planted[modality][1]) if is_weakly_supervised_only(cls) else None

    return labels


@pytest.fixture(scope="session")
def fit_detector(planted, fit_labels) -> Callable[..., Any]:
    """``fit_detector(cls, modality, **params)``: a new detector with ``test_params``, the
    class's ``modality_test_params`` of that modality (+ ``random_state=0`` where the class
    takes one) and ``params``, fitted on that modality's planted data; weakly supervised
    detectors get ``N_LABELLED`` labelled anomalies."""

    def fit(cls: type, modality: str, **params: Any) -> Any:
        detector = cls(**{**seeded_params(cls, SEED, modality), **params})
        return detector.fit(planted[modality][0], fit_labels(cls, modality))

    return fit


@pytest.fixture(scope="session")
def fitted(fit_detector) -> Callable[[type, str], Any]:
    """``fitted(cls, modality)``: the session's one fitted detector for that pair (read-only:
    clone it before changing anything)."""
    cache: dict[tuple[type, str], Any] = {}

    def get(cls: type, modality: str) -> Any:
        key = (cls, modality)
        if key not in cache:
            cache[key] = fit_detector(cls, modality)
        return cache[key]

    return get


@pytest.fixture
def fitted_case(case, fitted):
    """The cached fitted detector of the current ``case``."""
    return fitted(case.cls, case.modality)
