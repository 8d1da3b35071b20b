"""Predictability modelling of event sessions: DeepLog (Du et al., CCS 2017) predicts the next
log key of a session from the keys before it; a key the model did not expect is an anomaly."""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from numpy.lib.stride_tricks import sliding_window_view
from torch import nn

from deepad.core.deep import DeepDetector
from deepad.core.params import BOOLEAN, NONE, Interval
from deepad.core.registry import register
from deepad.core.saved_state import read_tensor
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec, Sessions


class NextKeyLSTM(nn.Module):
    """Stacked LSTM over a history of ids → logits of the next id.

    Ids ``0..n_outputs-1`` are the predicted classes (the keys seen in ``fit``, then the
    end-of-session key when there is one), ``n_outputs`` an unknown key and ``n_outputs + 1``
    the padding before a session's first event. The front-end is a one-hot encoding (the
    paper's) or, with ``embedding_dim``, a learned embedding. The keys are kept as a buffer.
    """

    def __init__(self, keys: np.ndarray, n_outputs: int, hidden_size: int, n_layers: int,
                 embedding_dim: int | None) -> None:
        super().__init__()
        self.n_inputs = n_outputs + 2
        self.register_buffer("keys", torch.as_tensor(keys, dtype=torch.int64))
        self.embedding = None if embedding_dim is None else nn.Embedding(self.n_inputs,
                                                                         embedding_dim)
        input_size = self.n_inputs if embedding_dim is None else embedding_dim
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=n_layers, batch_first=True)
        self.output = nn.Linear(hidden_size, n_outputs)

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        if self.embedding is None:
            inputs = F.one_hot(history, self.n_inputs).to(self.output.weight.dtype)
        else:
            inputs = self.embedding(history)
        steps, _ = self.lstm(inputs)
        return self.output(steps[:, -1])


