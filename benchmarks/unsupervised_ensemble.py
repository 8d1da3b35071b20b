"""Choosing the members and the combination of the unsupervised ensemble on the quick suite.

The rule (docs/decisions.md, "choosing and checking defaults"): choices are made on the quick
suite only. This script fits every candidate member once per quick-suite set and seed (ADBench
protocol, the bench's split, each detector at its defaults, one thread), keeps its training
and test scores, then scores every combination of two or more candidates under each
normalisation and combination rule of :class:`deepad.detectors.OutlierEnsemble` from those
cached scores (the ensemble's scores are a function of its members' scores only), and writes
the page ``docs/results/unsupervised_ensemble.md``.

    nice -n 10 python benchmarks/unsupervised_ensemble.py run      # resumable
    python benchmarks/unsupervised_ensemble.py report
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / "results" / "unsupervised_ensemble"
PAGE = ROOT / "docs" / "results" / "unsupervised_ensemble.md"
SEEDS = (0, 1, 2)
COST_BOUND = 5.0
"""The recommended detector's fit CPU, at most this multiple of IsolationForest's (the bound
the recommendation must meet, docs/decisions.md)."""
TIE = 0.002
"""Within the bound, the cheapest candidate whose mean AUC-ROC is within this of the best one
is recommended: the rule that chose ``OutlierEnsemble``'s default members."""
CANDIDATES = ("REPEN", "VAE", "SDOR", "AutoEncoder", "RDP", "NeuTraL", "IsolationForest",
              "ECOD")
"""Deep detectors with the best quick-suite means (docs/results/quick.md) from four leaves,
and deepad's two shallow baselines (isolation forest, ECOD). DAGMM (quick-suite mean 0.796)
was a candidate too and was dropped before the cache was complete: with about 10 CPU s per
fit on the larger sets it cost as much as all the others together, on a shared machine."""


def _path(dataset: str, seed: int, member: str) -> Path:
    return CACHE / f"{dataset}__{seed}__{member}.npz"


def run() -> None:
    import torch

    from deepad.bench.detectors import build, parse_detector
    from deepad.bench.suites import QUICK, resolve_dataset
    from deepad.data.adbench import adbench_split, load_adbench

    torch.set_num_threads(1)
    CACHE.mkdir(parents=True, exist_ok=True)
    for dataset in QUICK:
        X, y = load_adbench(str(resolve_dataset(dataset)))
        for seed in SEEDS:
            split = adbench_split(X, y, seed)
            for member in CANDIDATES:
                path = _path(dataset, seed, member)
                if path.exists():
                    continue
                det, _ = build(parse_detector(member), {}, seed)
                wall, cpu = time.perf_counter(), time.process_time()
                det.fit(split.X_train)
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                test = det.decision_function(split.X_test)
                tmp = path.with_suffix(".tmp.npz")
                np.savez(tmp, train=det.decision_scores_, test=test, y_test=split.y_test,
                         fit_wall=wall, fit_cpu=cpu)
                tmp.replace(path)
                print(f"{dataset} seed {seed} {member}: fit {wall:.1f} s wall, {cpu:.1f} s CPU",
                      flush=True)


def _load_cache() -> dict:
    cache = {}
    for path in sorted(CACHE.glob("*__*__*.npz")):
        if path.name.endswith(".tmp.npz"):
            continue
        dataset, seed, member = path.stem.split("__")
        with np.load(path) as f:
            cache[(dataset, int(seed), member)] = {k: f[k] for k in f.files}
    return cache


