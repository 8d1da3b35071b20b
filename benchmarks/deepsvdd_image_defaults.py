"""DeepSVDD (or another image detector's) settings on Fashion-MNIST, compared on held-out
*training* images only (how the image defaults were chosen; the test split is never read).

For each normal class: 5,000 of its 6,000 training images (shuffled, seed 0) fit the
detector; the remaining 1,000 and 1,000 training images of the other nine classes form the
validation set (anomaly = another class). Prints the validation AUC-ROC per class and the
process CPU seconds of each ``fit``, for each setting given as JSON (keyword arguments of
the ``--detector``, DeepSVDD by default; ``{}`` = the defaults). One torch thread.

Usage::

    python benchmarks/deepsvdd_image_defaults.py '[{}, {"epochs": 10}]' --classes 0 6 4
    python benchmarks/deepsvdd_image_defaults.py '[{"epochs": 5}]' --detector AutoEncoder
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("settings", help="JSON list of the detector's keyword arguments")
    parser.add_argument("--detector", default="DeepSVDD", help="a deepad detector class")
    parser.add_argument("--classes", type=int, nargs="+", default=[0, 6, 4])
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = load_idx(DATA / "train-images-idx3-ubyte.gz")
    labels = load_idx(DATA / "train-labels-idx1-ubyte.gz")
    for params in json.loads(args.settings):
        aucs, seconds = [], []
        for normal in args.classes:
            fit, validation, y = split(images, labels, normal)
            start = time.process_time()
            detector = getattr(deepad, args.detector)(random_state=0, **params).fit(fit)
            seconds.append(time.process_time() - start)
            aucs.append(auc_roc(y, detector.decision_function(validation)))
        print(f"{args.detector} {params}: AUC-ROC {np.round(aucs, 3).tolist()} "
              f"(mean {np.mean(aucs):.3f}), fit CPU s {np.round(seconds, 1).tolist()}", flush=True)


if __name__ == "__main__":
    main()
