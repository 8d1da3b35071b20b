"""Choosing the design of DeepXGBOD on the quick suite (8 sets), weak setting, 10 % and
1 % of the training anomalies labelled, seeds 0-2, ADBench protocol (deepad's split).

Every candidate is built from the same member scores, so each member is fitted once per
(dataset, seed, label ratio):

- unsupervised deep detectors at their defaults (REPEN, AutoEncoder, VAE), fitted on every
  training row without labels: their scores are the "transformed outlier scores" (TOS) of
  XGBOD;
- the weakly supervised DevNet and PReNet at their defaults;
- scikit-learn's HistGradientBoostingClassifier at its defaults (``random_state=seed``) on the
  partial labels, on the raw features (``hgb_x``) or on the raw features and the TOS
  (``hgb_xtos``, the XGBOD idea);

and the candidates combine them by averaging ranks (each member's score turned into the
fraction of its training scores at or below it, as the detector does for new rows).

    nice -n 10 python benchmarks/weak_boost_choice.py run      # resumable (one .npz per job)
    PYTHONPATH=<folder with catboost> nice -n 10 python benchmarks/weak_boost_choice.py \
        run-catboost                                           # the late CatBoost candidates
    nice -n 10 python benchmarks/weak_boost_choice.py run-weight  # out-of-fold ranks: the weight
    python benchmarks/weak_boost_choice.py report             # docs/results/weak_boost_choice.md

Only the quick suite is read: the 25 adbench-shared sets are never used to choose.

The rule (written after the 10 % results were seen and before any 1 % result): the default
is the candidate with the highest average of its mean AUC-ROC at 10 % and at 1 %.

The booster (``DeepXGBOD(booster=...)``): the same rule between the two DeepXGBOD
configurations that differ only in their booster (``hgb_xtos+DevNet+tos``, scikit-learn's,
and ``cat_xtos+DevNet+tos``, CatBoost), both measured here; the report's last section.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "benchmarks/results/weak_boost_choice"
PAGE = ROOT / "docs/results/weak_boost_choice.md"
DATA = ROOT.parent / "shared/datasets/adbench/classical"
SEEDS = (0, 1, 2)
RATIOS = (0.1, 0.01)
UNSUPERVISED = ("REPEN", "AutoEncoder", "VAE")
WEAK = ("DevNet", "PReNet")

CANDIDATES = {
    "hgb_x": ("HGB on the raw features (plain boosting)", ["hgb_x"]),
    "hgb_xtos": ("HGB on raw features + deep TOS (XGBOD idea)", ["hgb_xtos"]),
    "DevNet": ("DevNet alone", ["DevNet"]),
    "PReNet": ("PReNet alone", ["PReNet"]),
    "tos_mean": ("mean rank of the three unsupervised TOS", ["tos"]),
    "hgb_xtos+DevNet": ("rank average: HGB(X+TOS), DevNet", ["hgb_xtos", "DevNet"]),
    "hgb_xtos+PReNet": ("rank average: HGB(X+TOS), PReNet", ["hgb_xtos", "PReNet"]),
    "hgb_xtos+DevNet+PReNet": ("rank average: HGB(X+TOS), DevNet, PReNet",
                               ["hgb_xtos", "DevNet", "PReNet"]),
    "hgb_x+DevNet": ("rank average: HGB(X), DevNet", ["hgb_x", "DevNet"]),
    "hgb_xtos+DevNet+tos": ("rank average: HGB(X+TOS), DevNet, mean TOS rank",
                            ["hgb_xtos", "DevNet", "tos"]),
    "DevNet+PReNet": ("rank average: DevNet, PReNet", ["DevNet", "PReNet"]),
}

LATE = {
    "cat_x": ("CatBoost on the raw features (ADBench's CatBoost)", ["cat_x"]),
    "cat_xtos": ("CatBoost on raw features + deep TOS", ["cat_xtos"]),
    "cat_xtos+DevNet+tos": ("rank average: CatBoost(X+TOS), DevNet, mean TOS rank",
                            ["cat_xtos", "DevNet", "tos"]),
    "cat_x+DevNet+tos": ("rank average: CatBoost(X), DevNet, mean TOS rank",
                         ["cat_x", "DevNet", "tos"]),
}
"""Added after the first checking run on adbench-shared was seen (CatBoost above DeepXGBOD at
10 % labels there): CatBoost in place of scikit-learn's booster, measured here on the quick
suite only (``run-catboost``; needs catboost importable). They chose DeepXGBOD's default
booster (:data:`BOOSTER_CHOICE`); that default is checked by the second checking run."""
BOOSTER_CHOICE = {"histgb": "hgb_xtos+DevNet+tos", "catboost": "cat_xtos+DevNet+tos"}
"""DeepXGBOD's default configuration with each booster (booster on raw features + TOS,
rank-averaged with DevNet and the mean TOS rank)."""


def ecdf(train: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Rank of each score among the training scores, ties counted half (DeepXGBOD's
    ``rank_normalise``)."""
    ordered = np.sort(train)
    below = np.searchsorted(ordered, scores, side="left")
    return (below + np.searchsorted(ordered, scores, side="right")) / (2.0 * len(ordered))


