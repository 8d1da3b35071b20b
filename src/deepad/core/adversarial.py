"""``AdversarialDetector``: the training template of methods whose networks play a game.

GANs (AnoGAN, ALAD, GANomaly) and the end-to-end one-class classifiers trained adversarially
(ALOCC, OCAN) hold both players in one ``nn.Module`` whose ``players()`` returns them,
discriminator side first. This base gives them what they share: one Adam per player with
``lr``, betas ``(beta1, 0.999)`` and ``weight_decay`` (``configure_optimizers``), one
player's update with the detector's gradient clipping (``_step``), ``n_batches`` mini-batches
per epoch (training length counted in iterations, as GAN releases do), and the constraints of
the hyperparameters they all have. Each method writes its own ``training_step`` (which
player steps when, on which loss) and its networks; the loop stays
:class:`~deepad.core.trainer.Trainer`'s.
"""

from __future__ import annotations

import numbers
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from deepad.core.deep import DeepDetector
from deepad.core.params import BOOLEAN, NONE, Interval, PositiveInts


class AdversarialDetector(DeepDetector):
    """Unregistered base of two-player detectors (see the module docstring).

    ``model_.players()`` must return the players' modules, the discriminator side first;
    during ``fit`` they are ``self._players`` (set by :meth:`configure_optimizers`, in the
    order of the optimisers).
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "latent_dim": [Interval(numbers.Integral, 1, None)],
        "disc_hidden_dims": [PositiveInts()],
        "disc_dropout": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
        "spectral_norm": [BOOLEAN],
        "beta1": [Interval(numbers.Real, 0.0, 1.0, closed="left")],
        "n_batches": [NONE, Interval(numbers.Integral, 1, None)],
    }

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        try:
            super()._fit(X, y)
        finally:
            self.__dict__.pop("_players", None)

    def steps_per_epoch(self, n_samples: int) -> int | None:
        """``n_batches`` mini-batches per epoch (each epoch from a fresh permutation); None →
        one pass over the data."""
        return self.n_batches

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """One Adam per player (discriminator side first), each with ``lr``, betas
        ``(beta1, 0.999)`` and ``weight_decay``."""
        self._players = self.model_.players()  # made once: training steps reuse them
        return [torch.optim.Adam(player.parameters(), lr=self.lr, betas=(self.beta1, 0.999),
                                 weight_decay=self.weight_decay, foreach=True)
                for player in self._players]

    def _step(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor,
              player: nn.Module) -> None:
        """One update of ``player`` on ``loss``, its gradients clipped by ``grad_clip``."""
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.clip_gradients(player.parameters())
        optimizer.step()
