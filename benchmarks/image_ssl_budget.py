"""GEOM and GOAD on Fashion-MNIST at a CPU budget: backbone throughput, and defaults chosen on
the TRAINING split only.

Generates ``docs/results/image_ssl_budget.md`` from the rows it appends to
``docs/results/image_ssl_budget.jsonl``; never typed by hand.

Three commands:

- ``throughput``: training and scoring views per CPU second of the candidate classifiers
  (the conv CNN 16-32-64, its DCGAN-style strided variant, WRN-10-k) on 28 x 28 views,
  batches of 8 images x 72 transformations, ``torch.set_num_threads(--threads)``.
- ``validate``: a detector with given parameters on the *validation* split of a normal
  class, built from Fashion-MNIST's training images only: the class's 6,000 training images
  are shuffled with the seed, ``--n-val`` of them are held out as normal validation images,
  the rest train; ``--n-anomalies`` training images of each other class are the validation
  anomalies. The test split is never read: defaults are chosen on these rows.
- ``test``: the Ruff et al. protocol (train = the class's 6,000 training images, test = all
  10,000 test images) with the detector's defaults, for a sanity check of one or two classes
  once the defaults are chosen (the full 10-class table is the bench suite's
  ``fashion-oneclass``).
- ``render``: the page from the stored rows.

Pixels are scaled to [0, 1] (deepad's uint8 rule), images kept at 28 x 28 (the release pads
to 32 x 32; at 28 pixels GEOM's "auto" shift is 7 pixels, a quarter of the side as the
paper's 8 of 32). Times are CPU seconds of this process (all threads) and wall seconds; the
machine is shared, so wall seconds overstate an idle machine's.

Usage::

    python benchmarks/image_ssl_budget.py throughput
    python benchmarks/image_ssl_budget.py validate --detector GEOM --label conv-e1 \\
        --params '{"epochs": 1}' --classes 2 6
    python benchmarks/image_ssl_budget.py validate --detector GOAD --label dcgan-e1-fit1000 \\
        --params '{"epochs": 1}' --classes 2 --threads 1 --n-fit 1000 --n-val 500 \\
        --n-anomalies 100
    python benchmarks/image_ssl_budget.py test --detector GEOM --classes 0
    python benchmarks/image_ssl_budget.py render
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import deepad
from deepad.data.images import load_fashion_mnist
from deepad.data.spec import InputSpec
from deepad.metrics import auc_pr, auc_roc
from deepad.nets import build_backbone

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "images" / "fashion_mnist"
STORE = ROOT / "docs" / "results" / "image_ssl_budget.jsonl"
OUT = ROOT / "docs" / "results" / "image_ssl_budget.md"
CANDIDATES = [("conv", (16, 32, 64)), ("conv", (8, 16, 32)), ("dcgan", (16, 32, 64)),
              ("dcgan", (32, 64, 128)), ("wrn", (16, 32, 64)), ("wrn", (32, 64, 128)),
              ("wrn", (64, 128, 256))]


def _environment(threads: int) -> dict:
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M"), "threads": threads,
            "torch": torch.__version__, "deepad": deepad.__version__,
            "machine": platform.machine(), "load_1min": round(os.getloadavg()[0], 1)}


def _append(row: dict) -> None:
    with STORE.open("a") as handle:
        handle.write(json.dumps(row) + "\n")


def _images(x: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28) → float32 (n, 1, 28, 28) in [0, 1]."""
    return (x.astype(np.float32) / 255.0)[:, None]


# ---------------------------------------------------------------------------- throughput
def throughput(args: argparse.Namespace) -> None:
    spec = InputSpec("image", 1, height=28, width=28)
    views = 8 * 72
    for kind, widths in CANDIDATES:
        torch.manual_seed(0)
        net = build_backbone(spec, hidden_dims=widths, out_dim=72, kind=kind, batch_norm=True)
        optimizer = torch.optim.Adam(net.parameters())
        x = torch.rand(views, 1, 28, 28).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 72, (views,))

        def step(net=net, optimizer=optimizer, x=x, y=y) -> None:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            optimizer.step()

        step()
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(args.steps):
            step()
        train_cpu = args.steps * views / (time.process_time() - cpu)
        train_wall = args.steps * views / (time.perf_counter() - wall)
        net.eval()
        with torch.no_grad():
            net(x)
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(args.steps):
                net(x)
        eval_cpu = args.steps * views / (time.process_time() - cpu)
        eval_wall = args.steps * views / (time.perf_counter() - wall)
        row = {"kind": "throughput", "backbone": kind, "widths": list(widths),
               "params": sum(p.numel() for p in net.parameters()),
               "train_views_cpu_s": round(train_cpu), "eval_views_cpu_s": round(eval_cpu),
               "train_views_wall_s": round(train_wall), "eval_views_wall_s": round(eval_wall),
               **_environment(args.threads)}
        print(row, flush=True)
        _append(row)


