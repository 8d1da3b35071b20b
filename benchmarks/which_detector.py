"""The documentation's "Which detector should I use?" page, generated from the benchmark stores.

Reads the resumable stores of ``bash benchmarks/quick.sh`` (the 8 quick-suite ADBench sets,
where defaults are chosen) and ``bash benchmarks/adbench_shared.sh`` (the 25 other ADBench
classical sets, never tuned on) and writes ``docs/which-detector.md``: for tables without
labels and tables with a few labelled anomalies, every detector that finished on every dataset
of both suites, ranked by its average rank over the 33 datasets (each dataset the mean over
its seeds), with mean AUC-ROC / AUC-PR and median fit time, and the picks that follow from
them; for the other data types, the detectors the registry lists for them and the pages that
measure them.

    python benchmarks/which_detector.py            # writes docs/which-detector.md
    python benchmarks/which_detector.py --check    # exit 1 when the page is out of date

No number on the page is typed by hand. ``tests/test_docs.py`` checks that the committed page
is what this script writes; rerun it after a benchmark run changes a store. A new section (a
store of another suite) is one more entry in :data:`TABLE_STORES` or one more function.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from deepad.bench import load_results

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "which-detector.md"
DATA = ROOT.parent / "shared" / "datasets" / "adbench"  # the sets' shapes, for the groups
TABLE_STORES = {"quick": ROOT / "benchmarks/results/quick.db",
                "adbench-shared": ROOT / "benchmarks/results/adbench_shared.db"}
SETTINGS = (("unsupervised", None, "Tables, no labels"),
            ("weak", 0.1, "Tables, a few labelled anomalies (10 % of them)"),
            ("weak", 0.01, "Tables, very few labelled anomalies (1 % of them)"))
SIZE_GROUPS = ((0, 1_000, "up to 1,000 rows"), (1_000, 10_000, "1,000-10,000 rows"),
               (10_000, None, "over 10,000 rows"))
"""Rows of the whole dataset (the ADBench protocol resamples sets under 1,000 rows to 1,000 and
subsamples those over 10,000 to 10,000 before its 70 / 30 split)."""
WIDTH_GROUPS = ((0, 10, "up to 10 features"), (10, 50, "11-50 features"),
                (50, None, "over 50 features"))
REFERENCE = "pyod:IForest"
TOP = 3
MODALITY_PAGES = {  # registry modality -> (title, the page of this site that shows it)
    "sequence": ("Time series and sequence windows", "modalities/series.md"),
    "event": ("Event sequences (log keys) and categorical tables", "modalities/events.md"),
    "categorical": ("Event sequences (log keys) and categorical tables", "modalities/events.md"),
    "image": ("Images", "modalities/images.md"),
    "graph": ("Graphs (node outliers)", "modalities/graphs.md"),
}


def at_defaults(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows run with the detector's current defaults: a row whose given parameters differ
    from them (a variant run beside the default, such as ``DeepXGBOD`` with
    ``booster="histgb"`` in the first weakly supervised checking run) is not that detector."""
    from deepad import get_detector

    def default(detector: str, text: str) -> bool:
        params = json.loads(text) if isinstance(text, str) and text else {}
        if not params:
            return True
        try:
            defaults = get_detector(detector)().get_params(deep=False)
        except (KeyError, ValueError):
            return False
        return all(key in defaults and defaults[key] == value for key, value in params.items())

    keep = [default(d, t) for d, t in zip(frame["detector"], frame["params"], strict=True)]
    return frame[keep]


def per_dataset(frame: pd.DataFrame, setting: str, ratio: float | None) -> dict[str, pd.DataFrame]:
    """Datasets × detectors means over seeds of the finished rows, per metric and fit time."""
    rows = frame[(frame["setting"] == setting) & (frame["status"] == "ok")]
    if ratio is not None:
        rows = rows[rows["labeled_ratio"].round(6) == ratio]
    return {
        "auc_roc": rows.pivot_table(index="dataset", columns="detector", values="auc_roc",
                                    aggfunc="mean"),
        "auc_pr": rows.pivot_table(index="dataset", columns="detector", values="auc_pr",
                                   aggfunc="mean"),
        "fit": rows.groupby("detector")["fit_seconds"].median(),
    }


