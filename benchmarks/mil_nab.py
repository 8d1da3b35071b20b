"""MILRanking on real series with bag-level labels: the NAB series.

The shared data hold no bag-labelled videos, so the multiple-instance setting of Sultani et
al. (CVPR 2018) is rebuilt from NAB, whose anomalies are labelled as windows of time:

- every NAB series with an anomaly (53) is standardised with the mean and standard
  deviation of its first 15 % (NAB's probationary period) and cut into windows of 32 steps,
  stride 8 (the instances, like the paper's video segments);
- the first half of each series trains: its windows, in temporal order, form bags of 32
  consecutive windows (the paper's 32 segments per video; each series' windows are trimmed to
  whole bags, so no bag spans two series), and a bag is anomalous when any of its windows
  touches a labelled anomaly. Only that bag label is used;
- the second half is scored window by window, windows mapped to points
  (:func:`deepad.data.window_scores_to_points`), point-wise AUC-ROC and AUC-PR per series
  with an anomaly in it, averaged per NAB category.

Compared in the same protocol: DevNet given the same information the naive way (every window
of an anomalous bag labelled as an anomaly) and scikit-learn's IsolationForest on the
flattened windows (no labels). Model seeds from ``--seeds`` (default 0; the data split is
fixed): one MILRanking fit at the defaults is 1,000 steps over 1,920 windows each, about 15
minutes of one CPU thread. Output: ``docs/results/mil_nab.md``.

    DEEPAD_DATA_DIR=../shared/datasets/timeseries python benchmarks/mil_nab.py [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score

import deepad
from deepad.data import load_nab, sliding_windows, window_labels, window_scores_to_points
from deepad.data.adbench import data_dirs

OUT = Path(__file__).resolve().parents[1] / "docs" / "results" / "mil_nab.md"
WINDOW, STRIDE, BAG = 32, 8, 32
DETECTORS = ("MILRanking", "DevNet (bag labels on every window)", "IsolationForest")


def nab_names() -> list[str]:
    for folder in data_dirs():
        for data in (folder / "nab" / "data", folder / "data"):
            if data.is_dir():
                return sorted(f"{path.parent.name}/{path.stem}"
                              for path in data.glob("*/*.csv")
                              if path.parent.name != "artificialNoAnomaly")
    msg = "No NAB folder under the data folders; set DEEPAD_DATA_DIR to the timeseries folder."
    raise FileNotFoundError(msg)


def prepare(name: str) -> dict:
    data = load_nab(name)
    values = np.r_[data.train, data.test]
    labels = np.r_[data.y_train, data.y_test]
    probation = values[: len(data.train)]
    values = (values - probation.mean(0)) / (probation.std(0) + 1e-8)
    half = len(values) // 2
    train = sliding_windows(values[:half], WINDOW, STRIDE)
    train_y = window_labels(labels[:half], WINDOW, STRIDE)
    whole = len(train) // BAG * BAG  # whole bags only: no bag spans two series
    return {"name": name, "category": name.split("/")[0], "train": train[:whole],
            "train_y": train_y[:whole], "test": sliding_windows(values[half:], WINDOW, STRIDE),
            "test_points": labels[half:]}


def bag_labels_on_windows(y: np.ndarray) -> np.ndarray:
    """Every window of a bag with an anomalous window gets label 1."""
    bags = y.reshape(-1, BAG).max(axis=1)
    return np.repeat(bags, BAG)


def fit_and_score(detector: str, X: np.ndarray, y: np.ndarray, seed: int, tests: list) -> list:
    if detector == "MILRanking":
        model = deepad.MILRanking(bag_size=BAG, random_state=seed).fit(X, y)
        score = model.decision_function
    elif detector.startswith("DevNet"):
        model = deepad.DevNet(random_state=seed).fit(X, bag_labels_on_windows(y))
        score = model.decision_function
    else:
        model = IsolationForest(random_state=seed).fit(X.reshape(len(X), -1))
        def score(windows):
            return -model.score_samples(windows.reshape(len(windows), -1))
    return [score(t) for t in tests]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="model seeds, comma-separated")
    seeds = [int(seed) for seed in parser.parse_args().seeds.split(",")]
    torch.set_num_threads(1)
    series = [prepare(name) for name in nab_names()]
    X = np.concatenate([s["train"] for s in series]).astype(np.float32)
    y = np.concatenate([s["train_y"] for s in series])
    n_bags, n_anomalous = len(y) // BAG, int(y.reshape(-1, BAG).max(axis=1).sum())
    evaluated = [s for s in series if s["test_points"].any()]
    results = defaultdict(lambda: defaultdict(list))  # detector → category → (roc, pr)
    cpu = defaultdict(list)
    for detector in DETECTORS:
        for seed in seeds:
            start = time.process_time()
            scores = fit_and_score(detector, X, y, seed,
                                   [s["test"].astype(np.float32) for s in evaluated])
            cpu[detector].append(time.process_time() - start)
            for s, window_scores in zip(evaluated, scores, strict=True):
                points = window_scores_to_points(window_scores, len(s["test_points"]), WINDOW,
                                                 STRIDE)
                metrics = (roc_auc_score(s["test_points"], points),
                           average_precision_score(s["test_points"], points))
                results[detector][s["category"]].append(metrics)
                results[detector]["all"].append(metrics)
        print(detector, np.mean(results[detector]["all"], axis=0), flush=True)
    categories = sorted({s["category"] for s in evaluated}) + ["all"]
    counts = {c: sum(s["category"] == c for s in evaluated) for c in categories[:-1]}
    counts["all"] = len(evaluated)
    lines = ["# MILRanking on NAB with bag-level labels", "",
             "Generated by `python benchmarks/mil_nab.py` (protocol in its docstring): "
             f"{len(series)} NAB series with anomalies, windows of {WINDOW} (stride {STRIDE}), "
             f"first halves train as {n_bags:,} bags of {BAG} windows ({n_anomalous} anomalous, "
             "bag labels only), second halves scored point-wise; the "
             f"{len(evaluated)} series with an anomaly in their second half are evaluated. "
             f"Seeds {', '.join(map(str, seeds))}, defaults, one torch thread "
             f"({platform.machine()}, torch {torch.__version__}). "
             "Cells: mean AUC-ROC / AUC-PR over series and seeds.", "",
             "| category (series) | " + " | ".join(DETECTORS) + " |",
             "|---|" + "---|" * len(DETECTORS)]
    for category in categories:
        cells = []
        for detector in DETECTORS:
            roc, pr = np.mean(results[detector][category], axis=0)
            cells.append(f"{roc:.3f} / {pr:.3f}")
        lines.append(f"| {category} ({counts[category]}) | " + " | ".join(cells) + " |")
    lines.append("| median fit CPU s | " + " | ".join(f"{np.median(cpu[d]):.1f}"
                                                     for d in DETECTORS) + " |")
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
