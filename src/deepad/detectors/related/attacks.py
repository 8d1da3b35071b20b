"""Adversarial attacks on a classifier, to make the data the adversarial-example detectors are
fitted and evaluated on: FGSM, BIM, PGD-L∞ and Carlini & Wagner's L2 attack.

Every attack takes a classifier (any ``torch.nn.Module`` mapping a batch of inputs to logits),
inputs ``x`` in ``[clip_min, clip_max]`` (default [0, 1]) and their true labels, and returns
adversarial inputs of the same shape in the same range. The classifier is put in eval mode
for the attack and its mode restored after; its parameters accumulate no gradient. Each attack
is untargeted (it moves away from the true label) and runs on whole batches (no per-sample
loop); ``batch_size`` bounds the memory of one pass.

Written here in torch rather than taken from a library (``docs/decisions.md``): torchattacks
3.5.1 requires torchvision (which does not import with this CPU build of torch) and pins
``requests~=2.25.1``; the Adversarial Robustness Toolbox 1.20.1 needs no torchvision but would
be a large dependency for four short attacks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

ATTACKS = ("fgsm", "bim", "pgd", "cw")


# ---------------------------------------------------------------------------- helpers
@contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    modes = [m.training for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, mode in zip(model.modules(), modes, strict=True):
            m.train(mode)


def _check(x: torch.Tensor, y: torch.Tensor, clip_min: float, clip_max: float) -> None:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        msg = f"x must be a float tensor; got {type(x).__name__} {getattr(x, 'dtype', '')}."
        raise TypeError(msg)
    if y.ndim != 1 or len(y) != len(x):
        msg = f"y must hold one class label per input, shape ({len(x)},); got {tuple(y.shape)}."
        raise ValueError(msg)
    if not clip_min < clip_max:
        msg = f"clip_min must be below clip_max; got {clip_min} and {clip_max}."
        raise ValueError(msg)
    if len(x) and (float(x.min()) < clip_min - 1e-6 or float(x.max()) > clip_max + 1e-6):
        msg = (f"x must lie in [clip_min, clip_max] = [{clip_min}, {clip_max}] (inputs in "
               f"[0, 1] by default); got values in [{float(x.min()):.4g}, "
               f"{float(x.max()):.4g}].")
        raise ValueError(msg)


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        msg = f"{name} must be a positive number; got {value!r}."
        raise ValueError(msg)


def _loss_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """∇_x of the summed cross-entropy loss (the parameters accumulate nothing)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(model(x), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def _batched(attack: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], x: torch.Tensor,
             y: torch.Tensor, batch_size: int) -> torch.Tensor:
    _positive("batch_size", batch_size)
    return torch.cat([attack(x[s:s + batch_size], y[s:s + batch_size])
                      for s in range(0, len(x), batch_size)]) if len(x) else x.clone()


