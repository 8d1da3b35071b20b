"""The one training loop every deep detector runs.

Mini-batches come from in-memory tensors by indexing (no DataLoader), or from a streaming
source through a bounded shuffle buffer (:meth:`Trainer.fit_stream`,
:mod:`deepad.data.streaming`): shuffled epochs by default, or class-balanced batches (half
labelled anomalies, half unlabelled rows, drawn with replacement) for methods that ask for
it, such as DevNet. Methods never copy this loop: they fill in the hooks of
:class:`deepad.core.deep.DeepDetector` (``loss``, ``training_step``, ``on_train_start``,
``on_epoch_end``).

The loop knows a detector only through :class:`Trainable`, the hooks it calls, so this module
does not import :mod:`deepad.core.deep` (which imports it): no import circle. Under a
distributed launcher the same loop trains data-parallel (:mod:`deepad.core.distributed`).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from typing import NamedTuple, Protocol

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from deepad.core.distributed import DistContext, GradientAllReduce
from deepad.nets.image_mlp import adapt_inputs, needs_adapting

logger = logging.getLogger(__name__)


class Batch(NamedTuple):
    """One mini-batch: inputs, labels (None when unsupervised) and row indices into the fit data."""

    x: torch.Tensor
    y: torch.Tensor | None
    index: torch.Tensor


class Trainable(Protocol):
    """What the loop needs of a detector: its network and the training hooks of
    :class:`deepad.core.deep.DeepDetector`."""

    model_: nn.Module

    def configure_optimizers(self) -> list[torch.optim.Optimizer]: ...

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict: ...

    def loss(self, batch: Batch) -> torch.Tensor: ...

    def on_epoch_end(self, epoch: int, logs: dict) -> None: ...


class Trainer:
    """Runs ``epochs`` of mini-batch optimisation of a detector (a :class:`Trainable`, in
    practice a :class:`~deepad.core.deep.DeepDetector`).

    Parameters
    ----------
    epochs, batch_size
        As the detector's hyperparameters.
    sampling
        ``"shuffle"`` (each row once per epoch) or ``"balanced"`` (each batch half labelled
        anomalies, half unlabelled rows, with replacement; needs ``y`` with both: at least one
        labelled anomaly and one unlabelled row left for training).
    steps_per_epoch
        Batches per epoch; ``None`` → ``ceil(n_train / batch_size)``.
    validation_size
        Fraction of rows held out to compute a validation loss each epoch (0 → none).
    patience
        Stop when the monitored loss (validation loss if any, else training loss) has not
        improved for this many epochs, and restore the best weights. ``None`` → never stop early.
    generator
        Local torch generator for every random index drawn here.
    """

    def __init__(self, *, epochs: int, batch_size: int, generator: torch.Generator,
                 sampling: str = "shuffle", steps_per_epoch: int | None = None,
                 validation_size: float = 0.0, patience: int | None = None,
                 verbose: bool = False) -> None:
        self.epochs = epochs
        self.batch_size = batch_size
        self.generator = generator
        self.sampling = sampling
        self.steps_per_epoch = steps_per_epoch
        self.validation_size = validation_size
        self.patience = patience
        self.verbose = verbose

    def _split(self, n: int, y: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        order = torch.randperm(n, generator=self.generator)
        n_val = int(round(self.validation_size * n))
        if n_val == 0:
            return order, order[:0]
        if n - n_val < 2:
            msg = (f"validation_size={self.validation_size} leaves {n - n_val} training row(s) "
                   f"of {n}; lower it or pass more data.")
            raise ValueError(msg)
        if self.sampling == "balanced" and y is not None:
            # keep labelled anomalies in the training part: they are few and drive the loss
            labelled = order[y[order] == 1]
            unlabelled = order[y[order] == 0]
            if n_val >= len(unlabelled):
                msg = (f"validation_size={self.validation_size} holds out {n_val} row(s), taken "
                       "from the unlabelled rows under balanced sampling, but only "
                       f"{len(unlabelled)} of the {n} rows are unlabelled (y == 0) and training "
                       "needs at least one; lower validation_size or pass more unlabelled rows.")
                raise ValueError(msg)
            return torch.cat([labelled, unlabelled[n_val:]]), unlabelled[:n_val]
        return order[n_val:], order[:n_val]

    def _batches(self, train_idx: torch.Tensor, y: torch.Tensor | None):
        n = len(train_idx)
        steps = self.steps_per_epoch or math.ceil(n / self.batch_size)
        if self.sampling == "balanced":
            anomalies = train_idx[y[train_idx] == 1]
            unlabelled = train_idx[y[train_idx] == 0]
            half = max(self.batch_size // 2, 1)
            for _ in range(steps):
                pick_a = torch.randint(len(anomalies), (half,), generator=self.generator)
                pick_u = torch.randint(len(unlabelled), (self.batch_size - half,),
                                       generator=self.generator)
                yield torch.cat([anomalies[pick_a], unlabelled[pick_u]])
            return
        order = train_idx[torch.randperm(n, generator=self.generator)]
        for step in range(steps):
            start = (step * self.batch_size) % n
            batch = order[start:start + self.batch_size]
            # a lone trailing row cannot train batch normalisation; the next epoch's
            # permutation puts it elsewhere
            if len(batch) > 1 or n == 1:
                yield batch

    @staticmethod
    def _check_balanced(detector: Trainable, y: torch.Tensor | None) -> None:
        name = type(detector).__name__
        n_anomalies = 0 if y is None else int((y == 1).sum())
        if n_anomalies == 0:
            msg = (f"{name} samples balanced batches (half labelled anomalies, half unlabelled "
                   "rows) and needs labelled anomalies: pass y with 1 for at least one anomaly.")
            raise ValueError(msg)
        if n_anomalies == len(y):
            msg = (f"{name} samples balanced batches (half labelled anomalies, half unlabelled "
                   f"rows) and needs unlabelled rows: all {len(y)} rows have y == 1; pass "
                   "unlabelled rows with y == 0 too.")
            raise ValueError(msg)

    @staticmethod
    def _make_batch(X: torch.Tensor, y: torch.Tensor | None, idx: torch.Tensor) -> Batch:
        idx = idx.to(X.device)
        return Batch(X[idx], None if y is None else y[idx], idx)

    def _validation_loss(self, detector: Trainable, X: torch.Tensor, y: torch.Tensor | None,
                         val_idx: torch.Tensor) -> float:
        detector.model_.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, len(val_idx), self.batch_size):
                batch = self._make_batch(X, y, val_idx[start:start + self.batch_size])
                loss = detector.loss(batch)
                total += float(loss.sum()) if loss.ndim else float(loss) * len(batch.index)
        detector.model_.train()
        return total / len(val_idx)

    def fit(self, detector: Trainable, X: torch.Tensor, y: torch.Tensor | None,
            dist: DistContext | None = None) -> list[dict]:
        """Train ``detector.model_`` in place; return the per-epoch history.

        With ``dist`` (a data-parallel run, :mod:`deepad.core.distributed`) every rank holds
        ``X``, draws the same batches and trains on rows ``rank::world`` of each; the
        gradients are all-reduced before each optimiser step.

        Raises
        ------
        ValueError
            Balanced sampling without labelled anomalies or without unlabelled rows.
        """
        if self.sampling == "balanced":
            self._check_balanced(detector, y)
        # indices are drawn on the CPU (local generator); the labels they select must be too
        y_cpu = None if y is None else y.cpu()
        train_idx, val_idx = self._split(len(X), y_cpu)
        if isinstance(X, torch.Tensor) and needs_adapting(detector.model_):
            # input layers that learn from the data (a backbone's per-pixel z-score) see the
            # training rows, not the held-out validation rows
            adapt_inputs(detector.model_, X[train_idx.to(X.device)])

        def epoch_batches(epoch: int):
            for idx in self._batches(train_idx, y_cpu):
                if dist is None:
                    yield self._make_batch(X, y, idx), 1.0
                elif len(idx) >= dist.world:
                    # a global batch smaller than the world would leave a rank without rows
                    local = idx[dist.rank::dist.world]
                    yield self._make_batch(X, y, local), len(local) / len(idx)

        validate = None
        if len(val_idx):
            def validate() -> float:
                return self._validation_loss(detector, X, y, val_idx)
        return self._run(detector, epoch_batches, validate, dist)

    def fit_stream(self, detector: Trainable, source, *, device: torch.device, seed: int,
                   n_rows: int, buffer_rows: int,
                   dist: DistContext | None = None) -> list[dict]:
        """Train ``detector.model_`` on a streaming source (:mod:`deepad.data.streaming`);
        return the per-epoch history.

        Each epoch reads the source's units (row groups) in a new order drawn from ``seed``
        and the epoch, mixes their rows in a shuffle buffer of ``buffer_rows`` rows and cuts
        mini-batches of ``batch_size`` rows (``Batch.index`` is the row's position in the
        epoch). ``steps_per_epoch`` batches per epoch when set (the stream is read again when
        one pass has fewer), else one pass. In a data-parallel run each rank reads its share
        of the units and makes batches of ``batch_size // world`` rows; an epoch ends for all
        ranks when one of them runs out (the others drop their last few rows).
        """
        from deepad.data.streaming import shuffle_batches

        if needs_adapting(detector.model_):
            msg = ("This network standardises its input with statistics of the training data "
                   "(backbone 'zscore_mlp'), which are taken from in-memory training data; fit "
                   "it on an array, or choose another backbone for a streaming source.")
            raise ValueError(msg)
        local_batch = self.batch_size if dist is None else max(1, self.batch_size // dist.world)
        steps = self.steps_per_epoch

        def rows(epoch: int):
            passes = 0
            while True:
                pass_seed = int(seed) * 1_000_003 + epoch * 7919 + passes
                chunks = (source.chunks(seed=pass_seed) if dist is None else
                          source.chunks(seed=pass_seed, rank=dist.rank, world=dist.world))
                rng = np.random.default_rng(pass_seed)
                yield from shuffle_batches(chunks, local_batch, buffer_rows, rng)
                passes += 1
                if steps is None:
                    return

        def epoch_batches(epoch: int):
            position = 0
            stream = rows(epoch)
            step = 0
            while steps is None or step < steps:
                x = next(stream, None)
                if x is not None and len(x) < 2 and n_rows > 1:
                    x = next(stream, None)  # a lone trailing row cannot train batch norm
                n_local = 0 if x is None else len(x)
                share = 1.0
                if dist is not None:
                    have, total = dist.all_sum([float(n_local > 0), float(n_local)])
                    if have < dist.world:
                        return
                    share = n_local / total
                elif x is None:
                    return
                t = torch.from_numpy(x).to(device)
                index = torch.arange(position, position + len(x), device=device)
                position += len(x)
                step += 1
                yield Batch(t, None, index), share

        return self._run(detector, epoch_batches, None, dist)

    def _run(self, detector: Trainable, epoch_batches, validate, dist) -> list[dict]:
        """The epoch loop shared by in-memory and streaming fits: optimisers, losses, history,
        divergence check, early stopping with the best weights restored."""
        optimizers = detector.configure_optimizers()
        history: list[dict] = []
        best, best_state, stale = math.inf, None, 0
        if dist is not None:
            dist.broadcast_module(detector.model_)
        reducer = GradientAllReduce(optimizers) if dist is not None else None
        detector.model_.train()
        epochs = tqdm(range(self.epochs), desc=type(detector).__name__, disable=not self.verbose,
                      leave=False)
        with reducer if reducer is not None else contextlib.nullcontext():
            for epoch in epochs:
                sums: dict[str, float] = {}
                n_steps = 0
                for batch, share in epoch_batches(epoch):
                    if reducer is not None:
                        reducer.share = share
                    logs = detector.training_step(batch, optimizers)
                    for key, value in logs.items():
                        sums[key] = sums.get(key, 0.0) + float(value)
                    n_steps += 1
                record = {k: v / max(n_steps, 1) for k, v in sums.items()}
                if dist is not None:
                    record = dist.all_mean(record)
                record = {"epoch": epoch + 1, **record}
                if validate is not None:
                    record["val_loss"] = validate()
                detector.on_epoch_end(epoch, record)
                history.append(record)
                if not all(math.isfinite(v) for v in record.values()):
                    msg = (f"{type(detector).__name__} training diverged at epoch {epoch + 1} "
                           f"(losses {record}); try a lower lr or scale the features.")
                    raise FloatingPointError(msg)
                epochs.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k != "epoch"})
                logger.debug("%s epoch %d: %s", type(detector).__name__, epoch + 1, record)
                if self.patience is not None:
                    monitored = record.get("val_loss", record.get("loss", math.inf))
                    if best == math.inf or monitored < best - 1e-7 * max(abs(best), 1.0):
                        best, stale = monitored, 0
                        best_state = copy.deepcopy(detector.model_.state_dict())
                    else:
                        stale += 1
                        if stale >= self.patience:
                            logger.info("%s: early stop at epoch %d (best %.5g)",
                                        type(detector).__name__, epoch + 1, best)
                            break
        if best_state is not None:
            detector.model_.load_state_dict(best_state)
        if dist is not None:
            dist.broadcast_module(detector.model_, buffers_only=True)
        detector.model_.eval()
        return history
