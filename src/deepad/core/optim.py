"""Optimisers that several methods share beyond :func:`deepad.core.deep.make_optimizer`."""

from __future__ import annotations

import torch
from torch import nn

KERAS_RMSPROP = {"alpha": 0.9, "eps": 1e-7}
"""Keras' RMSprop defaults (ρ = 0.9, ε = 1e-7); PyTorch's are α = 0.99, ε = 1e-8."""


def keras_rmsprop(model: nn.Module, backbone: nn.Module, lr: float,
                  weight_decay: float) -> torch.optim.Optimizer:
    """RMSprop with Keras' defaults and weight decay on the backbone's weight matrices only.

    This is how the authors' Keras releases of DevNet and PReNet train (an ``l2(λ)`` kernel
    regulariser on the hidden layers is weight decay ``2λ`` on those matrices): one parameter
    group holds ``backbone``'s parameters of two or more dimensions (``weight_decay``), the
    other every other parameter of ``model`` (no decay: biases, the output layer).
    """
    hidden = [p for p in backbone.parameters() if p.ndim > 1]
    rest = [p for p in model.parameters() if not any(p is h for h in hidden)]
    groups = [{"params": hidden, "weight_decay": weight_decay},
              {"params": rest, "weight_decay": 0.0}]
    return torch.optim.RMSprop(groups, lr=lr, **KERAS_RMSPROP)
