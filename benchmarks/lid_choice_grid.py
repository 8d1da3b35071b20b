"""Where Lee et al.'s choice lands for ``LID(k="auto", n_reference="auto")`` on the
Fashion-MNIST adversarial benchmark, for a given k and reference-size grid: the held-out-half
AUROC of every (reference size, k) pair on the fit half of an attack's detector data, as
``fit_detector`` computes it (``choice_auroc_``). The evaluation half is never scored, so this
asks only whether a wider grid would change the choice, not what the page would then show.

Same classifier, training subset, test images, attack and split as
benchmarks/adversarial_fashion.py (``--classifier-dir``); one thread.

    python benchmarks/lid_choice_grid.py fgsm-0.1 --ks 10,20,30,40,50,60,70,80,90,100,120,150,200
    python benchmarks/lid_choice_grid.py fgsm-0.1 --sizes 100,200,300,500,1000,2000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CLASSIFIER = ROOT / "benchmarks" / "results" / "fashion_classifier" / "classifier"
sys.path.insert(0, str(ROOT / "benchmarks"))
from adversarial_fashion import fashion_images  # noqa: E402  (the same seeded subsets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("attacks", help="comma-separated, e.g. fgsm-0.1,pgd-0.1")
    parser.add_argument("--ks", default=None, help="k grid (default: LID_KS)")
    parser.add_argument("--sizes", default=None, help="reference sizes (default: "
                                                      "LID_N_REFERENCES)")
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--n-test", type=int, default=1000)
    args = parser.parse_args()

    import deepad
    import deepad.detectors.related.adversarial as adversarial
    from deepad.detectors import LID

    torch.set_num_threads(1)
    if args.ks:
        adversarial.LID_KS = tuple(int(k) for k in args.ks.split(","))
    if args.sizes:
        adversarial.LID_N_REFERENCES = tuple(int(n) for n in args.sizes.split(","))
    # the seeded subsets of benchmarks/adversarial_fashion.py, drawn in the same order
    rng = np.random.default_rng(0)
    X_train, y_train, X_test, y_test = fashion_images(rng, args.n_train)
    subset = np.sort(rng.choice(len(X_test), args.n_test, replace=False))
    classifier = deepad.load(CLASSIFIER, device="cpu").classifier_
    for attack in args.attacks.split(","):
        kind, eps = attack.split("-")
        split = adversarial.adversarial_protocol(classifier, X_test[subset], y_test[subset],
                                                 kind, eps=float(eps), seed=0)
        det = LID(classifier=classifier, k="auto", n_reference="auto",
                  random_state=0).fit(X_train, y_train)
        det.fit_detector(split.X_fit, split.y_fit, groups=split.groups_fit)
        best: dict[int, tuple[float, int]] = {}
        for (size, k), auc in det.choice_auroc_.items():
            if size not in best or auc > best[size][0]:
                best[size] = (auc, k)
        print(f"{attack}: chosen batch {det.n_reference_}, k {det.k_}")
        for size, (auc, k) in best.items():
            ks = ", ".join(f"k {kk} {a:.3f}" for (s, kk), a in det.choice_auroc_.items()
                           if s == size)
            print(f"  batch {size}: best {auc:.3f} (k {k}); {ks}", flush=True)


if __name__ == "__main__":
    main()
