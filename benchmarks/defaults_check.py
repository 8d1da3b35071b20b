"""Defaults chosen on the quick suite, checked on data nobody tuned on.

Reads the two resumable stores written by ``bash benchmarks/quick.sh`` (the 8 quick-suite sets,
where defaults are chosen) and ``bash benchmarks/adbench_shared.sh`` (the 25 other ADBench
classical sets in shared/, used only for checking), and writes ``docs/results/defaults_check.md``:
for every detector run in both, its mean AUC-ROC / AUC-PR over datasets (each dataset the mean
over its seeds) and its average rank among the detectors compared on each suite, side by side,
with Isolation Forest as the shallow reference.

    python benchmarks/defaults_check.py

Only finished (``ok``) rows count; a detector with a failure on a dataset is left out of that
suite's comparison and named. Stale rows (made by other code than the current, see
``deepad report``) are counted per suite, so a reader knows which numbers may have moved.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from deepad.bench import load_results
from deepad.bench.identity import mark_stale

ROOT = Path(__file__).resolve().parent.parent
STORES = {"quick (8 sets, defaults chosen here)": ROOT / "benchmarks/results/quick.db",
          "adbench-shared (25 sets, never tuned on)": ROOT / "benchmarks/results/adbench_shared.db"}
REFERENCE = "pyod:IForest"
SETTINGS = (("unsupervised", None), ("weak", 0.1))


def per_dataset(frame: pd.DataFrame, setting: str, ratio: float | None) -> pd.DataFrame:
    """Mean over seeds of each (detector, dataset) in one setting: rows datasets, columns
    detectors, NaN where a detector has no finished job on a dataset."""
    rows = frame[(frame["setting"] == setting) & (frame["status"] == "ok")]
    if ratio is not None:
        rows = rows[rows["labeled_ratio"].round(6) == ratio]
    return {metric: rows.pivot_table(index="dataset", columns="detector", values=metric,
                                     aggfunc="mean")
            for metric in ("auc_roc", "auc_pr")}


def summary(tables: dict[str, pd.DataFrame], detectors: list[str]) -> pd.DataFrame:
    """Mean and average rank (1 = best) over the datasets every listed detector finished."""
    out = {}
    for metric, table in tables.items():
        table = table.reindex(columns=detectors).dropna(axis=0, how="any")
        out[f"{metric} mean"] = table.mean()
        out[f"{metric} rank"] = table.rank(axis=1, ascending=False).mean()
        out[f"{metric} datasets"] = pd.Series(len(table), index=detectors)
    return pd.DataFrame(out)


def section(frames: dict[str, pd.DataFrame], setting: str, ratio: float | None) -> list[str]:
    tables = {name: per_dataset(frame, setting, ratio) for name, frame in frames.items()}
    common = sorted(set.intersection(*(set(t["auc_roc"].columns) for t in tables.values())))
    complete = [d for d in common
                if all(t["auc_roc"][d].notna().all() for t in tables.values())]
    dropped = sorted(set(common) - set(complete))
    if not complete:
        return []
    sums = {name: summary(t, complete) for name, t in tables.items()}
    (quick_name, quick), (shared_name, shared) = sums.items()
    title = setting if ratio is None else f"{setting}, {ratio:.0%} of the anomalies labelled"
    lines = [f"## {title}", "",
             f"Detectors run on every dataset of both suites ({len(complete)}); ranks are among "
             "them. Δ = adbench-shared − quick.", ""]
    if dropped:
        lines += [f"Left out (a dataset without a finished job): {', '.join(dropped)}.", ""]
    lines += ["| detector | quick AUC-ROC | shared AUC-ROC | Δ | quick rank | shared rank | "
              "quick AUC-PR | shared AUC-PR |", "|:---|---:|---:|---:|---:|---:|---:|---:|"]
    order = shared["auc_roc rank"].sort_values().index
    for det in order:
        q, s = quick.loc[det], shared.loc[det]
        name = f"**{det}**" if det == REFERENCE else det
        lines.append(f"| {name} | {q['auc_roc mean']:.3f} | {s['auc_roc mean']:.3f} | "
                     f"{s['auc_roc mean'] - q['auc_roc mean']:+.3f} | {q['auc_roc rank']:.2f} | "
                     f"{s['auc_roc rank']:.2f} | {q['auc_pr mean']:.3f} | {s['auc_pr mean']:.3f} |")
    if REFERENCE in shared.index:
        ref = shared.loc[REFERENCE, "auc_roc mean"]
        above = [d for d in order if d != REFERENCE and shared.loc[d, "auc_roc mean"] > ref]
        lines += ["", f"On adbench-shared, {len(above)} of {len(complete) - 1} detectors have a "
                  f"higher mean AUC-ROC than {REFERENCE} ({ref:.3f})"
                  + (f": {', '.join(above)}." if above else ".")]
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs/results/defaults_check.md")
    args = parser.parse_args()
    frames = {name: mark_stale(load_results(path)) for name, path in STORES.items()}
    lines = ["# Defaults chosen on the quick suite, checked on the 25 other ADBench sets", "",
             "Generated by `python benchmarks/defaults_check.py` from "
             "`benchmarks/results/quick.db` and `benchmarks/results/adbench_shared.db` "
             "(ADBench protocol, seeds 0-2, every detector at its defaults). Full pages: "
             "[quick.md](quick.md), [adbench_shared.md](adbench_shared.md).", ""]
    for name, frame in frames.items():
        ok = frame[frame["status"] == "ok"]
        lines.append(f"- {name}: {len(ok)} finished rows, {int(ok['stale'].sum())} of them "
                     "stale (made by other code than the current, or before code identities "
                     "were recorded).")
    lines.append("")
    for setting, ratio in SETTINGS:
        lines += section(frames, setting, ratio)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
