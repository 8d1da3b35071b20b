"""deepad.metrics: agreement with scikit-learn, hand-worked examples, brute-force references.

Property tests (hypothesis) compare every metric that scikit-learn also has against it, on
random inputs with heavy ties and constant scores; the time-series metrics are compared with
slow, literal reference implementations written below from the papers' definitions.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from deepad.metrics import (
    PRF,
    auc_pr,
    auc_roc,
    best_f1,
    f1_at_threshold,
    point_adjust,
    point_adjusted_f1,
    precision_at_n,
    range_f1,
    range_precision_recall,
)

TOL = 1e-12
PROPERTY = settings(max_examples=150, deadline=None)


# ---------------------------------------------------------------- strategies


@st.composite
def labelled_scores(draw, both_classes: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, scores) with both classes; scores continuous, heavily tied, or constant."""
    n = draw(st.integers(2, 60))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    if both_classes and y.min() == y.max():
        y[0] = 1 - y[0]
    kind = draw(st.sampled_from(["continuous", "ties", "constant"]))
    if kind == "continuous":
        values = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
    elif kind == "ties":
        values = st.integers(0, 3).map(float)
    else:
        values = st.just(draw(st.floats(-5, 5, allow_nan=False)))
    scores = np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype=np.float64)
    return y, scores


