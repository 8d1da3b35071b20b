"""RND's image settings on Fashion-MNIST, chosen on the TRAINING split only.

Generates ``docs/results/rnd_image_defaults.md`` from the rows it appends to
``docs/results/rnd_image_defaults.jsonl``; never typed by hand.

Protocol (the one the other image defaults were chosen with, see
``benchmarks/image_ssl_budget.py``): for a normal class, its 6,000 training images are
shuffled with the seed; 1,000 are held out as normal validation images and the other 5,000
fit the detector; 200 training images of each other class are the validation anomalies. The
test split is never read.

One fit per (setting, class, seed) at the largest of ``--epochs``; the validation AUC-ROC is
taken after each listed epoch count from inside that fit (``on_epoch_end``). deepad's trainer
has no learning-rate schedule and the probe draws no random numbers, so the model after
epoch ``e`` of the long fit is the model of a fit with ``epochs=e`` (``--check`` verifies
this on a small case). CPU seconds are this process's (one torch thread) up to that epoch;
the machine is shared, so wall seconds overstate an idle machine's. Rows already stored are
not run again (the script resumes).

Usage::

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/rnd_image_defaults.py validate \\
        --label lr1e-4 --params '{"lr": 1e-4}' --classes 0 6 --epochs 1 2 5 10 20
    python benchmarks/rnd_image_defaults.py check
    python benchmarks/rnd_image_defaults.py render
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import deepad
from deepad.detectors import RND
from deepad.detectors.related.curiosity import distillation_error
from deepad.metrics import auc_pr, auc_roc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from image_ssl_budget import validation_split as _validation_split  # noqa: E402

STORE = ROOT / "docs" / "results" / "rnd_image_defaults.jsonl"
OUT = ROOT / "docs" / "results" / "rnd_image_defaults.md"


class ProbedRND(RND):
    """RND that scores a fixed validation set after chosen epochs (no random draws)."""

    probe_X: torch.Tensor
    probe_at: tuple[int, ...] = ()
    probe_scores: dict

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if epoch + 1 not in self.probe_at:
            return
        with torch.no_grad():
            scores = torch.cat([distillation_error(*self.model_(chunk))
                                for chunk in self.probe_X.split(1024)])
        self.probe_scores[epoch + 1] = (scores.numpy().astype(np.float64),
                                        time.process_time(), time.perf_counter())


def _done() -> set[tuple]:
    if not STORE.exists():
        return set()
    rows = [json.loads(line) for line in STORE.read_text().splitlines() if line.strip()]
    return {(r["label"], r["class"], r["seed"], r["epochs"]) for r in rows}


def validate(args: argparse.Namespace) -> None:
    params = json.loads(args.params)
    done = _done()
    for normal in args.classes:
        for seed in args.seeds:
            if all((args.label, normal, seed, e) in done for e in args.epochs):
                print(f"{args.label} class {normal} seed {seed}: stored", flush=True)
                continue
            X_fit, X_val, y_val = _validation_split(normal, seed, 1000, 200)
            settings = {**RND.modality_defaults["image"], **params, "epochs": max(args.epochs)}
            det = ProbedRND(**settings, random_state=seed)
            det.probe_X = torch.from_numpy(X_val)
            det.probe_at = tuple(args.epochs)
            det.probe_scores = {}
            cpu0, wall0 = time.process_time(), time.perf_counter()
            det.fit(X_fit)
            load = round(os.getloadavg()[0], 1)
            with STORE.open("a") as handle:
                for epochs, (scores, cpu, wall) in sorted(det.probe_scores.items()):
                    row = {"label": args.label, "params": {**settings, "epochs": epochs},
                           "class": normal, "seed": seed, "epochs": epochs,
                           "n_fit": len(X_fit), "n_val": len(X_val),
                           "anomalies": int(y_val.sum()),
                           "auc_roc": round(auc_roc(y_val, scores), 4),
                           "auc_pr": round(auc_pr(y_val, scores), 4),
                           "cpu_s": round(cpu - cpu0, 1), "wall_s": round(wall - wall0, 1),
                           "threads": torch.get_num_threads(), "load_1min": load,
                           "torch": torch.__version__, "deepad": deepad.__version__,
                           "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")}
                    print(row, flush=True)
                    handle.write(json.dumps(row) + "\n")


def check() -> None:
    """The probe's model after epoch e equals a fit of e epochs (small case)."""
    X_fit, X_val, _ = _validation_split(0, 0, 1000, 200)
    X_fit, X_val = X_fit[:300], X_val[:200]
    settings = {**RND.modality_defaults["image"], "batch_size": 64}
    det = ProbedRND(**settings, epochs=3, random_state=0)
    det.probe_X, det.probe_at, det.probe_scores = torch.from_numpy(X_val), (2,), {}
    det.fit(X_fit)
    short = RND(**settings, epochs=2, random_state=0).fit(X_fit)
    same = np.array_equal(det.probe_scores[2][0], short.decision_function(X_val))
    print(f"probe after epoch 2 of 3 == fit of 2 epochs: {same}")
    if not same:
        raise SystemExit(1)


def render() -> None:
    rows = [json.loads(line) for line in STORE.read_text().splitlines() if line.strip()]
    lines = ["# RND on images: settings chosen on Fashion-MNIST training images", "",
             "Generated by `python benchmarks/rnd_image_defaults.py render` from "
             "`docs/results/rnd_image_defaults.jsonl` (rows appended by its `validate` "
             "command; protocol in the script's docstring).", "",
             "RND with Burda et al.'s image network (`backbone=\"auto\"` → `\"rnd\"`), "
             "fitted on 5,000 of the normal class's training images; validated on its other "
             "1,000 training images against 200 training images of each other class "
             "(1,800 anomalies). The test split is not read. AUC-ROC after each number of "
             "epochs, taken inside one fit; CPU seconds are those of the fit up to that epoch "
             "(one torch thread, on a machine shared with other jobs).", ""]
    labels = list(dict.fromkeys(r["label"] for r in rows))
    lines += ["| setting | parameters (besides epochs) | class | seed | epochs | AUC-ROC | "
              "AUC-PR | fit CPU s | fit s | load |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label in labels:
        for r in (r for r in rows if r["label"] == label):
            params = {k: v for k, v in r["params"].items() if k != "epochs"}
            lines.append(f"| {label} | `{json.dumps(params)}` | {r['class']} | {r['seed']} | "
                         f"{r['epochs']} | {r['auc_roc']:.4f} | {r['auc_pr']:.4f} | "
                         f"{r['cpu_s']} | {r['wall_s']} | {r['load_1min']} |")
    lines += ["", "## Mean validation AUC-ROC over the classes and seeds run", "",
              "| setting | epochs | rows | mean AUC-ROC | mean fit CPU s |",
              "|---|---:|---:|---:|---:|"]
    for label in labels:
        mine = [r for r in rows if r["label"] == label]
        for epochs in sorted({r["epochs"] for r in mine}):
            at = [r for r in mine if r["epochs"] == epochs]
            lines.append(f"| {label} | {epochs} | {len(at)} | "
                         f"{np.mean([r['auc_roc'] for r in at]):.4f} | "
                         f"{np.mean([r['cpu_s'] for r in at]):.1f} |")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("validate", "check", "render"))
    parser.add_argument("--label", default="defaults")
    parser.add_argument("--params", default="{}", help="JSON of RND parameters")
    parser.add_argument("--classes", type=int, nargs="+", default=[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 5, 10, 20])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.command == "validate":
        validate(args)
    elif args.command == "check":
        check()
    else:
        render()


if __name__ == "__main__":
    main()