def report() -> None:
    import pandas as pd

    from deepad.bench.stats import rank_statistics
    from deepad.bench.suites import QUICK
    from deepad.detectors.ensembles.outlier_ensemble import COMBINATIONS, combine_scores
    from deepad.metrics import auc_pr, auc_roc

    cache = _load_cache()
    sets = [d for d in QUICK if all((d, s, c) in cache for s in SEEDS for c in CANDIDATES)]
    cells = [(d, s) for d in sets for s in SEEDS]
    complete = list(CANDIDATES)
    rows = []
    fit_cpu = {c: float(np.median([cache[(d, s, c)]["fit_cpu"] for d, s in cells]))
               for c in complete}

    def evaluate(members: tuple[str, ...], rule: str) -> dict:
        roc, pr = {}, {}
        for d, s in cells:
            first = cache[(d, s, members[0])]
            if len(members) == 1:
                scores = first["test"]
            else:
                scores = combine_scores([cache[(d, s, m)]["train"] for m in members],
                                        [cache[(d, s, m)]["test"] for m in members], rule)
            roc[(d, s)] = auc_roc(first["y_test"], scores)
            pr[(d, s)] = auc_pr(first["y_test"], scores)
        return {"members": " + ".join(members), "rule": rule if len(members) > 1 else "-",
                "size": len(members), "auc_roc": float(np.mean(list(roc.values()))),
                "auc_pr": float(np.mean(list(pr.values()))),
                "fit_cpu": sum(fit_cpu[m] for m in members), "per_cell": roc}

    for member in complete:
        rows.append(evaluate((member,), "-"))
    for size in range(2, len(complete) + 1):
        for members in itertools.combinations(complete, size):
            for rule in COMBINATIONS:
                rows.append(evaluate(members, rule))
    frame = pd.DataFrame(rows).sort_values("auc_roc", ascending=False)
    iforest = fit_cpu.get("IsolationForest", float("nan"))
    lines = [
        "# The unsupervised ensemble: members and combination chosen on the quick suite",
        "",
        "Generated by `python benchmarks/unsupervised_ensemble.py report` from the scores "
        "cached by `nice -n 10 python benchmarks/unsupervised_ensemble.py run` (ADBench "
        "protocol, the 8 quick-suite sets, seeds 0-2, every candidate at its defaults, one "
        "thread, on a shared 2-core machine). Every combination of two or more candidates is "
        "scored under every rule of `OutlierEnsemble` from the members' cached scores; the "
        "adbench-shared sets are not used here.",
        "",
        f"Candidates: {', '.join(complete)}. Sets with every candidate's scores for every "
        f"seed: {len(sets)} of {len(QUICK)} ({', '.join(sets)}).",
        "",
        "Fit CPU seconds are the sum of the members' median fit CPU seconds over the cells "
        f"(IsolationForest alone: {iforest:.2f} s).",
        "",
        "## Single candidates",
        "",
        "| detector | mean AUC-ROC | mean AUC-PR | median fit CPU s |",
        "|:---|---:|---:|---:|",
    ]
    singles = frame[frame["size"] == 1]
    for _, r in singles.iterrows():
        lines.append(f"| {r.members} | {r.auc_roc:.4f} | {r.auc_pr:.4f} | {r.fit_cpu:.2f} |")
    lines += ["", "## Best 25 combinations by mean AUC-ROC", "",
              "| members | rule | mean AUC-ROC | mean AUC-PR | fit CPU s | × IsolationForest |",
              "|:---|:---|---:|---:|---:|---:|"]
    for _, r in frame[frame["size"] > 1].head(25).iterrows():
        lines.append(f"| {r.members} | {r.rule} | {r.auc_roc:.4f} | {r.auc_pr:.4f} | "
                     f"{r.fit_cpu:.2f} | {r.fit_cpu / iforest:.1f} |")
    lines += ["", "## Best combination of each size", "",
              "| size | members | rule | mean AUC-ROC | fit CPU s |", "|---:|:---|:---|---:|---:|"]
    for size, group in frame.groupby("size"):
        r = group.iloc[0]
        lines.append(f"| {size} | {r.members} | {r.rule} | {r.auc_roc:.4f} | {r.fit_cpu:.2f} |")
    lines += ["", "## Rules compared (mean AUC-ROC over all combinations of 2+ members)", "",
              "| rule | mean over combinations | combinations where it is the best rule |",
              "|:---|---:|---:|"]
    multi = frame[frame["size"] > 1]
    best_rule = multi.loc[multi.groupby("members")["auc_roc"].idxmax(), "rule"].value_counts()
    for rule in COMBINATIONS:
        lines.append(f"| {rule} | {multi[multi.rule == rule].auc_roc.mean():.4f} | "
                     f"{int(best_rule.get(rule, 0))} of {multi.members.nunique()} |")
    # Friedman / Nemenyi over the 8 sets (mean over seeds), as the bench report ranks
    best = multi.iloc[0]
    per_set = {}
    for _, r in pd.concat([singles, multi.head(1)]).iterrows():
        label = r.members + ("" if r.rule == "-" else f" [{r.rule}]")
        per_set[label] = {d: float(np.mean([r.per_cell[(d, s)] for s in SEEDS])) for d in sets}
    stats = rank_statistics(pd.DataFrame(per_set))
    lines += ["", f"## Average rank over the {len(sets)} sets (singles and the best "
              "combination)", "",
              "AUC-ROC averaged over the seeds per set, then ranked per set (1 = best).", "",
              "| detector | average rank |", "|:---|---:|"]
    lines += [f"| {name} | {rank:.2f} |" for name, rank in stats.ranks.items()]
    if stats.friedman is not None:
        lines += ["", f"Friedman: chi-square {stats.friedman.statistic:.2f}, p = "
                      f"{stats.friedman.pvalue:.3g}; Nemenyi critical difference "
                      f"{stats.cd:.2f} (alpha {stats.alpha})."]
    lines += ["", f"Best: {best.members} [{best['rule']}], mean AUC-ROC {best.auc_roc:.4f}."]
    lines += _bounded_choice(frame, iforest)
    PAGE.write_text("\n".join(lines) + "\n")
    print(f"wrote {PAGE}")


def _bounded_choice(frame, iforest: float) -> list[str]:
    """The page's last section: the best candidates whose fit CPU is within ``COST_BOUND``
    times IsolationForest's, and the chosen one (the cheapest within ``TIE`` of their best
    mean AUC-ROC)."""
    within = frame[frame["fit_cpu"] <= COST_BOUND * iforest]
    lines = ["", f"## Within {COST_BOUND:g}x IsolationForest's fit CPU (the recommendation)", "",
             f"Singles and combinations whose fit CPU is at most {COST_BOUND:g} x "
             f"IsolationForest's ({COST_BOUND * iforest:.2f} s); the best 10 by mean AUC-ROC.",
             "", "| members | rule | mean AUC-ROC | mean AUC-PR | fit CPU s | x IsolationForest |",
             "|:---|:---|---:|---:|---:|---:|"]
    for _, r in within.head(10).iterrows():
        lines.append(f"| {r.members} | {r.rule} | {r.auc_roc:.4f} | {r.auc_pr:.4f} | "
                     f"{r.fit_cpu:.2f} | {r.fit_cpu / iforest:.1f} |")
    near = within[within["auc_roc"] >= within["auc_roc"].iloc[0] - TIE]
    chosen = near.sort_values("fit_cpu", kind="stable").iloc[0]
    rule = "" if chosen.rule == "-" else f" [{chosen.rule}]"
    lines += ["", f"Within {TIE} of the best: {len(near)}; the cheapest is chosen (recommended): "
                  f"{chosen.members}{rule}, mean AUC-ROC {chosen.auc_roc:.4f}, fit CPU "
                  f"{chosen.fit_cpu:.2f} s, {chosen.fit_cpu / iforest:.1f} x IsolationForest's."]
    return lines


if __name__ == "__main__":
    {"run": run, "report": report}[sys.argv[1]]()