@st.composite
def segmented_series(draw, max_runs: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """(y_true, scores) for a series of alternating normal / anomalous runs (>= 1 anomaly)."""
    lengths = draw(st.lists(st.integers(1, 8), min_size=1, max_size=max_runs))
    first = draw(st.integers(0, 1))
    y = np.concatenate([np.full(length, (first + i) % 2) for i, length in enumerate(lengths)])
    if not y.any():
        y[len(y) // 2] = 1
    values = draw(st.sampled_from([st.integers(0, 4).map(float),
                                   st.floats(0, 1, allow_nan=False)]))
    scores = np.array(draw(st.lists(values, min_size=len(y), max_size=len(y))))
    return y, scores


binary_series = st.lists(st.integers(0, 1), min_size=1, max_size=40).map(np.array)


# ---------------------------------------------------------------- reference implementations


def _point_adjust_reference(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """Point adjustment with an explicit walk over the true segments."""
    adjusted = np.array(y_pred, dtype=np.int64)
    t = 0
    while t < len(y_true):
        if y_true[t] == 1:
            end = t
            while end < len(y_true) and y_true[end] == 1:
                end += 1
            if adjusted[t:end].any():
                adjusted[t:end] = 1
            t = end
        else:
            t += 1
    return adjusted


def _brute_force_pa_f1(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Best point-adjusted F1 by trying every distinct score as the threshold."""
    best, best_threshold = -1.0, None
    for threshold in np.unique(scores):  # increasing, so ">=" keeps the highest maximiser
        adjusted = _point_adjust_reference(y_true, (scores >= threshold).astype(int))
        value = f1_score(y_true, adjusted, zero_division=0)
        if value >= best - TOL:
            best, best_threshold = max(best, value), threshold
    return best, best_threshold


def _ranges_reference(y: np.ndarray) -> list[range]:
    """Maximal runs of 1s as Python ranges."""
    found, start = [], None
    for t, value in enumerate([*y.tolist(), 0]):
        if value == 1 and start is None:
            start = t
        elif value == 0 and start is not None:
            found.append(range(start, t))
            start = None
    return found


def _delta_reference(k: int, length: int, bias: str) -> float:
    """The paper's positional bias δ(k, ℓ), k = 1..ℓ."""
    if bias == "flat":
        return 1.0
    if bias == "front":
        return float(length - k + 1)
    if bias == "back":
        return float(k)
    return float(k if k <= length / 2 else length - k + 1)


def _omega_reference(anomaly: range, overlap: set[int], bias: str) -> float:
    """The paper's ω: positionally weighted share of ``anomaly`` lying in ``overlap``."""
    my_value = max_value = 0.0
    for k, t in enumerate(anomaly, start=1):
        bias_k = _delta_reference(k, len(anomaly), bias)
        max_value += bias_k
        if t in overlap:
            my_value += bias_k
    return my_value / max_value


def _reward_reference(a: range, others: list[range], alpha: float, cardinality: str,
                      bias: str) -> float:
    overlaps = [set(a) & set(b) for b in others if set(a) & set(b)]
    existence = 1.0 if overlaps else 0.0
    gamma = 1.0 if len(overlaps) <= 1 or cardinality == "one" else 1.0 / len(overlaps)
    overlap_reward = gamma * sum(_omega_reference(a, o, bias) for o in overlaps)
    return alpha * existence + (1 - alpha) * overlap_reward


def _range_pr_reference(y_true, y_pred, alpha, cardinality, bias) -> tuple[float, float]:
    real, predicted = _ranges_reference(y_true), _ranges_reference(y_pred)
    recall = np.mean([_reward_reference(r, predicted, alpha, cardinality, bias) for r in real])
    if not predicted:
        return 0.0, float(recall)
    precision = np.mean([_reward_reference(p, real, 0.0, cardinality, bias) for p in predicted])
    return float(precision), float(recall)


# ---------------------------------------------------------------- ranking metrics


@PROPERTY
@given(labelled_scores())
def test_auc_roc_and_auc_pr_agree_with_sklearn(data):
    y, scores = data
    assert abs(auc_roc(y, scores) - roc_auc_score(y, scores)) <= TOL
    assert abs(auc_pr(y, scores) - average_precision_score(y, scores)) <= TOL


def test_constant_scores_give_chance_values():
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0])
    scores = np.full(8, 0.3)
    assert auc_roc(y, scores) == 0.5
    assert auc_pr(y, scores) == pytest.approx(0.25, abs=TOL)
    assert precision_at_n(y, scores) == pytest.approx(0.25, abs=TOL)


def test_precision_at_n_ties_by_hand():
    y = np.array([1, 0, 1, 0, 0])
    scores = np.array([5.0, 3.0, 3.0, 3.0, 1.0])
    # n = 2 (the anomalies): 5 is taken (1 anomaly); the tie at 3 (3 samples, 1 anomaly)
    # fills 1 slot with 1/3 of an anomaly on average -> (1 + 1/3) / 2 = 2/3.
    assert precision_at_n(y, scores) == pytest.approx(2 / 3, abs=TOL)
    # n = 3: two slots from the tie -> (1 + 2/3) / 3 = 5/9.
    assert precision_at_n(y, scores, n=3) == pytest.approx(5 / 9, abs=TOL)
    # n = 4: the whole tie fits -> (1 + 1) / 4; n = 5: everything -> 2 / 5.
    assert precision_at_n(y, scores, n=4) == pytest.approx(0.5, abs=TOL)
    assert precision_at_n(y, scores, n=5) == pytest.approx(0.4, abs=TOL)
    # n = 1: no tie at the cut-off (5 is alone) -> 1.
    assert precision_at_n(y, scores, n=np.int64(1)) == 1.0


@PROPERTY
@given(labelled_scores(), st.randoms(use_true_random=False))
def test_precision_at_n_ignores_row_order_and_matches_top_n_without_ties(data, rnd):
    y, scores = data
    n = rnd.randint(1, len(y))
    order = np.array(rnd.sample(range(len(y)), len(y)))
    assert abs(precision_at_n(y, scores, n) - precision_at_n(y[order], scores[order], n)) <= TOL
    if len(np.unique(scores)) == len(scores):
        top = np.argsort(-scores)[:n]
        assert abs(precision_at_n(y, scores, n) - y[top].mean()) <= TOL


def test_precision_at_n_is_the_mean_over_tie_breaks():
    # Rank the rows in every possible order of the tied group and average the plain top-n.
    y = np.array([1, 1, 0, 1, 0, 0])
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.5, 0.1])
    for n in range(1, 7):
        values = [y[[0, *order, 5][:n]].mean() for order in permutations([1, 2, 3, 4])]
        assert precision_at_n(y, scores, n) == pytest.approx(np.mean(values), abs=TOL)


# ---------------------------------------------------------------- threshold metrics


