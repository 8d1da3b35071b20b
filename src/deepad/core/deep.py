"""``DeepDetector``: the template every deep method fills in (build / loss / score).

A deep method is an objective and a scoring rule over a network built for the input's
modality. Subclasses implement

- ``build(spec) -> nn.Module``: the networks for this input (ask :func:`deepad.nets.build_backbone`
  for the modality's backbone; never hard-code one). Random choices needed at inference
  (centres, reference scores, projections) are registered buffers so ``save`` keeps them.
- ``loss(batch) -> Tensor``: the training objective, per sample where the method allows.
- ``score(batch) -> Tensor``: anomaly scores of shape (batch,), higher = more anomalous.

and may override ``configure_optimizers``, ``training_step`` (several optimisers: GANs, RL),
``on_train_start`` (e.g. Deep SVDD's centre) and ``on_epoch_end``. The loop itself lives in
:class:`deepad.core.trainer.Trainer` and is never copied.

During ``fit`` (and only then) ``self._generator`` is the local, seeded ``torch.Generator``;
hooks draw their random choices from it (DevNet's reference scores), never from torch's
global generator, so the same ``random_state`` gives the same model.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from deepad.core.base import BaseDetector
from deepad.core.chunks import chunk_rows
from deepad.core.distributed import context as distributed_context
from deepad.core.graph_input import Graph, GraphSource, full_batch, trainer_batch_size
from deepad.core.maps import check_image_spec, gradient_map, maps_in_chunks
from deepad.core.params import NONE, Interval, Options, PositiveInts
from deepad.core.runtime import resolve_device, resolve_seed, seeded
from deepad.core.saved_state import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    read_field,
    read_history,
    take_tensors,
)
from deepad.core.trainer import Batch, Trainer
from deepad.core.validation import InputSpec
from deepad.nets.factory import BACKBONES


class _DeviceConstraint:
    def is_satisfied_by(self, value: Any) -> bool:
        if value is None or isinstance(value, torch.device):
            return True
        if not isinstance(value, str):
            return False
        try:
            torch.device(value)
        except RuntimeError:
            return False
        return True

    def __str__(self) -> str:
        return "None, a torch.device or a device string such as 'cpu' or 'cuda:0'"


class _RandomStateConstraint:
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None or isinstance(value, np.random.RandomState | np.random.Generator) or (
            isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0)

    def __str__(self) -> str:
        return "None, a non-negative int or a numpy random generator"


OPTIMIZERS = {"adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop, "sgd": torch.optim.SGD,
              "adamw": torch.optim.AdamW}


def make_optimizer(name: str, params, **options: Any) -> torch.optim.Optimizer:
    """The optimiser ``OPTIMIZERS[name]`` over ``params`` (tensors or parameter groups), with
    PyTorch's fused kernel where one exists for these tensors.

    The fused Adam / AdamW / SGD update is the same arithmetic in one kernel per step instead
    of several small ones per parameter; on the CPU (torch >= 2.4) it cut a small MLP's
    training step by about a quarter (``docs/decisions.md``). Where it is unavailable (older
    torch, RMSprop, an unsupported device) the plain implementation is used.
    """
    optimizer = OPTIMIZERS[name]
    params = list(params)
    try:
        return optimizer(params, fused=True, **options)
    except (TypeError, RuntimeError, ValueError):
        return optimizer(params, **options)


class DeepDetector(BaseDetector):
    """Base of all deep detectors. See the module docstring for the hooks.

    Shared hyperparameters (every subclass lists them in its ``__init__``):
    ``epochs``, ``batch_size``, ``lr``, ``weight_decay``, ``backbone`` ("auto" → MLP for rows,
    TCN for windows, for images the class's ``preferred_backbones`` entry or the conv
    backbone; or "mlp"; or "gru", "lstm", "tcn", "transformer" for windows; or "conv",
    "lenet", ... for images: ``deepad.nets.factory.BACKBONES``), ``validation_size``, ``patience``,
    ``grad_clip`` (max global gradient norm, None → off), ``contamination``, ``device``,
    ``random_state``, ``verbose``.

    Attributes
    ----------
    model_ : torch.nn.Module
        The trained networks (with their buffers).
    device_ : torch.device
        Device resolved from ``device`` in ``fit``.
    history_ : list of dict
        Per-epoch mean losses (and ``val_loss`` when ``validation_size > 0``).
    n_rows_seen_ : int
        Rows of the streaming source ``fit`` read (streaming fits only).

    Large data (``docs/scale.md``): a detector that declares ``stream_fit`` also fits a
    streaming source (:class:`deepad.data.ParquetSource`, :class:`deepad.data.BatchSource`),
    and every deep detector trains data-parallel when launched by ``torchrun``
    (:mod:`deepad.core.distributed`) unless it declares ``data_parallel = False``.
    """

    optimizer_name: ClassVar[str] = "adam"
    sampling: ClassVar[str] = "shuffle"  # "balanced" → half labelled anomalies per batch
    # what backbone="auto" means per modality where the method's paper fixes a network
    # (modality → backbone name, passed to build_backbone's ``prefer``): Deep SVDD's LeNet
    preferred_backbones: ClassVar[dict[str, str]] = {}
    # trains data-parallel under torch.distributed (deepad.core.distributed); a method
    # whose training is not (a sequential reinforcement-learning loop) sets False and says why
    data_parallel: ClassVar[bool] = True
    data_parallel_refusal: ClassVar[str] = ""

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **BaseDetector._parameter_constraints,
        "epochs": [Interval(numbers.Integral, 1, None)],
        "batch_size": [Interval(numbers.Integral, 1, None)],
        "lr": [Interval(numbers.Real, 0.0, None, closed="neither")],
        "weight_decay": [Interval(numbers.Real, 0.0, None)],
        "backbone": [Options(("auto", *(k for kinds in BACKBONES.values() for k in kinds)))],
        "hidden_dims": [PositiveInts()],
        "validation_size": [Interval(numbers.Real, 0.0, 0.5, closed="left")],
        "patience": [NONE, Interval(numbers.Integral, 1, None)],
        "grad_clip": [NONE, Interval(numbers.Real, 0.0, None, closed="neither")],
        "device": [_DeviceConstraint()],
        "random_state": [_RandomStateConstraint()],
        "verbose": [Options((True, False, 0, 1, 2))],
    }

    # ------------------------------------------------------------------ hooks to fill in
    def build(self, spec: InputSpec) -> nn.Module:
        raise NotImplementedError

    def loss(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def score(self, batch: Batch) -> torch.Tensor:
        raise NotImplementedError

    def steps_per_epoch(self, n_samples: int) -> int | None:
        """Batches per epoch; None → one pass over the data."""
        return None

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """One optimiser over all parameters: the method's ``optimizer_name``, ``lr``,
        ``weight_decay`` (fused where available, :func:`make_optimizer`)."""
        return [make_optimizer(self.optimizer_name, self.model_.parameters(), lr=self.lr,
                               weight_decay=self.weight_decay)]

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        """One optimisation step on ``batch``; returns the values to log (``loss``)."""
        (optimizer,) = optimizers
        optimizer.zero_grad(set_to_none=True)
        loss = self.loss(batch).mean()
        loss.backward()
        self.clip_gradients(self.model_.parameters())
        optimizer.step()
        return {"loss": loss.detach()}

    def clip_gradients(self, parameters) -> None:
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(parameters, self.grad_clip)

    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        """Called once after ``build`` and before the first epoch."""

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        """Called after each epoch with its logged means."""

    def score_terms(self, x: torch.Tensor) -> torch.Tensor | None:
        """The score split exactly into one term per input value, shaped like ``x``, for a
        method whose score is a sum of such terms (the autoencoders' per-feature
        reconstruction error): ``score_terms(x).flatten(1).sum(1) == score(x)``. ``None``
        (the default) where the score has no such decomposition; :mod:`deepad.explain`
        then attributes the score by its gradients."""
        return None

    def anomaly_map_batch(self, x: torch.Tensor) -> torch.Tensor:
        """Maps ``(n, H, W)`` of a batch of images ``(n, C, H, W)`` (the model in eval mode):
        the gradient map of ``score`` (:func:`deepad.core.maps.gradient_map`); autoencoders
        override it with their per-pixel reconstruction error."""
        index = torch.arange(len(x), device=x.device)
        return gradient_map(lambda t: self.score(Batch(t, None, index)), x)

    def anomaly_map(self, X: Any) -> np.ndarray:
        """Per-pixel anomaly maps of images, float64 of shape ``(n_images, height, width)``,
        higher = more anomalous there (:mod:`deepad.core.maps`): the reconstruction error
        per pixel (summed over channels) for the autoencoders, the magnitude of the score's
        gradient per pixel (summed over channels) for the other detectors.

        Raises
        ------
        ValueError
            The detector was not fitted on images, or ``X`` does not match the fitted images.
        TypeError
            The detector's score has no gradient with respect to its input.
        """
        check_is_fitted(self, "spec_")
        check_image_spec(self.spec_, type(self).__name__)
        X = self._check_input(X)
        self.model_.eval()
        return maps_in_chunks(self.anomaly_map_batch, X, self.device_)

    # ------------------------------------------------------------------ template
    def _distributed(self):
        """The data-parallel context of a run under a launcher (None alone); a detector
        whose training is not data-parallel refuses it (``data_parallel``)."""
        dist = distributed_context(self.device_)
        if dist is not None and not self.data_parallel:
            msg = (f"{type(self).__name__} cannot train data-parallel ({dist.world} processes "
                   f"under torch.distributed): {self.data_parallel_refusal}. Run it in one "
                   "process.")
            raise RuntimeError(msg)
        return dist

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self.device_ = resolve_device(self.device)
        self.seed_ = resolve_seed(self.random_state)
        dist = self._distributed()
        graph = isinstance(X, Graph)
        X_t = None if graph else torch.from_numpy(X).to(self.device_)
        y_t = None if y is None else torch.from_numpy(y).to(self.device_)
        with seeded(self.seed_, self.device_) as generator:
            if graph:  # nodes indexed like rows (deepad.core.graph_input)
                X_t = GraphSource(X, self.device_, generator)
            self.model_ = self.build(self.spec_).to(self.device_)
            self._generator = generator
            self.on_train_start(X_t, y_t)
            trainer = Trainer(
                epochs=self.epochs, generator=generator,
                batch_size=trainer_batch_size(self.batch_size, X_t, self.sampling),
                sampling=self.sampling, steps_per_epoch=self.steps_per_epoch(len(X)),
                validation_size=self.validation_size, patience=self.patience,
                verbose=bool(self.verbose))
            self.history_ = trainer.fit(self, X_t, y_t, dist=dist)
            del self._generator

    def _fit_source(self, source: Any, y: Any) -> DeepDetector:
        """``fit`` on a streaming source (:mod:`deepad.data.streaming`, ``docs/scale.md``).

        One pass (:func:`~deepad.data.streaming.scan`) counts and checks the rows and keeps
        a uniform reservoir sample of ``source.reservoir`` rows; the networks are built for
        the rows' width; ``on_train_start`` receives the sample (a "reservoir" method computes
        its centre or normaliser from it); each epoch streams the source through the
        trainer's shuffle buffer (:meth:`~deepad.core.trainer.Trainer.fit_stream`). The
        training scores ``decision_scores_`` and so ``threshold_`` are those of the sample.
        Memory: the buffer, the sample and one row group, whatever the stream's length.

        Raises
        ------
        TypeError
            The detector does not fit streams (``stream_fit`` None), or ``source`` is a
            one-shot iterator.
        ValueError
            ``y`` given (a streaming fit is unsupervised), ``validation_size > 0``, fewer
            rows than the detector needs, a non-finite value.
        """
        from deepad.data.streaming import DEFAULT_BUFFER_ROWS, DEFAULT_RESERVOIR, as_source, scan

        name = type(self).__name__
        if self.stream_fit is None:
            raise TypeError(self._stream_refusal_message())
        source = as_source(source)
        if y is not None:
            msg = (f"{name}: a streaming fit is unsupervised; got y. Fit on an array to use "
                   "labels.")
            raise ValueError(msg)
        if "unsupervised" not in self.supervision:
            msg = f"{name} needs labels (y), which a streaming fit does not read."
            raise ValueError(msg)
        if self.validation_size:
            msg = (f"{name}: validation_size={self.validation_size} holds rows out of an "
                   "in-memory training set; a streaming fit has none. Set validation_size=0 "
                   "(patience then monitors the training loss).")
            raise ValueError(msg)
        self.device_ = resolve_device(self.device)
        self.seed_ = resolve_seed(self.random_state)
        dist = self._distributed()
        reservoir = int(getattr(source, "reservoir", DEFAULT_RESERVOIR))
        stats = scan(source, reservoir=reservoir, seed=self.seed_)
        if stats.n_rows < self.min_samples:
            msg = f"{name} needs at least {self.min_samples} rows; the stream holds {stats.n_rows}."
            raise ValueError(msg)
        sample = stats.sample
        self.spec_ = InputSpec.of(sample)
        self.n_features_in_ = self.spec_.n_features
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        names = getattr(source, "columns", None)
        if names is not None and getattr(source, "named", True):
            self.feature_names_in_ = np.asarray([str(c) for c in names], dtype=object)
        self._fit_abs_max = float(max(np.abs(stats.min).max(), np.abs(stats.max).max()))
        self.n_rows_seen_ = stats.n_rows
        with seeded(self.seed_, self.device_) as generator:
            self.model_ = self.build(self.spec_).to(self.device_)
            self._generator = generator
            self.on_train_start(torch.from_numpy(sample).to(self.device_), None)
            trainer = Trainer(
                epochs=self.epochs, batch_size=self.batch_size, generator=generator,
                sampling=self.sampling, steps_per_epoch=self.steps_per_epoch(stats.n_rows),
                validation_size=0.0, patience=self.patience, verbose=bool(self.verbose))
            self.history_ = trainer.fit_stream(
                self, source, device=self.device_, seed=self.seed_, n_rows=stats.n_rows,
                buffer_rows=int(getattr(source, "buffer_rows", DEFAULT_BUFFER_ROWS)),
                dist=dist)
            del self._generator
        scores = self._score_samples(sample)
        self._check_scores(scores)
        self.decision_scores_ = scores
        self._set_threshold()
        return self

    @torch.no_grad()
    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        self.model_.eval()
        if isinstance(X, Graph):  # one pass over the whole graph, every node a target
            batch = full_batch(X, self.device_)
            return self.score(Batch(batch, None, batch.target)).double().cpu().numpy()
        rows = chunk_rows(X.shape)  # samples per scoring pass (deepad.core.chunks)
        scores = []
        for start in range(0, len(X), rows):
            x = torch.from_numpy(X[start:start + rows]).to(self.device_)
            index = torch.arange(start, start + len(x), device=self.device_)
            scores.append(self.score(Batch(x, None, index)).double().cpu())
        return torch.cat(scores).numpy()

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["history"] = [{k: float(v) for k, v in rec.items()} for rec in self.history_]
        state["seed"] = self.seed_
        for key, value in self.model_.state_dict().items():
            tensors[f"model.{key}"] = value.detach().cpu().contiguous()
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        """Restore the fitted state; the networks are allocated only once the saved tensors
        are known to fit them.

        The networks are first built on torch's ``meta`` device (shapes only, no memory) from
        the saved spec and hyperparameters; their tensors' names, shapes and dtypes must be
        exactly those saved. Only then are they built for real and loaded, so a configuration
        that implies a huge network (``n_features = 10**9``) fails before any allocation:
        what is built is no larger than the weights file.
        """
        super()._set_state(state, tensors)
        self.history_ = read_history(state, "history")
        self.seed_ = read_field(state, "seed", "int", default=None, nullable=True, low=0)
        self.device_ = resolve_device(device if device is not None else self.device)
        weights = take_tensors(tensors, "model.")
        saved_values = sum(t.numel() for t in weights.values())
        if self.spec_.n_features > saved_values:
            msg = (f"{CONFIG_FILE}: state['spec']['n_features'] = {self.spec_.n_features} "
                   f"cannot be right: the network's saved tensors hold only {saved_values} "
                   "values, fewer than one per feature.")
            raise ValueError(msg)
        with torch.device("meta"):
            expected = self.build(self.spec_).state_dict()
        _check_saved_weights(expected, weights, type(self).__name__, self.spec_)
        with seeded(self.seed_ or 0, self.device_):
            model = self.build(self.spec_)
        try:
            model.load_state_dict(weights, strict=True)
        except RuntimeError as error:
            msg = (f"The saved weights do not fit {type(self).__name__}'s network for input "
                   f"{self.spec_}: {error}")
            raise ValueError(msg) from error
        self.model_ = model.to(self.device_).eval()


def _check_saved_weights(expected: dict[str, torch.Tensor], saved: dict[str, torch.Tensor],
                         detector: str, spec: InputSpec) -> None:
    """Saved tensors ``model.*`` against those of the network the configuration implies
    (built on the meta device): the same names, shapes and dtypes, or ``ValueError``."""
    problems = [f"missing tensor 'model.{k}' {tuple(v.shape)}"
                for k, v in expected.items() if k not in saved]
    problems += [f"unexpected tensor 'model.{k}'" for k in saved if k not in expected]
    for name in expected.keys() & saved.keys():
        want, got = expected[name], saved[name]
        if tuple(want.shape) != tuple(got.shape) or want.dtype != got.dtype:
            problems.append(f"tensor 'model.{name}' is {got.dtype} {tuple(got.shape)}, the "
                            f"network needs {want.dtype} {tuple(want.shape)}")
    if problems:
        shown = "; ".join(sorted(problems)[:5]) + ("; ..." if len(problems) > 5 else "")
        msg = (f"{WEIGHTS_FILE}: the saved weights do not fit {detector}'s network for input "
               f"{spec} and the saved hyperparameters ({len(problems)} problem(s)): {shown}.")
        raise ValueError(msg)
