"""Shared fixtures: planted-anomaly data, and every registered detector fitted once per modality.

Detectors come from the registry (``deepad.list_detectors()``), so a newly registered
detector joins every parametrised test automatically: a test that takes the ``case``
argument runs once per (detector, modality) pair, one that takes ``detector_cls`` once per
detector class. Models are fitted with each class's tiny ``test_params`` and cached for the
whole session (``fitted``); tests never fit in per-test setup and never mutate a cached model
(they ``clone`` it first).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import deepad
from deepad.data.synthetic import make_planted_rows, make_planted_windows

# The models under test are tiny: one thread avoids OpenMP spin-waiting, which on a busy
# 2-core machine made a batch-norm forward pass a thousand times slower than single-threaded.
torch.set_num_threads(1)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
"""The shared real datasets (``../shared/datasets`` from the repository root)."""

SUPPORTED_MODALITIES = ("tabular", "sequence")
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


@pytest.fixture(scope="session")
def planted(planted_rows, planted_windows) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{modality: (X, y)}`` of the planted-anomaly data."""
    return {"tabular": planted_rows, "sequence": planted_windows}


def weak_labels(y: np.ndarray, n_labelled: int = N_LABELLED) -> np.ndarray:
    """Weak supervision from true labels: 1 for the first ``n_labelled`` anomalies, else 0."""
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y == 1)[:n_labelled]] = 1
    return labels


def is_weakly_supervised_only(cls: type) -> bool:
    return "unsupervised" not in cls.supervision


@pytest.fixture(scope="session")
def fit_labels(planted) -> Callable[[type, str], np.ndarray | None]:
    """``fit_labels(cls, modality)``: the ``y`` to pass to ``cls.fit`` on the planted data
    (``N_LABELLED`` labelled anomalies for weakly supervised detectors, else None)."""

    def labels(cls: type, modality: str) -> np.ndarray | None:
        return weak_labels(planted[modality][1]) if is_weakly_supervised_only(cls) else None

    return labels


@pytest.fixture(scope="session")
def fit_detector(planted, fit_labels) -> Callable[..., Any]:
    """``fit_detector(cls, modality, **params)``: a new detector with ``test_params``
    (+ ``random_state=0``) and ``params``, fitted on that modality's planted data; weakly
    supervised detectors get ``N_LABELLED`` labelled anomalies."""

    def fit(cls: type, modality: str, **params: Any) -> Any:
        detector = cls(**{**cls.test_params, "random_state": SEED, **params})
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
