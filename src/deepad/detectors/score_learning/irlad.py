"""Sequential anomaly detection by inverse reinforcement learning (IRL-ADU, Oh & Iyengar 2019):
the reward function that explains normal trajectories is learned by maximum-entropy IRL;
trajectories it rewards poorly are anomalies."""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from deepad.core.chunks import forward_in_chunks
from deepad.core.deep import DeepDetector
from deepad.core.params import Interval, Options
from deepad.core.registry import register
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone
from deepad.nets.factory import BACKBONES
from deepad.nets.mlp import ACTIVATIONS
from deepad.nets.scaling import Standardize

PERTURBATIONS = ("shuffle", "noise", "shift", "splice")


# ---------------------------------------------------------------------------- objective
def maxent_irl_loss(demo_returns: torch.Tensor, sample_returns: torch.Tensor) -> torch.Tensor:
    """Sample-based maximum-entropy IRL loss (the negative log-likelihood of the
    demonstrations), with the demonstrations added to the background samples as in guided
    cost learning (Finn et al. 2016, Sec. 4.1) and a uniform proposal density:

    ``L = −1/M Σ_m R(τ_m) + log 1/(M + N) Σ_{τ ∈ demos ∪ samples} exp R(τ)``.

    The gradient is ``−1/M Σ_m ∇R(τ_m) + Σ_j w_j ∇R(τ_j)`` with self-normalised importance
    weights ``w_j ∝ exp R(τ_j)``. The loss is invariant to a shift of every return, and since
    the demonstrations are part of the partition estimate it is bounded below
    (``L ≥ −log(M + N)``): driving the samples' returns to −∞ cannot run away.
    """
    every = torch.cat([demo_returns, sample_returns])
    return -demo_returns.mean() + torch.logsumexp(every, dim=0) - math.log(len(every))