# ---------------------------------------------------------------------------- L∞ attacks
def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
         clip_min: float = 0.0, clip_max: float = 1.0, batch_size: int = 512) -> torch.Tensor:
    """Fast gradient sign method (Goodfellow, Shlens & Szegedy, ICLR 2015, Sec. 4):
    ``x' = clip(x + ε · sign(∇_x J(θ, x, y)))``, one step of size ``eps`` in L∞."""
    _positive("eps", eps)
    _check(x, y, clip_min, clip_max)

    def attack(xb, yb):
        return (xb + eps * _loss_gradient(model, xb, yb).sign()).clamp(clip_min, clip_max)

    with _eval_mode(model):
        return _batched(attack, x, y, batch_size).detach()


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
        step_size: float | None = None, n_steps: int = 40, random_start: bool = True,
        clip_min: float = 0.0, clip_max: float = 1.0, batch_size: int = 512,
        generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient descent in L∞ (Madry et al., ICLR 2018):
    ``x^{t+1} = Π_{B∞(x, ε) ∩ [clip_min, clip_max]} (x^t + α · sign(∇_x J(θ, x^t, y)))``,
    from a uniform random start in the ε-ball (``random_start=True``, Madry et al.) or from
    ``x`` itself, which is the basic iterative method, BIM (Kurakin, Goodfellow & Bengio,
    ICLR 2017 workshop). ``step_size`` α defaults to ``2.5 ε / n_steps`` (Madry et
    al.'s rule of thumb); ``n_steps`` 40, as their MNIST attack. The random start is drawn from
    ``generator`` (None: torch's global generator; :func:`run_attack` passes a seeded one)."""
    _positive("eps", eps)
    _check(x, y, clip_min, clip_max)
    if not (isinstance(n_steps, int) and n_steps >= 1):
        msg = f"n_steps must be a positive int; got {n_steps!r}."
        raise ValueError(msg)
    alpha = 2.5 * eps / n_steps if step_size is None else step_size
    _positive("step_size", alpha)

    def attack(xb, yb):
        if random_start:
            noise = torch.rand(xb.shape, generator=generator, dtype=xb.dtype).to(xb.device)
            adv = (xb + (2 * noise - 1) * eps).clamp(clip_min, clip_max)
        else:
            adv = xb.clone()
        for _ in range(n_steps):
            adv = adv + alpha * _loss_gradient(model, adv, yb).sign()
            adv = torch.minimum(torch.maximum(adv, xb - eps), xb + eps).clamp(clip_min, clip_max)
        return adv

    with _eval_mode(model):
        return _batched(attack, x, y, batch_size).detach()


def bim(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
        step_size: float | None = None, n_steps: int = 40, clip_min: float = 0.0,
        clip_max: float = 1.0, batch_size: int = 512) -> torch.Tensor:
    """The basic iterative method (Kurakin et al. 2017): :func:`pgd` without the random
    start."""
    return pgd(model, x, y, eps, step_size=step_size, n_steps=n_steps, random_start=False,
               clip_min=clip_min, clip_max=clip_max, batch_size=batch_size)


# ---------------------------------------------------------------------------- CW-L2
def carlini_wagner_l2(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                      confidence: float = 0.0, initial_const: float = 1e-2,
                      binary_search_steps: int = 5, max_iterations: int = 200,
                      lr: float = 1e-2, clip_min: float = 0.0, clip_max: float = 1.0,
                      batch_size: int = 512) -> torch.Tensor:
    """Carlini & Wagner's L2 attack (IEEE S&P 2017, their "L2 attack"), untargeted.

    Change of variable ``x' = lo + (tanh(w) + 1) / 2 · (hi − lo)`` (so ``x'`` is always a valid
    input); minimise ``||x' − x||²₂ + c · f(x')`` with Adam over ``w``, where
    ``f(x') = max(Z(x')_y − max_{i≠y} Z(x')_i, −κ)`` (the untargeted form of their objective
    f₆ on the logits Z, κ = ``confidence``). The constant c starts at ``initial_const`` and
    is searched per sample over ``binary_search_steps`` rounds (halved towards the smallest c
    that succeeded, multiplied by 10 while none did, as their release); each round runs
    ``max_iterations`` Adam steps (lr ``lr``) from ``w`` of the original input. The result is
    the successful ``x'`` of smallest L2 distance found over all rounds; a sample for which no
    round succeeded is returned unchanged. Deviations: no early abort when the loss stalls,
    and 5 x 200 steps instead of the paper's 9 x 10,000 (budget; the success rate is
    reported by :func:`attack_success_rate`).
    """
    _check(x, y, clip_min, clip_max)
    for name, value in (("initial_const", initial_const), ("lr", lr)):
        _positive(name, value)
    for name, value in (("binary_search_steps", binary_search_steps),
                        ("max_iterations", max_iterations)):
        if not (isinstance(value, int) and value >= 1):
            msg = f"{name} must be a positive int; got {value!r}."
            raise ValueError(msg)
    span = clip_max - clip_min

    def to_input(w):
        return clip_min + (torch.tanh(w) + 1) / 2 * span

    def attack(xb, yb):
        n = len(xb)
        flat = (slice(None),) + (None,) * (xb.ndim - 1)
        # w of the original input; 0.999999 keeps atanh finite at the range's ends
        w0 = torch.atanh(((xb - clip_min) / span * 2 - 1).clamp(-0.999999, 0.999999))
        lower = torch.zeros(n, dtype=xb.dtype, device=xb.device)
        upper = torch.full((n,), math.inf, dtype=xb.dtype, device=xb.device)
        const = torch.full((n,), initial_const, dtype=xb.dtype, device=xb.device)
        best_dist = torch.full((n,), math.inf, dtype=xb.dtype, device=xb.device)
        best = xb.clone()
        for _ in range(binary_search_steps):
            w = w0.clone().requires_grad_(True)
            optimizer = torch.optim.Adam([w], lr=lr)
            succeeded = torch.zeros(n, dtype=torch.bool, device=xb.device)
            for _ in range(max_iterations):
                with torch.enable_grad():
                    adv = to_input(w)
                    logits = model(adv)
                    true = logits.gather(1, yb[:, None]).squeeze(1)
                    other = logits.masked_fill(F.one_hot(yb, logits.shape[1]).bool(),
                                               -math.inf).amax(dim=1)
                    f = (true - other).clamp(min=-confidence)
                    dist = (adv - xb).pow(2).reshape(n, -1).sum(dim=1)
                    loss = (dist + const * f).sum()
                    # the gradient of w only: the classifier's parameters accumulate nothing
                    (w.grad,) = torch.autograd.grad(loss, w)
                    optimizer.step()
                with torch.no_grad():
                    hit = (true - other) <= -confidence
                    if confidence == 0:
                        hit = logits.argmax(dim=1) != yb
                    improved = hit & (dist < best_dist)
                    best_dist = torch.where(improved, dist.detach(), best_dist)
                    best = torch.where(improved[flat], adv.detach(), best)
                    succeeded |= hit
            with torch.no_grad():
                upper = torch.where(succeeded, torch.minimum(upper, const), upper)
                lower = torch.where(succeeded, lower, torch.maximum(lower, const))
                const = torch.where(torch.isfinite(upper), (lower + upper) / 2, const * 10)
        return best

    with _eval_mode(model):
        return _batched(attack, x, y, batch_size).detach()


# ---------------------------------------------------------------------------- evaluation
@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """The classifier's predicted classes (eval mode), in batches."""
    with _eval_mode(model):
        return torch.cat([model(x[s:s + batch_size]).argmax(dim=1)
                          for s in range(0, len(x), batch_size)])


def attack_success_rate(model: nn.Module, x_adv: torch.Tensor, y: torch.Tensor) -> float:
    """Share of adversarial inputs the classifier does not assign to their true label (on
    inputs it classified correctly before the attack, this is the attack's success rate)."""
    return float((predict(model, x_adv) != y).double().mean())


def run_attack(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
               eps: float | None = None, seed: int = 0, **options) -> torch.Tensor:
    """``fgsm`` / ``bim`` / ``pgd`` (``eps`` required) or ``cw`` by name; PGD's random start
    drawn from a generator seeded with ``seed``."""
    if name not in ATTACKS:
        msg = f"attack must be one of {list(ATTACKS)}; got {name!r}."
        raise ValueError(msg)
    if name == "cw":
        return carlini_wagner_l2(model, x, y, **options)
    if eps is None:
        msg = f"attack {name!r} needs eps (the L∞ budget)."
        raise ValueError(msg)
    if name == "fgsm":
        return fgsm(model, x, y, eps, **options)
    if name == "bim":
        return bim(model, x, y, eps, **options)
    return pgd(model, x, y, eps, generator=torch.Generator().manual_seed(seed), **options)


def as_tensor(X: np.ndarray | torch.Tensor) -> torch.Tensor:
    """A float32 tensor of ``X`` (uint8 images → / 255, as deepad's image inputs)."""
    if isinstance(X, torch.Tensor):
        return X.float()
    X = np.asarray(X)
    return torch.from_numpy(X.astype(np.float32) / 255.0 if X.dtype == np.uint8
                            else X.astype(np.float32))
