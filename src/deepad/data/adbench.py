"""ADBench tabular datasets and ADBench's evaluation protocol.

Han, Hu, Huang, Jiang & Zhao, "ADBench: Anomaly Detection Benchmark", NeurIPS 2022 Datasets
and Benchmarks; the protocol follows ``DataGenerator.generator`` of the authors' release:
resample small sets to 1,000 rows and subsample large ones to 10,000, stratified shuffled
70/30 split, MinMax scaling fitted on the training part, optional labelled anomalies.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from deepad.data import robustness
from deepad.data.download import cache_dir, download_adbench, known_adbench_name

SMALL_ROWS = 1_000


def data_dirs() -> list[Path]:
    """Where ADBench files are looked up by name: ``$DEEPAD_DATA_DIR`` (``os.pathsep``
    separated), then the download cache (``$DEEPAD_CACHE_DIR`` or ``~/.cache/deepad``)."""
    dirs = [Path(p) for p in os.environ.get("DEEPAD_DATA_DIR", "").split(os.pathsep) if p]
    return [*dirs, cache_dir()]


def missing_data_dirs() -> list[Path]:
    """The folders ``$DEEPAD_DATA_DIR`` names that do not exist (a typo, an unmounted disk):
    error messages name them rather than saying only that nothing was found."""
    return [Path(p) for p in os.environ.get("DEEPAD_DATA_DIR", "").split(os.pathsep)
            if p and not Path(p).is_dir()]


def find_adbench(name: str) -> Path:
    """Path of ADBench dataset ``name`` ("6_cardio" or "cardio", case-insensitive)."""
    wanted = name.lower().removesuffix(".npz")
    for directory in data_dirs():
        for path in sorted(directory.rglob("*.npz")) if directory.is_dir() else []:
            stem = path.stem.lower()
            if stem == wanted or stem.split("_", 1)[-1] == wanted:
                return path
    searched = ", ".join(str(d) for d in data_dirs())
    missing = missing_data_dirs()
    where = (f" ($DEEPAD_DATA_DIR names {', '.join(map(str, missing))}, which does not exist: "
             "check the path)" if missing else "")
    msg = (f"ADBench dataset {name!r} not found in {searched}{where}. Put its .npz file (e.g. "
           f"6_cardio.npz from github.com/Minqi824/ADBench, folder adbench/datasets/Classical) in "
           "one of these folders or set DEEPAD_DATA_DIR.")
    raise FileNotFoundError(msg)


def load_adbench(name_or_path: str | Path,
                 download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of an ADBench ``.npz`` file given by path or by name.

    A name is looked up in :func:`data_dirs`; when it is not there, ``download`` is true and
    the name has a recorded checksum, the file is fetched into the cache and
    verified first (:func:`deepad.data.download.download_adbench`; ``ConnectionError``
    offline, with where to put the file). X is float64 (n_samples, n_features); y is int64
    with 1 = anomaly.
    """
    path = Path(name_or_path)
    if not path.is_file():
        if path.suffix == ".npz" and (path.is_absolute() or len(path.parts) > 1):
            msg = f"No such ADBench file: {path}"
            raise FileNotFoundError(msg)
        try:
            path = find_adbench(str(name_or_path))
        except FileNotFoundError:
            if not download or known_adbench_name(str(name_or_path)) is None:
                raise
            path = download_adbench(str(name_or_path))
    try:
        with np.load(path, allow_pickle=False) as data:
            X, y = data["X"], data["y"]
    except (KeyError, ValueError, OSError) as error:
        msg = f"{path} is not an ADBench .npz file with arrays 'X' and 'y' ({error})."
        raise ValueError(msg) from error
    if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
        msg = f"{path}: expected X (n, d) and y (n,), got {X.shape} and {y.shape}."
        raise ValueError(msg)
    return X.astype(np.float64), y.astype(np.int64)


