"""Where an image detector's fit time goes: one Fashion-MNIST class, a subset of its
*training* images, one torch thread, the torch profiler's operators by self CPU time.

Prints (a) the process CPU seconds of a plain ``fit`` (no profiler), per epoch, and (b) the
operators of a second, profiled ``fit`` with the same settings, grouped into forward,
backward (autograd) and optimiser time. Only training images are read; nothing is scored
beyond what ``fit`` does itself (the training scores behind ``threshold_``).

Usage::

    python benchmarks/image_fit_profile.py AutoEncoder --n 1000 --params '{"epochs": 3}'
    python benchmarks/image_fit_profile.py DeepSVDD --n 1000 --params '{"epochs": 5}'
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

import deepad
from deepad.data.images import load_idx

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "images" / "fashion_mnist"


def _phase(name: str) -> str:
    if name.startswith(("autograd::", "torch::autograd")) or "backward" in name.lower():
        return "backward"
    if name.startswith("Optimizer.") or name.startswith(("aten::_foreach", "aten::addcdiv",
                                                         "aten::addcmul", "aten::lerp")):
        return "optimiser"
    return "forward / other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("detector", help="a deepad detector class, e.g. AutoEncoder")
    parser.add_argument("--params", default="{}", help="JSON keyword arguments")
    parser.add_argument("--normal", type=int, default=0, help="normal class (training images)")
    parser.add_argument("--n", type=int, default=1000, help="training images to fit")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = load_idx(DATA / "train-images-idx3-ubyte.gz")
    labels = load_idx(DATA / "train-labels-idx1-ubyte.gz")
    rng = np.random.default_rng(0)
    X = images[rng.permutation(np.flatnonzero(labels == args.normal))[:args.n]][:, None]
    params = json.loads(args.params)
    make = getattr(deepad, args.detector)

    make(random_state=0, **params).fit(X[:64])  # warm-up: imports, first-call costs
    start, wall = time.process_time(), time.perf_counter()
    det = make(random_state=0, **params).fit(X)
    cpu, wall = time.process_time() - start, time.perf_counter() - wall
    epochs = len(getattr(det, "history_", []) or []) or params.get("epochs", 0)
    print(f"{args.detector} {params} on {len(X)} images of class {args.normal}, one thread: "
          f"fit {cpu:.2f} CPU s ({wall:.2f} wall s), {epochs} epochs"
          + (f", {cpu / epochs:.3f} CPU s per epoch" if epochs else ""))
    print(f"  parameters: {sum(p.numel() for p in det.model_.parameters()):,}")

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        make(random_state=0, **params).fit(X)
    averages = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in averages)
    phases: dict[str, float] = {}
    for event in averages:
        phases[_phase(event.key)] = phases.get(_phase(event.key), 0.0) + event.self_cpu_time_total
    print("  self CPU by phase (profiled fit): " + ", ".join(
        f"{name} {100 * value / total:.0f} %" for name, value in sorted(phases.items())))
    print(averages.table(sort_by="self_cpu_time_total", row_limit=args.top,
                         max_name_column_width=60))


if __name__ == "__main__":
    main()
