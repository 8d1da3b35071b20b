"""Rank statistics for comparing detectors over datasets (Demšar, JMLR 2006).

The input is a block of scores, one row per dataset and one column per detector (e.g. the
mean AUC-ROC over seeds). Each dataset ranks the detectors (higher score = rank 1, ties get
the average of the ranks they span); the Friedman test asks whether the average ranks differ
more than chance allows, and the Nemenyi critical difference says which pairs of detectors
differ.

References
----------
J. Demšar, "Statistical Comparisons of Classifiers over Multiple Data Sets", Journal of
Machine Learning Research 7:1-30, 2006 (Sections 3.2.2 and 3.2.3, Table 5, Figure 1).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05
MIN_FRIEDMAN_METHODS = 3  # scipy.stats.friedmanchisquare needs three groups
MIN_DATASETS = 2


@lru_cache(maxsize=64)
def nemenyi_q(k: int, alpha: float = ALPHA) -> float:
    """Critical value :math:`q_\\alpha` of the two-tailed Nemenyi test for ``k`` methods.

    The studentized range statistic for ``k`` groups and infinite degrees of freedom divided
    by :math:`\\sqrt{2}`, as in Demšar's Table 5(a).

    Parameters
    ----------
    k : int
        Number of methods compared, at least 2.
    alpha : float, default 0.05
        Significance level.

    Returns
    -------
    float

    Examples
    --------
    >>> round(nemenyi_q(2), 3), round(nemenyi_q(10), 3)
    (1.96, 3.164)
    """
    if k < 2:
        msg = f"nemenyi_q needs k >= 2 methods; got k={k}."
        raise ValueError(msg)
    if not 0 < alpha < 1:
        msg = f"alpha must lie in (0, 1); got {alpha}."
        raise ValueError(msg)
    return float(stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2))


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi critical difference :math:`CD = q_\\alpha \\sqrt{k(k+1)/(6N)}`.

    Two methods whose average ranks over ``n`` datasets differ by more than CD perform
    significantly differently (Demšar, 2006, Section 3.2.2).

    Parameters
    ----------
    k : int
        Number of methods.
    n : int
        Number of datasets, at least 1.
    alpha : float, default 0.05
        Significance level.

    Returns
    -------
    float

    Examples
    --------
    >>> round(critical_difference(4, 14), 3)
    1.254
    """
    if n < 1:
        msg = f"critical_difference needs n >= 1 datasets; got n={n}."
        raise ValueError(msg)
    return nemenyi_q(k, alpha) * math.sqrt(k * (k + 1) / (6.0 * n))


def rank_block(block: pd.DataFrame) -> pd.DataFrame:
    """Rank the columns within each row: the highest score gets rank 1, ties share the mean.

    Parameters
    ----------
    block : DataFrame
        Scores, rows = datasets, columns = methods, no missing values.

    Returns
    -------
    DataFrame
        Ranks of the same shape.

    Examples
    --------
    >>> rank_block(pd.DataFrame({"a": [0.9], "b": [0.8], "c": [0.8]})).iloc[0].tolist()
    [1.0, 2.5, 2.5]
    """
    if block.isna().to_numpy().any():
        msg = "rank_block needs a complete block: some scores are missing (NaN)."
        raise ValueError(msg)
    return block.rank(axis=1, method="average", ascending=False)


def average_ranks(block: pd.DataFrame) -> pd.Series:
    """Average rank of each method over the datasets (rows) of a complete block.

    Parameters
    ----------
    block : DataFrame
        Scores, rows = datasets, columns = methods, no missing values.

    Returns
    -------
    Series
        Average rank per method, sorted best (lowest) first.

    Examples
    --------
    >>> block = pd.DataFrame({"a": [0.9, 0.7], "b": [0.8, 0.9]})
    >>> average_ranks(block).to_dict()
    {'a': 1.5, 'b': 1.5}
    """
    return rank_block(block).mean(axis=0).sort_values(kind="stable")


@dataclass(frozen=True)
class FriedmanResult:
    """The Friedman test on a block of ``n_datasets`` rows and ``n_methods`` columns.

    Attributes
    ----------
    statistic, pvalue : float
        Friedman's chi-square (with scipy's correction for ties) and its p-value.
    f_statistic, f_pvalue : float
        Iman and Davenport's F statistic, :math:`(N-1)\\chi^2 / (N(k-1) - \\chi^2)`, with
        :math:`k-1` and :math:`(k-1)(N-1)` degrees of freedom (Demšar's preferred form).
    n_datasets, n_methods : int
    """

    statistic: float
    pvalue: float
    f_statistic: float
    f_pvalue: float
    n_datasets: int
    n_methods: int