@dataclass
class Split:
    """Train / test arrays of one protocol run. ``y_semi`` marks the labelled training
    anomalies (1) among unlabelled rows (0); ``y_train`` holds the true training labels."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    y_semi: np.ndarray


def adbench_split(X: np.ndarray, y: np.ndarray, seed: int, *, test_size: float = 0.3,
                  max_rows: int = 10_000, scale: str | None = "minmax",
                  labeled_anomalies: float | int | None = None, at_least_one: bool = False,
                  resample_small: bool = True, irrelevant_features: float = 0.0,
                  duplicate_anomalies: float = 1.0, label_noise: float | tuple[float, float] = 0.0,
                  train_contamination: float = 1.0) -> Split:
    """ADBench's data generator, reproduced draw for draw with a ``RandomState(seed)``.

    - fewer than 1,000 rows: resampled with replacement to 1,000 (``resample_small``); this
      inflates scores because duplicates land on both sides of the split;
    - more than ``max_rows``: subsampled without replacement;
    - stratified shuffled split; scaler (``"minmax"``, ``"standard"`` or None) fit on train;
    - ``labeled_anomalies``: a float is a ratio of the training anomalies (``int(r·n)``, or
      ``ceil(r·n)`` with ``at_least_one``), an int an absolute count.

    Robustness settings (ADBench section 4.4, :mod:`deepad.data.robustness`), applied in
    ADBench's order and drawing from the same generator only when switched on, so the
    defaults give exactly ADBench's split:

    - ``irrelevant_features``: share of uniform-noise columns added before the split;
    - ``duplicate_anomalies``: anomalies redrawn ``times`` over before the split (> 1);
    - ``label_noise``: annotation errors in the training labels, a ratio for both classes or
      ``(normal_ratio, anomaly_ratio)``; labelled anomalies are drawn from the noisy labels
      (so some may be normal rows), while ``y_train`` keeps the true labels;
    - ``train_contamination``: fraction of the unlabelled training anomalies kept (0 gives a
      clean normal training set, the one-class setting).
    """
    rng = np.random.RandomState(seed)
    if resample_small and len(y) < SMALL_ROWS:
        idx = rng.choice(np.arange(len(y)), SMALL_ROWS, replace=True)
        X, y = X[idx], y[idx]
    if len(y) > max_rows:
        idx = rng.choice(np.arange(len(y)), max_rows, replace=False)
        X, y = X[idx], y[idx]
    if duplicate_anomalies > 1:
        X, y = robustness.duplicate_anomalies(X, y, duplicate_anomalies, rng)
    if irrelevant_features:
        X = robustness.add_irrelevant_features(X, irrelevant_features, rng)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, shuffle=True, stratify=y, random_state=rng)
    if scale is not None:
        scaler = {"minmax": MinMaxScaler, "standard": StandardScaler}[scale]().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    observed = y_train
    if label_noise:
        normal_ratio, anomaly_ratio = (label_noise if isinstance(label_noise, tuple)
                                       else (label_noise, label_noise))
        observed = robustness.flip_labels(y_train, normal_ratio, anomaly_ratio, rng)
    y_semi = np.zeros_like(y_train)
    if labeled_anomalies is not None:
        anomalies = np.flatnonzero(observed == 1)
        if isinstance(labeled_anomalies, float):
            k = labeled_anomalies * len(anomalies)
            k = math.ceil(k) if at_least_one else int(k)
        else:
            k = int(labeled_anomalies)
        if k > len(anomalies):
            msg = (f"labeled_anomalies asks for {k} labelled anomalies; the train part has "
                   f"{len(anomalies)}.")
            raise ValueError(msg)
        y_semi[rng.choice(anomalies, k, replace=False)] = 1
    if train_contamination < 1.0:
        keep = robustness.keep_unlabelled_anomalies(y_train, y_semi, train_contamination, rng)
        X_train, y_train, y_semi = X_train[keep], y_train[keep], y_semi[keep]
    return Split(X_train, y_train, X_test, y_test, y_semi)