def ranking(frames: dict[str, pd.DataFrame], setting: str, ratio: float | None
            ) -> tuple[pd.DataFrame, int, list[str]]:
    """One row per detector with a result on every dataset of every suite: average rank
    (1 = best AUC-ROC, over all datasets of all suites), mean AUC-ROC, mean AUC-PR, median
    fit seconds; the number of datasets; the detectors left out (a dataset without result)."""
    tables = [per_dataset(frame, setting, ratio) for frame in frames.values()]
    roc = pd.concat([t["auc_roc"] for t in tables], axis=0)
    pr = pd.concat([t["auc_pr"] for t in tables], axis=0)
    fit = pd.concat([t["fit"] for t in tables], axis=1).median(axis=1)
    complete = [d for d in roc.columns if roc[d].notna().all() and pr[d].notna().all()]
    left_out = sorted(set(roc.columns) - set(complete))
    roc, pr = roc[complete], pr[complete]
    table = pd.DataFrame({"rank": roc.rank(axis=1, ascending=False).mean(),
                          "auc_roc": roc.mean(), "auc_pr": pr.mean(),
                          "fit": fit.reindex(complete)})
    return table.sort_values(["rank", "auc_roc"], ascending=[True, False]), len(roc), left_out


def table_section(frames: dict[str, pd.DataFrame], setting: str, ratio: float | None,
                  title: str) -> list[str]:
    table, n_datasets, left_out = ranking(frames, setting, ratio)
    if table.empty:
        return []
    ours = table[~table.index.str.contains(":")]
    lines = [f"## {title}", ""]
    best = list(ours.index[:TOP])
    if not best:
        lines.append("No deepad detector has a result on every dataset yet.")
    else:
        fastest = ours.loc[best, "fit"].idxmin()
        lines.append(f"**Start with {best[0]}**: the best average rank of deepad's detectors "
                     f"over the {n_datasets} ADBench datasets (mean AUC-ROC "
                     f"{ours.loc[best[0], 'auc_roc']:.3f})."
                     + (" Next: " + ", ".join(f"{d} ({ours.loc[d, 'auc_roc']:.3f})"
                                             for d in best[1:])
                        + f". Of these {len(best)}, {fastest} fits fastest (median "
                        f"{ours.loc[fastest, 'fit']:.3g} s)." if len(best) > 1 else
                        f" Median fit {ours.loc[fastest, 'fit']:.3g} s."))
    if REFERENCE in table.index:
        ref = table.loc[REFERENCE]
        above = [d for d in ours.index if ours.loc[d, "rank"] < ref["rank"]]
        verb = "ranks" if len(above) == 1 else "rank"
        lines += ["", f"Shallow reference: PyOD's isolation forest ({REFERENCE}), mean AUC-ROC "
                      f"{ref['auc_roc']:.3f}, average rank {ref['rank']:.2f}, median fit "
                      f"{ref['fit']:.3g} s; {len(above)} of the {len(ours)} deepad detectors "
                      f"in the table {verb} better on average"
                  + (f" ({', '.join(above)})." if above else ".")]
    lines += ["", "| detector | average rank | mean AUC-ROC | mean AUC-PR | median fit (s) |",
              "|:---|---:|---:|---:|---:|"]
    for detector, row in table.iterrows():
        name = f"{detector} (reference)" if ":" in detector else f"`{detector}`"
        lines.append(f"| {name} | {row['rank']:.2f} | {row['auc_roc']:.3f} | "
                     f"{row['auc_pr']:.3f} | {row['fit']:.3g} |")
    lines += ["", f"Average rank: rank 1 = the highest AUC-ROC on a dataset, over the "
                  f"{n_datasets} datasets where every detector above finished (mean over seeds "
                  "0-2 per dataset). Median fit: wall seconds per job on a shared 2-core "
                  "machine, a rough guide only."]
    if left_out:
        lines += ["", f"Left out (no result on some dataset): {', '.join(left_out)}."]
    lines += shared_only_lines(frames, setting, ratio, set(table.index))
    return [*lines, ""]


def shared_only_lines(frames: dict[str, pd.DataFrame], setting: str, ratio: float | None,
                      shown: set[str]) -> list[str]:
    """The detectors left out above that ran on every checking set: ranked there alone, with
    the others (a detector, or a peer, run on the 25 checking sets only)."""
    if "adbench-shared" not in frames or len(frames) == 1:
        return []
    table, n_datasets, _ = ranking({"adbench-shared": frames["adbench-shared"]}, setting, ratio)
    if table.empty or set(table.index) <= shown:
        return []
    lines = ["", f"On the {n_datasets} checking sets (adbench-shared) alone, with the "
                 "detectors that ran only there:", "",
             "| detector | average rank | mean AUC-ROC | mean AUC-PR | median fit (s) |",
             "|:---|---:|---:|---:|---:|"]
    for detector, row in table.iterrows():
        name = f"{detector} (peer)" if ":" in detector else f"`{detector}`"
        lines.append(f"| {name} | {row['rank']:.2f} | {row['auc_roc']:.3f} | "
                     f"{row['auc_pr']:.3f} | {row['fit']:.3g} |")
    return lines


