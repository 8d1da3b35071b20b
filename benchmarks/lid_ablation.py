"""Which of LID's representations carries the detection on the Fashion-MNIST adversarial
benchmark: the regression of ``LID`` (k 20, reference batch of 100, ``layers="auto"``) refitted
on subsets of its characteristics (without the input, without the softmax, only the layers
LID used before the input and the softmax joined, one representation alone) and with
standardised instead of min-max scaled characteristics; fit half → evaluation half of the
page's split (same classifier, images, attacks and seeds as benchmarks/adversarial_fashion.py).
Prints AUROCs; writes nothing.

    python benchmarks/lid_ablation.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER = ROOT / "benchmarks" / "results" / "fashion_classifier" / "classifier"
sys.path.insert(0, str(ROOT / "benchmarks"))
from adversarial_fashion import CW_OPTIONS, fashion_images  # noqa: E402


def main() -> None:
    import deepad
    from deepad.detectors import LID
    from deepad.detectors.related.adversarial import _regression, adversarial_protocol
    from deepad.metrics import auc_roc

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)  # the seeded subsets of adversarial_fashion.py, in order
    X_train, y_train, X_test, y_test = fashion_images(rng, 10000)
    subset = np.sort(rng.choice(len(X_test), 1000, replace=False))
    classifier = deepad.load(CLASSIFIER, device="cpu").classifier_
    det = LID(classifier=classifier, random_state=0).fit(X_train, y_train)
    for attack, eps, n in (("cw", None, 200), ("fgsm", 0.1, 1000)):
        split = adversarial_protocol(classifier, X_test[subset[:n]], y_test[subset[:n]], attack,
                                     eps=eps, seed=0,
                                     attack_options=CW_OPTIONS if attack == "cw" else None)
        z_fit = det._characteristics_in_chunks(torch.from_numpy(split.X_fit)).numpy()
        z_eval = det._characteristics_in_chunks(torch.from_numpy(split.X_eval)).numpy()
        columns = list(range(z_fit.shape[1]))  # input, the layers, softmax

        def auroc(cols, scaling, z_fit=z_fit, z_eval=z_eval, split=split):
            regression, offset, scale = _regression(z_fit[:, cols], split.y_fit, scaling)
            scores = regression.decision_function((z_eval[:, cols] - offset) / scale)
            return round(float(auc_roc(split.y_eval, scores)), 3)

        print(attack, eps, {
            "all, min-max": auroc(columns, "minmax"),
            "all, standardised": auroc(columns, "standard"),
            "without the input": auroc(columns[1:], "minmax"),
            "without the softmax": auroc(columns[:-1], "minmax"),
            "layers only (LID's earlier set)": auroc(columns[1:-1], "minmax"),
            "layers only, standardised": auroc(columns[1:-1], "standard"),
            "input alone": auroc(columns[:1], "minmax"),
            "softmax alone": auroc(columns[-1:], "minmax")}, flush=True)


if __name__ == "__main__":
    main()
