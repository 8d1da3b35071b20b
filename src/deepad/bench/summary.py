"""Summaries of a benchmark results table: per-cell mean ± std, times, status counts, failures.

The input has one row per finished job with the columns in :data:`REQUIRED_COLUMNS` (what
:func:`deepad.bench.load_results` returns). Only jobs with status ``"ok"`` and a finite metric
contribute numbers; every other job is counted and listed, never dropped silently.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pandas as pd

OK = "ok"
SKIPPED = "skipped"
REQUIRED_COLUMNS = (
    "detector", "params", "dataset", "seed", "setting", "labeled_ratio", "auc_roc", "auc_pr",
    "precision_at_n", "fit_seconds", "score_seconds", "peak_memory_mb", "status", "error",
)
SETTING_ORDER = ("unsupervised", "weak")
ERROR_CHARS = 160


def check_results(results: pd.DataFrame) -> pd.DataFrame:
    """Validate a results table and add the ``method`` and ``section`` columns.

    Parameters
    ----------
    results : DataFrame
        One row per job, with the columns in :data:`REQUIRED_COLUMNS`.

    Returns
    -------
    DataFrame
        A copy with ``method`` (see :func:`method_labels`) and ``section`` (see
        :func:`section_label`) added and the index reset.

    Raises
    ------
    TypeError
        When ``results`` is not a DataFrame.
    ValueError
        When it is empty or lacks a required column.
    """
    if not isinstance(results, pd.DataFrame):
        msg = f"results must be a pandas DataFrame; got {type(results).__name__}."
        raise TypeError(msg)
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        msg = (f"the results table lacks the column(s) {', '.join(missing)}; expected "
               f"{', '.join(REQUIRED_COLUMNS)}.")
        raise ValueError(msg)
    if results.empty:
        msg = "the results table is empty: no finished job to report on."
        raise ValueError(msg)
    frame = results.reset_index(drop=True).copy()
    for column in ("detector", "dataset", "setting", "status"):
        frame[column] = frame[column].astype(str)
    frame["labeled_ratio"] = pd.to_numeric(frame["labeled_ratio"], errors="coerce")
    if "fit_cpu_seconds" not in frame:  # an older store, or a table built without it
        frame["fit_cpu_seconds"] = np.nan
    for column in ("auc_roc", "auc_pr", "precision_at_n", "fit_seconds", "score_seconds",
                   "peak_memory_mb", "fit_cpu_seconds"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
    frame["method"] = method_labels(frame)
    frame["section"] = [section_label(s, r) for s, r in
                        zip(frame["setting"], frame["labeled_ratio"], strict=True)]
    return frame


def _params(text: Any) -> dict[str, Any]:
    if isinstance(text, dict):
        return text
    try:
        value = json.loads(text) if isinstance(text, str) and text.strip() else {}
    except json.JSONDecodeError:
        return {"params": text}
    return value if isinstance(value, dict) else {"params": value}


def method_labels(frame: pd.DataFrame) -> pd.Series:
    """One label per row naming the compared method.

    The detector name, or, for a detector run with several parameter sets, the name followed
    by the parameters that differ between them: ``"DeepSVDD (epochs=20)"``. A parameter one
    set did not give shows the value its rows recorded in ``resolved_params`` (the value the
    detector ran with, which a later change of the defaults does not rewrite), or
    ``default`` where none was recorded.

    Examples
    --------
    >>> frame = pd.DataFrame({"detector": ["AE", "SVDD", "SVDD", "SVDD"],
    ...                       "params": ["{}", '{"epochs": 5, "lr": 1}', '{"epochs": 9, "lr": 1}',
    ...                                  "{}"]})
    >>> method_labels(frame).tolist()
    ['AE', 'SVDD (epochs=5, lr=1)', 'SVDD (epochs=9, lr=1)', 'SVDD (epochs=default, lr=default)']
    >>> frame["resolved_params"] = [None, None, None, '{"epochs": 50, "lr": 0.1}']
    >>> method_labels(frame).tolist()[3]
    'SVDD (epochs=50, lr=0.1)'
    >>> frame.loc[3, "resolved_params"] = '{"epochs": 9, "lr": 1}'  # would merge: not used
    >>> method_labels(frame).tolist()[3]
    'SVDD (epochs=default, lr=default)'
    """
    labels = frame["detector"].astype(str).copy()
    resolved = frame["resolved_params"] if "resolved_params" in frame else None
    for detector, rows in frame.groupby("detector", sort=False).groups.items():
        texts = frame.loc[rows, "params"].astype(str)
        parsed = {t: _params(t) for t in texts.unique()}
        if len(parsed) < 2:
            continue
        keys = sorted({k for p in parsed.values() for k in p})
        differing = [k for k in keys
                     if len({json.dumps(p.get(k), sort_keys=True, default=str)
                             for p in parsed.values()}) > 1]
        recorded = {t: _recorded(resolved.loc[rows][texts == t]) if resolved is not None
                    else {} for t in parsed}
        names = {t: _variant_label(detector, parsed[t], recorded[t], differing)
                 for t in parsed}
        if len(set(names.values())) < len(names):  # recorded values alone would merge two sets
            names = {t: _variant_label(detector, parsed[t], {}, differing) for t in parsed}
        labels.loc[rows] = texts.map(names)
    return labels


def _variant_label(detector: str, given: dict, recorded: dict, keys: list[str]) -> str:
    shown = [f"{k}={given[k]}" if k in given else f"{k}={recorded[k]}" if k in recorded
             else f"{k}=default" for k in keys]
    return f"{detector} ({', '.join(shown)})"


def _recorded(texts: pd.Series) -> dict:
    """The parameters recorded in the first of ``texts`` (``resolved_params`` cells) that
    holds any, else ``{}``."""
    for text in texts.dropna().astype(str):
        value = _params(text)
        if value and "params" not in value:
            return value
    return {}


def section_label(setting: str, labeled_ratio: float) -> str:
    """Name of the setting a job belongs to: ``"unsupervised"`` or ``"weak (labeled_ratio
    0.1)"``; runs at different label budgets are separate sections.

    Examples
    --------
    >>> section_label("weak", 0.05), section_label("unsupervised", float("nan"))
    ('weak (labeled_ratio 0.05)', 'unsupervised')
    """
    if setting == "weak" and labeled_ratio is not None and math.isfinite(labeled_ratio):
        return f"weak (labeled_ratio {labeled_ratio:g})"
    return setting


def sections(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """Split a checked table into its sections: unsupervised first, then weak by label budget.

    Parameters
    ----------
    frame : DataFrame
        Output of :func:`check_results`.

    Returns
    -------
    list of (str, DataFrame)
    """
    def order(name: str) -> tuple[int, float, str]:
        rows = frame[frame["section"] == name]
        setting = rows["setting"].iloc[0]
        position = SETTING_ORDER.index(setting) if setting in SETTING_ORDER else len(
            SETTING_ORDER)
        ratio = rows["labeled_ratio"].iloc[0]
        return position, (ratio if math.isfinite(ratio) else -1.0), name

    names = sorted(frame["section"].unique(), key=order)
    return [(name, frame[frame["section"] == name]) for name in names]


def ok_rows(frame: pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """Rows with status ``"ok"`` (and a finite ``metric`` when one is named)."""
    keep = frame["status"] == OK
    if metric is not None:
        keep &= np.isfinite(frame[metric].to_numpy(dtype=np.float64))
    return frame[keep]


def metric_cells(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per (dataset, method): mean and sample std (ddof=1) of ``metric`` over the ok seeds.

    Parameters
    ----------
    frame : DataFrame
        A checked table (one section).
    metric : str
        A metric column, e.g. ``"auc_roc"``.

    Returns
    -------
    DataFrame
        Columns ``dataset, method, mean, std, n_ok, n_jobs, n_skipped, n_stale``; one row
        per pair that was run. ``n_stale`` counts the rows marked ``stale`` (0 when the
        table has no ``stale`` column).
        ``mean`` is NaN when no seed finished; ``std`` is NaN with fewer than 2 seeds.
    """
    keys = ["dataset", "method"]
    jobs = frame.groupby(keys).size().rename("n_jobs")
    skipped = frame[frame["status"] == SKIPPED].groupby(keys).size()
    good = ok_rows(frame, metric).groupby(keys)[metric]
    table = pd.concat([good.mean().rename("mean"), good.std(ddof=1).rename("std"),
                       good.size().rename("n_ok")], axis=1)
    table = table.reindex(jobs.index)
    table["n_ok"] = table["n_ok"].fillna(0).astype(int)
    table["n_jobs"] = jobs
    table["n_skipped"] = skipped.reindex(jobs.index).fillna(0).astype(int)
    if "stale" in frame.columns:
        stale = frame[frame["stale"].fillna(False).astype(bool)].groupby(keys).size()
        table["n_stale"] = stale.reindex(jobs.index).fillna(0).astype(int)
    else:
        table["n_stale"] = 0
    return table.reset_index()


