"""What is specific to DeepLog: the (history, next key) pairs of sessions, the rank score and
its equivalence with the paper's top-g rule, unknown keys and session ends, the threshold
from the rule or from ``contamination``, session input validation, planted broken
transitions, and HDFS. The conformance suite covers the contract on planted sessions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import deepad
from deepad import DeepLog
from deepad.core.validation import check_sessions
from deepad.data.logs import hdfs_deeplog_split, read_sessions
from deepad.detectors.generic_normality.deeplog import next_key_scores

SMALL = {**DeepLog.test_params, "epochs": 4}


@pytest.fixture(scope="module")
def split(planted_sessions):
    """Normal training sessions; test sessions: 100 normal + the 20 planted ones."""
    sessions, y = planted_sessions
    normal = [s for s, label in zip(sessions, y, strict=True) if label == 0]
    abnormal = [s for s, label in zip(sessions, y, strict=True) if label == 1]
    test = normal[300:] + abnormal
    return normal[:300], test, np.r_[np.zeros(100), np.ones(len(abnormal))]


@pytest.fixture(scope="module")
def deeplog(split) -> DeepLog:
    return DeepLog(**SMALL, random_state=0).fit(split[0])


# ---------------------------------------------------------------------------- pairs by hand
def test_pairs_pad_the_start_and_predict_the_end():
    det = DeepLog(window_size=2)
    det.keys_ = np.array([5, 6, 7])
    sessions = check_sessions([[5, 6], [7]])
    # ids: keys 0-2, end 3, unknown 4, padding 5
    pairs, counts = det._pairs(sessions)
    np.testing.assert_array_equal(pairs, [[5, 5, 0], [5, 0, 1], [0, 1, 3], [5, 5, 2], [5, 2, 3]])
    np.testing.assert_array_equal(counts, [3, 2])
    det.set_params(predict_end=False)  # ids: keys 0-2, unknown 3, padding 4
    pairs, counts = det._pairs(check_sessions([[5, 9, 6], [7]]))
    np.testing.assert_array_equal(pairs, [[4, 4, 0], [4, 0, 3], [0, 3, 1], [4, 4, 2]])
    np.testing.assert_array_equal(counts, [3, 1])


# ---------------------------------------------------------------------------- score and rule
def test_next_key_scores_by_hand():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2], [0.5, 0.3, 0.2], [0.5, 0.3, 0.2]]))
    scores = next_key_scores(logits, torch.tensor([0, 2, 3]))  # 3: a key unseen in fit
    # rank 0, p 0.5 → 0.5; rank 2, p 0.2 → 2.8; unknown → n + 1 = 4
    torch.testing.assert_close(scores, torch.tensor([0.5, 2.8, 4.0], dtype=torch.float64))


def test_score_above_g_is_the_top_g_rule():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2000, 12, generator=gen) * 3
    target = torch.randint(12, (2000,), generator=gen)
    scores = next_key_scores(logits, target)
    for g in range(1, 13):
        outside = ~(torch.topk(logits, g, dim=1).indices == target[:, None]).any(dim=1)
        assert torch.equal(scores > g, outside), g


def test_predict_is_the_top_g_rule_of_the_network(deeplog, split):
    _, test, _ = split
    assert deeplog.contamination is None and deeplog.threshold_ == deeplog.top_g
    pairs, counts = deeplog._pairs(check_sessions(test))
    with torch.no_grad():
        logits = deeplog.model_(torch.from_numpy(np.ascontiguousarray(pairs[:, :-1])))
    top = torch.topk(logits, deeplog.top_g, dim=1).indices.numpy()
    missed = ~(top == pairs[:, -1:]).any(axis=1)  # the true next id is not among the top g
    per_session = np.add.reduceat(missed, np.cumsum(counts) - counts) > 0
    np.testing.assert_array_equal(deeplog.predict(test), per_session.astype(np.int64))


def test_unknown_keys_and_early_ends_are_anomalies(deeplog, split):
    normal = split[1][0]
    scores = deeplog.event_scores([normal, [1, 2, 99, 3], normal[:3]])
    assert [len(s) for s in scores] == [len(normal) + 1, 5, 4]  # + the end of each session
    n_outputs = len(deeplog.keys_) + 1
    assert scores[1][2] == n_outputs + 1  # key 99 was never seen
    assert deeplog.predict([[1, 2, 99, 3]])[0] == 1
    # a workflow cut after "1, 2, 3" ends where no normal session ends
    assert scores[2][-1] > deeplog.threshold_ >= scores[0].max()


def test_contamination_sets_the_usual_threshold(split):
    det = DeepLog(**SMALL, contamination=0.1, random_state=0).fit(split[0])
    assert det.threshold_ == pytest.approx(np.percentile(det.decision_scores_, 90))
    # (identical sessions tie: the share above the threshold may be below 10 %)
    np.testing.assert_array_equal(det.labels_, det.decision_scores_ > det.threshold_)


def test_embedding_front_end_and_no_end_key(split):
    _, test, y = split
    det = DeepLog(**SMALL, embedding_dim=8, predict_end=False, random_state=0).fit(split[0])
    assert det.model_.embedding is not None and det.model_.output.out_features == 7
    assert roc_auc_score(y, det.decision_function(test)) >= 0.9


# ---------------------------------------------------------------------------- planted
def test_planted_broken_transitions(deeplog, split):
    _, test, y = split
    scores = deeplog.decision_function(test)
    assert roc_auc_score(y, scores) >= 0.9
    pred = deeplog.predict(test)
    assert pred[y == 1].mean() >= 0.8 and pred[y == 0].mean() <= 0.1
    assert np.isfinite(deeplog.history_[-1]["loss"])


def test_input_forms_give_the_same_scores(deeplog):
    equal = np.array([[1, 2, 3, 4, 6, 7], [1, 2, 3, 5, 6, 7]])
    as_list = deeplog.decision_function(equal.tolist())
    np.testing.assert_array_equal(deeplog.decision_function(equal), as_list)
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = np.array([1, 2, 3, 4, 6, 7]), [1, 2, 3, 5, 6, 7]
    np.testing.assert_array_equal(deeplog.decision_function(ragged), as_list)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(("X", "error", "match"), [
    ([1, 2, 3], ValueError, "flat sequence of keys"),
    ([[1, 2], []], ValueError, "1 empty session"),
    ([[1.0, 2.0], [3.0]], TypeError, "integer keys"),
    ([["a", "b"], ["c"]], TypeError, "integer keys"),
    ([], ValueError, "no sessions"),
    ([[[1, 2]], [[3, 4]]], ValueError, "1-D sequence"),
])
def test_bad_sessions(X, error, match):
    with pytest.raises(error, match=match):
        DeepLog(**SMALL).fit(X)


def test_float_windows_are_refused_by_modality(deeplog):
    windows = np.zeros((4, 8, 2))
    with pytest.raises(ValueError, match=r"supports \['event'\] input; got sequence data"):
        DeepLog(**SMALL).fit(windows)
    with pytest.raises(ValueError, match="fitted on event data"):
        deeplog.decision_function(windows[:, :, 0])


# ---------------------------------------------------------------------------- real data
@pytest.mark.needs_shared
@pytest.mark.slow
def test_hdfs_subset(shared_datasets, tmp_path):
    """Fit on 600 normal HDFS sessions; test on the held-out normal and 300 abnormal ones."""
    directory = shared_datasets / "logs" / "hdfs_deeplog"
    assert len(read_sessions(directory / "hdfs_train")) == 4855
    split = hdfs_deeplog_split(directory, holdout=0.1, n_abnormal=300, random_state=0)
    det = DeepLog(epochs=2, lr=1e-2, random_state=0).fit(split.train[:600])
    scores = det.decision_function(split.test)
    assert roc_auc_score(split.y_test, scores) >= 0.95
    loaded = deepad.load(det.save(tmp_path / "deeplog"))
    np.testing.assert_array_equal(loaded.keys_, det.keys_)
    np.testing.assert_array_equal(loaded.decision_function(split.test[:50]), scores[:50])
