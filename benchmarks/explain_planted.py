"""Explanations measured against planted ground truth: precision@k of attributed features.

For each ADBench table, seed and detector: the normal rows are split 70 / 30 (seeded), the
detector (default hyperparameters, ``random_state=seed``) is fitted on the 70 % min-max
scaled (scaling fitted on them, as ``deepad run`` does), and in the other 30 % up to
``--rows`` rows get ``k`` known features perturbed by
:func:`deepad.data.make_planted_feature_anomalies` (kinds shift / dependency / scale, in the
raw units, then scaled). Each planted row is explained by every attribution method the
detector admits (:func:`deepad.explain.explain`, the training rows as reference: the
baseline is their per-feature median); precision@k is the share of the ``k`` features with
the largest attributions that are among the ``k`` perturbed ones. Baselines: random
(``k / d`` in expectation), the per-feature |robust z-score| (median and MAD·1.4826 of the
training rows) and SHAP's TreeExplainer on scikit-learn's ``IsolationForest`` fitted on the
same rows (the attribution is minus the SHAP value of the path length).

Results go to a JSON-lines store (one line per detector x dataset x seed x kind x k x
method), so a killed run resumes where it stopped; ``report`` writes
``docs/results/explain_planted.md`` from the store and from the speed measurement
(``speed``: 1,000 rows explained by the default AutoEncoder and DeepSVDD).

    nice -n 10 python benchmarks/explain_planted.py run        # resumable
    python benchmarks/explain_planted.py speed                  # timings, machine as it is
    nice -n 10 python benchmarks/explain_planted.py series     # planted spikes in windows
    python benchmarks/explain_planted.py report
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "benchmarks" / "results" / "explain_planted.jsonl"
SPEED = ROOT / "benchmarks" / "results" / "explain_speed.json"
PAGE = ROOT / "docs" / "results" / "explain_planted.md"
DATA = Path(os.environ.get("DEEPAD_DATA_DIR", ROOT.parent / "shared" / "datasets" / "adbench"
                           / "classical"))

DATASETS = ("6_cardio", "38_thyroid", "29_Pima", "18_Ionosphere", "43_WDBC", "41_Waveform")
"""Four of the quick suite's tables (its image, text and large sets are left out: their
features are embeddings or too many to read one by one) and two more with named clinical /
physical features."""
DETECTORS = ("AutoEncoder", "VAE", "RobustAutoEncoder", "RandNet", "DeepSVDD", "OCNN", "RDP",
             "RND", "NeuTraL", "ICL", "GOAD", "DAGMM", "SDOR")
"""The unsupervised deep detectors of rows (weakly-supervised ones need labelled anomalies)."""
PARTLY_DIFFERENTIABLE = {
    "RND": "The target network runs outside autograd, so the gradient methods explain only "
           "the predictor's part of the score (integrated gradients do not add up to it); "
           "`method=\"auto\"` explains RND with SHAP.",
    "ICL": "On some rows the normalised embeddings make the score too steep to integrate "
           "(integrated gradients do not add up); `method=\"auto\"` checks the explained "
           "rows and uses SHAP there.",
}
"""Detectors whose gradient attributions do not add up to the score (measured by
``deepad.explain.methods.gradient_adds_up``; tests/test_explain.py)."""
KINDS = ("shift", "dependency", "scale")
KS = (1, 3)
SEEDS = (0, 1, 2)
ROWS = 30
METHODS = ("exact", "integrated_gradients", "saliency", "gradient_x_input", "deeplift", "shap")
SHAP_DETECTORS = ("AutoEncoder", "DeepSVDD")
"""Detectors also explained by SHAP's permutation explainer (model-agnostic, ~10x the CPU of
the gradient methods: run for the two default detectors and seed 0 only on the shared
machine)."""


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    data = np.load(DATA / f"{name}.npz", allow_pickle=False)
    return data["X"].astype(np.float64), data["y"].astype(np.int64)


def split(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    normal = X[y == 0]
    order = np.random.default_rng(seed).permutation(len(normal))
    cut = int(0.7 * len(normal))
    return normal[order[:cut]], normal[order[cut:]]


def minmax(train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    low, high = train.min(axis=0), train.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return low, span


def precision_at_k(attributions: np.ndarray, mask: np.ndarray, k: int) -> float:
    top = np.argsort(-attributions, axis=1, kind="stable")[:, :k]
    return float(np.take_along_axis(mask, top, axis=1).sum(axis=1).mean() / k)


def planted(test: np.ndarray, k: int, kind: str, seed: int):
    from deepad.data import make_planted_feature_anomalies

    rows, labels, mask = make_planted_feature_anomalies(test, k, kind, seed,
                                                        n_anomalies=min(ROWS, len(test)))
    return rows[labels == 1], mask[labels == 1]


def robust_z(train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    median = np.median(train, axis=0)
    mad = 1.4826 * np.median(np.abs(train - median), axis=0)
    std = train.std(axis=0)
    scale = np.where(mad > 0, mad, np.where(std > 0, std, 1.0))
    return np.abs(rows - median) / scale


def stores() -> list[Path]:
    """The store and the per-worker stores beside it (``--tag``)."""
    return sorted(STORE.parent.glob(STORE.stem + "*.jsonl"))


def read_records() -> list[dict]:
    """Every stored record, the first of any duplicate (two workers on one cell) kept."""
    records, seen = [], set()
    for path in stores():
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
            key = tuple(record.get(f) for f in ("detector", "dataset", "seed", "kind", "k",
                                                "method"))
            if key not in seen:
                seen.add(key)
                records.append(record)
    return records


def done_keys() -> set[tuple]:
    return {(r["detector"], r["dataset"], r["seed"]) for r in read_records()}


def write(records: list[dict], tag: str = "") -> None:
    path = STORE if not tag else STORE.with_name(f"{STORE.stem}.{tag}.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        handle.write("".join(json.dumps(record) + "\n" for record in records))


def run_baselines(name: str, seed: int) -> list[dict]:
    import shap
    from sklearn.ensemble import IsolationForest

    X, y = load(name)
    train, test = split(X, y, seed)
    forest = IsolationForest(random_state=seed).fit(train)
    tree = shap.TreeExplainer(forest)
    out = []
    for kind in KINDS:
        for k in KS:
            rows, mask = planted(test, k, kind, seed)
            d = X.shape[1]
            start = time.process_time()
            values = -np.asarray(tree.shap_values(rows))
            shap_cpu = (time.process_time() - start) / len(rows)
            for method, attributions, cpu in (
                    ("|robust z|", robust_z(train, rows), 0.0),
                    ("SHAP on IsolationForest", values, shap_cpu)):
                out.append({"detector": "baseline", "dataset": name, "seed": seed, "kind": kind,
                            "k": k, "method": method, "d": d, "n": len(rows),
                            "precision": precision_at_k(attributions, mask, k),
                            "cpu_per_row": cpu})
            out.append({"detector": "baseline", "dataset": name, "seed": seed, "kind": kind,
                        "k": k, "method": "random", "d": d, "n": len(rows),
                        "precision": k / d, "cpu_per_row": 0.0})
    return out


def run_detector(detector: str, name: str, seed: int) -> list[dict]:
    from deepad import get_detector
    from deepad.explain import explain

    X, y = load(name)
    train, test = split(X, y, seed)
    low, span = minmax(train)
    cls = get_detector(detector)
    start = time.process_time()
    det = cls(random_state=seed).fit(((train - low) / span).astype(np.float32))
    fit_cpu = time.process_time() - start
    reference = ((train - low) / span).astype(np.float32)
    out = []
    for kind in KINDS:
        for k in KS:
            rows, mask = planted(test, k, kind, seed)
            scaled = ((rows - low) / span).astype(np.float32)
            for method in METHODS:
                if method == "shap" and (detector not in SHAP_DETECTORS or seed != 0):
                    continue
                record = {"detector": detector, "dataset": name, "seed": seed, "kind": kind,
                          "k": k, "method": method, "d": X.shape[1], "n": len(rows),
                          "fit_cpu": fit_cpu}
                start, wall = time.process_time(), time.perf_counter()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        result = explain(det, scaled, method=method, reference=reference,
                                         seed=seed)
                except (ValueError, TypeError, RuntimeError, AssertionError) as error:
                    record["error"] = f"{type(error).__name__}: {str(error)[:200]}"
                    out.append(record)
                    continue
                record["cpu_per_row"] = (time.process_time() - start) / len(rows)
                record["wall_per_row"] = (time.perf_counter() - wall) / len(rows)
                record["precision"] = precision_at_k(result.attributions, mask, k)
                out.append(record)
    return out


def run(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    done = done_keys()
    detectors = args.detectors.split(",") if args.detectors else ("baseline", *DETECTORS)
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else SEEDS
    for detector in detectors:  # one detector complete before the next
        for seed in seeds:
            for name in DATASETS:
                if (detector, name, seed) in done:
                    continue
                if detector == "baseline":
                    write(run_baselines(name, seed), args.tag)
                    continue
                start = time.perf_counter()
                records = run_detector(detector, name, seed)
                write(records, args.tag)
                best = max((r.get("precision", -1), r["method"]) for r in records)
                print(f"{detector:<18} {name:<14} seed {seed}: {time.perf_counter() - start:6.1f} s"
                      f"  best {best[1]} {best[0]:.3f}", flush=True)


def speed(args: argparse.Namespace) -> None:
    """1,000 rows explained (method 'auto') by the default AutoEncoder and DeepSVDD."""
    import torch

    from deepad import AutoEncoder, DeepSVDD
    from deepad.explain import explain

    torch.set_num_threads(args.threads)
    X, y = load("6_cardio")
    low, span = minmax(X)
    Xs = ((X - low) / span).astype(np.float32)
    rows = Xs[:1000]
    results = []
    for cls in (AutoEncoder, DeepSVDD):
        det = cls(random_state=0).fit(Xs[y == 0])
        explain(det, rows[:10], reference=Xs[y == 0])  # warm-up: imports, first calls
        for method in ("auto", "integrated_gradients"):
            start, wall = time.process_time(), time.perf_counter()
            result = explain(det, rows, method=method, reference=Xs[y == 0])
            results.append({"detector": cls.__name__, "asked": method, "method": result.method,
                            "rows": len(rows), "features": rows.shape[1],
                            "wall_s": time.perf_counter() - wall,
                            "cpu_s": time.process_time() - start, "threads": args.threads})
            print(results[-1], flush=True)
    SPEED.parent.mkdir(parents=True, exist_ok=True)
    SPEED.write_text(json.dumps({"results": results, "torch_threads": args.threads,
                                 "cpu_count": os.cpu_count(),
                                 "load_avg": os.getloadavg()}, indent=1) + "\n")


SERIES = ("nab:realKnownCause/nyc_taxi", "nab:realKnownCause/machine_temperature_system_failure",
          "smap:A-1", "smap:P-1")
SERIES_PATH = ROOT / "benchmarks" / "results" / "explain_series.json"
SPIKES = 20


def series_run(args: argparse.Namespace) -> None:
    """Windows with a planted spike at a known step and channel: how often the time step
    with the largest attribution (summed over channels) is the spike's (exact, or within
    2 steps), and how often the top channel is the spiked one."""
    import torch

    from deepad import AutoEncoder, DeepSVDD, SeriesDetector
    from deepad.data import load_nab, load_smap_msl
    from deepad.explain import explain

    torch.set_num_threads(args.threads)
    results = json.loads(SERIES_PATH.read_text()) if SERIES_PATH.exists() else []
    done = {(r["series"], r["detector"], r["method"]) for r in results}
    root = DATA.parents[1] / "timeseries"
    for name in SERIES:
        source, _, series_name = name.partition(":")
        data = (load_nab(series_name, root=root / "nab") if source == "nab"
                else load_smap_msl(series_name, root=root / "smap_msl"))
        train, test = data.train.astype(np.float64), data.test.astype(np.float64)
        low, high = train.min(axis=0), train.max(axis=0)
        span = np.where(high > low, high - low, 1.0)
        train_s = ((train - low) / span).astype(np.float32)
        test_s = ((test - low) / span).astype(np.float32)
        rng = np.random.default_rng(0)
        window = 64
        starts = np.sort(rng.choice(len(test_s) - window, size=SPIKES, replace=False))
        steps = rng.integers(0, window, size=SPIKES)
        varying = np.flatnonzero(train_s.std(axis=0) > 0)
        channels = rng.choice(varying, size=SPIKES)
        for cls in (AutoEncoder, DeepSVDD):
            methods = ("exact", "integrated_gradients") if cls is AutoEncoder else (
                "integrated_gradients",)
            if all((name, cls.__name__, m) in done for m in methods):
                continue
            model = SeriesDetector(cls(random_state=0), window=window, train_stride=4,
                                   max_train_windows=2000).fit(train_s)
            std = train_s.std(axis=0)
            hits: dict[str, list] = {m: [] for m in methods}
            for start, step, channel in zip(starts, steps, channels, strict=True):
                spiked = test_s.copy()
                spiked[start + step, channel] += 5.0 * max(float(std[channel]), 0.05)
                for method in methods:
                    result = explain(model, spiked, windows=[start], method=method,
                                     reference=train_s)
                    per_step = result.attributions[0].sum(axis=1)
                    top = int(per_step.argmax())
                    hits[method].append((top == step, abs(top - step) <= 2,
                                         int(result.attributions[0][step].argmax()) == channel))
            for method, values in hits.items():
                values = np.asarray(values, dtype=float)
                results.append({"series": name, "detector": cls.__name__, "method": method,
                                "channels": int(train.shape[1]), "spikes": SPIKES,
                                "step_hit": float(values[:, 0].mean()),
                                "step_within_2": float(values[:, 1].mean()),
                                "channel_hit": float(values[:, 2].mean())})
                print(results[-1], flush=True)
            SERIES_PATH.write_text(json.dumps(results, indent=1) + "\n")


# ---------------------------------------------------------------------------- report
def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
              for row in rows]
    return lines


def report(args: argparse.Namespace) -> None:
    records = read_records()
    ok = [r for r in records if "precision" in r]
    errors = [r for r in records if "error" in r]

    def mean(detector: str, method: str, kind: str | None = None) -> tuple[float, int]:
        values = [r["precision"] for r in ok if r["detector"] == detector
                  and r["method"] == method and (kind is None or r["kind"] == kind)]
        return (float(np.mean(values)) if values else float("nan")), len(values)

    def cpu(detector: str, method: str) -> float:
        values = [r["cpu_per_row"] for r in ok if r["detector"] == detector
                  and r["method"] == method]
        return float(np.mean(values)) if values else float("nan")

    baselines = ("random", "|robust z|", "SHAP on IsolationForest")
    detectors = [d for d in DETECTORS if any(r["detector"] == d for r in ok)]
    expected = len(DATASETS) * len(SEEDS) * len(KINDS) * len(KS)
    lines = [
        "# Explanations against planted ground truth",
        "",
        "Generated by `benchmarks/explain_planted.py report` from "
        "`benchmarks/results/explain_planted*.jsonl` (written by `nice -n 10 python "
        "benchmarks/explain_planted.py run`; do not edit by hand).",
        "",
        "**Protocol.** ADBench tables " + ", ".join(f"`{d}`" for d in DATASETS) + "; seeds "
        + ", ".join(map(str, SEEDS)) + ". The normal rows are split 70 / 30; the detector "
        "(default hyperparameters) is fitted on the 70 %, min-max scaled. In the other 30 %, "
        f"up to {ROWS} rows get k ∈ {{{', '.join(map(str, KS))}}} features perturbed by "
        "`deepad.data.make_planted_feature_anomalies` — *shift* (moved 3 standard deviations "
        "beyond the feature's range), *dependency* (the value of the same feature in another "
        "row, from the far quarter of its distribution: the marginal is unchanged, only the "
        "relation to the other features breaks), *scale* (the deviation from the median "
        "times 3, at least 3 standard deviations). Each planted row is explained "
        "(`deepad.explain.explain`, training rows as reference, baseline = their per-feature "
        "median); **precision@k** is the share of the k largest attributions that are "
        "perturbed features, averaged over rows, then over tables, seeds and k.",
        "",
        "Baselines: *random* (k / d), the per-feature *|robust z|* (median, MAD · 1.4826 of "
        "the training rows) and *SHAP on IsolationForest* (SHAP's TreeExplainer on "
        "scikit-learn's `IsolationForest`, minus the SHAP value of the path length).",
        "",
        "## Summary: mean precision@k",
        "",
    ]
    pairs = []
    for detector in detectors:
        for method in METHODS:
            value, count = mean(detector, method)
            if count:
                pairs.append((value, detector, method, count))
    pairs.sort(reverse=True)
    rows = []
    for name in baselines:
        values = [mean("baseline", name, kind)[0] for kind in KINDS]
        rows.append([f"baseline: {name}", *(f"{v:.3f}" for v in values),
                     f"{mean('baseline', name)[0]:.3f}", "—"])
    for value, detector, method, count in pairs[:args.top]:
        values = [mean(detector, method, kind)[0] for kind in KINDS]
        rows.append([f"{detector} × {method}", *(f"{v:.3f}" for v in values), f"{value:.3f}",
                     f"{count} / {expected}"])
    lines += [f"The {args.top} best detector × attribution pairs and the baselines "
              "(columns: the kind of perturbation; *cells*: configurations measured out of "
              "those planned):", ""]
    lines += _table(["pair", *KINDS, "mean", "cells"], rows)
    if pairs:
        full = [pair for pair in pairs if pair[3] == expected]
        best = full[0] if full else pairs[0]  # the headline: a pair measured on every cell

        def matched(method: str, detector: str, kind: str | None) -> float:
            """The baseline's mean over the cells ``detector`` x ``best`` method covers."""
            cells = {(r["dataset"], r["seed"], r["kind"], r["k"]) for r in ok
                     if r["detector"] == detector and r["method"] == best[2]}
            values = [r["precision"] for r in ok if r["detector"] == "baseline"
                      and r["method"] == method and (kind is None or r["kind"] == kind)
                      and (r["dataset"], r["seed"], r["kind"], r["k"]) in cells]
            return float(np.mean(values)) if values else float("nan")

        dep = mean(best[1], best[2], "dependency")[0]
        z_all, z_dep = (matched("|robust z|", best[1], kind) for kind in (None, "dependency"))
        s_all, s_dep = (matched("SHAP on IsolationForest", best[1], kind)
                        for kind in (None, "dependency"))
        best_dep = max(((mean(d, mth, "dependency")[0], d, mth) for _, d, mth, _ in pairs))
        other = ("" if best is pairs[0] else
                 f" (Highest on fewer cells: {pairs[0][1]} × {pairs[0][2]}, {pairs[0][0]:.4f} "
                 f"on {pairs[0][3]} cells.)")
        lines += [
            "",
            f"Best pair measured on every planned cell: **{best[1]} × {best[2]}**, mean "
            f"precision@k **{best[0]:.4f}** ({best[3]} cells){other} On the same cells the "
            f"baselines reach {z_all:.3f} "
            f"(\\|robust z\\|) and {s_all:.3f} (SHAP on IsolationForest). On the dependency "
            f"kind: {dep:.3f} against {z_dep:.3f} and {s_dep:.3f}. Best pair on the "
            f"dependency kind: {best_dep[1]} × {best_dep[2]}, {best_dep[0]:.3f}.",
        ]
    lines += ["", "## Every detector", "",
              "Precision@k per kind of perturbation, and the CPU time of one row's "
              "attribution (process time, milliseconds; the machine was shared by other "
              "jobs). A method that does not apply (no exact decomposition) has no row; "
              "*cells*: dataset x seed x kind x k configurations measured, out of those "
              "planned (SHAP: seed 0 only; detectors after the first two: as many seeds as "
              "the shared machine's time allowed).", ""]
    for detector in detectors:
        rows = []
        for method in METHODS:
            value, count = mean(detector, method)
            if not count:
                continue
            rows.append([method, *(f"{mean(detector, method, kind)[0]:.3f}" for kind in KINDS),
                         f"{value:.3f}", f"{1000 * cpu(detector, method):.1f}",
                         f"{count} / {expected}"])
        lines += [f"### {detector}", ""]
        if detector in PARTLY_DIFFERENTIABLE:
            lines += [PARTLY_DIFFERENTIABLE[detector], ""]
        lines += _table(["method", *KINDS, "mean", "ms / row", "cells"], rows)
        failed = sorted({r["method"] for r in errors if r["detector"] == detector})
        if failed:
            first = next(r["error"] for r in errors if r["detector"] == detector)
            lines += ["", "Not applicable or failed: " + ", ".join(failed)
                      + f" (first message: {first[:160]})"]
        lines.append("")
    rows = []
    for name in baselines:
        rows.append([name, *(f"{mean('baseline', name, kind)[0]:.3f}" for kind in KINDS),
                     f"{mean('baseline', name)[0]:.3f}", f"{1000 * cpu('baseline', name):.1f}"])
    lines += ["### Baselines", ""]
    lines += _table(["method", *KINDS, "mean", "ms / row"], rows)
    lines.append("")
    if SPEED.exists():
        speed_data = json.loads(SPEED.read_text())
        lines += ["## Speed: 1,000 rows", "",
                  "`python benchmarks/explain_planted.py speed`: the default AutoEncoder and "
                  "DeepSVDD fitted on cardio's normal rows explain 1,000 rows (21 features) "
                  f"with torch on {speed_data['torch_threads']} thread(s); the machine "
                  f"({speed_data['cpu_count']} cores) was shared, load average "
                  f"{speed_data['load_avg'][0]:.1f} at the end, so the process (CPU) time is "
                  "given beside the wall time.", ""]
        rows = [[r["detector"], f"{r.get('asked', r['method'])} → {r['method']}",
                 f"{r['wall_s']:.2f}", f"{r['cpu_s']:.2f}"] for r in speed_data["results"]]
        lines += _table(["detector", "method asked → used", "wall s", "CPU s"], rows)
        lines.append("")
    if SERIES_PATH.exists():
        series = json.loads(SERIES_PATH.read_text())
        lines += ["## Windows: planted spikes", "",
                  "`python benchmarks/explain_planted.py series`: a SeriesDetector (window 64, "
                  "default hyperparameters, fitted on the series' training part, min-max "
                  f"scaled) explains {SPIKES} test windows, each with a spike of 5 standard "
                  "deviations added at a random step of a random channel. *step hit*: the "
                  "time step with the largest attribution (summed over channels) is the "
                  "spike's; *within 2*: at most 2 steps away; *channel hit*: at the spike's "
                  "step, the channel with the largest attribution is the spiked one "
                  "(random: 1 / 64 for the step, 1 / channels for the channel).", ""]
        rows = [[r["series"], str(r["channels"]), r["detector"], r["method"],
                 f"{r['step_hit']:.2f}", f"{r['step_within_2']:.2f}", f"{r['channel_hit']:.2f}"]
                for r in series]
        lines += _table(["series", "channels", "detector", "method", "step hit", "within 2",
                         "channel hit"], rows)
        lines.append("")
    PAGE.write_text("\n".join(lines))
    print(f"wrote {PAGE}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("--detectors", default="", help="comma-separated subset ('baseline' "
                   "for the three baselines)")
    p.add_argument("--tag", default="", help="worker name: its own store file, so two "
                   "workers never write the same file")
    p.add_argument("--seeds", default="", help="comma-separated subset of the seeds")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=run)
    p = sub.add_parser("speed")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=speed)
    p = sub.add_parser("series")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=series_run)
    p = sub.add_parser("report")
    p.add_argument("--top", type=int, default=10)
    p.set_defaults(func=report)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