def pivot_means(cells: pd.DataFrame, methods: list[str] | None = None) -> pd.DataFrame:
    """Datasets × methods table of means from :func:`metric_cells` (NaN = no result)."""
    means = cells.pivot(index="dataset", columns="method", values="mean")
    if methods is not None:
        means = means.reindex(columns=methods)
    means.columns.name = None
    return means.loc[sorted(means.index, key=natural_key)]


def natural_key(text: str) -> tuple:
    """Sort key that orders embedded numbers by value: ``"2_x"`` before ``"10_y"``.

    Examples
    --------
    >>> sorted(["10_vowels", "2_thyroid", "1_cardio"], key=natural_key)
    ['1_cardio', '2_thyroid', '10_vowels']
    """
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower())
                 for part in re.split(r"(\d+)", str(text)) if part)


PEER_PACKAGES = ("pyod", "deepod", "catboost", "xgboost", "lightgbm")
"""Prefixes of the peer libraries' detectors in a results table (``pyod:IForest``)."""

PEER_ALIASES = {"IForest": "IsolationForest"}
"""Peer detector names whose deepad counterpart has another name."""


def peer_package(method: str) -> str | None:
    """The peer library of a method label (``"pyod"`` for ``"pyod:DevNet"``), or None for a
    deepad detector."""
    package, sep, _ = method.partition(":")
    return package if sep and package in PEER_PACKAGES else None