def dataset_shape(path: Path) -> tuple[int, int]:
    """``(rows, features)`` of an ADBench ``.npz`` from its ``X`` header, without loading it."""
    import zipfile

    import numpy as np

    with zipfile.ZipFile(path) as archive, archive.open("X.npy") as handle:
        version = np.lib.format.read_magic(handle)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape = read(handle)[0]
    return int(shape[0]), int(shape[1])


def _in(value: int, low: int, high: int | None) -> bool:
    return value > low and (high is None or value <= high)


def group_section(frames: dict[str, pd.DataFrame], setting: str, ratio: float | None
                  ) -> list[str]:
    """By data size and by number of features: per group of datasets (both suites), the
    deepad detector with the best average rank there, beside the overall pick and IForest."""
    from deepad.bench.suites import local_datasets

    table, _, _ = ranking(frames, setting, ratio)
    tables = [per_dataset(frame, setting, ratio)["auc_roc"] for frame in frames.values()]
    roc = pd.concat(tables, axis=0)[list(table.index)]
    # the project's data folder beside the clone first (as CI has it), then the user's folders
    paths = {**local_datasets(), **{path.stem: path for path in sorted(DATA.rglob("*.npz"))}}
    shapes = {d: dataset_shape(paths[d]) for d in roc.index if d in paths}
    roc = roc.loc[[d for d in roc.index if d in shapes]]
    ours = [d for d in roc.columns if ":" not in d]
    if roc.empty or not ours:
        return []
    overall = table[~table.index.str.contains(":")].index[0]
    lines = ["### By data size and number of features", "",
             f"The same datasets grouped by their rows and features; in each group the deepad "
             f"detector with the best average rank there (ranked among all detectors above), "
             f"beside {overall} (the best overall) and {REFERENCE}. Mean AUC-ROC over the "
             "group's datasets. Small groups are noisy: read them as hints.", "",
             f"| datasets | sets | best there | its mean AUC-ROC | {overall} | {REFERENCE} |",
             "|:---|---:|:---|---:|---:|---:|"]
    for axis, groups in ((0, SIZE_GROUPS), (1, WIDTH_GROUPS)):
        for low, high, title in groups:
            names = [d for d, shape in shapes.items() if _in(shape[axis], low, high)]
            if not names:
                continue
            block = roc.loc[names]
            ranks = block.rank(axis=1, ascending=False).mean()[ours]
            best = ranks.sort_values(kind="stable").index[0]
            ref = (f"{block[REFERENCE].mean():.3f}" if REFERENCE in block.columns else "—")
            lines.append(f"| {title} | {len(names)} | `{best}` | {block[best].mean():.3f} | "
                         f"{block[overall].mean():.3f} | {ref} |")
    return [*lines, ""]


def modality_section() -> list[str]:
    lines = ["## Other data types", "",
             "Each data type has its page, with the detectors that accept it (from the "
             "registry, as `deepad list` shows them) and the benchmarks that measure them:", ""]
    seen = set()
    for title, page in MODALITY_PAGES.values():
        if page not in seen:
            lines.append(f"- [{title}]({page})")
            seen.add(page)
    return [*lines, ""]


def default_lines(frames: dict[str, pd.DataFrame]) -> list[str]:
    """What ``deepad run`` uses when no detector is named, and where it ranks here."""
    from deepad.cli.app import RECOMMENDED_UNSUPERVISED, RECOMMENDED_WEAK

    lines = ["## What `deepad run` picks", "",
             f"With no `-d`, `deepad run` fits `{RECOMMENDED_UNSUPERVISED}` on a table and, "
             f"when the table has labels, recommends `{RECOMMENDED_WEAK}` for the "
             "weakly-supervised case. Both were chosen on the 8 quick-suite sets only "
             "(docs/decisions.md); the 25 other sets check them:", ""]
    for setting, ratio, title in SETTINGS:
        name = RECOMMENDED_UNSUPERVISED if setting == "unsupervised" else RECOMMENDED_WEAK
        table, n_datasets, _ = ranking(frames, setting, ratio)
        where = "datasets"
        if name not in table.index and "adbench-shared" in frames:
            table, n_datasets, _ = ranking({"adbench-shared": frames["adbench-shared"]},
                                           setting, ratio)
            where = "checking sets (run there only)"
        if name not in table.index:
            lines.append(f"- {title}: `{name}` has no result on every dataset yet.")
            continue
        ours = table[~table.index.str.contains(":")]
        position = list(ours.index).index(name) + 1
        line = (f"- {title}: `{name}`, mean AUC-ROC {table.loc[name, 'auc_roc']:.3f}, "
                f"average rank {table.loc[name, 'rank']:.2f} over {n_datasets} {where} "
                f"({position} of the {len(ours)} deepad detectors in that table")
        if REFERENCE in table.index:
            line += (f"; {REFERENCE}: {table.loc[REFERENCE, 'auc_roc']:.3f}, rank "
                     f"{table.loc[REFERENCE, 'rank']:.2f}")
        # the strongest peer in the same table (with labels: the supervised boosters), so a
        # reader sees what the recommendation is measured against, above or below it
        peers = table[table.index.str.contains(":") & (table.index != REFERENCE)]
        if not peers.empty:
            top = peers.index[0]
            line += (f"; the best-ranked peer, {top}: {peers.loc[top, 'auc_roc']:.3f}, rank "
                     f"{peers.loc[top, 'rank']:.2f}")
        lines.append(line + ").")
    return [*lines, ""]


