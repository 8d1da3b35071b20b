"""One benchmark job, what makes two jobs "the same" (the run key), and what a job produced.

A job is one detector with its parameters on one dataset, one seed and one setting. Its
:attr:`Job.key` hashes those fields with the *resolved* hyperparameters (defaults expanded),
so re-running a benchmark finds the jobs it has already finished, and a job whose detector
defaults changed since is a new job. :attr:`Job.slot` hashes the same fields with the given
parameters only: the store keeps one row per slot (the newest), so a changed default replaces
the row instead of adding a second one. An :class:`Outcome` is what running a job produced,
success or failure, with the identity of the code that produced it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

SETTINGS = ("unsupervised", "weak")
"""``unsupervised``: no labels; ``weak``: ``labeled_ratio`` of the training anomalies are
shown to the detectors that take labels (``y_semi``), the others still get none."""

SERIES = "series"
"""The setting of time-series jobs (:mod:`deepad.bench.series`): trained without labels on a
series' training part, every timestamp of its test part scored. Chosen by the datasets (the
``series`` suite, or names such as ``smap_msl/A-1``), never by ``--setting``."""

STATUSES = ("ok", "error", "timeout", "nan", "memory", "skipped")
"""Every status a stored job can have."""

UNRECORDED = "unrecorded"
"""Code identity of rows stored before identities were recorded (they count as stale)."""

FAILED = ("error", "timeout", "nan", "memory")
"""The statuses ``--retry-failed`` runs again (``skipped`` is a decision, not a failure)."""


def _plain(value: Any) -> Any:
    """JSON fallback for numpy scalars and other number types."""
    if isinstance(value, bool | numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    msg = f"parameter value {value!r} ({type(value).__name__}) cannot be stored as JSON."
    raise TypeError(msg)


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys; tuples become lists. Equal values → equal text.

    >>> canonical_json({"b": (32, 8), "a": 1e-3})
    '{"a":0.001,"b":[32,8]}'
    """
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain,
                      allow_nan=False)


def utc_now() -> str:
    """The current time as ISO 8601 UTC text with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class Job:
    """One detector × dataset × seed × setting.

    Parameters
    ----------
    detector : str
        Canonical detector spec: a registry name (``"DeepSVDD"``), ``"pyod:IForest"``,
        ``"deepod:DevNet"`` or ``"python:package.module:ClassName"``.
    params : dict
        Hyperparameters given by the user (not the defaults, not the seed). Series jobs also
        hold the protocol's ``window`` (and, for windowed deepad detectors, ``stride``), so
        a change of the protocol is a new job.
    dataset : str
        Dataset name, the stem of its ``.npz`` file (``"6_cardio"``), or a series named with
        its source (``"smap_msl/A-1"``, ``"nab/realKnownCause/nyc_taxi"``).
    seed : int
        Seed of the ADBench split and ``random_state`` of the detector.
    setting : {"unsupervised", "weak", "series"}
        Supervision setting of the run; ``"series"`` for time-series jobs.
    labeled_ratio : float or None
        Ratio of training anomalies shown as labels in the weak setting; None when
        unsupervised (so the ratio never changes what an unsupervised job is).
    path : str
        Where the supervisor found the dataset; a worker falls back to looking the name up
        when this path does not exist on its machine. Not part of the key.
    resolved : dict or None
        Every hyperparameter the detector is built with, defaults expanded, the seed left
        out (:meth:`deepad.bench.protocol.Protocol.detector`); None where the detector's class
        could not be loaded (the key is then the slot, as in stores written before it).
    """

    detector: str
    params: dict[str, Any]
    dataset: str
    seed: int
    setting: str
    labeled_ratio: float | None
    path: str = field(default="", compare=False)
    resolved: dict[str, Any] | None = None

    @property
    def params_json(self) -> str:
        """The parameters as canonical JSON."""
        return canonical_json(self.params)

    @property
    def resolved_json(self) -> str | None:
        """The resolved hyperparameters as canonical JSON (None when unknown)."""
        return None if self.resolved is None else canonical_json(self.resolved)

    def _hash(self, params: dict[str, Any]) -> str:
        identity = {"detector": self.detector, "params": params, "dataset": self.dataset,
                    "seed": self.seed, "setting": self.setting,
                    "labeled_ratio": self.labeled_ratio}
        return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:32]

    @property
    def slot(self) -> str:
        """Stable hash of the job as the user wrote it: detector, given params, dataset,
        seed, setting, labeled_ratio (32 hex digits of SHA-256; the run key of stores
        written before resolved hyperparameters were recorded)."""
        return self._hash(self.params)

    @property
    def key(self) -> str:
        """Stable hash of what makes the job the same: as :attr:`slot`, with the resolved
        hyperparameters in place of the given ones (the slot when they are unknown)."""
        if self.resolved is None:
            return self.slot
        return self._hash({"given": self.params, "resolved": self.resolved})

    def __hash__(self) -> int:
        return hash(self.key)

    def describe(self) -> str:
        """Short text naming the job: ``DeepSVDD 6_cardio seed=1`` (+ ``weak`` when weak)."""
        text = f"{self.detector} {self.dataset} seed={self.seed}"
        return text if self.setting == "unsupervised" else f"{text} {self.setting}"


@dataclass(frozen=True)
class Outcome:
    """What running one job produced.

    Attributes
    ----------
    status : str
        One of :data:`STATUSES`.
    auc_roc, auc_pr, precision_at_n : float or None
        Test metrics (``ok`` jobs only).
    metrics : dict
        The protocol's other metrics (JSON in the store's ``metrics`` column); for
        time-series jobs the F1 scores, thresholds and counts of
        :func:`deepad.bench.series.series_metrics`.
    fit_seconds, score_seconds : float or None
        Wall time of ``fit`` on the training part and ``decision_function`` on the test part.
    fit_cpu_seconds : float or None
        CPU time of the job's process (every thread) during ``fit``: unlike the wall time,
        it does not grow when other work shares the machine's cores.
    peak_memory_mb : float or None
        Peak resident memory of the process that ran the job (it includes the interpreter
        and the libraries it imported, about 300-400 MB with torch).
    error : str or None
        One-line reason of a failure or a skip.
    versions : dict
        ``deepad``, ``torch``, ``numpy``, ``sklearn``, ``python`` and, for peer detectors,
        ``peer`` versions where the job ran.
    code : dict
        Identity of the code that ran the job (:func:`deepad.bench.identity.job_identity`):
        ``version`` (git commit, ``-dirty`` with uncommitted changes, or ``deepad X.Y.Z``
        outside a checkout) and ``detector`` (hash of the detector's source files, or
        ``package version`` for a peer).
    host : str or None
        Machine that ran the job.
    started_at, finished_at : str or None
        ISO 8601 UTC times.
    """

    status: str
    auc_roc: float | None = None
    auc_pr: float | None = None
    precision_at_n: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    fit_seconds: float | None = None
    score_seconds: float | None = None
    fit_cpu_seconds: float | None = None
    peak_memory_mb: float | None = None
    error: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)
    host: str | None = None
    started_at: str | None = None
    finished_at: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            msg = f"status must be one of {STATUSES}; got {self.status!r}."
            raise ValueError(msg)

    @property
    def failed(self) -> bool:
        """Whether the status is one ``--retry-failed`` runs again."""
        return self.status in FAILED

    def replace(self, **changes: Any) -> Outcome:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)
