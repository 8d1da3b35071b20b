"""Autoencoder pre-training of an encoder: a phase several one-class methods run before their
own objective (Deep SVDD and Deep SAD, Ruff et al. 2018, Sec. 4; OC-NN, Chalapathy et al.
2018; OCAN's representation, Zheng et al. 2019).

The encoder and a decoder for it are trained as an autoencoder on the mean squared
reconstruction error by the same :class:`~deepad.core.trainer.Trainer` as every other phase
(the detector's fit generator, batch size and gradient clipping); the decoder is discarded
afterwards and the encoder, trained in place, stays in the detector's network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn

from deepad.core.deep import DeepDetector, make_optimizer
from deepad.core.graph_input import trainer_batch_size
from deepad.core.trainer import Batch, Trainer
from deepad.nets.autoencoder import AutoEncoderNet, reconstruction_error

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


class AutoencoderPretraining:
    """The pre-training phase as the :class:`Trainer` sees a detector: ``model_`` is the
    autoencoder, ``loss`` its per-sample reconstruction error, one optimiser over all of its
    parameters, the detector's gradient clipping."""

    def __init__(self, detector: DeepDetector, autoencoder: AutoEncoderNet,
                 optimizer: OptimizerFactory) -> None:
        self.detector = detector
        self.model_ = autoencoder
        self._optimizer = optimizer

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        return [self._optimizer(self.model_.parameters())]

    def loss(self, batch: Batch) -> torch.Tensor:
        return reconstruction_error(batch.x, self.model_(batch.x))

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        (optimizer,) = optimizers
        optimizer.zero_grad(set_to_none=True)
        loss = self.loss(batch).mean()
        loss.backward()
        self.detector.clip_gradients(self.model_.parameters())
        optimizer.step()
        return {"loss": loss.detach()}

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        """Nothing to do between pre-training epochs."""


def pretrain_autoencoder(detector: DeepDetector, encoder: nn.Module, decoder: nn.Module,
                         X: torch.Tensor, *, epochs: int,
                         optimizer: OptimizerFactory | None = None,
                         validation_size: float = 0.0,
                         patience: int | None = None) -> list[dict]:
    """Train ``encoder`` (in place) and ``decoder`` as an autoencoder on ``X`` for ``epochs``
    epochs of the reconstruction error; returns the per-epoch history.

    Called from a hook of ``detector``'s fit (``on_train_start``): the batches are drawn
    from the fit's local generator (``detector._generator``), ``batch_size``, ``verbose`` and
    ``clip_gradients`` are the detector's. ``optimizer`` makes the optimiser from the
    autoencoder's parameters; None → the detector's own (its ``optimizer_name``, ``lr`` and
    ``weight_decay``, :func:`deepad.core.deep.make_optimizer`). The decoder is moved to
    ``detector.device_``. Both networks are left in eval mode, as the :class:`Trainer` leaves
    a trained model.
    """
    if optimizer is None:
        def optimizer(params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
            return make_optimizer(detector.optimizer_name, params, lr=detector.lr,
                                  weight_decay=detector.weight_decay)
    autoencoder = AutoEncoderNet(encoder, decoder.to(detector.device_))
    trainer = Trainer(epochs=epochs,
                      batch_size=trainer_batch_size(detector.batch_size, X, "shuffle"),
                      generator=detector._generator, validation_size=validation_size,
                      patience=patience, verbose=bool(detector.verbose))
    return trainer.fit(AutoencoderPretraining(detector, autoencoder, optimizer), X, None)
