"""Run one job in the current process: ADBench split (or a series' train / test parts), fit,
score, metrics, peak memory.

:func:`run_job` never raises: every exception becomes an :class:`Outcome` with status
``error`` (``nan`` for non-finite scores or a diverged fit). It is the same function for the
local worker processes and for Dask; both call it inside an isolated child process
(:mod:`deepad.bench.child`) so that crashes, time-outs and memory blow-ups stay there.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np

from deepad.bench import detectors, peers
from deepad.bench.environment import host_name, library_versions
from deepad.bench.jobs import SERIES, Job, Outcome
from deepad.bench.memory import PeakMemory
from deepad.data.adbench import Split, adbench_split, load_adbench

MAX_MESSAGE = 2_000


def error_message(error: BaseException) -> str:
    """``Type: message`` on one line, shortened to :data:`MAX_MESSAGE` characters."""
    text = " ".join(str(error).split()) or "(no message)"
    text = f"{type(error).__name__}: {text}"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."


@functools.lru_cache(maxsize=2)
def _load(dataset: str, path: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` from the supervisor's path, or by name where that path does not exist."""
    X, y = load_adbench(path if path and Path(path).is_file() else dataset)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


def make_split(job: Job) -> Split:
    """The ADBench split of the job's dataset and seed, with ``y_semi`` in the weak setting."""
    X, y = _load(job.dataset, job.path)
    if job.setting == "weak":
        return adbench_split(X, y, job.seed, labeled_anomalies=job.labeled_ratio,
                             at_least_one=True)
    return adbench_split(X, y, job.seed)


def seed_globals(seed: int) -> None:
    """Seed the global generators of this worker process, so a detector that draws from them
    gives the same result whatever jobs the process ran before (the process is not the
    user's: nothing else shares these streams)."""
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def non_finite(scores: np.ndarray, n_test: int) -> str | None:
    if scores.shape != (n_test,):
        msg = f"decision_function returned shape {scores.shape}; expected ({n_test},)."
        raise ValueError(msg)
    bad = int((~np.isfinite(scores)).sum())
    return f"{bad} of {n_test} test scores are NaN or infinite" if bad else None


def _evaluate(job: Job, versions: dict[str, str]) -> Outcome:
    from deepad.metrics import auc_pr, auc_roc, precision_at_n

    ref = detectors.parse_detector(job.detector)
    if ref.kind in peers.PACKAGES:
        peers.require(ref.kind)
        versions["peer"] = peers.peer_version(ref.kind) or "unknown"
    split = make_split(job)
    seed_globals(job.seed)
    estimator, takes_labels = detectors.build(ref, job.params, job.seed,
                                              n_features=split.X_train.shape[1])
    start, cpu_start = time.perf_counter(), time.process_time()
    if job.setting == "weak" and takes_labels:
        estimator.fit(split.X_train, split.y_semi.copy())
    else:
        estimator.fit(split.X_train)
    fit_seconds = time.perf_counter() - start
    fit_cpu_seconds = time.process_time() - cpu_start
    start = time.perf_counter()
    scores = np.asarray(estimator.decision_function(split.X_test), dtype=np.float64)
    score_seconds = time.perf_counter() - start
    times = {"fit_seconds": fit_seconds, "score_seconds": score_seconds,
             "fit_cpu_seconds": fit_cpu_seconds}
    problem = non_finite(scores, len(split.X_test))
    if problem is not None:
        return Outcome("nan", error=problem, **times)
    return Outcome("ok", auc_roc=auc_roc(split.y_test, scores),
                   auc_pr=auc_pr(split.y_test, scores),
                   precision_at_n=precision_at_n(split.y_test, scores), **times)


def run_job(job: Job) -> Outcome:
    """Run ``job`` here and return its outcome (never raises).

    Time-series jobs (setting ``"series"``) run :func:`deepad.bench.series.evaluate_series`.

    A ``FloatingPointError`` (deepad's detectors raise it when training diverges to
    non-finite scores) is recorded as ``nan``, like non-finite test scores.
    """
    versions = dict(library_versions())
    with PeakMemory() as memory:
        try:
            if job.setting == SERIES:
                from deepad.bench.series import evaluate_series

                outcome = evaluate_series(job, versions)
            else:
                outcome = _evaluate(job, versions)
        except FloatingPointError as error:
            outcome = Outcome("nan", error=error_message(error))
        except (Exception, SystemExit) as error:  # a job's failure is data, not a crash
            outcome = Outcome("error", error=error_message(error))
    return outcome.replace(peak_memory_mb=round(memory.peak_mb, 1), versions=versions,
                           host=host_name())
