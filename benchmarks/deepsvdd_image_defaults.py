"""DeepSVDD (or another image detector's) settings on Fashion-MNIST, compared on held-out
*training* images only (how the image defaults were chosen; the test split is never read).

For each normal class: 5,000 of its 6,000 training images (shuffled, seed 0) fit the
detector; the remaining 1,000 and 1,000 training images of the other nine classes form the
validation set (anomaly = another class). Prints the validation AUC-ROC per class and the
process CPU seconds of each ``fit``, for each setting given as JSON (keyword arguments of
the ``--detector``, DeepSVDD by default; ``{}`` = the defaults). One torch thread.
``--detector pyod:Name`` fits a PyOD detector on the same split, each image one row of 784
pixels divided by 255 (as the bench gives them; pyod on ``PYTHONPATH``); ``--rows`` gives a
deepad detector the same rows (its tabular network) instead of images.

Usage::

    python benchmarks/deepsvdd_image_defaults.py '[{}, {"epochs": 10}]' --classes 0 6 4
    python benchmarks/deepsvdd_image_defaults.py '[{"epochs": 5}]' --detector AutoEncoder
    PYTHONPATH=../peers python benchmarks/deepsvdd_image_defaults.py '[{"verbose": 0}]' \
        --detector pyod:AutoEncoder
    python benchmarks/deepsvdd_image_defaults.py '[{"epochs": 10}]' --detector AutoEncoder \
        --rows --standardize
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import deepad
from deepad.data.images import load_idx
from deepad.metrics import auc_roc

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "images" / "fashion_mnist"


def split(images: np.ndarray, labels: np.ndarray, normal: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    same = rng.permutation(np.flatnonzero(labels == normal))
    other = rng.permutation(np.flatnonzero(labels != normal))
    validation = np.r_[same[5000:], other[:1000]]
    y = np.r_[np.zeros(len(same) - 5000), np.ones(1000)]
    return images[same[:5000]], images[validation], y


def _rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.float32) / 255


def _standardiser(fit: np.ndarray):
    """Flattened pixels z-scored with the fit images' per-pixel mean and deviation."""
    mean, std = _rows(fit).mean(axis=0), _rows(fit).std(axis=0) + 1e-8

    def prepare(x: np.ndarray) -> np.ndarray:
        return (_rows(x) - mean) / std

    return prepare


def make(name: str, params: dict, rows: bool = False):
    """``(detector, input transform)``: a deepad class on the uint8 images (on flattened
    pixels in [0, 1] with ``rows``), or a PyOD class on flattened pixels in [0, 1]."""
    if name.startswith("pyod:"):
        import importlib

        package, cls = name[5:], None
        for module in ("pyod.models.auto_encoder", "pyod.models.deep_svdd"):
            cls = getattr(importlib.import_module(module), package, None) or cls
        if cls is None:
            msg = f"unknown PyOD detector {name!r}"
            raise ValueError(msg)
        names = cls.__init__.__code__.co_varnames
        kwargs = {"random_state": 0} if "random_state" in names else {}
        if "n_features" in names and "n_features" not in params:  # PyOD's DeepSVDD needs it
            kwargs["n_features"] = 784
        return cls(**kwargs, **params), _rows
    return getattr(deepad, name)(random_state=0, **params), _rows if rows else (lambda x: x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("settings", help="JSON list of the detector's keyword arguments")
    parser.add_argument("--detector", default="DeepSVDD", help="a deepad detector class")
    parser.add_argument("--classes", type=int, nargs="+", default=[0, 6, 4])
    parser.add_argument("--rows", action="store_true",
                        help="give a deepad detector flattened pixels in [0, 1] (its row path)")
    parser.add_argument("--standardize", action="store_true",
                        help="with --rows: z-score each pixel with the fit images' mean and "
                             "standard deviation (what PyOD's preprocessing=True does)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = load_idx(DATA / "train-images-idx3-ubyte.gz")
    labels = load_idx(DATA / "train-labels-idx1-ubyte.gz")
    for params in json.loads(args.settings):
        aucs, seconds = [], []
        for normal in args.classes:
            fit, validation, y = split(images, labels, normal)
            detector, prepare = make(args.detector, params, args.rows)
            if args.standardize:
                prepare = _standardiser(fit)
            start = time.process_time()
            detector.fit(prepare(fit))
            seconds.append(time.process_time() - start)
            aucs.append(auc_roc(y, detector.decision_function(prepare(validation))))
        name = args.detector + (" (rows)" if args.rows else "") + (
            " (standardised)" if args.standardize else "")
        print(f"{name} {params}: AUC-ROC {np.round(aucs, 3).tolist()} "
              f"(mean {np.mean(aucs):.3f}), fit CPU s {np.round(seconds, 1).tolist()}", flush=True)


if __name__ == "__main__":
    main()