def run_one(dataset: str, seed: int, ratio: float) -> None:
    out = CACHE / f"{dataset}__{seed}__{ratio:g}.npz"
    if out.exists():
        return
    import torch
    from sklearn.ensemble import HistGradientBoostingClassifier

    from deepad import get_detector
    from deepad.data.adbench import adbench_split, load_adbench

    torch.set_num_threads(1)
    X, y = load_adbench(dataset)
    split = adbench_split(X, y, seed, labeled_anomalies=ratio, at_least_one=True)
    Xtr, Xte, ysemi = split.X_train, split.X_test, split.y_semi
    arrays: dict[str, np.ndarray] = {"y_test": split.y_test}
    cpu: dict[str, float] = {}
    for name in (*UNSUPERVISED, *WEAK):
        start = time.process_time()
        det = get_detector(name)(random_state=seed, device="cpu")
        det.fit(Xtr, ysemi) if name in WEAK else det.fit(Xtr)
        arrays[f"{name}__train"] = det.decision_scores_
        arrays[f"{name}__test"] = det.decision_function(Xte)
        cpu[name] = time.process_time() - start
    tos_train = np.column_stack([arrays[f"{n}__train"] for n in UNSUPERVISED])
    tos_test = np.column_stack([arrays[f"{n}__test"] for n in UNSUPERVISED])
    for key, (train, test) in {"hgb_x": (Xtr, Xte),
                               "hgb_xtos": (np.hstack([Xtr, tos_train]),
                                            np.hstack([Xte, tos_test]))}.items():
        start = time.process_time()
        model = HistGradientBoostingClassifier(random_state=seed).fit(train, ysemi)
        arrays[f"{key}__train"] = model.predict_proba(train)[:, 1]
        arrays[f"{key}__test"] = model.predict_proba(test)[:, 1]
        cpu[key] = time.process_time() - start
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays, cpu_names=np.array(list(cpu)), cpu=np.array(list(cpu.values())))
    os.replace(tmp, out)