def counterpart(method: str) -> str:
    """The deepad detector a peer's method label compares with: the peer's name without the
    package prefix, the parameters and DeepOD's ``TS`` suffix (:data:`PEER_ALIASES` maps the
    names that differ); a deepad method's own detector name.

    Examples
    --------
    >>> counterpart("pyod:DevNet"), counterpart("deepod:DeepSVDDTS"), counterpart("pyod:IForest")
    ('DevNet', 'DeepSVDD', 'IsolationForest')
    >>> counterpart("Forecaster (target_channels=[0])")
    'Forecaster'
    """
    name = method.split(" (", 1)[0]
    if peer_package(name) is None:
        return name
    name = name.partition(":")[2]
    if name.endswith("TS") and len(name) > 2:
        name = name[:-2]
    return PEER_ALIASES.get(name, name)


def peer_order(methods: list[str]) -> list[str]:
    """Each deepad method followed by its PyOD / DeepOD counterparts (:func:`counterpart`), so
    tables set them side by side; peers without a deepad counterpart in the list come last.
    Otherwise the order given is kept.

    Examples
    --------
    >>> peer_order(["pyod:DevNet", "pyod:IForest", "deepod:DevNet", "DeepSAD", "DevNet"])
    ['DeepSAD', 'DevNet', 'pyod:DevNet', 'deepod:DevNet', 'pyod:IForest']
    """
    ours = [m for m in methods if peer_package(m) is None]
    names = {counterpart(m) for m in ours}
    peers = [m for m in methods if peer_package(m) is not None]
    ordered = []
    for method in ours:
        ordered.append(method)
        if method == next(m for m in ours if counterpart(m) == counterpart(method)):
            ordered += [p for p in peers if counterpart(p) == counterpart(method)]
    return ordered + [p for p in peers if counterpart(p) not in names]


