"""deepad.metrics.ood: FPR at a TPR, detection rate at an FPR, AUPR-in / AUPR-out, against
brute-force references written from the definitions (every distinct score a threshold)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from deepad.metrics import aupr_in, aupr_out, detection_rate_at_fpr, fpr_at_tpr

PROPERTY = settings(max_examples=150, deadline=None)


def rates(y, s):
    """(TPR, FPR) at every threshold t (flag s >= t): each distinct score and +inf."""
    y, s = np.asarray(y), np.asarray(s, dtype=float)
    out = []
    for t in [*np.unique(s), np.inf]:
        flagged = s >= t
        out.append((flagged[y == 1].mean(), flagged[y == 0].mean()))
    return out


def brute_fpr_at_tpr(y, s, tpr):
    return min(f for t, f in rates(y, s) if t >= tpr)


def brute_dr_at_fpr(y, s, fpr):
    return max(t for t, f in rates(y, s) if f <= fpr)


labels_scores = st.integers(2, 40).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda v: 0 < sum(v) < len(v)),
    st.lists(st.integers(0, 5), min_size=n, max_size=n)))  # few values: heavy ties


@PROPERTY
@given(labels_scores, st.sampled_from([0.0, 0.05, 0.5, 0.95, 1.0]))
def test_against_brute_force(data, rate):
    y, s = np.array(data[0]), np.array(data[1], dtype=float)
    assert fpr_at_tpr(y, s, rate) == pytest.approx(brute_fpr_at_tpr(y, s, rate), abs=1e-12)
    assert fpr_at_tpr(y, s, rate, in_positive=True) == pytest.approx(
        brute_fpr_at_tpr(1 - y, -s, rate), abs=1e-12)
    assert detection_rate_at_fpr(y, s, rate) == pytest.approx(brute_dr_at_fpr(y, s, rate),
                                                              abs=1e-12)
    assert aupr_out(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert aupr_in(y, s) == pytest.approx(average_precision_score(1 - y, -s), abs=1e-12)


def test_hand_worked():
    y = [0, 0, 0, 1, 1]
    s = [0.1, 0.5, 0.9, 0.6, 0.8]
    assert fpr_at_tpr(y, s, 1.0) == pytest.approx(1 / 3)
    assert fpr_at_tpr(y, s, 0.5) == pytest.approx(1 / 3)  # 0.8 alone is 1/2 of the positives
    # in-distribution positive: keeping all three in-distribution samples (s <= 0.9) keeps both
    assert fpr_at_tpr(y, s, 1.0, in_positive=True) == 1.0
    assert fpr_at_tpr(y, s, 2 / 3, in_positive=True) == 0.0  # s <= 0.5 keeps no OOD sample
    assert detection_rate_at_fpr(y, s, 0.0) == 0.0
    assert detection_rate_at_fpr(y, s, 1 / 3) == 1.0
    # perfect separation
    assert fpr_at_tpr([0, 0, 1, 1], [0, 1, 2, 3]) == 0.0
    assert aupr_in([0, 0, 1, 1], [0, 1, 2, 3]) == 1.0 == aupr_out([0, 0, 1, 1], [0, 1, 2, 3])


@pytest.mark.parametrize("call", [fpr_at_tpr, detection_rate_at_fpr, aupr_in, aupr_out])
def test_bad_input(call):
    with pytest.raises(ValueError):
        call([0, 0], [0.1, 0.2])  # one class
    with pytest.raises(ValueError):
        call([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError):
        call([0, 1], [0.1, np.nan])


def test_bad_rate():
    with pytest.raises(ValueError, match="tpr must be a number in"):
        fpr_at_tpr([0, 1], [0, 1], tpr=1.5)
    with pytest.raises(ValueError, match="fpr must be a number in"):
        detection_rate_at_fpr([0, 1], [0, 1], fpr=-0.1)