def run_catboost(dataset: str, seed: int, ratio: float) -> None:
    """CatBoost (defaults, ``random_state=seed``, one thread) on the raw features and on the
    raw features + the cached TOS of one job."""
    base = CACHE / f"{dataset}__{seed}__{ratio:g}.npz"
    out = CACHE / f"{dataset}__{seed}__{ratio:g}__cat.npz"
    if out.exists() or not base.exists():
        return
    from catboost import CatBoostClassifier

    from deepad.data.adbench import adbench_split, load_adbench

    cached = dict(np.load(base))
    X, y = load_adbench(dataset)
    split = adbench_split(X, y, seed, labeled_anomalies=ratio, at_least_one=True)
    tos_train = np.column_stack([cached[f"{n}__train"] for n in UNSUPERVISED])
    tos_test = np.column_stack([cached[f"{n}__test"] for n in UNSUPERVISED])
    arrays, cpu = {}, {}
    for key, (train, test) in {"cat_x": (split.X_train, split.X_test),
                               "cat_xtos": (np.hstack([split.X_train, tos_train]),
                                            np.hstack([split.X_test, tos_test]))}.items():
        start = time.process_time()
        model = CatBoostClassifier(random_state=seed, verbose=False, allow_writing_files=False,
                                   thread_count=1).fit(train, split.y_semi)
        arrays[f"{key}__train"] = model.predict_proba(train)[:, 1]
        arrays[f"{key}__test"] = model.predict_proba(test)[:, 1]
        cpu[key] = time.process_time() - start
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays, cpu_names=np.array(list(cpu)), cpu=np.array(list(cpu.values())))
    os.replace(tmp, out)


def run_weight(dataset: str, seed: int, ratio: float) -> None:
    """Out-of-fold ranks of the training rows for DeepXGBOD's ``booster_weight="auto"``:
    CatBoost on raw features + cached TOS, and DevNet, each refitted on 3 folds stratified by
    the partial labels (as the detector does); nothing when fewer than 2 anomalies are
    labelled."""
    base = CACHE / f"{dataset}__{seed}__{ratio:g}.npz"
    out = CACHE / f"{dataset}__{seed}__{ratio:g}__oof.npz"
    if out.exists() or not base.exists():
        return
    import torch
    from catboost import CatBoostClassifier
    from sklearn.model_selection import StratifiedKFold

    from deepad import get_detector
    from deepad.data.adbench import adbench_split, load_adbench

    torch.set_num_threads(1)
    cached = dict(np.load(base))
    X, y = load_adbench(dataset)
    split = adbench_split(X, y, seed, labeled_anomalies=ratio, at_least_one=True)
    labels = split.y_semi
    tos = np.column_stack([cached[f"{n}__train"] for n in UNSUPERVISED])
    features = np.hstack([split.X_train, tos])
    booster = np.full(len(labels), np.nan)
    devnet = np.full(len(labels), np.nan)
    start = time.process_time()
    n_folds = min(3, int(labels.sum()))
    if n_folds >= 2:
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        for train, held in folds.split(features, labels):
            model = CatBoostClassifier(random_seed=seed, verbose=False,
                                       allow_writing_files=False, thread_count=1)
            model.fit(features[train], labels[train])
            raw = [model.predict(features[part], prediction_type="RawFormulaVal")
                   for part in (train, held)]
            booster[held] = ecdf(*raw)
            det = get_detector("DevNet")(random_state=seed, device="cpu")
            det.fit(split.X_train[train], labels[train])
            devnet[held] = ecdf(det.decision_scores_, det.decision_function(split.X_train[held]))
    tmp = out.with_suffix(".tmp.npz")
    np.savez(tmp, oof_booster=booster, oof_devnet=devnet, labels=labels,
             cpu=time.process_time() - start)
    os.replace(tmp, out)


def hanley_mcneil_se(auc: float, n_positive: int, n_negative: int) -> float:
    from deepad.detectors.feature_extraction.boosted_scores import hanley_mcneil_se as se

    return se(auc, n_positive, n_negative)


WEIGHTS = (1.0 / 3.0, 0.5, 2.0 / 3.0, 1.0)
WEIGHT_RULES = {
    "equal": "equal weights, 1/3 (the default of both checking runs)",
    "half": "fixed weight 1/2",
    "two_thirds": "fixed weight 2/3",
    "booster": "booster alone, weight 1",
    "argmax": "cross-fitted choice: the best out-of-fold AUROC on the partial labels",
    "1se_equal": "cross-fitted choice, one-standard-error rule from 1/3",
    "1se_half": "cross-fitted choice, one-standard-error rule from 1/2 "
                "(`booster_weight=\"auto\"`)",
}