def next_key_scores(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-event score ``rank + 1 − p`` of the true next key (float64).

    ``rank`` is the number of keys the model finds strictly more likely than the true one and
    ``p`` the true key's probability; a target id ``>= n`` (the ``n`` classes of ``logits``:
    a key unseen in ``fit``) scores ``n + 1``, above every known key. An event scores above
    ``g`` exactly when its key is not among the model's ``g`` most likely keys (for
    ``1 <= g <= n``): ranks below ``g`` give at most ``g`` (``p > 0``), a rank ``r >= g >= 1``
    at least ``r + 1 − 1/(r + 1)``.
    """
    n_keys = logits.shape[1]
    log_p = torch.log_softmax(logits.double(), dim=1)
    known = target < n_keys
    true = log_p.gather(1, target.clamp(max=n_keys - 1).unsqueeze(1))
    rank = (log_p > true).sum(dim=1).double()
    score = rank + 1.0 - true.squeeze(1).exp()
    return torch.where(known, score, torch.full_like(score, n_keys + 1.0))


@register
class DeepLog(DeepDetector):
    """DeepLog: next-event prediction over sessions of log keys; an event whose key is not among
    the model's top-``g`` predictions is an anomaly, and so is a session holding one.

    Input: sessions of integer event keys (parsed log templates) of varying length: a list of
    integer sequences, an object array of them, or a 2-D int array of equal-length sessions
    (modality ``"event"``). Fit on normal sessions (the paper trains on normal logs only).

    Model (Du et al. 2017, Sec. 3.1): a stacked LSTM (``n_layers = 2`` of ``hidden_size = 64``
    units) reads the one-hot encoded last ``h = 10`` keys and a softmax over the keys predicts
    the next one; training minimises the cross-entropy of the true next key over every
    (history, next key) pair of every session, built as one tensor. Detection (Sec. 3.1): key
    ``k_t`` is normal when it is among the ``g = 9`` most likely keys given its history; a
    session is anomalous when any of its keys is not.

    Score. ``decision_function`` gives each session the maximum over its events of
    ``rank(k_t) + 1 − P(k_t | history)``, ``rank`` the number of keys more likely than the
    true one: ordered by the paper's rank first, then by the probability, continuous so the
    AUC is meaningful. A key never seen in ``fit`` scores ``n + 1`` (``n`` the predicted
    classes), above any known key. :meth:`event_scores` gives the per-event scores.

    Threshold. With ``contamination=None`` (the default) ``threshold_`` comes from the
    paper's rule, not from a share of the training data: ``threshold_ = g``
    (``min(top_g, n)``), and ``score > threshold_`` exactly when some event's key is outside
    the top ``g`` (:func:`next_key_scores`). ``predict`` is then the paper's detector, and
    ``labels_`` flags the training sessions the rule flags, whatever their share. A float
    ``contamination`` thresholds the training scores as in every other detector.

    Defaults: ``h = 10``, 2 x 64 LSTM, ``g = 9`` (the paper's HDFS setting); Adam with lr
    1e-3 as the widely used re-implementation (wuyifan18/DeepLog, which trains 300 epochs of
    batches of 2,048 on its 46,000 pairs, 6,900 steps); here 10 epochs of batches of 256, on
    HDFS 3,120 steps over 80,000 pairs (the ranking is near perfect after 1-2 epochs
    already; measured: ``docs/results/hdfs_deeplog.md``).

    Deviations. Each session is left-padded with ``h`` padding keys, so every event is
    predicted, the first ones from a shorter history (the paper predicts only events with a
    full history; the re-implementation pads short sessions at the end with a key that is
    never predicted, which flags every session shorter than ``h + 1``). With
    ``predict_end=True`` (the default) an end-of-session key is appended to every session and
    predicted like the others, so a session that stops where normal sessions never stop (a
    truncated workflow) can be an anomaly; the paper's sessions have no end key
    (``predict_end=False``). Identical (history, next key) pairs are scored once (on HDFS
    95,125 training pairs are 4,570 distinct ones).

    Images: not supported, because it models sessions of log keys.

    Parameters
    ----------
    window_size : int, default 10
        History length ``h``.
    top_g : int, default 9
        Number ``g`` of most likely keys accepted as normal.
    hidden_size : int, default 64
        Units per LSTM layer.
    n_layers : int, default 2
        Stacked LSTM layers.
    embedding_dim : int or None, default None
        None: one-hot keys (the paper); an int: a learned key embedding of that size.
    predict_end : bool, default True
        Append an end-of-session key to every session and predict it.
    contamination : float or None, default None
        None: the top-``g`` rule sets ``threshold_``; a float: the usual share of the
        training sessions.
    epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip, device,
    random_state, verbose
        See :class:`deepad.core.deep.DeepDetector` (``epochs`` and ``batch_size`` count
        (history, next key) pairs, not sessions).

    Attributes
    ----------
    keys_ : ndarray of int64
        The event keys seen in ``fit`` (sorted); other keys are unknown.

    Examples
    --------
    >>> from deepad import DeepLog
    >>> sessions = [[1, 2, 3, 2, 3, 4]] * 30 + [[1, 2, 3, 4]] * 30
    >>> det = DeepLog(window_size=3, hidden_size=8, epochs=2, random_state=0).fit(sessions)
    >>> det.predict([[1, 2, 3, 4], [1, 9, 4]]).tolist()  # key 9 was never seen
    [0, 1]

    References
    ----------
    Du, Li, Zheng & Srikumar, "DeepLog: Anomaly Detection and Diagnosis from System Logs
    through Deep Learning", ACM CCS 2017.

    See Also
    --------
    APE : likelihood of rows of categories.
    """

    name = "DeepLog"
    category = "generic_normality"
    subcategory = "predictability"
    supervision = ("unsupervised",)
    modalities = ("event",)
    reference = ("Du et al., DeepLog: Anomaly Detection and Diagnosis from System Logs through "
                 "Deep Learning, CCS 2017")
    test_params: ClassVar[dict] = {"window_size": 4, "hidden_size": 16, "top_g": 3, "epochs": 3,
                                   "batch_size": 64, "lr": 1e-2}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **{k: v for k, v in DeepDetector._parameter_constraints.items()
           if k not in ("backbone", "hidden_dims")},
        "contamination": [NONE, *DeepDetector._parameter_constraints["contamination"]],
        "window_size": [Interval(numbers.Integral, 1, None)],
        "top_g": [Interval(numbers.Integral, 1, None)],
        "hidden_size": [Interval(numbers.Integral, 1, None)],
        "n_layers": [Interval(numbers.Integral, 1, None)],
        "embedding_dim": [NONE, Interval(numbers.Integral, 1, None)],
        "predict_end": [BOOLEAN],
    }

    def __init__(self, window_size=10, top_g=9, hidden_size=64, n_layers=2, embedding_dim=None,
                 predict_end=True, epochs=10, batch_size=256, lr=1e-3, weight_decay=0.0,
                 validation_size=0.0, patience=None, grad_clip=None, contamination=None,
                 device=None, random_state=None, verbose=False):
        self.window_size = window_size
        self.top_g = top_g
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.embedding_dim = embedding_dim
        self.predict_end = predict_end
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

    # ------------------------------------------------------------------ pairs
    @property
    def _n_outputs(self) -> int:
        """Classes the network predicts: the keys seen in ``fit`` (+ the end of a session)."""
        return len(self.keys_) + int(self.predict_end)

    def _key_ids(self, keys: np.ndarray) -> np.ndarray:
        """Ids of ``keys``: their index in ``keys_``; ``_n_outputs`` for keys unseen in fit."""
        n_keys = len(self.keys_)
        index = np.minimum(np.searchsorted(self.keys_, keys), n_keys - 1)
        return np.where(self.keys_[index] == keys, index, self._n_outputs)

    def _pairs(self, X: Sessions) -> tuple[np.ndarray, np.ndarray]:
        """One row per event of every session (and per session end, with ``predict_end``): the
        ``h`` ids before it (padded at the start of a session), then its own id; int64 of
        shape (n_events, h + 1). Also the number of rows of each session."""
        h, end = self.window_size, int(self.predict_end)
        pad = self._n_outputs + 1
        # one stream: every session preceded by h padding ids (and followed by its end)
        blocks = h + X.lengths + end
        first = np.cumsum(blocks) - blocks + h  # stream position of each session's first event
        positions = np.arange(len(X.keys)) + np.repeat(first - X.offsets, X.lengths)
        stream = np.full(int(blocks.sum()), pad, dtype=np.int64)
        stream[positions] = self._key_ids(X.keys)
        if end:
            stream[first + X.lengths] = len(self.keys_)
        targets = np.flatnonzero(stream != pad)
        return sliding_window_view(stream, h + 1)[targets - h], X.lengths + end

    # ------------------------------------------------------------------ template
    def _fit(self, X: Sessions, y: np.ndarray | None) -> None:
        self.keys_ = np.unique(X.keys)
        super()._fit(np.ascontiguousarray(self._pairs(X)[0]), None)

    def build(self, spec: InputSpec) -> nn.Module:
        return NextKeyLSTM(self.keys_, self._n_outputs, self.hidden_size, self.n_layers,
                           self.embedding_dim)

    def loss(self, batch: Batch) -> torch.Tensor:
        history, target = batch.x[:, :-1], batch.x[:, -1]
        return F.cross_entropy(self.model_(history), target, reduction="none")

    def score(self, batch: Batch) -> torch.Tensor:
        return next_key_scores(self.model_(batch.x[:, :-1]), batch.x[:, -1])

    def _event_scores(self, X: Sessions) -> tuple[np.ndarray, np.ndarray]:
        """Scores of every row of :meth:`_pairs` (each distinct row scored once), and the
        index of each session's first row."""
        pairs, counts = self._pairs(X)
        distinct, inverse = np.unique(pairs, axis=0, return_inverse=True)
        scores = super()._score_samples(distinct)[inverse.reshape(-1)]
        return scores, np.cumsum(counts) - counts

    def _score_samples(self, X: Sessions) -> np.ndarray:
        return np.maximum.reduceat(*self._event_scores(X))

    def _set_threshold(self) -> None:
        if self.contamination is not None:
            super()._set_threshold()
            return
        self.threshold_ = float(min(self.top_g, self._n_outputs))
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    def event_scores(self, X: Any) -> list[np.ndarray]:
        """Per-event scores ``rank + 1 − p`` of each session (float64 arrays; with
        ``predict_end`` the last entry scores the end of the session). An event scores above
        ``threshold_`` when its key is outside the top ``g`` (with ``contamination=None``)."""
        scores, starts = self._event_scores(self._check_input(X))
        return np.split(scores, starts[1:])

    # ------------------------------------------------------------------ persistence
    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        keys = read_tensor(tensors, "model.keys", ndim=1, dtype=torch.int64).numpy()
        if len(keys) == 0 or keys[0] < 0 or not (np.diff(keys) > 0).all():
            msg = ("weights.safetensors: tensor 'model.keys' must hold the event keys seen in "
                   "fit: at least one, non-negative, sorted and distinct.")
            raise ValueError(msg)
        self.keys_ = keys.astype(np.int64)
        super()._set_state(state, tensors, device=device)