def perturb_trajectories(x: torch.Tensor, scale: torch.Tensor, generator: torch.Generator | None
                         ) -> torch.Tensor:
    """Background trajectories: each window with one contiguous segment (1/8 to 1/2 of the
    window, at least 2 steps) altered on a random non-empty subset of channels by one of

    - ``shuffle``: the segment's time steps in random order;
    - ``noise``: Gaussian noise of 0.1 to 1 times the channel's standard deviation ``scale``;
    - ``shift``: a level shift of ±0.5 to ±2 standard deviations;
    - ``splice``: the segment taken from another window (a jump at both ends).

    Vectorised over the batch; every random draw comes from ``generator`` (on the CPU).
    """
    n, window, channels = x.shape
    device = x.device

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(device)

    shortest = min(max(2, window // 8), window)
    longest = max(shortest, window // 2)
    length = shortest + (uniform(n) * (longest - shortest + 1)).long().clamp_max(
        longest - shortest)
    start = (uniform(n) * (window - length + 1)).long().clamp_max(window - length)
    steps = torch.arange(window, device=device)
    inside = (steps >= start[:, None]) & (steps < (start + length)[:, None])  # (n, window)
    channel = uniform(n, channels) < 0.5
    channel[torch.arange(n, device=device), (uniform(n) * channels).long().clamp_max(
        channels - 1)] = True
    mask = inside[:, :, None] & channel[:, None, :]  # (n, window, channels)
    kind = (uniform(n) * len(PERTURBATIONS)).long().clamp_max(len(PERTURBATIONS) - 1)

    # shuffle: sort keys keep every outside step in place and permute the inside ones
    keys = torch.where(inside, start[:, None] + uniform(n, window) * length[:, None],
                       steps.to(x.dtype).expand(n, -1))
    shuffled = x.gather(1, keys.argsort(dim=1)[:, :, None].expand(-1, -1, channels))
    noise = torch.randn(n, window, channels, generator=generator).to(device)
    noisy = x + (0.1 + 0.9 * uniform(n, 1, 1)) * scale * noise
    sign = torch.where(uniform(n, 1, 1) < 0.5, -1.0, 1.0)
    shifted = x + sign * (0.5 + 1.5 * uniform(n, 1, 1)) * scale
    partner = (uniform(n) * n).long().clamp_max(n - 1)
    spliced = x[partner]
    altered = torch.stack([shuffled, noisy, shifted, spliced])[kind, torch.arange(n)]
    return torch.where(mask, altered, x)


# ---------------------------------------------------------------------------- network
class RewardNet(nn.Module):
    """Reward of every transition of a trajectory, one value per bootstrap head.

    A transition ``(s_t, a_t)`` is the stretch ``x_{t−c+1} … x_{t+1}`` of ``c + 1`` steps: the
    state is the last ``c`` observations, the action the move to the next one. The shared
    trunk (any backbone of :func:`deepad.nets.build_backbone`; an MLP reads the stretch
    flattened) feeds ``K`` linear heads.
    """

    def __init__(self, trunk: nn.Module, n_heads: int, state_steps: int, flatten: bool,
                 n_features: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.heads = nn.Linear(trunk.out_dim, n_heads)
        self.state_steps = state_steps
        self.flatten = flatten
        self.scaler = Standardize(n_features)
        self.register_buffer("scale", torch.ones(n_features))
        self.register_buffer("head_mean", torch.zeros(n_heads))
        self.register_buffer("head_std", torch.ones(n_heads))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Windows ``(batch, window, d)`` → rewards ``(batch, window − c, K)``."""
        span = self.state_steps + 1
        # (batch, n_transitions, span, d)
        stretches = self.scaler(x).unfold(1, span, 1).transpose(2, 3)
        flat = stretches.flatten(0, 1)
        if self.flatten:
            flat = flat.flatten(1)
        rewards = self.heads(self.trunk(flat))
        return rewards.view(len(x), stretches.shape[1], -1)


@register
class IRLAD(DeepDetector):
    """IRL-ADU: maximum-entropy inverse reinforcement learning of the reward behind normal
    trajectories, with a bootstrapped reward network; a low expected reward is anomalous.

    Each window ``x_1 … x_w`` is a trajectory whose state at step ``t`` is its last ``c``
    observations (``state_steps``) and whose action is the transition to ``x_{t+1}``. A reward
    network ``r_θ(s_t, a_t)`` gives the return ``R_θ(τ) = Σ_t r_θ(s_t, a_t)``. Maximum-entropy
    IRL models trajectories as ``p(τ) = exp R_θ(τ) / Z`` and maximises the likelihood of the
    demonstrations (the training windows, assumed normal):
    ``L(θ) = −1/M Σ_m R_θ(τ_m) + log Z`` (Oh & Iyengar 2019, Sec. 3.2, after Ziebart et al.
    2008). ``Z`` is estimated by importance sampling from background trajectories, with the
    demonstrations among them (guided cost learning, Finn et al. 2016):
    ``log Z ≈ log 1/(M+N) Σ_j exp R_θ(τ_j) / q(τ_j)``, see :func:`maxent_irl_loss`.

    Model uncertainty (the paper's Bayesian view, Sec. 4): the network is a shared trunk with
    ``K`` bootstrap heads, and each optimisation step updates one head drawn at random (with
    the trunk), as in the paper's Fig. 2, so each head is fitted to a different random share
    of the mini-batches. Score: the negative expected reward, per step and over heads. Each
    head's per-step mean reward ``R̄_k(τ) = R_k(τ) / (w − c)`` is standardised by its mean and
    standard deviation over the training windows (the MaxEnt likelihood leaves every head's
    offset and the scale of its return free), and
    ``s(τ) = −1/K Σ_k z_k(τ) + λ std_k z_k(τ)``; ``λ = uncertainty_weight`` (default 0, the
    paper's normality score; ``λ > 0`` also flags trajectories the heads disagree on, the use
    of the predictive variance the paper proposes for deciding anomalies).

    Deviations (documented in ``docs/decisions.md``): the paper's background trajectories
    come from a sampling policy improved by forward RL against the current reward; here they
    are the demonstrations with one segment perturbed (:func:`perturb_trajectories`: time
    shuffle, noise, level shift or splice from another window), a fixed proposal treated as
    uniform, so the importance weights are ``w_j ∝ exp R_θ(τ_j)``; no policy is learned. The
    paper's states are application features (locations, meta-data); here they are the
    series' last ``c`` values.

    Defaults (ours; measured on SMAP / MSL channels and UCR series, ``docs/decisions.md``):
    ``c = 4``, an MLP of (64, 64) ReLU units, ``K = 10`` heads, two background trajectories
    per demonstration, 20 epochs of batches of 128 at lr 1e-3 (Adam).

    Images: not supported, because its reward is learned over trajectories, i.e. sequence windows.

    Parameters
    ----------
    state_steps : int, default 4
        Observations ``c`` that make a state; windows need at least ``c + 2`` steps.
    n_heads : int, default 10
        Bootstrap heads ``K``.
    n_samples : int, default 2
        Background trajectories drawn per demonstration and step.
    uncertainty_weight : float, default 0.0
        ``λ``: weight of the heads' disagreement in the score.
    hidden_dims : tuple of int, default (64, 64)
        Trunk widths (for a sequence backbone: recurrent / convolutional width, then dense).
    activation : str, default "relu"
    dropout : float, default 0.0
        Dropout in the trunk during training.
    backbone : str, default "auto"
        "auto" / "mlp": an MLP over the flattened transition (the paper's reward network);
        any sequence backbone reads the transition as a ``c + 1``-step window.
    input_scaling : {"standard", "none"}, default "standard"
        The reward network reads each channel standardised with the training windows' mean
        and standard deviation (kept on the network), so rewards do not depend on the user's
        units (not in the paper; without it min-max scaled UCR 135 ranked its anomaly at
        about chance, ``docs/decisions.md``), or the inputs as given.
    epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`.

    Attributes
    ----------
    model_ : RewardNet
        Trunk, heads and the buffers ``scale`` (channel standard deviations, for the
        background sampler), ``head_mean`` and ``head_std`` (standardisation of the heads).

    Examples
    --------
    >>> from deepad import IRLAD
    >>> from deepad.data.synthetic import make_planted_windows
    >>> X, y = make_planted_windows(60, 3, window=16, n_features=1, random_state=0)
    >>> IRLAD(epochs=2, random_state=0).fit(X).decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Oh & Iyengar, "Sequential Anomaly Detection using Inverse Reinforcement Learning",
    KDD 2019. Ziebart, Maas, Bagnell & Dey, "Maximum Entropy Inverse Reinforcement
    Learning", AAAI 2008. Finn, Levine & Abbeel, "Guided Cost Learning", ICML 2016.
    Osband et al., "Deep Exploration via Bootstrapped DQN", NeurIPS 2016.
    """

    name = "IRLAD"
    category = "score_learning"
    subcategory = "prior"
    supervision = ("unsupervised",)
    modalities = ("sequence",)
    reference = ("Oh & Iyengar, Sequential Anomaly Detection using Inverse Reinforcement "
                 "Learning, KDD 2019")
    test_params: ClassVar[dict] = {"epochs": 3, "hidden_dims": (16,), "n_heads": 3,
                                   "batch_size": 32, "lr": 1e-2}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "state_steps": [Interval(numbers.Integral, 1, None)],
        "n_heads": [Interval(numbers.Integral, 1, None)],
        "n_samples": [Interval(numbers.Integral, 1, None)],
        "uncertainty_weight": [Interval(numbers.Real, 0.0, None)],
        "activation": [Options(tuple(ACTIVATIONS))],
        "dropout": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
        "backbone": [Options(("auto", "mlp", *BACKBONES["sequence"]))],
        "input_scaling": [Options(("standard", "none"))],
    }

    def __init__(self, state_steps=4, n_heads=10, n_samples=2, uncertainty_weight=0.0,
                 hidden_dims=(64, 64), activation="relu", dropout=0.0, backbone="auto",
                 input_scaling="standard", epochs=20, batch_size=128, lr=1e-3, weight_decay=0.0,
                 validation_size=0.0,
                 patience=None, grad_clip=None, contamination=0.1, device=None,
                 random_state=None, verbose=False):
        self.state_steps = state_steps
        self.n_heads = n_heads
        self.n_samples = n_samples
        self.uncertainty_weight = uncertainty_weight
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.dropout = dropout
        self.backbone = backbone
        self.input_scaling = input_scaling
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

    def build(self, spec: InputSpec) -> nn.Module:
        span = self.state_steps + 1
        if spec.window < span + 1:
            msg = (f"IRLAD with state_steps={self.state_steps} needs windows of at least "
                   f"state_steps + 2 = {span + 1} steps (two transitions); got windows of "
                   f"{spec.window} steps.")
            raise ValueError(msg)
        flatten = self.backbone in ("auto", "mlp")
        if flatten:
            transition = InputSpec("tabular", n_features=span * spec.n_features)
        else:
            transition = dataclasses.replace(spec, window=span)
        trunk = build_backbone(transition, hidden_dims=tuple(self.hidden_dims), out_dim=None,
                               kind=self.backbone, activation=self.activation,
                               dropout=self.dropout)
        return RewardNet(trunk, self.n_heads, self.state_steps, flatten, spec.n_features)

    @torch.no_grad()
    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        std = X.flatten(0, 1).std(dim=0, correction=0)
        self.model_.scale.copy_(torch.where(std > 0, std, torch.ones_like(std)))
        if self.input_scaling == "standard":
            self.model_.scaler.fit_(X)

    def loss(self, batch: Batch) -> torch.Tensor:
        generator = getattr(self, "_generator", None)
        x = batch.x
        background = perturb_trajectories(x.repeat(self.n_samples, 1, 1), self.model_.scale,
                                          generator)
        head = int(torch.randint(self.n_heads, (1,), generator=generator))
        returns = self.model_(torch.cat([x, background]))[:, :, head].sum(dim=1)
        return maxent_irl_loss(returns[:len(x)], returns[len(x):])

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        super()._fit(X, y)
        self._standardise_heads(torch.from_numpy(X).to(self.device_))

    @torch.no_grad()
    def _standardise_heads(self, X: torch.Tensor) -> None:
        """Each head's mean and standard deviation of the per-step mean reward over the
        training windows (eval mode)."""
        rewards = forward_in_chunks(self.model_.eval(), X, lambda x: self.model_(x).mean(dim=1))
        std = rewards.std(dim=0, correction=0)
        self.model_.head_mean.copy_(rewards.mean(dim=0))
        self.model_.head_std.copy_(torch.where(std > 0, std, torch.ones_like(std)))

    def score(self, batch: Batch) -> torch.Tensor:
        rewards = self.model_(batch.x).mean(dim=1)  # (batch, K): per-step mean reward
        z = (rewards - self.model_.head_mean) / self.model_.head_std
        score = -z.mean(dim=1)
        if self.uncertainty_weight > 0 and z.shape[1] > 1:
            score = score + self.uncertainty_weight * z.std(dim=1, correction=0)
        return score