def weight_choice() -> list[str]:
    """The section choosing DeepXGBOD's booster weight, from the cached member scores and
    the out-of-fold ranks of ``run-weight``."""
    from sklearn.metrics import roc_auc_score

    from deepad.bench.suites import QUICK

    lines = ["## DeepXGBOD's booster weight", "",
             "Added after the second checking run on adbench-shared had shown the equal-weight "
             "average (CatBoost booster) below plain CatBoost at 10 % labels; measured on these "
             "8 sets only. The score is `w` × the booster's rank + (1 − `w`) × the mean rank of "
             "DevNet and of the TOS mean rank (the booster is CatBoost on raw features + TOS). "
             "The cross-fitted rules choose `w` among 1/3, 1/2, 2/3 and 1 by the AUROC of "
             "out-of-fold scores against the partial labels (3 folds; fewer than 2 labelled "
             "anomalies: no choice, the rule's prior). The same rule as above decides (the "
             "highest average of the 10 % and 1 % means), ties (within 0.0005) going to the "
             "cheaper rule (a fixed weight needs no refits).", ""]
    results: dict[str, dict[float, float]] = {key: {} for key in WEIGHT_RULES}
    cpu: list[float] = []
    for ratio in RATIOS:
        per_rule: dict[str, list[float]] = {key: [] for key in WEIGHT_RULES}
        for dataset in QUICK:
            cells: dict[str, list[float]] = {key: [] for key in WEIGHT_RULES}
            for seed in SEEDS:
                stem = f"{dataset}__{seed}__{ratio:g}"
                paths = [CACHE / f"{stem}{end}.npz" for end in ("", "__cat", "__oof")]
                if not all(path.exists() for path in paths):
                    continue
                arrays = dict(np.load(paths[0]))
                arrays.update(np.load(paths[1]))
                oof = dict(np.load(paths[2]))
                cpu.append(float(oof["cpu"]))
                booster = member(arrays, "cat_xtos", "test")[1]
                rest = (member(arrays, "DevNet", "test")[1] + member(arrays, "tos", "test")[1]) / 2
                test = {w: roc_auc_score(arrays["y_test"], w * booster + (1 - w) * rest)
                        for w in WEIGHTS}
                chosen = {"equal": WEIGHTS[0], "half": 0.5, "two_thirds": WEIGHTS[2],
                          "booster": 1.0}
                labels = oof["labels"]
                if np.isnan(oof["oof_booster"]).any():
                    chosen.update({"argmax": WEIGHTS[0], "1se_equal": WEIGHTS[0],
                                   "1se_half": 0.5})
                else:
                    tos_train = member(arrays, "tos", "train")[0]
                    other = (oof["oof_devnet"] + tos_train) / 2
                    cv = {w: roc_auc_score(labels, w * oof["oof_booster"] + (1 - w) * other)
                          for w in WEIGHTS}
                    best = max(WEIGHTS, key=lambda w: (cv[w], -w))
                    n_pos = int(labels.sum())
                    for key, prior in (("1se_equal", WEIGHTS[0]), ("1se_half", 0.5)):
                        margin = hanley_mcneil_se(cv[prior], n_pos, len(labels) - n_pos)
                        chosen[key] = best if cv[best] - cv[prior] > margin else prior
                    chosen["argmax"] = best
                for key, w in chosen.items():
                    cells[key].append(test[w])
            for key, values in cells.items():
                if len(values) == len(SEEDS):
                    per_rule[key].append(float(np.mean(values)))
        for key, values in per_rule.items():
            if len(values) == len(QUICK):
                results[key][ratio] = float(np.mean(values))
    lines += ["| rule | 10% | 1% | average |", "|---|---|---|---|"]
    averages = {}
    for key, label in WEIGHT_RULES.items():
        high, low = results[key].get(0.1, float("nan")), results[key].get(0.01, float("nan"))
        averages[key] = (high + low) / 2
        lines.append(f"| `{key}`: {label} | {high:.4f} | {low:.4f} | {averages[key]:.4f} |")
    complete = {k: a for k, a in averages.items() if np.isfinite(a)}
    if len(complete) == len(WEIGHT_RULES):
        top = max(complete.values())
        fixed = ("equal", "half", "two_thirds", "booster")
        tied = [k for k in complete if complete[k] >= top - 0.0005]
        chosen = max(tied, key=lambda k: (k in fixed, complete[k]))
        lines += ["", f"Within 0.0005 of the best average: {', '.join(f'`{k}`' for k in tied)}; "
                      f"chosen: `{chosen}`. Median CPU seconds of the cross-fitting (three "
                      f"CatBoost and three DevNet fits, one thread) per job: "
                      f"{np.median(cpu):.1f}."]
    return [*lines, ""]