@PROPERTY
@given(labelled_scores(), st.floats(-1e3, 1e3, allow_nan=False), st.booleans())
def test_f1_at_threshold_agrees_with_sklearn(data, free_threshold, on_a_score):
    y, scores = data
    threshold = scores[len(scores) // 2] if on_a_score else free_threshold
    pred = (scores >= threshold).astype(int)
    prf = f1_at_threshold(y, scores, threshold)
    assert abs(prf.precision - precision_score(y, pred, zero_division=0)) <= TOL
    assert abs(prf.recall - recall_score(y, pred, zero_division=0)) <= TOL
    assert abs(prf.f1 - f1_score(y, pred, zero_division=0)) <= TOL
    assert prf.threshold == threshold


@PROPERTY
@given(labelled_scores())
def test_best_f1_agrees_with_brute_force_over_unique_thresholds(data):
    y, scores = data
    f1s = {t: f1_score(y, (scores >= t).astype(int), zero_division=0) for t in np.unique(scores)}
    best = max(f1s.values())
    highest = max(t for t, value in f1s.items() if value >= best - TOL)
    prf = best_f1(y, scores)
    assert abs(prf.f1 - best) <= TOL
    assert prf.threshold == highest
    pred = (scores >= prf.threshold).astype(int)
    assert abs(prf.precision - precision_score(y, pred, zero_division=0)) <= TOL
    assert abs(prf.recall - recall_score(y, pred, zero_division=0)) <= TOL
    assert prf == f1_at_threshold(y, scores, prf.threshold)


def test_best_f1_ties_go_to_the_highest_threshold():
    # 4 anomalies. At 7: tp 2, fp 0, fn 2 -> F1 4/6. At 1: tp 4, fp 4, fn 0 -> 8/12. Equal;
    # every threshold in between is lower. The highest threshold (fewest alarms) wins.
    y = np.array([1, 1, 0, 0, 0, 0, 1, 1])
    scores = np.array([8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0])
    assert best_f1(y, scores) == PRF(1.0, 0.5, 2 / 3, 7.0)
    assert f1_at_threshold(y, scores, 1.0).f1 == 2 / 3


def test_zero_division_gives_zero_not_nan():
    y, scores = np.array([0, 1, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4])
    assert f1_at_threshold(y, scores, 1.0) == PRF(0.0, 0.0, 0.0, 1.0)
    assert f1_at_threshold(y, scores, np.inf) == PRF(0.0, 0.0, 0.0, np.inf)
    # Predicting only normals: tp = 0, so precision = recall = F1 = 0.
    assert f1_at_threshold([1, 0], [0.0, 1.0], 0.5) == PRF(0.0, 0.0, 0.0, 0.5)


def test_threshold_metrics_accept_all_anomalies():
    assert best_f1([1, 1, 1], [0.2, 0.1, 0.3]) == PRF(1.0, 1.0, 1.0, 0.1)
    assert f1_at_threshold([1, 1], [0.2, 0.1], 0.15) == PRF(1.0, 0.5, 2 / 3, 0.15)


def test_prf_from_counts_and_from_precision_recall():
    assert PRF.from_counts(2, 1, 2, 0.5) == PRF(2 / 3, 0.5, 4 / 7, 0.5)
    assert PRF.from_counts(0, 0, 3) == PRF(0.0, 0.0, 0.0, None)
    assert PRF.from_precision_recall(0.0, 0.0) == PRF(0.0, 0.0, 0.0, None)
    with pytest.raises(AttributeError):
        PRF(1.0, 1.0, 1.0).f1 = 0.0  # frozen


# ---------------------------------------------------------------- point adjustment


def test_point_adjust_by_hand():
    y_true = np.array([0, 1, 1, 1, 0, 0, 1, 1, 0, 1])
    y_pred = np.array([1, 0, 0, 1, 0, 0, 0, 0, 1, 1])
    # Segment 1..3 is hit at 3 -> 1..3 all detected; segment 6..7 is missed and stays 0;
    # the segment {9} is hit. False alarms at 0 and 8 are left as they are.
    assert point_adjust(y_true, y_pred).tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 1, 1]
    assert point_adjust([0, 0, 0], [0, 1, 0]).tolist() == [0, 1, 0]  # no segment: unchanged
    assert point_adjust([1, 1, 1], [False, True, False]).tolist() == [1, 1, 1]


@PROPERTY
@given(binary_series, st.data())
def test_point_adjust_matches_a_loop_over_segments(y_true, data):
    y_pred = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(y_true),
                                         max_size=len(y_true))))
    adjusted = point_adjust(y_true, y_pred)
    assert adjusted.dtype == np.int64
    assert adjusted.tolist() == _point_adjust_reference(y_true, y_pred).tolist()