def friedman_test(block: pd.DataFrame) -> FriedmanResult:
    """Friedman test of equal average ranks, via :func:`scipy.stats.friedmanchisquare`.

    Parameters
    ----------
    block : DataFrame
        Scores, rows = datasets (at least 2), columns = methods (at least 3), complete.

    Returns
    -------
    FriedmanResult
        NaN statistics when every dataset ties every method (nothing to rank).

    Examples
    --------
    >>> block = pd.DataFrame({"a": [3, 3, 3, 2], "b": [2, 2, 1, 3], "c": [1, 1, 2, 1]})
    >>> round(friedman_test(block).statistic, 3)
    4.5
    """
    rank_block(block)  # raises on missing values
    n, k = block.shape
    if k < MIN_FRIEDMAN_METHODS or n < MIN_DATASETS:
        msg = (f"the Friedman test needs at least {MIN_FRIEDMAN_METHODS} methods and "
               f"{MIN_DATASETS} datasets; got {k} methods on {n} datasets.")
        raise ValueError(msg)
    columns = [block[c].to_numpy(dtype=np.float64) for c in block.columns]
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        chi2, pvalue = stats.friedmanchisquare(*columns)
    chi2, pvalue = float(chi2), float(pvalue)
    denominator = n * (k - 1) - chi2
    if math.isfinite(chi2) and denominator > 0:
        f_stat = (n - 1) * chi2 / denominator
        f_pvalue = float(stats.f.sf(f_stat, k - 1, (k - 1) * (n - 1)))
    elif math.isfinite(chi2):  # perfect agreement of every dataset: F is infinite
        f_stat, f_pvalue = math.inf, 0.0
    else:
        f_stat, f_pvalue = math.nan, math.nan
    return FriedmanResult(chi2, pvalue, float(f_stat), f_pvalue, n, k)


def cliques(ranks: pd.Series, cd: float) -> list[list[str]]:
    """Maximal groups of methods whose average ranks lie within ``cd`` of each other.

    These are the thick bars of a critical-difference diagram: no two members of a group
    differ significantly. Groups of a single method are left out.

    Parameters
    ----------
    ranks : Series
        Average rank per method.
    cd : float
        Critical difference.

    Returns
    -------
    list of list of str
        Groups, each sorted best first; the groups in order of their best member.

    Examples
    --------
    >>> cliques(pd.Series({"a": 1.0, "b": 1.5, "c": 2.9, "d": 3.0}), cd=1.0)
    [['a', 'b'], ['c', 'd']]
    """
    ordered = ranks.sort_values(kind="stable")
    names, values = list(ordered.index), ordered.to_numpy(dtype=np.float64)
    groups: list[list[str]] = []
    last_end = -1
    for start in range(len(names)):
        end = start
        while end + 1 < len(names) and values[end + 1] - values[start] <= cd:
            end += 1
        if end > start and end > last_end:  # not contained in the previous group
            groups.append(names[start:end + 1])
            last_end = end
    return groups


@dataclass(frozen=True)
class RankStatistics:
    """Everything the report says about ranks for one metric.

    Attributes
    ----------
    block : DataFrame
        The complete block that was ranked (datasets × compared methods).
    ranks : Series
        Average rank per compared method, best first.
    left_out_datasets : list of str
        Datasets without a result for some compared method.
    left_out_methods : list of str
        Methods without a result on any dataset (not compared at all).
    friedman : FriedmanResult or None
        None when there are fewer than 3 methods or 2 datasets (see ``friedman_note``).
    cd : float or None
        Nemenyi critical difference at ``alpha``; None with fewer than 2 methods or datasets
        (see ``cd_note``).
    groups : list of list of str
        Cliques of methods not significantly different (empty without ``cd``).
    alpha : float
    friedman_note, cd_note : str
        Why the Friedman test / the critical difference was not computed ("" when it was).
    """

    block: pd.DataFrame
    ranks: pd.Series
    left_out_datasets: list[str]
    left_out_methods: list[str]
    friedman: FriedmanResult | None
    cd: float | None
    groups: list[list[str]] = field(default_factory=list)
    alpha: float = ALPHA
    friedman_note: str = ""
    cd_note: str = ""