# ---------------------------------------------------------------------------- AUC runs
def validation_split(normal: int, seed: int, n_val: int,
                     n_anomalies: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training images only: (fit images, validation images, validation labels 1 = anomaly)."""
    data = load_fashion_mnist("train", DATA)
    rng = np.random.default_rng(seed)
    own = rng.permutation(np.flatnonzero(data.labels == normal))
    others = np.concatenate([rng.choice(np.flatnonzero(data.labels == c), n_anomalies,
                                        replace=False) for c in range(10) if c != normal])
    X_val = _images(data.images[np.r_[own[:n_val], others]])
    y_val = np.r_[np.zeros(n_val, dtype=np.int64), np.ones(len(others), dtype=np.int64)]
    return _images(data.images[own[n_val:]]), X_val, y_val


def test_split(normal: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Ruff et al. protocol: the class's training images; all test images."""
    train, test = load_fashion_mnist("train", DATA), load_fashion_mnist("test", DATA)
    return (_images(train.images[train.labels == normal]), _images(test.images),
            (test.labels != normal).astype(np.int64))


def evaluate(args: argparse.Namespace, split: str) -> None:
    cls = deepad.get_detector(args.detector)
    params = json.loads(args.params)
    for normal in args.classes:
        for seed in args.seeds:
            if split == "validation":
                X_fit, X_eval, y_eval = validation_split(normal, seed, args.n_val,
                                                         args.n_anomalies)
                if args.n_fit:  # a CPU budget: the first n_fit of the shuffled fit images
                    X_fit = X_fit[:args.n_fit]
            else:
                X_fit, X_eval, y_eval = test_split(normal)
            env = _environment(args.threads)
            detector = cls(**params, random_state=seed)
            cpu, wall = time.process_time(), time.perf_counter()
            detector.fit(X_fit)
            fit_cpu, fit_wall = time.process_time() - cpu, time.perf_counter() - wall
            cpu, wall = time.process_time(), time.perf_counter()
            scores = detector.decision_function(X_eval)
            score_cpu, score_wall = time.process_time() - cpu, time.perf_counter() - wall
            row = {"kind": split, "detector": args.detector, "label": args.label,
                   "params": params, "class": normal, "seed": seed, "n_fit": len(X_fit),
                   "n_eval": len(X_eval), "anomalies": int(y_eval.sum()),
                   "auc_roc": round(auc_roc(y_eval, scores), 4),
                   "auc_pr": round(auc_pr(y_eval, scores), 4),
                   "fit_cpu_s": round(fit_cpu, 1), "fit_wall_s": round(fit_wall, 1),
                   "score_cpu_s": round(score_cpu, 1), "score_wall_s": round(score_wall, 1),
                   **env}
            if args.detector == "GEOM" and detector.score_type == "dirichlet":
                simple = detector.set_params(score_type="simple").decision_function(X_eval)
                row["auc_roc_simple"] = round(auc_roc(y_eval, simple), 4)
            print(row, flush=True)
            _append(row)


# ---------------------------------------------------------------------------- page
def render(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for line in STORE.read_text().splitlines() if line.strip()]
    lines = ["# GEOM and GOAD on Fashion-MNIST: CPU budget and defaults",
             "",
             "Generated by `python benchmarks/image_ssl_budget.py render` from "
             "`docs/results/image_ssl_budget.jsonl` (rows appended by its `throughput`, "
             "`validate` and `test` commands; see the script's docstring for the protocol).",
             "",
             "Defaults are chosen on the **validation** rows only: Fashion-MNIST training "
             "images, the normal class's held-out images against other classes' training "
             "images. The test split is read only by the `test` rows, run once the defaults "
             "were fixed.", ""]
    tput = [r for r in rows if r["kind"] == "throughput"]
    if tput:
        lines += ["## Throughput (28 x 28 views, batches of 576 = 8 images x 72 "
                  "transformations, channels-last)", "",
                  "| backbone | widths | parameters | train views / CPU s | score views / CPU s "
                  "| train views / s | score views / s | threads | load | date |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in tput:
            lines.append(f"| {r['backbone']} | {'-'.join(map(str, r['widths']))} | "
                         f"{r['params']:,} | {r['train_views_cpu_s']:,} | "
                         f"{r['eval_views_cpu_s']:,} | {r['train_views_wall_s']:,} | "
                         f"{r['eval_views_wall_s']:,} | {r['threads']} | {r['load_1min']} | "
                         f"{r['date']} |")
        lines.append("")
    for kind, title in (("validation", "Validation split (training images only)"),
                        ("test", "Test split, Ruff et al. protocol (sanity check)")):
        chosen = [r for r in rows if r["kind"] == kind]
        if not chosen:
            continue
        lines += [f"## {title}", "",
                  "| detector | label | parameters | class | seed | fit | eval (anomalies) | "
                  "AUC-ROC | AUC-ROC simple | AUC-PR | fit CPU s | score CPU s | fit s | "
                  "score s | load |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in chosen:
            simple = r.get("auc_roc_simple", "")
            lines.append(f"| {r['detector']} | {r['label']} | `{json.dumps(r['params'])}` | "
                         f"{r['class']} | {r['seed']} | {r['n_fit']} | {r['n_eval']} "
                         f"({r['anomalies']}) | {r['auc_roc']:.4f} | {simple} | "
                         f"{r['auc_pr']:.4f} | {r['fit_cpu_s']} | {r['score_cpu_s']} | "
                         f"{r['fit_wall_s']} | {r['score_wall_s']} | {r['load_1min']} |")
        lines.append("")
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("throughput", "validate", "test", "render"))
    parser.add_argument("--detector", default="GEOM")
    parser.add_argument("--label", default="defaults")
    parser.add_argument("--params", default="{}", help="JSON of detector parameters")
    parser.add_argument("--classes", type=int, nargs="+", default=[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--n-val", type=int, default=1000)
    parser.add_argument("--n-fit", type=int, default=0,
                        help="validate: fit on at most this many images (0: all the others)")
    parser.add_argument("--n-anomalies", type=int, default=200,
                        help="validation anomalies per other class")
    parser.add_argument("--steps", type=int, default=5, help="throughput steps per backbone")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.command == "throughput":
        throughput(args)
    elif args.command == "render":
        render(args)
    else:
        evaluate(args, "validation" if args.command == "validate" else "test")


if __name__ == "__main__":
    main()
