"""The interface of an evaluation protocol: what a modality must say for the bench to run it.

A protocol owns everything that depends on the kind of data: which datasets a suite holds,
how one dataset is loaded and split for a seed (and setting, label ratio), which detectors
can run on it and with what parameters, how a fitted detector's scores become metrics, and
how the rows of its jobs are reported. The planner (:mod:`deepad.bench.plan`), the worker
(:mod:`deepad.bench.worker`), the store, the runner and the report dispatcher
(:mod:`deepad.bench.report`) know only this interface; the protocols are registered by name
in :mod:`deepad.bench.protocols`.

A job names its protocol through its ``setting``: each protocol declares the settings its
jobs carry (``unsupervised`` and ``weak`` for ADBench, ``series`` for time series), and no two
protocols share one.
"""

from __future__ import annotations

import difflib
import inspect
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepad.bench import detectors, peers

if TYPE_CHECKING:
    import pandas as pd

    from deepad.bench.config import BenchConfig
    from deepad.bench.jobs import Job

RANKING_METRICS = ("auc_roc", "auc_pr", "precision_at_n")
"""Metrics every protocol returns; they have their own store columns. Any other metric a
protocol returns is stored in the row's JSON ``metrics`` column."""

SEED_KEYS = frozenset({"random_state", "random_seed", "seed"})
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


@dataclass(frozen=True)
class DatasetEntry:
    """A dataset of a plan: where the supervisor found it (``path``, may be empty) and why no
    metric is defined on it (``problem``; None when it can be measured)."""

    path: str = ""
    problem: str | None = None


@dataclass(frozen=True)
class DetectorEntry:
    """A detector of a plan.

    Attributes
    ----------
    ref : DetectorRef
    params : dict
        The job parameters: those the user gave plus the protocol's own (a series window).
    supervision : tuple of str or None
        Settings the detector supports; None when unknown (its peer package is missing).
    resolved : dict or None
        Every hyperparameter the detector will be built with, defaults expanded (not the
        seed); None when its class cannot be loaded here. Part of the run key.
    """

    ref: detectors.DetectorRef
    params: dict[str, Any]
    supervision: tuple[str, ...] | None
    resolved: dict[str, Any] | None = None


@dataclass
class Data:
    """One dataset split for one job: fit on ``train`` (with ``labels`` when the detector
    learns from them), score ``test``, compare with ``y_test``."""

    train: np.ndarray
    test: np.ndarray
    y_test: np.ndarray
    labels: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


def plain_value(value: Any) -> Any:
    """A JSON-ready stand-in for a default value: classes and functions by their dotted name,
    other objects by their ``repr`` without memory addresses."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    if isinstance(value, type) or callable(value):
        module = getattr(value, "__module__", "") or ""
        name = getattr(value, "__qualname__", None) or type(value).__qualname__
        return f"{module}.{name}" if module else name
    return _ADDRESS.sub("", repr(value))


def default_params(ref: detectors.DetectorRef, cls: type) -> dict[str, Any]:
    """The constructor defaults of ``cls``: ``cls().get_params()`` where that works (deepad
    detectors, PyOD and other scikit-learn style classes), else the defaults in the
    signature of ``__init__``."""
    get_params = getattr(cls, "get_params", None)
    if callable(get_params):
        try:
            return dict(cls().get_params(deep=False))
        except Exception:  # noqa: BLE001 - a required argument, or a peer's own check
            pass
    parameters = inspect.signature(cls.__init__).parameters
    return {name: p.default for name, p in parameters.items()
            if name != "self" and p.default is not inspect.Parameter.empty
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}


def resolve(defaults: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` updated with ``params``, seeds left out (the seed is its own key field),
    every value JSON-ready (:func:`plain_value`)."""
    merged = {**defaults, **params}
    return {k: plain_value(v) for k, v in sorted(merged.items()) if k not in SEED_KEYS}


def given_params(config: BenchConfig) -> tuple[list[detectors.DetectorRef],
                                                dict[str, dict[str, Any]]]:
    """The configuration's detectors (parsed, without repeats) and ``{spec: parameters}``
    (``ValueError`` for parameters of a detector that is not in the list)."""
    refs = list(dict.fromkeys(detectors.parse_detector(d) for d in config.detectors))
    given: dict[str, dict[str, Any]] = {}
    for written, values in config.params.items():
        spec = detectors.parse_detector(written).spec
        if spec not in {ref.spec for ref in refs}:
            msg = (f"--params names {written!r}, which is not among the detectors "
                   f"({', '.join(ref.spec for ref in refs)}).")
            raise ValueError(msg)
        given.setdefault(spec, {}).update(values)
    return refs, given


def load_optional(ref: detectors.DetectorRef) -> type | None:
    """The class of ``ref``, or None when it is a peer whose package is missing (its jobs
    then record why); other import errors propagate."""
    try:
        return detectors.load_class(ref)
    except ImportError:
        if ref.kind not in peers.PACKAGES:
            raise
        return None


