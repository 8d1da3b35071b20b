"""Predictability modelling of sequence windows, and the LSTM encoder-decoder of the same
authors: the prediction (or reconstruction) error of normal windows is modelled by a
multivariate Gaussian; windows whose errors are unlikely under it are anomalies.

- :class:`Forecaster` (LSTM-AD, Malhotra et al. 2015): a recurrent predictor forecasts the
  next ``horizon`` steps from the ``context`` steps before them, at every step of a window.
- :class:`LSTMAutoEncoder` (EncDec-AD, Malhotra et al. 2016): an encoder compresses the window
  into a code, a recurrent decoder reconstructs the window in reverse order from it.

Both share the error model (:class:`GaussianErrorDetector`): error vectors of held-out
training windows are fitted by ``N(μ, Σ)`` with Ledoit-Wolf shrinkage, and a window is scored
by the Mahalanobis distance ``(e − μ)ᵀ Σ⁻¹ (e − μ)`` of its error vector(s) (``−2 log p`` up to
a constant), or by the plain mean squared error (``error_model="mse"``).
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
from typing import ClassVar

import numpy as np
import torch
from sklearn.covariance import LedoitWolf
from torch import nn

from deepad.core.chunks import forward_in_chunks
from deepad.core.deep import DeepDetector
from deepad.core.params import NONE, Indices, Interval, Options
from deepad.core.registry import register
from deepad.core.runtime import resolve_seed
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone
from deepad.nets.factory import BACKBONES
from deepad.nets.scaling import Standardize

logger = logging.getLogger(__name__)

ERROR_MODELS = ("gaussian", "mse")
INPUT_SCALINGS = ("standard", "none")
TEACHER_FORCING = ("train", "always", "never")
SEQUENCE_BACKBONES = ("auto", *BACKBONES["sequence"])
RECURRENT = "lstm"  # the recurrent network of both papers
DEFAULT_CONTEXT = 16  # steps the forecaster reads when context=None (docs/decisions.md)
MIN_ERROR_WINDOWS = 2  # fewest held-out windows the Gaussian is fitted on


# ---------------------------------------------------------------------------- error model
def fit_gaussian(errors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and precision matrix of error vectors ``(n, d)``: the Ledoit-Wolf shrunk
    covariance (well conditioned when ``n`` is small against ``d`` or a feature is constant),
    with a jitter of ``1e-6`` times its mean variance so a zero covariance stays invertible."""
    errors = np.asarray(errors, dtype=np.float64)
    estimator = LedoitWolf().fit(errors)
    covariance = estimator.covariance_
    scale = float(np.trace(covariance)) / len(covariance)
    covariance = covariance + (1e-6 * scale + 1e-12) * np.eye(len(covariance))
    return estimator.location_, np.linalg.inv(covariance)


def mahalanobis(errors: torch.Tensor, mean: torch.Tensor, precision: torch.Tensor
                ) -> torch.Tensor:
    """Squared Mahalanobis distance ``(e − μ)ᵀ P (e − μ)`` over the last axis of ``errors``."""
    centred = errors - mean
    return ((centred @ precision) * centred).sum(dim=-1)