def variant_lines(raw: pd.DataFrame) -> list[str]:
    """The other configurations of the recommended weakly supervised detector that were run on
    every checking set: reported beside its default, never chosen there (defaults come from
    the quick suite, docs/decisions.md)."""
    from deepad.cli.app import RECOMMENDED_WEAK

    ours = raw[(raw["detector"] == RECOMMENDED_WEAK) & (raw["setting"] == "weak")
               & (raw["status"] == "ok")]
    default_keys = set(at_defaults(ours)["params"])
    lines = []
    for _, ratio, title in (s for s in SETTINGS if s[0] == "weak"):
        rows = ours[(ours["labeled_ratio"].round(6) == ratio)
                    & ~ours["params"].isin(default_keys)]
        full = rows.groupby("params").filter(lambda g: g["dataset"].nunique() == 25)
        means = {params: group.groupby("dataset")["auc_roc"].mean().mean()
                 for params, group in full.groupby("params")}
        for params, mean in sorted(means.items(), key=lambda item: -item[1]):
            given = ", ".join(f"{k}={v!r}" for k, v in json.loads(params).items())
            lines.append(f"- {title}: `{RECOMMENDED_WEAK}({given})`, mean AUC-ROC "
                         f"{mean:.3f}.")
    if not lines:
        return []
    return ["Other configurations of `" + RECOMMENDED_WEAK + "` run on all 25 checking sets "
            "(measured there after the default was chosen, so not a choice: a configuration "
            "picked as the best of several on these sets would look better than it is):", "",
            *lines, ""]


def render() -> str:
    frames = {name: at_defaults(load_results(path)) for name, path in TABLE_STORES.items()}
    lines = ["# Which detector should I use?", "",
             "Generated by `python benchmarks/which_detector.py` from the benchmark stores "
             "`benchmarks/results/quick.db` and `benchmarks/results/adbench_shared.db` "
             "(ADBench protocol, seeds 0-2, every detector at its defaults; defaults were "
             "chosen on the 8 quick-suite sets and checked on the 25 others). The full "
             "tables, with standard deviations, failures and the rows that newer code may have "
             "changed: [quick suite](results/quick.md), "
             "[the 25 other sets](results/adbench_shared.md), "
             "[both side by side](results/defaults_check.md).", "",
             "No detector wins everywhere: the per-dataset tables show each one's spread.", ""]
    best = {}
    for setting, ratio, _ in SETTINGS:
        table = ranking(frames, setting, ratio)[0]
        table = table[~table.index.str.contains(":")]
        if not table.empty and setting not in best:  # weak: the 10 % budget, named below
            best[setting] = (table.index[0], table["auc_roc"].iloc[0], table["auc_pr"].iloc[0])
    if {"unsupervised", "weak"} <= set(best):
        (u, u_roc, u_pr), (w, w_roc, w_pr) = best["unsupervised"], best["weak"]
    if {"unsupervised", "weak"} <= set(best) and w_roc > u_roc and w_pr > u_pr:
        lines += [f"Labels help most: where some anomalies are known, {w} with 10 % of them "
                  f"labelled reaches a mean AUC-ROC of {w_roc:.3f} and AUC-PR of {w_pr:.3f}, "
                  f"against {u_roc:.3f} and {u_pr:.3f} for the best unsupervised detector "
                  f"({u}). Label what you can and use a weakly-supervised detector.", ""]
    lines += default_lines(frames)
    lines += variant_lines(load_results(TABLE_STORES["adbench-shared"]))
    for setting, ratio, title in SETTINGS:
        section = table_section(frames, setting, ratio, title)
        lines += section
        if section and setting == "unsupervised":
            lines += group_section(frames, setting, ratio)
    lines += modality_section()
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when --out differs from what would be written")
    args = parser.parse_args()
    text = render()
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date: run python benchmarks/which_detector.py")
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
