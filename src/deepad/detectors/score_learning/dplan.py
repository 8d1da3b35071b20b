"""DPLAN (Pang, van den Hengel, Shen & Cao, KDD 2021): deep Q-learning of an anomaly detection
agent in an anomaly-biased simulation environment built from partially labelled data."""

from __future__ import annotations

import copy
import numbers
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.ensemble import IsolationForest
from torch import nn

from deepad.core.chunks import forward_in_chunks
from deepad.core.deep import DeepDetector
from deepad.core.params import NONE, Interval, Options
from deepad.core.registry import register
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone
from deepad.nets.mlp import ACTIVATIONS

NORMAL, ANOMALY = 0, 1  # the agent's two actions
WARMUP_EPISODE = 100  # steps of each of the warm-up's parallel random-action episodes


class QNetwork(nn.Module):
    """ψ(x; θ^e) (the backbone, DPLAN's last hidden layer) → a linear head of two Q-values,
    ``Q(s, normal)`` and ``Q(s, anomaly)``."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.out_dim, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)


def extrinsic_reward(labelled: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """DPLAN's anomaly-biased external reward h (Pang et al. 2021).

    ``+1`` for labelling a labelled anomaly an anomaly, ``0`` for labelling an unlabelled
    point normal, ``-1`` otherwise (a labelled anomaly called normal, an unlabelled point
    called an anomaly).
    """
    anomaly = action.to(torch.float32)  # 1 for a¹, 0 for a⁰
    return torch.where(labelled, 2.0 * anomaly - 1.0, -anomaly)


class _ReplayMemory:
    """Ring buffer of transitions (s, a, r, s') holding row indices of the training data."""

    def __init__(self, capacity: int, device: torch.device) -> None:
        self.capacity = capacity
        self.state = torch.zeros(capacity, dtype=torch.long, device=device)
        self.action = torch.zeros(capacity, dtype=torch.long, device=device)
        self.reward = torch.zeros(capacity, device=device)
        self.next_state = torch.zeros(capacity, dtype=torch.long, device=device)
        self.position = 0
        self.size = 0

    def push(self, state: torch.Tensor, action: torch.Tensor, reward: torch.Tensor,
             next_state: torch.Tensor) -> None:
        k = len(state)
        if k > self.capacity:  # only the newest transitions fit
            state, action, reward, next_state = (t[-self.capacity:] for t in
                                                 (state, action, reward, next_state))
            k = self.capacity
        start, stop = self.position, self.position + k
        if stop <= self.capacity:
            slots: slice | torch.Tensor = slice(start, stop)
        else:
            slots = torch.arange(start, stop, device=self.state.device) % self.capacity
        self.state[slots], self.action[slots] = state, action
        self.reward[slots], self.next_state[slots] = reward, next_state
        self.position = stop % self.capacity
        self.size = min(self.size + k, self.capacity)

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        pick = torch.randint(self.size, (n,), generator=generator).to(self.state.device)
        return self.state[pick], self.action[pick], self.reward[pick], self.next_state[pick]


class _OnlyZero:
    """DPLAN has no held-out loss: ``validation_size`` must be 0."""

    def is_satisfied_by(self, value: Any) -> bool:
        return (isinstance(value, numbers.Real) and not isinstance(value, bool)
                and value == 0)

    def __str__(self) -> str:
        return "0 (reinforcement learning has no held-out loss)"


@register
class DPLAN(DeepDetector):
    """DPLAN: a deep Q-network agent learns to label data points normal or anomalous in a
    simulation environment biased towards the labelled anomalies and towards exploring the
    unlabelled data for anomalies of unknown kinds.

    Environment (Pang et al. 2021): the observations are the training rows (or
    windows); the actions are ``a⁰`` normal and ``a¹`` anomaly. Given ``s_t`` and ``a_t``
    the next observation comes, with probability ``p`` (``p_anomaly``, 0.5), uniformly from
    the labelled anomalies D^a (g_a), otherwise from the unlabelled data D^u (g_u): among a
    random subset S ⊂ D^u of ``n_candidates`` points, the nearest neighbour of ``s_t`` when
    ``a_t = a¹`` and the farthest when ``a_t = a⁰``, by Euclidean distance in the Q-network's
    last hidden layer ψ(·; θ^e). Reward ``r_t = r^e_t + r^i_t``: the external reward
    ``r^e = h(s_t, a_t)`` is +1 for ``a¹`` on a labelled anomaly, 0 for ``a⁰`` on an
    unlabelled point and −1 otherwise; the intrinsic reward ``r^i = f(s_t; θ^e)`` is
    the isolation forest score of ``s_t`` in ψ-space (iForest fitted on ψ(D^u), scores
    min-max scaled to [0, 1]), given when the agent labels an unlabelled point an anomaly
    (below). Agent: DQN (Mnih et al. 2015) with experience replay and a target network,
    minimising the Huber loss of ``Q(s, a) − (r + γ max_a' Q⁻(s', a'))`` on replayed
    mini-batches; ε-greedy exploration. Score (the paper's): ``Q(s, a¹; θ*)``.

    Settings from the paper (as in the public re-implementations): one hidden
    layer of 20 ReLU units, replay memory 100,000, mini-batches of 32, γ = 0.99, ε annealed
    linearly from 1 to 0.1, |S| = 1,000, p = 0.5, 10 episodes, RMSprop with squared-gradient
    momentum 0.95 and min squared gradient 0.01 (DQN's; here ``alpha=0.95``, ``eps=0.01``,
    centred). ψ(D) for the sampler and the iForest are refreshed at the end of every episode
    (the paper refreshes θ^e every N = 2,000 steps, one of its episodes).

    Training length, deviating from the paper to bound the fit time: 500 steps per episode
    (paper 2,000), 5,000 warm-up transitions (10,000), ε annealed and the target network
    copied every 2,500 steps (10,000): a quarter of the paper's 20,000 learning steps, with
    lr 1e-3 instead of 2.5e-4 (at 2.5e-4 the short schedule left the Q-network near its
    initialisation on Pima and Ionosphere, ranking at chance; ``docs/decisions.md``). A step
    is Python and small tensor operations whatever the data size, so the fit time grows with
    the number of steps and the iForest refits, not the rows (measured:
    ``docs/results/quick.md``); ``steps_per_episode=2000, warmup_steps=10000,
    epsilon_steps=10000, target_update=10000, lr=2.5e-4`` is the paper's schedule.

    Mapping onto the one training loop: an epoch of the :class:`~deepad.core.trainer.Trainer`
    is an episode, a step one environment step (ε-greedy action, reward, next observation,
    transition stored) followed by one replayed DQN update; ``on_train_start`` builds the
    environment and runs the warm-up, ``on_epoch_end`` refreshes ψ and the iForest and resets
    the episode. The Trainer's mini-batches of rows are not used (transitions come from the
    replay memory); ``history_`` logs the mean TD loss and reward per episode.

    Other choices: the warm-up's random-action transitions are collected as parallel
    episodes of at most 100 steps (one vectorised step for all of them; the network does not
    change during the warm-up, and the walk forgets its start within a few steps); ε decays
    over the learning steps after the warm-up; the intrinsic reward is added only to ``a¹``
    on unlabelled points (the paper's ``r_t = r^e_t + r^i_t`` leaves open to which
    transitions it applies; here the novelty of a point offsets the −1 for calling it an
    anomaly); g_u never returns ``s_t`` itself; the Huber loss (DQN's error clipping)
    instead of the squared error. Observations are rows or windows: ψ is the modality's
    backbone and the iForest works on ψ, so windows need no flattening.
    ``validation_size`` must be 0 and ``patience`` None: a TD loss is no criterion for
    stopping.

    Images: not supported, because its environment draws observations by nearest-neighbour distances
    between rows (tabular data in the paper); give it image embeddings as rows.

    Parameters
    ----------
    hidden_dims : tuple of int, default (20,)
        Widths of ψ (for windows: TCN / GRU width, then dense layers).
    activation : str, default "relu"
    p_anomaly : float, default 0.5
        Probability ``p`` that the next observation is a labelled anomaly.
    n_candidates : int, default 1000
        Size of the random subset S of D^u searched by g_u.
    steps_per_episode : int, default 500
    warmup_steps : int, default 5000
        Random-action transitions stored before learning starts.
    memory_size : int, default 100000
        Replay memory capacity (transitions).
    gamma : float, default 0.99
        Discount factor γ.
    epsilon_start, epsilon_end : float, default 1.0, 0.1
    epsilon_steps : int, default 2500
        Learning steps over which ε falls linearly from ``epsilon_start`` to ``epsilon_end``.
    target_update : int, default 2500
        Learning steps between copies of the Q-network into the target network.
    epochs : int, default 10
        Episodes.
    batch_size : int, default 32
        Transitions per replayed DQN update.
    lr : float, default 1e-3
    backbone, weight_decay, validation_size, patience, grad_clip, contamination, device,
    random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`.

    Examples
    --------
    >>> import numpy as np
    >>> from deepad import DPLAN
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(300, 4)), rng.normal(4, 1, size=(6, 4))])
    >>> y = np.r_[np.zeros(300), np.ones(6)]
    >>> det = DPLAN(epochs=1, steps_per_episode=20, warmup_steps=100, random_state=0)
    >>> det.fit(X, y).decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Pang, van den Hengel, Shen & Cao, "Toward Deep Supervised Anomaly Detection:
    Reinforcement Learning from Partially Labeled Anomaly Data", KDD 2021 (arXiv 2009.06847).
    Mnih et al., "Human-level control through deep reinforcement learning", Nature 2015.

    See Also
    --------
    DevNet : weakly supervised deviation networks (same authors).
    """

    name = "DPLAN"
    category = "score_learning"
    subcategory = "ranking"
    supervision = ("weakly-supervised",)
    modalities = ("tabular", "sequence")
    reference = ("Pang et al., Toward Deep Supervised Anomaly Detection: Reinforcement Learning "
                 "from Partially Labeled Anomaly Data, KDD 2021")
    # reinforcement learning is sequential: each step's transition follows the last action
    data_parallel = False
    data_parallel_refusal = ("its reinforcement-learning loop is sequential (each step's "
                             "transition follows the agent's previous action, and the replay "
                             "memory and target network are one agent's)")
    test_params: ClassVar[dict] = {"epochs": 2, "steps_per_episode": 80, "warmup_steps": 200,
                                   "n_candidates": 64, "epsilon_steps": 80, "target_update": 40}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "activation": [Options(tuple(ACTIVATIONS))],
        "p_anomaly": [Interval(numbers.Real, 0.0, 1.0)],
        "n_candidates": [Interval(numbers.Integral, 1, None)],
        "steps_per_episode": [Interval(numbers.Integral, 1, None)],
        "warmup_steps": [Interval(numbers.Integral, 0, None)],
        "memory_size": [Interval(numbers.Integral, 1, None)],
        "gamma": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
        "epsilon_start": [Interval(numbers.Real, 0.0, 1.0)],
        "epsilon_end": [Interval(numbers.Real, 0.0, 1.0)],
        "epsilon_steps": [Interval(numbers.Integral, 1, None)],
        "target_update": [Interval(numbers.Integral, 1, None)],
        "validation_size": [_OnlyZero()],
        "patience": [NONE],
    }

    def __init__(self, hidden_dims=(20,), activation="relu", p_anomaly=0.5, n_candidates=1000,
                 steps_per_episode=500, warmup_steps=5000, memory_size=100000, gamma=0.99,
                 epsilon_start=1.0, epsilon_end=0.1, epsilon_steps=2500, target_update=2500,
                 backbone="auto", epochs=10, batch_size=32, lr=1e-3, weight_decay=0.0,
                 validation_size=0.0, patience=None, grad_clip=None, contamination=0.1,
                 device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.p_anomaly = p_anomaly
        self.n_candidates = n_candidates
        self.steps_per_episode = steps_per_episode
        self.warmup_steps = warmup_steps
        self.memory_size = memory_size
        self.gamma = gamma
        self.epsilon_start = epsilon_start
        self.epsilon_end = epsilon_end
        self.epsilon_steps = epsilon_steps
        self.target_update = target_update
        self.backbone = backbone
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_size = validation_size
        self.patience = patience
        self.grad_clip = grad_clip
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ networks
    def build(self, spec: InputSpec) -> nn.Module:
        backbone = build_backbone(spec, hidden_dims=tuple(self.hidden_dims), out_dim=None,
                                  kind=self.backbone, activation=self.activation)
        return QNetwork(backbone)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [torch.optim.RMSprop(self.model_.parameters(), lr=self.lr, alpha=0.95, eps=0.01,
                                    centered=True, weight_decay=self.weight_decay, foreach=True)]

    def steps_per_epoch(self, n_samples: int) -> int:
        return self.steps_per_episode

    def score(self, batch: Batch) -> torch.Tensor:
        return self.model_(batch.x)[:, ANOMALY]

    # ------------------------------------------------------------------ environment
    _FIT_STATE = ("_X", "_labelled", "_anomalies", "_unlabelled", "_embedding", "_intrinsic",
                  "_memory", "_target", "_state", "_learning_steps")

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        try:
            super()._fit(X, y)
        finally:  # the environment lives only during fit
            for name in self._FIT_STATE:
                self.__dict__.pop(name, None)

    def _draw(self, high: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(high, shape, generator=self._generator).to(self.device_)

    def _uniform(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.rand(shape, generator=self._generator).to(self.device_)

    @torch.no_grad()
    def _refresh_representation(self) -> None:
        """ψ(D) under the current θ^e for the sampler, and the iForest's intrinsic rewards."""
        self._embedding = forward_in_chunks(self.model_, self._X, self.model_.embed)
        embedding = self._embedding.cpu().double().numpy()
        seed = int(torch.randint(2**31 - 1, (1,), generator=self._generator))
        forest = IsolationForest(random_state=seed).fit(
            embedding[self._unlabelled.cpu().numpy()])
        novelty = -forest.score_samples(embedding)
        low, high = novelty.min(), novelty.max()
        scaled = (novelty - low) / (high - low) if high > low else np.zeros_like(novelty)
        self._intrinsic = torch.as_tensor(scaled, dtype=torch.float32, device=self.device_)

    def _reset(self, n: int) -> torch.Tensor:
        """First observations of ``n`` episodes: uniform over D^u."""
        return self._unlabelled[self._draw(len(self._unlabelled), (n,))]

    @torch.no_grad()
    def _step_environment(self, state: torch.Tensor,
                          action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Reward of ``action`` on ``state`` and the next observations, for a vector of
        parallel episodes (one matrix op for the distances of every episode to its S)."""
        labelled = self._labelled[state]
        reward = extrinsic_reward(labelled, action)
        # intrinsic reward on a¹ for unlabelled points (action is 1 for a¹)
        reward = reward + (~labelled * action) * self._intrinsic[state]
        k = len(state)
        candidates = self._unlabelled[self._draw(len(self._unlabelled), (k, self.n_candidates))]
        distance = ((self._embedding[candidates] - self._embedding[state][:, None]) ** 2).sum(-1)
        # a¹: the nearest candidate (smallest distance); a⁰: the farthest (smallest −distance);
        # s_t itself, when drawn into S, is not its own neighbour
        key = ((2 * action - 1)[:, None] * distance).masked_fill(candidates == state[:, None],
                                                                 float("inf"))
        from_unlabelled = candidates.gather(1, key.argmin(1, keepdim=True))
        from_unlabelled = from_unlabelled.squeeze(1)
        from_anomalies = self._anomalies[self._draw(len(self._anomalies), (k,))]
        choose_a = self._uniform((k,)) < self.p_anomaly
        return reward, torch.where(choose_a, from_anomalies, from_unlabelled)

    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        if y is None:
            msg = "DPLAN needs labels: call fit(X, y)."
            raise ValueError(msg)
        self._X = X
        self._labelled = y.bool()
        self._anomalies = torch.nonzero(self._labelled).squeeze(1)
        self._unlabelled = torch.nonzero(~self._labelled).squeeze(1)
        if len(self._unlabelled) == 0:
            msg = ("DPLAN needs unlabelled data to explore; every row of y is a labelled "
                   "anomaly.")
            raise ValueError(msg)
        self._target = copy.deepcopy(self.model_)
        self._target.requires_grad_(False)
        self._memory = _ReplayMemory(self.memory_size, self.device_)
        self._learning_steps = 0
        self._refresh_representation()
        self._warm_up()
        self._state = self._reset(1)

    def _warm_up(self) -> None:
        """``warmup_steps`` random-action transitions, as parallel episodes of at most
        ``WARMUP_EPISODE`` steps (a random walk that forgets its start within a few steps:
        two of every three moves land on a labelled anomaly or a far point)."""
        if self.warmup_steps == 0:
            return
        n_episodes = -(-self.warmup_steps // min(self.steps_per_episode, WARMUP_EPISODE))
        length = -(-self.warmup_steps // n_episodes)
        state = self._reset(n_episodes)
        stored = 0
        for _ in range(length):
            keep = min(n_episodes, self.warmup_steps - stored)
            action = self._draw(2, (n_episodes,))
            reward, next_state = self._step_environment(state, action)
            self._memory.push(state[:keep], action[:keep], reward[:keep], next_state[:keep])
            stored += keep
            state = next_state

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        if epoch + 1 < self.epochs:  # a new episode: θ^e-dependent parts refreshed, new s_0
            self._refresh_representation()
            self._state = self._reset(1)

    # ------------------------------------------------------------------ agent
    def _epsilon(self) -> float:
        fraction = min(1.0, self._learning_steps / self.epsilon_steps)
        return self.epsilon_start + fraction * (self.epsilon_end - self.epsilon_start)

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        """One environment step with the ε-greedy action, then one replayed DQN update.

        ``batch`` (the Trainer's rows) is not used: transitions come from the replay memory.
        The replayed mini-batch is drawn before the step's own transition is stored, so one
        forward pass gives both its Q-values and the greedy action of the current state.
        """
        (optimizer,) = optimizers
        state = self._state
        update = self._memory.size >= self.batch_size
        if update:
            s, a, r, s_next = self._memory.sample(self.batch_size, self._generator)
            q_all = self.model_(self._X[torch.cat([s, state])])
            greedy = q_all[-1:].detach().argmax(1)
        else:
            with torch.no_grad():
                greedy = self.model_(self._X[state]).argmax(1)
        explore = self._uniform((1,)) < self._epsilon()
        action = torch.where(explore, self._draw(2, (1,)), greedy)
        reward, next_state = self._step_environment(state, action)
        self._memory.push(state, action, reward, next_state)
        self._state = next_state

        loss = torch.zeros((), device=self.device_)
        if update:
            with torch.no_grad():
                target = r + self.gamma * self._target(self._X[s_next]).amax(1)
            q = q_all[:-1].gather(1, a[:, None]).squeeze(1)
            loss = F.smooth_l1_loss(q, target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.clip_gradients(self.model_.parameters())
            optimizer.step()
        self._learning_steps += 1
        if self._learning_steps % self.target_update == 0:
            self._target.load_state_dict(self.model_.state_dict())
        return {"loss": loss.detach(), "reward": reward.sum()}
