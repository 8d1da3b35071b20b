"""Peak memory of ``SeriesDetector`` scoring a long multivariate series.

A 1,000,000-timestamp, 38-channel float32 series (the width of SMD) is scored with
``window=64, stride=1``: 999,937 windows. Cut all at once they would take
``n_windows · window · channels · 4`` bytes = 9.7 GB; ``SeriesDetector`` streams them
``batch_windows`` at a time from a strided view, so the scoring process should stay far under
2 GB.

Each phase runs in its own subprocess so that its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own:

1. ``fit``: a small TCN Deep SVDD wrapped in a ``SeriesDetector`` is fitted on the first
   ``--prefix`` timestamps (normal) and saved;
2. ``score`` (once per ``--devices`` entry): the full series is generated, the model loaded
   onto the device, and ``decision_function`` scores every timestamp; the peak RSS, the RSS
   before scoring, the time and the AUC-ROC of the planted anomalies after the prefix are
   reported.

The series is generated in chunks of ``CHUNK`` rows straight into float32 (no float64
temporaries of the full size): per channel a sinusoid of its own period and phase plus
Gaussian noise, and ``N_SEGMENTS`` anomalous segments after the prefix (a level shift or a
burst of noise on a random third of the channels).

Writes ``docs/results/series_memory.md`` (or ``--out``). Usage::

    nice -n 10 python benchmarks/series_memory.py                     # CPU, the defaults
    python benchmarks/series_memory.py --devices cuda cpu --fit-device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "results" / "series_memory.md"
CHUNK = 100_000
N_SEGMENTS = 20
MB = 1024 * 1024
LIMIT_MB = 2048


def make_series(n: int, channels: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """``(series float32 (n, channels), labels int8 (n,))``; chunk ``k`` uses its own seeded
    stream, so a prefix of the series does not depend on ``n``."""
    rng = np.random.default_rng(seed)
    period = rng.uniform(40.0, 200.0, size=channels).astype(np.float32)
    phase = rng.uniform(0.0, 2 * np.pi, size=channels).astype(np.float32)
    series = np.empty((n, channels), dtype=np.float32)
    for k, low in enumerate(range(0, n, CHUNK)):
        high = min(n, low + CHUNK)
        t = np.arange(low, high, dtype=np.float64)[:, None]
        chunk_rng = np.random.default_rng([seed, k])
        series[low:high] = np.sin(2 * np.pi * t / period + phase).astype(np.float32)
        series[low:high] += chunk_rng.normal(0.0, 0.1, size=(high - low, channels)).astype(
            np.float32)
    return series, rng


def plant(series: np.ndarray, rng: np.random.Generator, prefix: int) -> np.ndarray:
    """Plant ``N_SEGMENTS`` anomalous segments after ``prefix`` in place; the labels."""
    n, channels = series.shape
    labels = np.zeros(n, dtype=np.int8)
    slot = (n - prefix) // N_SEGMENTS
    for i in range(N_SEGMENTS):
        start = prefix + i * slot + int(rng.integers(0, max(1, slot - 200)))
        length = int(rng.integers(50, 201))
        affected = rng.choice(channels, size=max(1, channels // 3), replace=False)
        segment = series[start:start + length, affected]
        if i % 2 == 0:
            segment += np.float32(rng.choice([-1.0, 1.0]))
        else:
            segment += rng.normal(0.0, 0.6, size=segment.shape).astype(np.float32)
        series[start:start + length, affected] = segment
        labels[start:start + length] = 1
    return labels


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / MB


# ---------------------------------------------------------------------------- phases
def phase_fit(args: argparse.Namespace) -> dict:
    import torch

    from deepad import DeepSVDD
    from deepad.series import SeriesDetector

    series, _ = make_series(args.prefix, args.channels)
    detector = DeepSVDD(hidden_dims=(16,), rep_dim=8, backbone="tcn", epochs=args.epochs,
                        batch_size=256, device=args.fit_device, random_state=0)
    wrapper = SeriesDetector(detector, window=args.window, stride=1,
                             batch_windows=args.batch_windows)
    start = time.perf_counter()
    wrapper.fit(series)
    seconds = time.perf_counter() - start
    wrapper.save(args.model)
    return {"fit_s": seconds, "fit_peak_rss_mb": peak_rss_mb(),
            "n_train_windows": wrapper.n_train_windows_, "torch_threads": torch.get_num_threads()}


def phase_score(args: argparse.Namespace) -> dict:
    import torch
    from sklearn.metrics import roc_auc_score

    from deepad.series import SeriesDetector

    after_imports = rss_mb()
    series, rng = make_series(args.n_timestamps, args.channels)
    labels = plant(series, rng, args.prefix)
    wrapper = SeriesDetector.load(args.model, device=args.device)
    before = rss_mb()
    start = time.perf_counter()
    scores = wrapper.decision_function(series)
    if args.device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    result = {
        "device": args.device, "score_s": seconds, "peak_rss_mb": peak_rss_mb(),
        "rss_after_imports_mb": after_imports, "rss_before_scoring_mb": before,
        "series_mb": series.nbytes / MB, "n_windows": int(len(scores) - args.window + 1),
        "finite": bool(np.isfinite(scores).all()),
        "auc_roc": float(roc_auc_score(labels[args.prefix:], scores[args.prefix:])),
        "torch_threads": torch.get_num_threads(),
    }
    if args.device.startswith("cuda"):
        result["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / MB
        result["gpu"] = torch.cuda.get_device_name()
    return result


# ---------------------------------------------------------------------------- driver
def run_phase(phase: str, args: argparse.Namespace, **extra: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--phase", phase,
               "--model", str(args.model), "--n-timestamps", str(args.n_timestamps),
               "--channels", str(args.channels), "--prefix", str(args.prefix),
               "--window", str(args.window), "--batch-windows", str(args.batch_windows),
               "--epochs", str(args.epochs), "--fit-device", args.fit_device,
               "--threads", str(args.threads)]
    for key, value in extra.items():
        command += [f"--{key}", value]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        msg = f"phase {phase} failed ({done.returncode}):\n{done.stderr[-4000:]}"
        raise RuntimeError(msg)
    return json.loads(done.stdout.strip().splitlines()[-1])


def render(args: argparse.Namespace, fit: dict, scores: list[dict]) -> str:
    naive_gb = (args.n_timestamps - args.window + 1) * args.window * args.channels * 4 / 1e9
    command = "python benchmarks/series_memory.py " + " ".join(sys.argv[1:])
    lines = [
        "# SeriesDetector: memory of scoring a long series",
        "",
        f"Generated by `{command}` on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{datetime.now(timezone.utc):%Y-%m-%d}.",
        "",
        f"Series: {args.n_timestamps:,} timestamps x {args.channels} channels, float32 "
        f"({args.n_timestamps * args.channels * 4 / MB:,.0f} MB), {N_SEGMENTS} planted "
        f"anomalous segments after the first {args.prefix:,} timestamps. Detector: "
        f"`SeriesDetector(DeepSVDD(hidden_dims=(16,), rep_dim=8, backbone='tcn', "
        f"epochs={args.epochs}), window={args.window}, stride=1, "
        f"batch_windows={args.batch_windows})`, fitted on the first {args.prefix:,} "
        f"timestamps ({fit['n_train_windows']:,} windows) on {args.fit_device} in "
        f"{fit['fit_s']:.1f} s (peak RSS of the fitting process {fit['fit_peak_rss_mb']:,.0f} MB).",
        "",
        f"All {args.n_timestamps - args.window + 1:,} windows cut at once would take "
        f"{naive_gb:.1f} GB; the scoring streams them {args.batch_windows} at a time from a "
        "strided view of the series. Each row is a fresh process that generates the series, "
        "loads the saved model and scores every timestamp; its peak RSS "
        "(`getrusage` `ru_maxrss`) includes the interpreter, torch and the series itself.",
        "",
        "| scoring device | torch threads | peak RSS (MB) | RSS before scoring (MB) | "
        "scoring seconds | AUC-ROC (after prefix) | GPU peak (MB) | under 2 GB |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in scores:
        gpu = f"{r['gpu_peak_mb']:,.0f}" if "gpu_peak_mb" in r else "-"
        device = r["device"] + (f" ({r['gpu']})" if "gpu" in r else "")
        lines.append(
            f"| {device} | {r['torch_threads']} | {r['peak_rss_mb']:,.0f} | "
            f"{r['rss_before_scoring_mb']:,.0f} | {r['score_s']:.1f} | {r['auc_roc']:.3f} | "
            f"{gpu} | {'yes' if r['peak_rss_mb'] < LIMIT_MB and r['finite'] else 'NO'} |")
    lines += ["", "Raw measurements:", "", "```json",
              json.dumps({"fit": fit, "score": scores}, indent=1), "```", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase", choices=["all", "fit", "score"], default="all")
    parser.add_argument("--n-timestamps", type=int, default=1_000_000)
    parser.add_argument("--channels", type=int, default=38)
    parser.add_argument("--prefix", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--batch-windows", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--devices", nargs="+", default=["cpu"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fit-device", default="cpu")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads in the fit and score processes (0: torch's default)")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.threads and args.phase != "all":
        import torch

        torch.set_num_threads(args.threads)
    if args.phase == "fit":
        print(json.dumps(phase_fit(args)))
        return
    if args.phase == "score":
        print(json.dumps(phase_score(args)))
        return
    with tempfile.TemporaryDirectory(prefix="series-memory-") as tmp:
        args.model = Path(tmp) / "model"
        fit = run_phase("fit", args)
        print(f"fit: {fit}", flush=True)
        scores = []
        args.out.parent.mkdir(parents=True, exist_ok=True)
        for device in args.devices:  # the page is rewritten after each device
            scores.append(run_phase("score", args, device=device))
            print(f"score: {scores[-1]}", flush=True)
            args.out.write_text(render(args, fit, scores), encoding="utf-8")
    print(f"wrote {args.out}")
    if any(r["peak_rss_mb"] >= LIMIT_MB for r in scores):
        sys.exit(1)


if __name__ == "__main__":
    main()
