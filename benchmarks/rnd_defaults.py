"""RND's defaults, chosen on the quick suite only (the rule in docs/decisions.md).

The ADBench protocol of the bench (``adbench_split``: min-max scaling fit on the training part,
unsupervised fit on ``X_train``, AUC-ROC on ``X_test``), seeds 0-2, one thread. Each variant of
``RND`` is fitted on every quick-suite dataset and seed; one JSON line per fit goes to
``benchmarks/results/rnd_defaults.jsonl``; ``report`` prints the mean AUC-ROC per variant.

    python benchmarks/rnd_defaults.py run 0,1,2   # variants by index
    python benchmarks/rnd_defaults.py report
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "benchmarks" / "results" / "rnd_defaults.jsonl"
VARIANTS: dict[str, dict] = {
    "epochs 50": {"epochs": 50},
    "epochs 10": {"epochs": 10},
    "epochs 20 (defaults)": {"epochs": 20},
    "epochs 30": {"epochs": 30},
    "lr 1e-3, epochs 20": {"lr": 1e-3, "epochs": 20},
    "no normalisation, epochs 50": {"normalize": False, "epochs": 50},
    "no clip, epochs 20": {"obs_clip": None, "epochs": 20},
    "predictor_layers 0, epochs 20": {"predictor_layers": 0, "epochs": 20},
    "hidden (128, 64), rep 64, epochs 20": {"hidden_dims": (128, 64), "rep_dim": 64,
                                            "epochs": 20},
}
"""Variants by name (every one names its epochs, so the rows do not change meaning when the
class defaults do); ``run INDICES`` fits the variants at those positions."""


def run(indices: list[int], seeds=(0, 1, 2)) -> None:
    from sklearn.metrics import roc_auc_score

    from deepad.bench.suites import QUICK
    from deepad.data.adbench import adbench_split, load_adbench
    from deepad.detectors import RND

    torch.set_num_threads(1)
    names = [list(VARIANTS)[i] for i in indices]
    with RAW.open("a") as out:
        for dataset in QUICK:
            X, y = load_adbench(dataset)
            for seed in seeds:
                split = adbench_split(X, y, seed)
                for name in names:
                    start = time.process_time()
                    det = RND(**VARIANTS[name], random_state=seed).fit(split.X_train)
                    cpu = time.process_time() - start
                    auc = roc_auc_score(split.y_test, det.decision_function(split.X_test))
                    row = {"variant": name, "dataset": dataset, "seed": seed,
                           "auc_roc": round(float(auc), 4), "fit_cpu_s": round(cpu, 2)}
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                    print(row, flush=True)


def report() -> None:
    rows = [json.loads(line) for line in RAW.read_text().splitlines()]
    for name in VARIANTS:
        mine = [r for r in rows if r["variant"] == name]
        if not mine:
            continue
        per = {}
        for r in mine:
            per.setdefault(r["dataset"], []).append(r["auc_roc"])
        means = {d: float(np.mean(v)) for d, v in per.items()}
        print(f"{name:28s} n={len(mine):2d} mean={np.mean(list(means.values())):.4f} "
              f"cpu={np.mean([r['fit_cpu_s'] for r in mine]):.1f}s  "
              + " ".join(f"{d.split('_', 1)[1][:7]}={m:.3f}" for d, m in means.items()))


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run([int(i) for i in sys.argv[2].split(",")])
    else:
        report()
