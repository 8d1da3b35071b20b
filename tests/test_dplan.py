"""What is specific to DPLAN (Pang et al., KDD 2021): the external reward by hand, the
anomaly-biased environment (nearest / farthest neighbour in ψ-space, the labelled-anomaly
draw, the intrinsic reward), the replay memory, the episode structure driven by the Trainer,
and planted anomalies ranked on top by Q(s, anomaly). The conformance suite covers the
detector contract through the registry."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from deepad import DPLAN
from deepad.core.runtime import seeded
from deepad.data.spec import InputSpec
from deepad.data.synthetic import make_planted_rows, make_planted_windows
from deepad.detectors.score_learning.dplan import ANOMALY, NORMAL, _ReplayMemory, extrinsic_reward

FAST = {"epochs": 3, "steps_per_episode": 300, "warmup_steps": 1000, "n_candidates": 128,
        "epsilon_steps": 300, "target_update": 100}


def weak_labels(y: np.ndarray, n: int = 5) -> np.ndarray:
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y == 1)[:n]] = 1
    return labels


@pytest.fixture(scope="module")
def rows_fitted(planted_rows):
    X, y = planted_rows
    return DPLAN(**FAST, random_state=0).fit(X, weak_labels(y))


# ---------------------------------------------------------------------------- rewards
def test_extrinsic_reward_by_hand():
    labelled = torch.tensor([True, True, False, False])
    action = torch.tensor([ANOMALY, NORMAL, ANOMALY, NORMAL])
    # +1 a labelled anomaly called an anomaly, −1 called normal; −1 an unlabelled point
    # called an anomaly, 0 called normal
    torch.testing.assert_close(extrinsic_reward(labelled, action),
                               torch.tensor([1.0, -1.0, -1.0, 0.0]))


# ---------------------------------------------------------------------------- environment
def _environment(p_anomaly: float, n_candidates: int = 400) -> DPLAN:
    """A DPLAN holding a hand-made environment: points 0-5 unlabelled on a line in ψ-space,
    points 6-7 labelled anomalies; intrinsic rewards i / 10."""
    det = DPLAN(p_anomaly=p_anomaly, n_candidates=n_candidates)
    det.device_ = torch.device("cpu")
    det._generator = torch.Generator().manual_seed(0)
    det._labelled = torch.tensor([False] * 6 + [True] * 2)
    det._anomalies = torch.tensor([6, 7])
    det._unlabelled = torch.arange(6)
    det._embedding = torch.tensor([[0.0], [1.0], [2.0], [4.0], [8.0], [16.0], [2.8], [5.0]])
    det._intrinsic = torch.arange(8, dtype=torch.float32) / 10
    return det


def test_unlabelled_sampler_nearest_for_anomaly_farthest_for_normal():
    det = _environment(p_anomaly=0.0)  # every next observation from D^u
    state = torch.tensor([2, 2, 0, 5, 6, 6])
    action = torch.tensor([ANOMALY, NORMAL, ANOMALY, ANOMALY, ANOMALY, NORMAL])
    _, next_state = det._step_environment(state, action)
    # ψ = 2: nearest other point is 1 (ψ = 1; ψ = 4 is farther), farthest 5 (ψ = 16);
    # ψ = 0 → 1; ψ = 16 → 4 (ψ = 8); a labelled anomaly at ψ = 2.8 → 2 (ψ = 2) / 5
    assert next_state.tolist() == [1, 5, 1, 4, 2, 5]


def test_labelled_anomaly_draw_and_p():
    det = _environment(p_anomaly=1.0)
    _, next_state = det._step_environment(torch.zeros(200, dtype=torch.long),
                                          torch.ones(200, dtype=torch.long))
    assert set(next_state.tolist()) == {6, 7}
    det = _environment(p_anomaly=0.5)
    _, next_state = det._step_environment(torch.zeros(2000, dtype=torch.long),
                                          torch.zeros(2000, dtype=torch.long))
    share = float(det._labelled[next_state].float().mean())
    assert 0.45 < share < 0.55


def test_intrinsic_reward_only_for_calling_unlabelled_points_anomalies():
    det = _environment(p_anomaly=0.5)
    state = torch.tensor([3, 3, 6, 6])
    action = torch.tensor([ANOMALY, NORMAL, ANOMALY, NORMAL])
    reward, _ = det._step_environment(state, action)
    torch.testing.assert_close(reward, torch.tensor([-1.0 + 0.3, 0.0, 1.0, -1.0]))


def test_replay_memory_is_a_ring():
    memory = _ReplayMemory(5, torch.device("cpu"))
    memory.push(torch.arange(3), torch.ones(3, dtype=torch.long), torch.zeros(3),
                torch.arange(3) + 10)
    assert memory.size == 3
    memory.push(torch.arange(3, 7), torch.zeros(4, dtype=torch.long), torch.ones(4),
                torch.arange(13, 17))
    assert memory.size == 5 and memory.position == 2
    assert memory.state.tolist() == [5, 6, 2, 3, 4]  # 0 and 1 overwritten by 5 and 6
    assert memory.next_state.tolist() == [15, 16, 12, 13, 14]
    s, a, r, s_next = memory.sample(50, torch.Generator().manual_seed(0))
    assert torch.equal(s_next, s + 10)


def test_warm_up_fills_the_memory(planted_rows):
    X, y = planted_rows
    X = X.astype(np.float32)
    det = DPLAN(warmup_steps=250, steps_per_episode=40, n_candidates=16)
    det.device_ = torch.device("cpu")
    with seeded(0, det.device_) as generator:
        det._generator = generator
        det.model_ = det.build(InputSpec.of(X))
        det.on_train_start(torch.from_numpy(X), torch.from_numpy(weak_labels(y)))
    assert det._memory.size == 250
    # 7 episodes of 40 steps at most side by side (ceil(250 / 40)), stored step by step: a
    # transition's next state is the state of the transition 7 places later
    memory = det._memory
    assert torch.equal(memory.next_state[:243], memory.state[7:250])
    assert len(torch.unique(memory.state[:250])) > 20
    # the intrinsic rewards are the min-max scaled iForest scores
    assert float(det._intrinsic.min()) == 0.0 and float(det._intrinsic.max()) == 1.0


# ---------------------------------------------------------------------------- training
def test_episodes_and_score(rows_fitted, planted_rows):
    X, _ = planted_rows
    assert [r["epoch"] for r in rows_fitted.history_] == [1, 2, 3]
    assert all(np.isfinite(r["loss"]) and np.isfinite(r["reward"]) for r in rows_fitted.history_)
    with torch.no_grad():
        q = rows_fitted.model_(torch.from_numpy(X[:30].astype(np.float32)))
    np.testing.assert_allclose(rows_fitted.decision_function(X[:30]), q[:, ANOMALY].numpy(),
                               rtol=1e-6)
    assert not any(hasattr(rows_fitted, name) for name in DPLAN._FIT_STATE)


# Planted rows: the intrinsic reward (iForest in ψ-space) ranks the planted anomalies at
# 0.99-1.0 from the first episode; what limits Q(s, a¹) is how far the 20-unit Q-network has
# fitted that reward on the few isolated unlabelled anomalies (about 5 % of the replayed
# transitions). FAST's 900 learning steps at lr 1e-3 (lr x steps 0.9, a fifth of the
# defaults' and of the paper's 5) leave it under-fitted: 0.93 / 0.80 / 0.88 on seeds 0-2, and
# a regression of the immediate reward alone (gamma = 0) gives the same gap. The same 900
# steps at lr 3e-3 (lr x steps 2.7) fit it (docs/decisions.md)
PLANTED_ROWS = {**FAST, "lr": 3e-3}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_rows(seed):
    X, y = make_planted_rows(n_normal=500, n_anomalies=25, n_features=8, random_state=seed)
    det = DPLAN(**PLANTED_ROWS, random_state=seed).fit(X, weak_labels(y))
    auc = roc_auc_score(y, det.decision_scores_)
    assert auc >= 0.9, f"seed {seed}: planted-row AUC {auc:.3f}"
    if seed == 0:  # training makes the ranking, not the initial network (0.19 on these rows)
        untrained = DPLAN(epochs=1, steps_per_episode=1, warmup_steps=0, n_candidates=8,
                          random_state=0).fit(X, weak_labels(y))
        assert auc > roc_auc_score(y, untrained.decision_scores_) + 0.2


def test_planted_windows():
    X, y = make_planted_windows(n_normal=300, n_anomalies=15, window=16, n_features=1,
                                random_state=0)
    det = DPLAN(epochs=2, steps_per_episode=150, warmup_steps=500, n_candidates=128,
                epsilon_steps=150, target_update=150, random_state=0).fit(X, weak_labels(y))
    assert np.isfinite(det.decision_scores_).all()
    assert roc_auc_score(y, det.decision_scores_) >= 0.9


def test_refused_settings(planted_rows):
    X, y = planted_rows
    with pytest.raises(ValueError, match="'validation_size' parameter .* no held-out loss"):
        DPLAN(validation_size=0.2).fit(X, weak_labels(y))
    with pytest.raises(ValueError, match=r"all 20 samples as anomalies.*needs unlabelled rows"):
        DPLAN(**FAST).fit(X[:20], np.ones(20, dtype=int))