def test_point_adjusted_f1_by_hand():
    y_true = np.array([0, 1, 1, 1, 1, 0, 0, 1, 1, 0])
    scores = np.array([0.7, 0.1, 0.9, 0.2, 0.1, 0.3, 0.1, 0.2, 0.6, 0.1])
    # Threshold 0.65 predicts {0, 2}: segment 1..4 is adjusted to 4 tp, segment 7..8 missed;
    # tp 4, fp 1, fn 2 -> P 4/5, R 4/6, F1 8 / (8 + 1 + 2) = 8/11.
    prf = point_adjusted_f1(y_true, scores, threshold=0.65)
    assert prf == PRF(0.8, 4 / 6, 8 / 11, 0.65)
    # Candidates: segment maxima 0.9 (4 tp) and 0.6 (2 tp), normals 0.7, 0.3, 0.1, 0.1.
    # At 0.9: tp 4, fp 0, fn 2 -> 8/10; at 0.7: 8/11; at 0.6: tp 6, fp 1 -> 12/13 (best);
    # at 0.3: tp 6, fp 2 -> 12/14; at 0.1: tp 6, fp 4 -> 12/16.
    best = point_adjusted_f1(y_true, scores)
    assert best == PRF(6 / 7, 1.0, 12 / 13, 0.6)


def test_point_adjusted_f1_ties_go_to_the_highest_threshold():
    # Segments 0..1 (max 0.9) and 6..7 (max 0.2), normals 0.8, 0.7, 0.6, 0.5 in between.
    # At 0.9: tp 2, fp 0, fn 2 -> 4/6. At 0.2: tp 4, fp 4 -> 8/12. Equal; 0.9 wins.
    y = np.array([1, 1, 0, 0, 0, 0, 1, 1])
    scores = np.array([0.9, 0.1, 0.8, 0.7, 0.6, 0.5, 0.2, 0.1])
    assert point_adjusted_f1(y, scores) == PRF(1.0, 0.5, 2 / 3, 0.9)
    assert point_adjusted_f1(y, scores, threshold=0.2).f1 == 2 / 3


@PROPERTY
@given(segmented_series())
def test_point_adjusted_best_f1_matches_brute_force(data):
    y, scores = data
    expected_f1, expected_threshold = _brute_force_pa_f1(y, scores)
    prf = point_adjusted_f1(y, scores)
    assert abs(prf.f1 - expected_f1) <= TOL
    assert prf.threshold == expected_threshold
    again = point_adjusted_f1(y, scores, threshold=prf.threshold)
    assert again == prf


def test_point_adjustment_flatters_a_random_scorer():
    # One 100-step anomaly in 1,000 steps, scored by pure noise: point-wise best F1 is low,
    # but the segment's maximum is near the top of the noise, so point adjustment credits all
    # 100 steps for a handful of false alarms (Kim et al., AAAI 2022).
    rng = np.random.default_rng(0)
    y = np.zeros(1000, dtype=int)
    y[400:500] = 1
    scores = rng.random(1000)
    assert best_f1(y, scores).f1 < 0.4
    assert point_adjusted_f1(y, scores).f1 > 0.8


# ---------------------------------------------------------------- range-based P / R


def test_range_pr_flat_by_hand():
    # Real range R = 1..4 (4 steps); predicted P = 3..5 (3 steps).
    # Recall: ω(R, {3, 4}) = 2/4.  Precision: ω(P, {3, 4}) = 2/3.  F1 = 2·(2/3)(1/2)/(7/6) = 4/7.
    prf = range_precision_recall([0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1])
    assert (prf.precision, prf.recall, prf.threshold) == (pytest.approx(2 / 3), 0.5, None)
    assert prf.f1 == pytest.approx(4 / 7, abs=TOL)
    assert range_f1([0, 1, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1]) == prf.f1