def complete_block(means: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The datasets on which every method with any result has one.

    Parameters
    ----------
    means : DataFrame
        Scores, rows = datasets, columns = methods, NaN where a method has no result.

    Returns
    -------
    block : DataFrame
        The complete rows, over the methods with at least one result.
    left_out_datasets, left_out_methods : list of str
    """
    has_any = means.notna().any(axis=0)
    methods = [str(m) for m in means.columns[has_any]]
    left_out_methods = [str(m) for m in means.columns[~has_any]]
    compared = means.loc[:, has_any]
    full = compared.notna().all(axis=1)
    left_out_datasets = [str(d) for d in compared.index[~full]]
    block = compared.loc[full, methods] if methods else compared.iloc[0:0]
    return block, left_out_datasets, left_out_methods


def rank_statistics(means: pd.DataFrame, alpha: float = ALPHA) -> RankStatistics:
    """Average ranks, Friedman test and Nemenyi groups for a datasets × methods table.

    Only datasets where every compared method has a result enter the statistics; a method
    without any result is not compared (both are listed in the result).

    Parameters
    ----------
    means : DataFrame
        Scores (higher is better), rows = datasets, columns = methods, NaN = no result.
    alpha : float, default 0.05
        Significance level of the Friedman and Nemenyi tests.

    Returns
    -------
    RankStatistics
    """
    block, left_datasets, left_methods = complete_block(means)
    n, k = block.shape
    empty = pd.Series(dtype=np.float64)
    if k == 0 or n == 0:
        note = ("no dataset has a result for every detector" if k
                else "no detector has a result")
        return RankStatistics(block, empty, left_datasets, left_methods, None, None,
                              alpha=alpha, friedman_note=note, cd_note=note)
    ranks = average_ranks(block)
    too_few = ""
    if n < MIN_DATASETS:
        too_few = (f"it needs at least {MIN_DATASETS} datasets with a result for every "
                   f"detector; {n} available")
    friedman, friedman_note = None, too_few
    if k < MIN_FRIEDMAN_METHODS:
        friedman_note = f"it needs at least {MIN_FRIEDMAN_METHODS} detectors; {k} compared"
    elif not too_few:
        friedman = friedman_test(block)
    cd, cd_note, groups = None, too_few, []
    if k < 2:
        cd_note = f"it needs at least 2 detectors; {k} compared"
    elif not too_few:
        cd = critical_difference(k, n, alpha)
        groups = cliques(ranks, cd)
    return RankStatistics(block, ranks, left_datasets, left_methods, friedman, cd, groups,
                          alpha=alpha, friedman_note=friedman_note, cd_note=cd_note)


@dataclass
class AllDatasets:
    """Mean and average rank over every dataset, failures counted (see
    :func:`all_datasets_summary`)."""

    mean: pd.Series
    ranks: pd.Series
    n_datasets: int
    n_failures: pd.Series


def all_datasets_summary(means: pd.DataFrame, ran: set[str] | None = None) -> AllDatasets:
    """Mean and average rank of each method over every dataset, a missing result counted as
    a failure.

    The datasets are those on which at least one method has a result, the methods those with
    at least one result and those in ``ran`` (methods whose jobs ran and all failed: they
    rank last everywhere; a method whose every job was skipped is not compared). On each
    dataset a method without a result (it failed, timed out or
    was not run) gets the worst rank (failed methods tie among themselves below every
    method with a result) and, for the mean, the lowest score any method reached on that
    dataset. Beside the complete-case mean (:func:`complete_block`), which leaves such
    datasets out and so favours methods that fail on hard datasets.

    Parameters
    ----------
    means : DataFrame
        Scores (higher is better), rows = datasets, columns = methods, NaN = no result.
    ran : set of str, optional
        Methods to compare even without any result.

    Returns
    -------
    AllDatasets

    Examples
    --------
    >>> means = pd.DataFrame({"a": [0.9, 0.6], "b": [0.8, np.nan]})
    >>> found = all_datasets_summary(means)
    >>> found.mean.round(2).to_dict(), found.ranks.to_dict(), found.n_failures.to_dict()
    ({'a': 0.75, 'b': 0.7}, {'a': 1.0, 'b': 2.0}, {'a': 0, 'b': 1})
    """
    keep = means.notna().any(axis=0) | means.columns.isin(list(ran or ()))
    compared = means.loc[:, keep]
    block = compared.loc[compared.notna().any(axis=1)]
    if block.empty:
        empty = pd.Series(dtype=np.float64)
        return AllDatasets(empty, empty, 0, pd.Series(dtype=np.int64))
    lowest = block.min(axis=1)
    filled = block.apply(lambda column: column.fillna(lowest))
    ranks = block.fillna(-np.inf).rank(axis=1, method="average", ascending=False).mean()
    failures = block.isna().sum(axis=0).astype(np.int64)
    return AllDatasets(filled.mean(axis=0), ranks, len(block), failures)