def member(arrays: dict, name: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "tos":
        ranks = [member(arrays, n, part) for n in UNSUPERVISED]
        train = np.mean([r[0] for r in ranks], axis=0)
        test = np.mean([r[1] for r in ranks], axis=0)
        return train, test
    train, test = arrays[f"{name}__train"], arrays[f"{name}__test"]
    return ecdf(train, train), ecdf(train, test)


def candidate_scores(arrays: dict, members: list[str]) -> np.ndarray:
    if len(members) == 1 and members[0] != "tos":
        return arrays[f"{members[0]}__test"]
    return np.mean([member(arrays, m, "test")[1] for m in members], axis=0)


def report() -> None:
    from sklearn.metrics import roc_auc_score

    from deepad.bench.suites import QUICK

    lines = ["# Choosing DeepXGBOD on the quick suite",
             "",
             "Generated by `python benchmarks/weak_boost_choice.py report` from the member "
             "scores cached by `python benchmarks/weak_boost_choice.py run` (quick suite, 8 "
             "ADBench sets, ADBench protocol, seeds 0-2, weak setting). Mean AUC-ROC over the "
             "datasets, each the mean over its seeds; the candidates are rank averages of the "
             "same fitted members (see the script's docstring). Only these 8 sets were used to "
             "choose; the 25 `adbench-shared` sets only check the choice.", ""]
    means: dict[tuple[str, float], float] = {}
    for ratio in RATIOS:
        table: dict[str, dict[str, float]] = {}
        cpu: dict[str, list[float]] = {}
        missing = []
        for dataset in QUICK:
            for seed in SEEDS:
                path = CACHE / f"{dataset}__{seed}__{ratio:g}.npz"
                if not path.exists():
                    missing.append(f"{dataset}/{seed}")
                    continue
                arrays = dict(np.load(path))
                late = path.with_name(path.name.replace(".npz", "__cat.npz"))
                candidates = dict(CANDIDATES)
                if late.exists():
                    extra = dict(np.load(late))
                    cpu_extra = zip(extra.pop("cpu_names"), extra.pop("cpu"), strict=True)
                    for name, seconds in cpu_extra:
                        cpu.setdefault(str(name), []).append(float(seconds))
                    arrays.update(extra)
                    candidates.update(LATE)
                for key, (_, members) in candidates.items():
                    auc = roc_auc_score(arrays["y_test"], candidate_scores(arrays, members))
                    table.setdefault(key, {}).setdefault(dataset, []).append(auc)
                for name, seconds in zip(arrays["cpu_names"], arrays["cpu"], strict=True):
                    cpu.setdefault(str(name), []).append(float(seconds))
        lines += [f"## {ratio:.0%} of the training anomalies labelled", ""]
        if missing:
            lines += [f"Missing jobs (not run yet): {', '.join(missing)}.", ""]
        datasets = [d for d in QUICK if any(d in t for t in table.values())]
        short = [d.split("_", 1)[1] for d in datasets]
        lines += ["| candidate | mean AUC-ROC | cells | " + " | ".join(short) + " |",
                  "|---|---|---|" + "---|" * len(short)]
        rows = []
        for key, (label, _) in {**CANDIDATES, **LATE}.items():
            if key not in table:
                continue
            cells = sum(len(v) for v in table[key].values())
            per = [float(np.mean(table[key][d])) if d in table[key] else float("nan")
                   for d in datasets]
            late = " (added after the checking run, see below)" if key in LATE else ""
            rows.append((float(np.nanmean(per)), key, label + late, per, cells))
        for mean, key, label, per, cells in sorted(rows, reverse=True):
            means[key, ratio] = mean if cells == len(QUICK) * len(SEEDS) else float("nan")
            lines.append(f"| `{key}`: {label} | {mean:.3f} | {cells} | "
                         + " | ".join(f"{v:.3f}" for v in per) + " |")
        lines += ["", "Median fit CPU seconds per member (one thread): "
                  + ", ".join(f"{k} {np.median(v):.2f}" for k, v in cpu.items()) + ".", ""]
    lines += ["Candidates marked \"added after the checking run\" (CatBoost in place of "
              "scikit-learn's booster) were measured here after CatBoost was seen above "
              "DeepXGBOD at 10 % labels on adbench-shared (the first checking run), on these 8 "
              "sets only; they chose DeepXGBOD's booster (below).", ""]
    lines += booster_choice(means)
    lines += weight_choice()
    PAGE.write_text("\n".join(lines) + "\n")
    print(PAGE.read_text())


def booster_choice(means: dict[tuple[str, float], float]) -> list[str]:
    """The section choosing DeepXGBOD's booster by the rule, from the candidates' means."""
    lines = ["## DeepXGBOD's booster", "",
             "The same rule (the highest average of the mean AUC-ROC at 10 % and at 1 %) "
             "between DeepXGBOD's default configuration with each booster:", "",
             "| booster | candidate | 10% | 1% | average |", "|---|---|---|---|---|"]
    averages = {}
    for booster, key in BOOSTER_CHOICE.items():
        high, low = means.get((key, 0.1), float("nan")), means.get((key, 0.01), float("nan"))
        averages[booster] = (high + low) / 2
        lines.append(f"| `{booster}` | `{key}` | {high:.4f} | {low:.4f} | "
                     f"{averages[booster]:.4f} |")
    complete = {b: a for b, a in averages.items() if np.isfinite(a)}
    if len(complete) == len(BOOSTER_CHOICE):
        chosen = max(complete, key=complete.get)
        lines += ["", f"Chosen: `booster=\"{chosen}\"` (DeepXGBOD's default)."]
    overall = {k: (means[k, 0.1] + means[k, 0.01]) / 2 for k, r in means if r == 0.1
               and (k, 0.01) in means and np.isfinite(means[k, 0.1] + means[k, 0.01])}
    best = max(overall, key=overall.get) if overall else None
    if best is not None and best not in BOOSTER_CHOICE.values():
        lines += ["", f"The best candidate of the whole table, `{best}` (average "
                      f"{overall[best]:.4f}), is not a configuration of DeepXGBOD (its booster "
                      "does not see the TOS, the XGBOD idea); it is within "
                      f"{overall[best] - max(complete.values()):.4f} of the chosen one."]
    return [*lines, ""]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("run", "run-catboost", "run-weight", "report"))
    args = parser.parse_args(argv)
    if args.command == "report":
        report()
        return
    os.environ.setdefault("DEEPAD_DATA_DIR", str(DATA))
    from deepad.bench.suites import QUICK

    job = {"run": run_one, "run-catboost": run_catboost, "run-weight": run_weight}[args.command]
    for ratio in RATIOS:
        for seed in SEEDS:
            for dataset in QUICK:
                start = time.perf_counter()
                job(dataset, seed, ratio)
                print(f"{dataset} seed {seed} ratio {ratio:g}: "
                      f"{time.perf_counter() - start:.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