def test_range_pr_positional_bias_by_hand():
    y_true = np.array([1, 1, 1, 1, 0, 0])
    y_pred = np.array([1, 1, 0, 0, 0, 0])
    # R = 0..3 (ℓ = 4), P = 0..1 covers its positions k = 1, 2.
    #   flat   δ = 1,1,1,1 -> 2/4;   front  δ = 4,3,2,1 -> 7/10;
    #   back   δ = 1,2,3,4 -> 3/10;  middle δ = 1,2,2,1 -> 3/6.
    # P lies inside R, so precision is 1 whatever the bias.
    expected = {"flat": 0.5, "front": 0.7, "back": 0.3, "middle": 0.5}
    for bias, recall in expected.items():
        prf = range_precision_recall(y_true, y_pred, bias=bias)
        assert prf.recall == pytest.approx(recall, abs=TOL)
        assert prf.precision == 1.0

    y_true = np.array([0, 0, 1, 1, 1, 0])
    y_pred = np.array([0, 1, 1, 1, 0, 0])
    # R = 2..4 (ℓ = 3) is covered at k = 1, 2; P = 1..3 (ℓ = 3) is real at k = 2, 3.
    #   front δ = 3,2,1: recall (3+2)/6 = 5/6, precision (2+1)/6 = 1/2;
    #   back  δ = 1,2,3: recall (1+2)/6 = 1/2, precision (2+3)/6 = 5/6;
    #   middle δ = 1,2,1 (k = 2 > 3/2 -> 3-2+1): recall 3/4, precision 3/4.
    front = range_precision_recall(y_true, y_pred, bias="front")
    back = range_precision_recall(y_true, y_pred, bias="back")
    middle = range_precision_recall(y_true, y_pred, bias="middle")
    assert (front.recall, front.precision) == (pytest.approx(5 / 6), pytest.approx(0.5))
    assert (back.recall, back.precision) == (pytest.approx(0.5), pytest.approx(5 / 6))
    assert (middle.recall, middle.precision) == (pytest.approx(0.75), pytest.approx(0.75))
    # A flat bias for precision only: precision back to 2/3, recall keeps the front bias.
    mixed = range_precision_recall(y_true, y_pred, bias="front", precision_bias="flat")
    assert (mixed.recall, mixed.precision) == (pytest.approx(5 / 6), pytest.approx(2 / 3))


def test_range_pr_cardinality_and_existence_by_hand():
    y_true = np.array([1, 1, 1, 1, 1, 1, 0, 0])
    y_pred = np.array([1, 0, 1, 1, 0, 0, 0, 1])
    # R = 0..5 (ℓ = 6); P1 = {0}, P2 = 2..3, P3 = {7}. R overlaps x = 2 predicted ranges and
    # is covered at 3 of 6 steps: Σ ω = 1/6 + 2/6 = 1/2.
    #   one: recall 1/2; reciprocal: γ = 1/2 -> 1/4; reciprocal with α = 0.5: 0.5 + 0.5/4.
    # Precision: P1 and P2 lie inside R (ω = 1, x = 1), P3 misses -> (1 + 1 + 0)/3.
    one = range_precision_recall(y_true, y_pred)
    reciprocal = range_precision_recall(y_true, y_pred, cardinality="reciprocal")
    existence = range_precision_recall(y_true, y_pred, cardinality="reciprocal", alpha=0.5)
    assert (one.recall, reciprocal.recall, existence.recall) == (0.5, 0.25, 0.625)
    assert one.precision == reciprocal.precision == pytest.approx(2 / 3, abs=TOL)
    assert range_precision_recall(y_true, y_pred, alpha=1.0).recall == 1.0

    # One predicted range bridging two real ranges: P = 1..3 meets R1 = 0..1 at 1 and
    # R2 = 3..4 at 3, so x = 2 and Σ ω(P) = 2/3 -> precision 2/3 ("one") or 1/3
    # ("reciprocal"). Each real range is half covered by one range: recall 1/2 either way.
    y_true, y_pred = np.array([1, 1, 0, 1, 1]), np.array([0, 1, 1, 1, 0])
    one = range_precision_recall(y_true, y_pred)
    reciprocal = range_precision_recall(y_true, y_pred, cardinality="reciprocal")
    assert (one.precision, reciprocal.precision) == (pytest.approx(2 / 3), pytest.approx(1 / 3))
    assert one.recall == reciprocal.recall == 0.5

    # A predicted range that began before the real one counts once (x = 1).
    assert range_precision_recall([0, 1, 1, 0], [1, 1, 1, 1],
                                  cardinality="reciprocal").recall == 1.0


def test_range_pr_no_predicted_range_gives_zero_precision():
    prf = range_precision_recall([0, 1, 1, 0], [0, 0, 0, 0], alpha=0.5)
    assert prf == PRF(0.0, 0.0, 0.0, None)


@PROPERTY
@given(binary_series, binary_series)
def test_range_pr_equals_point_wise_pr_when_every_range_is_one_point(a, b):
    n = min(len(a), len(b))
    even = np.arange(n) % 2 == 0  # ones only on even steps: every range is a single point
    y_true, y_pred = a[:n] * even, b[:n] * even
    if not y_true.any():
        y_true[0] = 1
    prf = range_precision_recall(y_true, y_pred)
    assert abs(prf.precision - precision_score(y_true, y_pred, zero_division=0)) <= TOL
    assert abs(prf.recall - recall_score(y_true, y_pred, zero_division=0)) <= TOL
    assert abs(prf.f1 - f1_score(y_true, y_pred, zero_division=0)) <= TOL