def unknown_choice(kind: str, name: str, choices: Iterable[str]) -> str:
    """``unknown <kind> 'name'. Did you mean ...? <Kind>s: ...`` for an error message."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=2)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return f"unknown {kind} {name!r}.{hint} {kind.capitalize()}s: {', '.join(choices)}."


class Protocol(ABC):
    """One evaluation protocol (a modality's way of running a detector on a dataset).

    Subclasses set :attr:`name`, :attr:`settings` and :attr:`suites`, and implement the
    abstract methods. They are registered in :data:`deepad.bench.protocols.PROTOCOLS`.
    """

    name: str = ""
    """Registry name (``"adbench"``, ``"series"``)."""
    settings: tuple[str, ...] = ()
    """The ``setting`` values of this protocol's jobs; a job's setting names its protocol."""
    suites: tuple[str, ...] = ()
    """Suite names this protocol resolves (``--suite``)."""

    # ------------------------------------------------------------------ planning
    @abstractmethod
    def claims(self, config: BenchConfig) -> bool:
        """Whether ``config`` describes a benchmark of this protocol (by its suite or its
        dataset names)."""

    @abstractmethod
    def datasets(self, config: BenchConfig) -> dict[str, DatasetEntry]:
        """``{stored dataset name: entry}`` of the plan, in suite order (raises
        ``FileNotFoundError`` naming what is missing)."""

    @abstractmethod
    def job_settings(self, config: BenchConfig) -> list[tuple[str, float | None]]:
        """``(setting, labeled_ratio)`` pairs of the plan (``ValueError`` for settings this
        protocol does not have)."""

    @abstractmethod
    def detector(self, ref: detectors.DetectorRef, cls: type | None,
                 params: dict[str, Any]) -> DetectorEntry:
        """Check a detector and its given parameters (``ValueError``) and complete them:
        protocol parameters, supervision and the resolved hyperparameters. ``cls`` is None
        when the detector's peer package is missing."""

    def skip_reason(self, detector: DetectorEntry, setting: str,
                    dataset: str, entry: DatasetEntry) -> str | None:
        """Why a job is recorded as skipped instead of run, or None (default: a weakly
        supervised detector in a setting without labels, or a dataset with a problem)."""
        supervision = detector.supervision
        if (setting != "weak" and supervision is not None
                and "unsupervised" not in supervision):
            return (f"{detector.ref.spec} is weakly supervised only: it needs labelled "
                    f"anomalies, which the {setting} setting does not give"
                    + (" (run it with --setting weak)" if "weak" in self.settings else ""))
        return f"{dataset}: {entry.problem}" if entry.problem else None

    # ------------------------------------------------------------------ one job
    @abstractmethod
    def load(self, job: Job) -> Data | str:
        """The job's data split for its seed, setting and label ratio, or the reason (text)
        why no metric is defined on it (the job is then recorded as skipped)."""

    @abstractmethod
    def build(self, ref: detectors.DetectorRef, params: dict[str, Any], seed: int,
              data: Data) -> tuple[Any, bool]:
        """A fresh estimator with ``fit`` and ``decision_function`` and whether it is fitted
        with ``data.labels``."""

    @abstractmethod
    def metrics(self, y_true: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
        """Metrics of one job: :data:`RANKING_METRICS` and any protocol-specific ones
        (JSON-ready values; stored in the row's ``metrics`` column)."""

    def code_classes(self, ref: detectors.DetectorRef, cls: type) -> list[type]:
        """Classes whose source files make the detector's code identity (default: ``cls``;
        a protocol that wraps detectors adds its wrapper)."""
        return [cls]

    # ------------------------------------------------------------------ report
    @abstractmethod
    def write_report(self, frame: pd.DataFrame, out_dir: Path, title: str | None
                     ) -> dict[str, Path]:
        """Write the report of this protocol's rows (``report.md``, ``report.html``,
        figures) and return ``{file name: path}``."""

    # ------------------------------------------------------------------ whole benchmark
    runs_own_jobs: bool = False
    """True for a protocol whose jobs are not "fit one detector on one dataset's training
    part, score its test part, metrics of those scores" (the Ped2 video suite: scores per
    video, folds by video, one detector's maps feeding another): ``deepad bench`` then hands
    it the whole benchmark (:meth:`run_own`) instead of planning jobs for the generic runner
    and store, and the per-job methods above are not called."""

    def run_own(self, values: dict[str, Any], *, dry_run: bool = False,
                echo: Callable[[str], None] = print) -> None:
        """Run (or, ``dry_run``, list) the benchmark described by ``values``, the raw
        configuration (TOML values overridden by the flags given; ``suite`` names this
        protocol), printing progress with ``echo``. Only for :attr:`runs_own_jobs`
        protocols; bad input raises ``ValueError``."""
        msg = f"protocol {self.name!r} is run by the generic bench runner, not run_own."
        raise TypeError(msg)
