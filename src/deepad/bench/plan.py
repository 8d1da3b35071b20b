"""Expand a configuration into jobs: detectors × datasets × seeds × settings (time series:
:mod:`deepad.bench.series`).

Everything a user can get wrong is checked here, before any job starts: unknown detectors,
suites and datasets, parameters a detector does not take, values its constraints reject.
Peer detectors are checked only when their package imports; when it does not, their jobs
run and record why (``pyod is not installed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepad.bench import detectors, peers
from deepad.bench.config import BenchConfig, check_config
from deepad.bench.jobs import Job
from deepad.bench.suites import resolve_dataset, suite_datasets


@dataclass
class Plan:
    """The jobs of a benchmark: those to run, and those recorded as skipped with a reason."""

    jobs: list[Job] = field(default_factory=list)
    skipped: list[tuple[Job, str]] = field(default_factory=list)

    @property
    def all_jobs(self) -> list[Job]:
        """Every job of the benchmark, run or skipped."""
        return [*self.jobs, *(job for job, _ in self.skipped)]


@dataclass(frozen=True)
class _Detector:
    ref: detectors.DetectorRef
    params: dict[str, Any]
    supervision: tuple[str, ...] | None  # None: unknown (peer package missing)


def _datasets(config: BenchConfig) -> dict[str, Path]:
    names = suite_datasets(config.suite) if config.suite else config.datasets
    missing, found = [], {}
    for name in names:
        try:
            path = resolve_dataset(name)
        except FileNotFoundError as error:
            missing.append((name, error))
            continue
        found.setdefault(path.stem, path)
    if len(missing) == 1:
        raise missing[0][1]
    if missing:
        msg = (f"{len(missing)} datasets not found: {', '.join(n for n, _ in missing)}. "
               f"{missing[0][1]}")
        raise FileNotFoundError(msg)
    return found


def _detectors(config: BenchConfig) -> list[_Detector]:
    refs = list(dict.fromkeys(detectors.parse_detector(d) for d in config.detectors))
    params: dict[str, dict[str, Any]] = {}
    for written, values in config.params.items():
        spec = detectors.parse_detector(written).spec
        if spec not in {ref.spec for ref in refs}:
            msg = (f"--params names {written!r}, which is not among the detectors "
                   f"({', '.join(ref.spec for ref in refs)}).")
            raise ValueError(msg)
        params.setdefault(spec, {}).update(values)
    result = []
    for ref in refs:
        given = params.get(ref.spec, {})
        try:
            cls = detectors.load_class(ref)
        except ImportError:
            if ref.kind not in peers.PACKAGES:
                raise
            result.append(_Detector(ref, given, None))  # each job records the error
            continue
        detectors.check_params(ref, cls, given)
        result.append(_Detector(ref, given, detectors.supervision(ref, cls)))
    return result


def skip_reason(spec: str, supervision: tuple[str, ...] | None, setting: str) -> str | None:
    """Why a detector does not run in ``setting``, or None when it does."""
    if setting == "unsupervised" and supervision is not None and "unsupervised" not in supervision:
        return (f"{spec} is weakly supervised only: it needs labelled anomalies, which the "
                "unsupervised setting does not give (run it with --setting weak)")
    return None


def make_plan(config: BenchConfig) -> Plan:
    """Every job ``config`` describes, datasets outermost (a worker process reuses the data
    it loaded for the next job). A time-series configuration (the ``series`` suite, or series
    names) is planned by :func:`deepad.bench.series.make_series_plan`."""
    check_config(config)
    from deepad.bench.series import is_series_config, make_series_plan

    if is_series_config(config):
        return make_series_plan(config)
    chosen = _detectors(config)  # first: a typo should not wait for a dataset download
    datasets = _datasets(config)
    plan = Plan()
    for dataset, path in datasets.items():
        for setting in config.settings:
            ratio = float(config.labeled_ratio) if setting == "weak" else None
            for seed in config.seeds:
                for detector in chosen:
                    job = Job(detector.ref.spec, detector.params, dataset, seed, setting, ratio,
                              str(path))
                    reason = skip_reason(detector.ref.spec, detector.supervision, setting)
                    if reason is None:
                        plan.jobs.append(job)
                    else:
                        plan.skipped.append((job, reason))
    return plan
