"""Run one job in the current process through its protocol: load and split the data, fit,
score, metrics, peak memory, code identity.

:func:`run_job` never raises: every exception becomes an :class:`Outcome` with status
``error`` (``nan`` for non-finite scores or a diverged fit). It is the same function for the
local worker processes and for Dask; both call it inside an isolated child process
(:mod:`deepad.bench.child`) so that crashes, time-outs and memory blow-ups stay there. It
knows only the :class:`~deepad.bench.protocol.Protocol` interface: the job's setting names
its protocol (:func:`deepad.bench.protocols.protocol_of_setting`).
"""

from __future__ import annotations

import time

import numpy as np

from deepad.bench import detectors, peers
from deepad.bench.environment import host_name, library_versions
from deepad.bench.identity import job_identity
from deepad.bench.jobs import Job, Outcome
from deepad.bench.memory import PeakMemory
from deepad.bench.protocol import RANKING_METRICS
from deepad.bench.protocols import protocol_of_setting

MAX_MESSAGE = 2_000


def error_message(error: BaseException) -> str:
    """``Type: message`` on one line, shortened to :data:`MAX_MESSAGE` characters."""
    text = " ".join(str(error).split()) or "(no message)"
    text = f"{type(error).__name__}: {text}"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."


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


def _evaluate(job: Job, versions: dict[str, str], code: dict[str, str]) -> Outcome:
    protocol = protocol_of_setting(job.setting)
    ref = detectors.parse_detector(job.detector)
    if ref.kind in peers.PACKAGES:
        code.update(job_identity(ref, protocol))
        peers.require(ref.kind)
        versions["peer"] = peers.peer_version(ref.kind) or "unknown"
    else:
        code.update(job_identity(ref, protocol, detectors.load_class(ref)))
    data = protocol.load(job)
    if isinstance(data, str):
        return Outcome("skipped", error=data)
    seed_globals(job.seed)
    estimator, takes_labels = protocol.build(ref, job.params, job.seed, data)
    start, cpu_start = time.perf_counter(), time.process_time()
    if data.labels is not None and takes_labels:
        estimator.fit(data.train, data.labels.copy())
    else:
        estimator.fit(data.train)
    fit_seconds = time.perf_counter() - start
    fit_cpu_seconds = time.process_time() - cpu_start
    start = time.perf_counter()
    scores = np.asarray(estimator.decision_function(data.test), dtype=np.float64)
    score_seconds = time.perf_counter() - start
    times = {"fit_seconds": fit_seconds, "score_seconds": score_seconds,
             "fit_cpu_seconds": fit_cpu_seconds}
    problem = non_finite(scores, len(data.test))
    if problem is not None:
        return Outcome("nan", error=problem, **times)
    metrics = dict(protocol.metrics(data.y_test, scores))
    ranking = {name: metrics.pop(name, None) for name in RANKING_METRICS}
    return Outcome("ok", **ranking, metrics=metrics, **times)


def run_job(job: Job) -> Outcome:
    """Run ``job`` here and return its outcome (never raises).

    A ``FloatingPointError`` (deepad's detectors raise it when training diverges to
    non-finite scores) is recorded as ``nan``, like non-finite test scores.
    """
    versions = dict(library_versions())
    code: dict[str, str] = {}
    with PeakMemory() as memory:
        try:
            outcome = _evaluate(job, versions, code)
        except FloatingPointError as error:
            outcome = Outcome("nan", error=error_message(error))
        except (Exception, SystemExit) as error:  # a job's failure is data, not a crash
            outcome = Outcome("error", error=error_message(error))
    return outcome.replace(peak_memory_mb=round(memory.peak_mb, 1), versions=versions,
                           code=code, host=host_name())