@PROPERTY
@given(binary_series, st.data(), st.sampled_from([0.0, 0.3, 1.0]),
       st.sampled_from(["one", "reciprocal"]),
       st.sampled_from(["flat", "front", "middle", "back"]))
def test_range_pr_matches_the_papers_pseudo_code(y_true, data, alpha, cardinality, bias):
    y_pred = np.array(data.draw(st.lists(st.integers(0, 1), min_size=len(y_true),
                                         max_size=len(y_true))))
    if not y_true.any():
        y_true[len(y_true) // 2] = 1
    precision, recall = _range_pr_reference(y_true, y_pred, alpha, cardinality, bias)
    prf = range_precision_recall(y_true, y_pred, alpha=alpha, cardinality=cardinality,
                                 bias=bias)
    assert abs(prf.precision - precision) <= TOL
    assert abs(prf.recall - recall) <= TOL


# ---------------------------------------------------------------- input validation


SCORED = [auc_roc, auc_pr, precision_at_n, best_f1, point_adjusted_f1,
          lambda y, s: f1_at_threshold(y, s, 0.5)]


@pytest.mark.parametrize("metric", SCORED)
def test_scored_metrics_reject_bad_input(metric):
    with pytest.raises(ValueError, match="y_true has 3 values but scores has 2"):
        metric([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"3 non-finite value\(s\) \(2 NaN, 1 inf\) out of 5"):
        metric([0, 1, 0, 1, 0], [np.nan, 0.2, np.inf, np.nan, 0.1])
    with pytest.raises(ValueError, match=r"only 0 \(normal\) and 1 \(anomaly\).*\[2\]"):
        metric([0, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="must be 1-D"):
        metric([[0], [1]], [[0.1], [0.2]])
    with pytest.raises(ValueError, match="empty"):
        metric([], [])
    with pytest.raises(ValueError, match="no anomaly|only the normal"):
        metric([0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="expected numeric scores"):
        metric([0, 1], ["a", "b"])


@pytest.mark.parametrize("metric", [auc_roc, auc_pr, precision_at_n])
def test_ranking_metrics_need_both_classes(metric):
    with pytest.raises(ValueError, match=r"only the anomaly \(1\) class; .* needs both"):
        metric([1, 1, 1], [0.1, 0.2, 0.3])


def test_labels_may_be_bool_or_float():
    scores = [0.1, 0.9, 0.4]
    assert auc_roc([False, True, False], scores) == auc_roc([0.0, 1.0, 0.0], scores) == 1.0


@pytest.mark.parametrize("n", [0, 6, -1, 2.5, True, "3"])
def test_precision_at_n_rejects_bad_n(n):
    with pytest.raises(ValueError, match=r"n must be .*\[1, 5\]"):
        precision_at_n([0, 1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4, 0.5], n=n)


def test_threshold_must_be_a_number():
    with pytest.raises(ValueError, match="threshold is NaN"):
        f1_at_threshold([0, 1], [0.1, 0.2], np.nan)
    with pytest.raises(ValueError, match="threshold must be a number"):
        point_adjusted_f1([0, 1], [0.1, 0.2], threshold="high")
    with pytest.raises(ValueError, match="threshold must be a number"):
        f1_at_threshold([0, 1], [0.1, 0.2], "0.5")


def test_series_metrics_reject_bad_predictions_and_options():
    with pytest.raises(ValueError, match=r"y_pred must hold only 0 \(normal\) and 1"):
        point_adjust([0, 1, 1], [0.2, 0.7, 1.0])
    with pytest.raises(ValueError, match="y_true has 3 values but y_pred has 2"):
        range_precision_recall([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="no anomaly"):
        range_f1([0, 0, 0], [0, 1, 0])
    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
        range_precision_recall([0, 1], [0, 1], alpha=1.5)
    with pytest.raises(ValueError, match="cardinality must be one of"):
        range_precision_recall([0, 1], [0, 1], cardinality="udf_gamma")
    with pytest.raises(ValueError, match="precision_bias must be one of"):
        range_precision_recall([0, 1], [0, 1], precision_bias="start")
