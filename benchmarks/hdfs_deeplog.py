"""DeepLog on HDFS log-key sessions (the DeepLog preprocessing of HDFS_v1).

Generates ``docs/results/hdfs_deeplog.md``, never typed by hand.

Protocol (``deepad.data.logs.hdfs_deeplog_split``): the normal test file of the DeepLog
preprocessing is not in the shared copy, so 20 % of the 4,855 normal training sessions
(seeded) are held out as normal test sessions; the 16,838 abnormal sessions are the
anomalies. DeepLog is fitted on the other 80 % (normal only) with its defaults, the seed as
``random_state``. Reported: precision / recall / F1 of ``predict`` (the paper's top-g rule,
``contamination=None``), also with the precision re-weighted to the paper's 553,366 normal
test sessions (expected false positives = the held-out false-positive rate x 553,366), the
AUC-ROC / AUC-PR of the continuous score, fit and scoring seconds; the same rule for every
``g`` (a threshold at ``g`` on the same scores, no refit); recall by kind of abnormal session.

Usage::

    python benchmarks/hdfs_deeplog.py                      # seeds 0 1 2, defaults
    python benchmarks/hdfs_deeplog.py --device cuda --timing-device cpu --threads 4
    python benchmarks/hdfs_deeplog.py --seeds 0 --param epochs=1 --out /tmp/smoke.md
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import deepad
from deepad import DeepLog
from deepad.data.logs import hdfs_deeplog_split
from deepad.metrics import auc_pr, auc_roc

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "logs" / "hdfs_deeplog"
OUT = ROOT / "docs" / "results" / "hdfs_deeplog.md"
PAPER_NORMAL_TEST = 553_366  # normal test sessions of the paper (and of hdfs_test_normal)
PAPER = {"precision": 0.95, "recall": 0.96, "f1": 0.96}  # Du et al. 2017, HDFS, Sec. 5.1
G_SWEEP = range(1, 10)


def rule_metrics(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    fpr = fp / max(int((y == 0).sum()), 1)
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    # the paper's test set: the same rates, 553,366 normal sessions
    expected_fp = fpr * PAPER_NORMAL_TEST
    precision_hdfs = tp / max(tp + expected_fp, 1e-12)
    return {"tp": tp, "fp": fp, "fn": fn, "fpr": fpr, "precision": precision, "recall": recall,
            "f1": f1(precision, recall), "precision_hdfs": precision_hdfs,
            "f1_hdfs": f1(precision_hdfs, recall)}


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def run(seed: int, params: dict, data: Path, holdout: float) -> dict:
    split = hdfs_deeplog_split(data, holdout=holdout, random_state=seed)
    detector = DeepLog(**{"random_state": seed, **params})
    start = time.perf_counter()
    detector.fit(split.train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    scores = detector.decision_function(split.test)
    score_s = time.perf_counter() - start
    y = split.y_test
    pred = (scores > detector.threshold_).astype(np.int64)  # = detector.predict(split.test)
    seen = set(detector.keys_.tolist())
    abnormal = [s for s, label in zip(split.test, y, strict=True) if label == 1]
    flagged = pred[y == 1] == 1
    unseen = np.array([not set(s.tolist()) <= seen for s in abnormal])
    short = np.array([len(s) <= detector.window_size for s in abnormal])
    kinds = {"a key never seen in training": unseen,
             f"only known keys, at most h = {detector.window_size} events": ~unseen & short,
             f"only known keys, more than {detector.window_size} events": ~unseen & ~short}
    return {
        "seed": seed, "n_train": len(split.train), "n_normal_test": int((y == 0).sum()),
        "n_abnormal_test": int(y.sum()), "fit_s": fit_s, "score_s": score_s,
        "epochs_run": len(detector.history_), "final_loss": detector.history_[-1]["loss"],
        "threshold": detector.threshold_, "auc_roc": auc_roc(y, scores),
        "auc_pr": auc_pr(y, scores),
        **rule_metrics(pred, y),
        "sweep": {g: rule_metrics((scores > g).astype(np.int64), y) for g in G_SWEEP},
        "kinds": {name: (int(mask.sum()), float(flagged[mask].mean()) if mask.any() else 0.0)
                  for name, mask in kinds.items()},
        "device": str(detector.device_),
    }


def machine() -> str:
    gpu = f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (f"{platform.machine()}{gpu}, {torch.get_num_threads()} torch threads, "
            f"torch {torch.__version__}, deepad {deepad.__version__}, "
            f"{datetime.now(timezone.utc):%Y-%m-%d}")


def mean(rows: list[dict], key: str) -> float:
    return float(np.mean([row[key] for row in rows]))


def render(rows: list[dict], params: dict, command: str, holdout: float,
           timing: dict | None) -> str:
    first = rows[0]
    lines = [
        "# DeepLog on HDFS log-key sessions", "",
        f"Generated by `{command}` on {machine()}; device {first['device']}.", "",
        "Data: the HDFS_v1 sessions (one per block) preprocessed into log keys for DeepLog "
        "(`wuyifan18/DeepLog`, `../shared/datasets/logs/hdfs_deeplog`). The normal test file "
        f"is not in the shared copy, so {holdout:.0%} of the 4,855 normal training sessions "
        "(seeded by the run's seed) are held out as normal test sessions "
        "(`deepad.data.logs.hdfs_deeplog_split`); every one of the 16,838 abnormal sessions is "
        f"a test anomaly. DeepLog is fitted on the other {first['n_train']:,} normal sessions "
        f"with its defaults{' and ' + json.dumps(params) if params else ''} "
        "(window h = 10, 2 x 64 LSTM, g = 9, one-hot keys, end-of-session key); the seed is "
        "its `random_state`.", "",
        "`predict` is the paper's rule (`contamination=None`: a session is anomalous when one "
        "of its keys, or its end, is not among the g most likely). With "
        f"{first['n_normal_test']:,} normal against {first['n_abnormal_test']:,} abnormal test "
        "sessions the raw precision is inflated; *P@HDFS* re-weights it to the paper's test "
        f"set: {PAPER_NORMAL_TEST:,} normal sessions at the held-out false-positive rate "
        "(`TP / (TP + FPR x 553,366)`). The paper (Du et al., CCS 2017, HDFS) reports "
        f"P {PAPER['precision']:.2f}, R {PAPER['recall']:.2f}, F1 {PAPER['f1']:.2f}.", "",
        "| seed | P | R | F1 | FP / normal | FPR | P@HDFS | F1@HDFS | AUC-ROC | AUC-PR | fit s "
        "| score s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['seed']} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} "
            f"| {row['fp']} / {row['n_normal_test']} | {row['fpr']:.4f} "
            f"| {row['precision_hdfs']:.3f} | {row['f1_hdfs']:.3f} | {row['auc_roc']:.4f} "
            f"| {row['auc_pr']:.4f} | {row['fit_s']:.1f} | {row['score_s']:.1f} |")
    keys = ["precision", "recall", "f1", "fpr", "precision_hdfs", "f1_hdfs", "auc_roc", "auc_pr",
            "fit_s", "score_s"]
    m = {k: mean(rows, k) for k in keys}
    lines.append(
        f"| mean | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | | "
        f"{m['fpr']:.4f} | {m['precision_hdfs']:.3f} | {m['f1_hdfs']:.3f} | {m['auc_roc']:.4f} "
        f"| {m['auc_pr']:.4f} | {m['fit_s']:.1f} | {m['score_s']:.1f} |")
    if timing is not None:
        lines += ["", f"The same fit of seed {timing['seed']} on {timing['device']} "
                  f"({torch.get_num_threads()} torch threads): fit {timing['fit_s']:.1f} s, "
                  f"scoring the {first['n_normal_test'] + first['n_abnormal_test']:,} test "
                  f"sessions {timing['score_s']:.1f} s; AUC-ROC {timing['auc_roc']:.4f}, "
                  f"P {timing['precision']:.3f}, R {timing['recall']:.3f}."]
    lines += [
        "", "## The rule for every g", "",
        "A session is flagged when its score exceeds g (some key, or its end, outside the top "
        "g): the same fitted models and scores, means over the seeds.", "",
        "| g | P | R | F1 | FPR | P@HDFS | F1@HDFS |", "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for g in G_SWEEP:
        s = {k: float(np.mean([row["sweep"][g][k] for row in rows]))
             for k in ("precision", "recall", "f1", "fpr", "precision_hdfs", "f1_hdfs")}
        lines.append(f"| {g} | {s['precision']:.3f} | {s['recall']:.3f} | {s['f1']:.3f} | "
                     f"{s['fpr']:.4f} | {s['precision_hdfs']:.3f} | {s['f1_hdfs']:.3f} |")
    lines += ["", "## Recall of the default rule by kind of abnormal session", "",
              "| abnormal sessions with | sessions | recall (mean over seeds) |",
              "|---|---:|---:|"]
    for name, (count, _) in first["kinds"].items():
        recall = float(np.mean([row["kinds"][name][1] for row in rows]))
        lines.append(f"| {name} | {count:,} | {recall:.3f} |")
    lines += ["", f"Training: {first['epochs_run']} epochs, final mean loss "
              f"{mean(rows, 'final_loss'):.4f} (cross-entropy per event).", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--device", default=None, help="DeepLog's device (default: its own)")
    parser.add_argument("--timing-device", default=None,
                        help="also fit the first seed on this device and report its seconds")
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--param", action="append", default=[],
                        help="a DeepLog hyperparameter as name=json-value (repeatable)")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    params = {name: json.loads(value) for name, value in
              (item.split("=", 1) for item in args.param)}
    if args.device:
        params["device"] = args.device
    rows = []
    for seed in args.seeds:
        rows.append(run(seed, params, args.data, args.holdout))
        row = rows[-1]
        print(f"seed {seed}: P {row['precision']:.3f} R {row['recall']:.3f} F1 {row['f1']:.3f} "
              f"AUC-ROC {row['auc_roc']:.4f} fit {row['fit_s']:.1f}s", flush=True)
    timing = None
    if args.timing_device:
        timing = run(args.seeds[0], {**params, "device": args.timing_device}, args.data,
                     args.holdout)
        print(f"{args.timing_device}: fit {timing['fit_s']:.1f}s", flush=True)
    command = "python benchmarks/hdfs_deeplog.py " + " ".join(
        [f"--seeds {' '.join(map(str, args.seeds))}"]
        + ([f"--device {args.device}"] if args.device else [])
        + ([f"--timing-device {args.timing_device}"] if args.timing_device else [])
        + ([f"--threads {args.threads}"] if args.threads else [])
        + [f"--param {p}" for p in args.param])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, {k: v for k, v in params.items() if k != "device"},
                               command.strip(), args.holdout, timing))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
