"""Expand a configuration into jobs: detectors × datasets × settings × seeds, through the
configuration's protocol (:func:`deepad.bench.protocols.protocol_for`).

Everything a user can get wrong is checked here, before any job starts: unknown detectors,
suites and datasets, parameters a detector does not take, values its constraints reject.
Peer detectors are checked only when their package imports; when it does not, their jobs
run and record why (``pyod is not installed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deepad.bench.config import BenchConfig, check_config
from deepad.bench.jobs import Job
from deepad.bench.protocol import DetectorEntry, given_params, load_optional
from deepad.bench.protocols import protocol_for


@dataclass
class Plan:
    """The jobs of a benchmark: those to run, and those recorded as skipped with a reason."""

    jobs: list[Job] = field(default_factory=list)
    skipped: list[tuple[Job, str]] = field(default_factory=list)

    @property
    def all_jobs(self) -> list[Job]:
        """Every job of the benchmark, run or skipped."""
        return [*self.jobs, *(job for job, _ in self.skipped)]


def plan_detectors(config: BenchConfig) -> list[DetectorEntry]:
    """The configuration's detectors, checked and completed by its protocol."""
    protocol = protocol_for(config)
    refs, given = given_params(config)
    return [protocol.detector(ref, load_optional(ref), given.get(ref.spec, {})) for ref in refs]


def make_plan(config: BenchConfig) -> Plan:
    """Every job ``config`` describes, datasets outermost (a worker process reuses the data
    it loaded for the next job); jobs the protocol does not run are in ``skipped`` with the
    reason (a weakly supervised detector without labels, a dataset without a metric)."""
    check_config(config)
    protocol = protocol_for(config)
    settings = protocol.job_settings(config)
    chosen = plan_detectors(config)  # first: a typo should not wait for a dataset download
    datasets = protocol.datasets(config)
    plan = Plan()
    for dataset, entry in datasets.items():
        for setting, ratio in settings:
            for seed in config.seeds:
                for detector in chosen:
                    job = Job(detector.ref.spec, detector.params, dataset, seed, setting, ratio,
                              entry.path, resolved=detector.resolved)
                    reason = protocol.skip_reason(detector, setting, dataset, entry)
                    if reason is None:
                        plan.jobs.append(job)
                    else:
                        plan.skipped.append((job, reason))
    return plan