def method_order(frame: pd.DataFrame) -> list[str]:
    """The methods of a table: deepad's in order of first appearance, each followed by its
    PyOD / DeepOD counterparts, then the peers without a counterpart (:func:`peer_order`)."""
    return peer_order(list(dict.fromkeys(frame["method"])))


def time_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method: jobs, ok jobs, and median fit seconds (wall and CPU), score seconds and peak
    memory (MB) over the ok jobs (CPU seconds NaN where the store did not record them)."""
    good = ok_rows(frame).groupby("method")
    table = pd.DataFrame({
        "jobs": frame.groupby("method").size(),
        "ok": good.size(),
        "fit_seconds": good["fit_seconds"].median(),
        "fit_cpu_seconds": good["fit_cpu_seconds"].median(),
        "score_seconds": good["score_seconds"].median(),
        "peak_memory_mb": good["peak_memory_mb"].median(),
    }).reindex(method_order(frame))
    table["ok"] = table["ok"].fillna(0).astype(int)
    return table


def status_counts(frame: pd.DataFrame) -> pd.DataFrame:
    """Methods × status table of job counts, ``ok`` first, then the others by frequency."""
    counts = pd.crosstab(frame["method"], frame["status"]).reindex(method_order(frame))
    others = [s for s in frame["status"].value_counts().index if s != OK]
    columns = ([OK] if OK in counts.columns else []) + others
    counts = counts.reindex(columns=columns, fill_value=0)
    counts.columns.name = None
    counts.index.name = None
    return counts


def one_line(text: Any, limit: int = ERROR_CHARS) -> str:
    """An error message on one line, cut to ``limit`` characters ("" for None / NaN).

    A Python traceback is reduced to its last line, the exception itself.

    Examples
    --------
    >>> one_line("Traceback (most recent call last):\\n  File x\\nValueError: bad\\n")
    'ValueError: bad'
    >>> one_line("first line\\nsecond line", limit=14)
    'first line se…'
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    lines = [line for line in str(text).splitlines() if line.strip()]
    if lines and lines[0].startswith("Traceback"):
        lines = lines[-1:]
    flat = " ".join(" ".join(lines).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def failures(frame: pd.DataFrame) -> pd.DataFrame:
    """The jobs that did not finish ok, plus ok jobs whose AUC-ROC is not finite.

    Returns
    -------
    DataFrame
        Columns ``section, method, dataset, seed, status, error`` (error on one line), in
        the order of the sections, the methods' first appearance, datasets and seeds.
    """
    auc = frame["auc_roc"].to_numpy(dtype=np.float64)
    bad = (frame["status"] != OK) | ~np.isfinite(auc)
    rows = frame.loc[bad, ["section", "method", "dataset", "seed", "status", "error"]].copy()
    no_metric = (rows["status"] == OK).to_numpy()
    rows.loc[no_metric, "status"] = "ok, no AUC"
    rows["error"] = [one_line(e) for e in rows["error"]]
    sections_ = {name: i for i, (name, _) in enumerate(sections(frame))}
    methods = {name: i for i, name in enumerate(method_order(frame))}
    order = sorted(range(len(rows)), key=lambda i: (
        sections_[rows["section"].iat[i]], methods[rows["method"].iat[i]],
        natural_key(rows["dataset"].iat[i]), natural_key(rows["seed"].iat[i])))
    return rows.iloc[order]