class GaussianErrorDetector(DeepDetector):
    """Common part of :class:`Forecaster` and :class:`LSTMAutoEncoder`: the network is trained
    on part of the windows; a Gaussian ``N(μ, Σ)`` is fitted to the error vectors of the
    other part (``error_holdout``); the score is the Mahalanobis distance of a window's error
    vectors, averaged over the window's ``m`` vectors (forecasts, or time steps).

    With ``input_scaling="standard"`` (the default) every channel is standardised with the
    mean and standard deviation of the training windows (a ``Standardize`` module on the
    network, so saved models scale their inputs themselves): the recurrent networks and their
    fixed learning rate then see the same input range whatever the user's scaling. Without
    it, min-max scaled UCR 135 ranked far worse than standardised (Forecaster,
    ``docs/decisions.md``).

    Subclasses implement ``_errors(x) -> (batch, m, d)`` on standardised windows and keep a
    ``scaler`` module and ``error_mean`` (d,) and ``error_precision`` (d, d) buffers on their
    network.
    """

    min_samples: ClassVar[int] = 2

    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        if self.input_scaling == "standard":
            self.model_.scaler.fit_(X)

    def errors(self, x: torch.Tensor) -> torch.Tensor:
        """Error vectors ``(batch, m, d)`` of windows as given (standardised here)."""
        return self._errors(self.model_.scaler(x))

    def _errors(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _holdout_split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the windows that train the network and of those the Gaussian is fitted
        on (all windows, both, when the hold-out would leave fewer than 2 on either side)."""
        n_held = int(round(self.error_holdout * n))
        everything = np.arange(n)
        if n_held < MIN_ERROR_WINDOWS or n - n_held < MIN_ERROR_WINDOWS:
            if self.error_holdout > 0:
                logger.warning("%s: %d windows are too few to hold out %.0f%% for the error "
                               "model; the Gaussian is fitted on the training windows.",
                               type(self).__name__, n, 100 * self.error_holdout)
            return everything, everything
        rng = np.random.default_rng(resolve_seed(self.random_state))
        order = rng.permutation(n)
        return np.sort(order[n_held:]), np.sort(order[:n_held])

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        train, held = self._holdout_split(len(X))
        super()._fit(X[train], None if y is None else y[train])
        self._fit_error_model(torch.from_numpy(X[held]).to(self.device_))

    @torch.no_grad()
    def _fit_error_model(self, X: torch.Tensor) -> None:
        errors = forward_in_chunks(self.model_.eval(), X,
                                   lambda x: self.errors(x).flatten(0, 1).double().cpu())
        mean, precision = fit_gaussian(errors.numpy())
        self.model_.error_mean.copy_(torch.from_numpy(mean))
        self.model_.error_precision.copy_(torch.from_numpy(precision))

    def score(self, batch: Batch) -> torch.Tensor:
        errors = self.errors(batch.x)
        if self.error_model == "mse":
            return errors.pow(2).mean(dim=(1, 2))
        return mahalanobis(errors, self.model_.error_mean, self.model_.error_precision).mean(1)


def _check_window(spec: InputSpec, shortest: int, what: str) -> None:
    if spec.window < shortest:
        msg = f"{what}; got windows of {spec.window} steps."
        raise ValueError(msg)


# ---------------------------------------------------------------------------- LSTM-AD
class ForecastNet(nn.Module):
    """The context steps (every channel) → backbone → the next ``horizon`` steps of the
    target channels."""

    def __init__(self, backbone: nn.Module, horizon: int, n_features: int,
                 targets: tuple[int, ...]) -> None:
        super().__init__()
        self.backbone = backbone
        self.horizon = horizon
        self.n_targets = len(targets)
        self.scaler = Standardize(n_features)
        self.register_buffer("targets", torch.tensor(targets, dtype=torch.long))
        dim = horizon * self.n_targets
        self.register_buffer("error_mean", torch.zeros(dim))
        self.register_buffer("error_precision", torch.eye(dim))

    def forward(self, past: torch.Tensor) -> torch.Tensor:
        return self.backbone(past).view(len(past), self.horizon, self.n_targets)


@register
class Forecaster(GaussianErrorDetector):
    """LSTM-AD: a recurrent network forecasts each step of a window from the steps before
    it; the prediction errors, modelled by a multivariate Gaussian, score the window.

    With context ``c`` and horizon ``h``, every stretch ``x_{t−c+1} … x_{t+h}`` of a window
    (``d`` channels) is a forecast: the predictor ``f`` reads ``x_{t−c+1} … x_t`` and outputs
    ``x̂_{t+1} … x̂_{t+h}``, with error vector ``e_t = (x_{t+j} − x̂_{t+j})_{j ≤ h} ∈ R^{hd}``.
    A window of ``w`` steps holds ``w − c − h + 1`` forecasts; ``context = w − h`` gives one,
    the last ``h`` steps forecast from all steps before them. ``f`` is trained by the mean
    squared error ``L = 1/(hd) ||e_t||²`` of one stretch drawn at random per window and step
    (an unbiased estimate of the mean over the window's stretches). The error vectors of
    held-out normal windows are fitted by ``N(μ, Σ)`` (Malhotra et al. 2015, Sec. 2: maximum
    likelihood on the validation set ``v_N1``; here with Ledoit-Wolf shrinkage of ``Σ``).
    A forecast's score is the squared Mahalanobis distance ``(e_t − μ)ᵀ Σ⁻¹ (e_t − μ)``,
    ``−2 log p(e_t)`` up to a constant (the paper thresholds ``p``); a window's score is the
    mean over its forecasts (``error_model="mse"``: the mean squared error).

    Deviations: the paper runs a stateful stacked LSTM over the whole series and scores each
    point ``x_t`` by the errors of the ``l`` forecasts of it made at ``t − l … t − 1``; here the
    predictor reads a fixed context of ``c`` steps (16 by default), errors are grouped by
    forecast origin (``e_t`` holds the errors of ``x_{t+1} … x_{t+h}``), and the windows'
    scores are mapped back to time points by :class:`deepad.series.SeriesDetector`. The
    default scores every step of a window, not only its last ones: a window forecast once,
    at its end, is blind to an anomaly earlier in it (``docs/decisions.md``). The backbone
    (one LSTM layer by default; ``hidden_dims`` adds dense layers, not stacked LSTMs) reads
    the context out by mean- and max-pooling over time (:mod:`deepad.nets.temporal`) rather
    than by its last state. Adam (not specified in the paper).

    Defaults (not given in the paper; measured on SMAP / MSL channels and UCR series,
    ``docs/decisions.md``): context 16, one LSTM of 64 units, 20 epochs of batches of 128 at
    lr 1e-3, 20 % held out (fit times: ``docs/results/series_main.md``).

    Images: not supported, because it forecasts the next steps of a series (predicting future frames
    belongs to the video modality).

    Parameters
    ----------
    horizon : int, default 1
        Steps ``h`` forecast at once (``l`` in the paper; next-step by default).
    context : int or None, default None
        Steps ``c`` the predictor reads (at least 2). None → ``min(16, window − horizon)``;
        ``window − horizon`` forecasts each window once, at its end.
    target_channels : tuple of int or None, default None
        Channels (0-based) forecast and scored; every channel is read. None → all. Telemanom
        (Hundman et al., KDD 2018) forecasts only the telemetry value of its SMAP / MSL
        channels (channel 0) from it and the one-hot command columns: ``(0,)``.
    hidden_dims : tuple of int, default (64,)
        Recurrent width, then the widths of the dense head.
    error_model : {"gaussian", "mse"}, default "gaussian"
    error_holdout : float in [0, 0.5), default 0.2
        Share of the training windows held out from the predictor's training to fit the
        Gaussian (the paper's ``v_N1``); 0 fits it on the training windows themselves.
    input_scaling : {"standard", "none"}, default "standard"
        Standardise each channel with the training windows' mean and standard deviation
        (not in the paper, which scales its series beforehand), or read inputs as given.
    backbone : str, default "lstm"
        Any sequence backbone of :func:`deepad.nets.build_backbone`.
    epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`.

    Attributes
    ----------
    model_ : ForecastNet
        Predictor with the buffers ``error_mean`` (μ) and ``error_precision`` (Σ⁻¹).

    Examples
    --------
    >>> from deepad import Forecaster
    >>> from deepad.data.synthetic import make_planted_windows
    >>> X, y = make_planted_windows(60, 3, window=16, n_features=1, random_state=0)
    >>> Forecaster(epochs=2, random_state=0).fit(X).decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Malhotra, Vig, Shroff & Agarwal, "Long Short Term Memory Networks for Anomaly Detection in
    Time Series", ESANN 2015 (Sec. 2, prediction model and error distribution).

    See Also
    --------
    deepad.LSTMAutoEncoder : reconstruction instead of prediction, same error model.
    """

    name = "Forecaster"
    category = "generic_normality"
    subcategory = "predictability"
    supervision = ("unsupervised",)
    modalities = ("sequence",)
    reference = ("Malhotra et al., Long Short Term Memory Networks for Anomaly Detection in "
                 "Time Series, ESANN 2015")
    test_params: ClassVar[dict] = {"epochs": 5, "hidden_dims": (16,), "batch_size": 32,
                                   "lr": 1e-2}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "horizon": [Interval(numbers.Integral, 1, None)],
        "context": [NONE, Interval(numbers.Integral, 2, None)],
        "target_channels": [NONE, Indices()],
        "error_model": [Options(ERROR_MODELS)],
        "error_holdout": [Interval(numbers.Real, 0.0, 0.5, closed="left")],
        "input_scaling": [Options(INPUT_SCALINGS)],
        "backbone": [Options(SEQUENCE_BACKBONES)],
    }

    def __init__(self, horizon=1, context=None, target_channels=None, hidden_dims=(64,),
                 error_model="gaussian",
                 error_holdout=0.2, input_scaling="standard", backbone=RECURRENT, epochs=20,
                 batch_size=128, lr=1e-3,
                 weight_decay=0.0, validation_size=0.0, patience=None, grad_clip=None,
                 contamination=0.1, device=None, random_state=None, verbose=False):
        self.horizon = horizon
        self.context = context
        self.target_channels = target_channels
        self.hidden_dims = hidden_dims
        self.error_model = error_model
        self.error_holdout = error_holdout
        self.input_scaling = input_scaling
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

    def _context(self, window: int) -> int:
        if self.context is None:
            return min(DEFAULT_CONTEXT, window - self.horizon)
        return self.context

    def build(self, spec: InputSpec) -> nn.Module:
        context = self._context(spec.window)
        if context < 2 or context + self.horizon > spec.window:
            msg = (f"Forecaster reads context={self.context} steps and forecasts "
                   f"horizon={self.horizon}: needs at least 2 steps to read and context + "
                   f"horizon <= window; got windows of {spec.window} steps.")
            raise ValueError(msg)
        targets = self._targets(spec.n_features)
        past = dataclasses.replace(spec, window=context)
        backbone = build_backbone(past, hidden_dims=tuple(self.hidden_dims),
                                  out_dim=self.horizon * len(targets), kind=self.backbone)
        return ForecastNet(backbone, self.horizon, spec.n_features, targets)

    def _targets(self, n_features: int) -> tuple[int, ...]:
        if self.target_channels is None:
            return tuple(range(n_features))
        if max(self.target_channels) >= n_features:
            msg = (f"Forecaster target_channels={list(self.target_channels)} names a channel "
                   f"the windows do not have; they have {n_features} channel(s) (0-based).")
            raise ValueError(msg)
        return tuple(int(c) for c in self.target_channels)

    def _forecast_errors(self, stretches: torch.Tensor) -> torch.Tensor:
        """Stretches ``(n, context + horizon, d)`` → signed errors ``(n, horizon · d)``."""
        c = stretches.shape[1] - self.horizon
        future = stretches[:, c:].index_select(2, self.model_.targets)
        return (future - self.model_(stretches[:, :c])).flatten(1)

    def _errors(self, x: torch.Tensor) -> torch.Tensor:
        """Signed forecast errors of every stretch of ``context + horizon`` steps of each
        window: (batch, window − context − horizon + 1, horizon · d)."""
        span = self._context(x.shape[1]) + self.horizon
        stretches = x.unfold(1, span, 1).transpose(2, 3)  # (batch, n_forecasts, span, d)
        errors = self._forecast_errors(stretches.flatten(0, 1))
        return errors.view(len(x), stretches.shape[1], -1)

    def loss(self, batch: Batch) -> torch.Tensor:
        """Mean squared forecast error; when a window holds several stretches, one drawn at
        random per window and step (an unbiased estimate of the mean over all of them)."""
        x = self.model_.scaler(batch.x)
        span = self._context(x.shape[1]) + self.horizon
        n_forecasts = x.shape[1] - span + 1
        if n_forecasts > 1:
            generator = getattr(self, "_generator", None)
            start = torch.randint(n_forecasts, (len(x), 1), generator=generator).to(x.device)
            steps = start + torch.arange(span, device=x.device)
            x = x.gather(1, steps.unsqueeze(2).expand(-1, -1, x.shape[2]))
        return self._forecast_errors(x).pow(2).mean(dim=1)


# ---------------------------------------------------------------------------- EncDec-AD
class ReverseDecoder(nn.Module):
    """EncDec-AD's decoder: an LSTM whose state starts from the code and which emits the
    window backwards, ``x̂_w, x̂_{w−1}, …, x̂_1``; the input of each step is the value emitted
    before it, the true one (``teacher forcing``) or its own prediction."""

    def __init__(self, code_dim: int, n_features: int, hidden: int) -> None:
        super().__init__()
        self.init_state = nn.Linear(code_dim, 2 * hidden)
        self.lstm = nn.LSTM(n_features, hidden, batch_first=True)
        self.readout = nn.Linear(hidden, n_features)

    def forward(self, code: torch.Tensor, x: torch.Tensor, teacher_forcing: bool
                ) -> torch.Tensor:
        h, c = torch.tanh(self.init_state(code)).unsqueeze(0).chunk(2, dim=2)
        target = x.flip(1)  # x_w, x_{w−1}, …, x_1
        first = self.readout(h[0]).unsqueeze(1)  # x̂_w from the code alone
        if teacher_forcing:
            steps, _ = self.lstm(target[:, :-1], (h.contiguous(), c.contiguous()))
            outputs = torch.cat([first, self.readout(steps)], dim=1)
        else:
            outputs = [first]
            state = (h.contiguous(), c.contiguous())
            for _ in range(x.shape[1] - 1):
                step, state = self.lstm(outputs[-1], state)
                outputs.append(self.readout(step))
            outputs = torch.cat(outputs, dim=1)
        return outputs.flip(1)  # back to time order


class EncDecNet(nn.Module):
    def __init__(self, encoder: nn.Module, decoder: ReverseDecoder, n_features: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.scaler = Standardize(n_features)
        self.register_buffer("error_mean", torch.zeros(n_features))
        self.register_buffer("error_precision", torch.eye(n_features))

    def forward(self, x: torch.Tensor, teacher_forcing: bool = False) -> torch.Tensor:
        return self.decoder(self.encoder(x), x, teacher_forcing)


@register
class LSTMAutoEncoder(GaussianErrorDetector):
    """EncDec-AD: an LSTM encoder-decoder reconstructs each window (in reverse order); the
    per-step reconstruction errors, modelled by a multivariate Gaussian, score the window.

    The encoder maps a window ``x_1 … x_w`` (``d`` channels) to a code ``z``. The decoder's
    LSTM state starts from ``z`` and emits ``x̂_w`` first, then ``x̂_{w−1}``, … ``x̂_1``, each
    step taking the value emitted before it as input: the true ``x_{i+1}`` during training
    (teacher forcing) and its own prediction ``x̂_{i+1}`` at scoring time, as in the paper
    (Malhotra et al. 2016, Sec. 2.1). Loss ``L = 1/(wd) Σ_i ||x_i − x̂_i||²``. The error vectors
    ``e_i = |x_i − x̂_i| ∈ R^d`` of every step of held-out normal windows are fitted by
    ``N(μ, Σ)`` (the paper's ``v_N1``; Ledoit-Wolf shrinkage here), and a step's anomaly score
    is ``a_i = (e_i − μ)ᵀ Σ⁻¹ (e_i − μ)`` (Sec. 2.2). The paper scores points; a window's
    score here is the mean of ``a_i`` over its steps (``error_model="mse"``: the mean squared
    error).

    Deviations: the code is the encoder backbone's output (a recurrent encoder mean- and max-
    pools its per-step states, :mod:`deepad.nets.temporal`) and the decoder's initial state is
    ``tanh(W z + b)`` instead of the encoder's last state itself, so any sequence backbone can
    encode; Adam with the paper's squared error.

    Options that are not the paper's (``teacher_forcing``): ``"always"`` feeds the decoder the
    true values when its Gaussian is fitted and at scoring time, so each step is a reverse
    next-step prediction conditioned on the code, no longer a reconstruction from the code
    alone; it scored better and more stably than the paper's ``"train"`` on UCR series and
    SMAP / MSL channels (measured: ``docs/decisions.md``; current results:
    ``docs/results/series_main.md``). ``"never"`` trains on the decoder's own predictions as well.
    The mode is fixed at ``fit``: the Gaussian is fitted on the errors of the scoring mode.

    Defaults (the paper tunes its sizes per dataset): an LSTM encoder of 64 units, code 32,
    decoder LSTM of 64 units, 20 epochs of batches of 128 at lr 1e-3, 20 % held out.

    Images: not supported, because a recurrent encoder-decoder over the time steps of windows.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64,)
        Encoder recurrent width (then the dense widths of its head); the decoder LSTM has the
        first width.
    code_dim : int, default 32
        Size of the code ``z``.
    teacher_forcing : {"train", "always", "never"}, default "train"
        When the decoder reads the true previous value instead of its own prediction:
        in training only (the paper), in training and scoring, or never.
    error_model : {"gaussian", "mse"}, default "gaussian"
    error_holdout : float in [0, 0.5), default 0.2
        Share of the training windows held out to fit the Gaussian (0 → the training windows).
    input_scaling : {"standard", "none"}, default "standard"
        Standardise each channel with the training windows' mean and standard deviation
        (not in the paper, which scales its series beforehand), or read inputs as given.
    backbone : str, default "lstm"
        Encoder: any sequence backbone of :func:`deepad.nets.build_backbone`.
    epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`.

    Attributes
    ----------
    model_ : EncDecNet
        Encoder, decoder, and the buffers ``error_mean`` (μ) and ``error_precision`` (Σ⁻¹).

    Examples
    --------
    >>> from deepad import LSTMAutoEncoder
    >>> from deepad.data.synthetic import make_planted_windows
    >>> X, y = make_planted_windows(60, 3, window=16, n_features=1, random_state=0)
    >>> LSTMAutoEncoder(epochs=2, random_state=0).fit(X).decision_function(X[:2]).shape
    (2,)

    References
    ----------
    Malhotra, Ramakrishnan, Anand, Vig, Agarwal & Shroff, "LSTM-based Encoder-Decoder for
    Multi-sensor Anomaly Detection", ICML 2016 Anomaly Detection Workshop (arXiv:1607.00148).

    See Also
    --------
    deepad.Forecaster : prediction instead of reconstruction, same error model.
    deepad.AutoEncoder : plain reconstruction error, rows or windows.
    """

    name = "LSTMAutoEncoder"
    category = "generic_normality"
    subcategory = "autoencoders"
    supervision = ("unsupervised",)
    modalities = ("sequence",)
    reference = ("Malhotra et al., LSTM-based Encoder-Decoder for Multi-sensor Anomaly "
                 "Detection, ICML 2016 Anomaly Detection Workshop")
    test_params: ClassVar[dict] = {"epochs": 3, "hidden_dims": (16,), "code_dim": 8,
                                   "batch_size": 64}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "code_dim": [Interval(numbers.Integral, 1, None)],
        "teacher_forcing": [Options(TEACHER_FORCING)],
        "error_model": [Options(ERROR_MODELS)],
        "error_holdout": [Interval(numbers.Real, 0.0, 0.5, closed="left")],
        "input_scaling": [Options(INPUT_SCALINGS)],
        "backbone": [Options(SEQUENCE_BACKBONES)],
    }

    def __init__(self, hidden_dims=(64,), code_dim=32, teacher_forcing="train",
                 error_model="gaussian", error_holdout=0.2, input_scaling="standard",
                 backbone=RECURRENT, epochs=20,
                 batch_size=128, lr=1e-3, weight_decay=0.0, validation_size=0.0, patience=None,
                 grad_clip=None, contamination=0.1, device=None, random_state=None,
                 verbose=False):
        self.hidden_dims = hidden_dims
        self.code_dim = code_dim
        self.teacher_forcing = teacher_forcing
        self.error_model = error_model
        self.error_holdout = error_holdout
        self.input_scaling = input_scaling
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

    def build(self, spec: InputSpec) -> nn.Module:
        _check_window(spec, 2, "LSTMAutoEncoder needs windows of at least 2 steps")
        hidden = tuple(self.hidden_dims)
        encoder = build_backbone(spec, hidden_dims=hidden, out_dim=self.code_dim,
                                 kind=self.backbone)
        decoder = ReverseDecoder(self.code_dim, spec.n_features, hidden[0])
        return EncDecNet(encoder, decoder, spec.n_features)

    def _errors(self, x: torch.Tensor) -> torch.Tensor:
        """Absolute reconstruction errors per step (batch, window, d); the decoder reads its
        own predictions unless ``teacher_forcing="always"``."""
        forced = self.teacher_forcing == "always"
        return (x - self.model_(x, teacher_forcing=forced)).abs()

    def loss(self, batch: Batch) -> torch.Tensor:
        x = self.model_.scaler(batch.x)
        forced = self.teacher_forcing != "never"
        return (x - self.model_(x, teacher_forcing=forced)).pow(2).mean(dim=(1, 2))
