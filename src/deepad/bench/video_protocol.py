"""The video protocol of the bench: ``deepad bench --suite ped2``, UCSD Ped2's frame-level
evaluation of the video detectors (:mod:`deepad.bench.video_suite`).

It is a :class:`~deepad.bench.protocol.Protocol` registered like the others (name
``video``, setting ``video``, suite ``ped2``), but one that runs its own jobs
(:attr:`~deepad.bench.protocol.Protocol.runs_own_jobs`): a Ped2 job is not "fit a detector on
one dataset's training part, score its test part, metrics of the scores". It normalises
scores within each test video and drops the frames a predictor cannot score (both need each
frame's video), trains MIL ranking in two folds whose training set holds half of the test
videos, scores pixel maps against the masks, and feeds one detector's maps to another (MIL on
prediction-error features). So ``deepad bench`` hands it the whole benchmark
(:meth:`VideoProtocol.run_own`): named jobs (``--detectors``), one JSON file per job in a
result folder (``--db``, resumable: a stored job is not rerun), a per-job time limit
(``--timeout``), then the report; the generic planner, worker and SQLite store are not used
and the per-job methods of the interface refuse to be called.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from deepad.bench.protocol import Protocol

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from deepad.bench import detectors
    from deepad.bench.config import BenchConfig
    from deepad.bench.jobs import Job
    from deepad.bench.protocol import Data, DatasetEntry, DetectorEntry

DEFAULT_FOLDER = "ped2-video"
DEFAULT_TIMEOUT = 3600.0
KEYS = frozenset({"suite", "detectors", "db", "timeout"})
"""The configuration keys the Ped2 suite reads; others are refused (they mean nothing here:
the jobs fix their seeds, settings and parameters)."""


class VideoProtocol(Protocol):
    """UCSD Ped2's video jobs (:data:`deepad.bench.video_suite.JOBS`), run by
    :meth:`run_own`."""

    name = "video"
    settings = ("video",)
    suites = ("ped2",)
    runs_own_jobs = True

    # ------------------------------------------------------------------ whole benchmark
    def run_own(self, values: dict[str, Any], *, dry_run: bool = False,
                echo: Callable[[str], None] = print) -> None:
        """Run the named jobs (``values["detectors"]``: job names, comma-separated or a
        list; default :data:`~deepad.bench.video_suite.DEFAULT_JOBS`) whose file is missing
        in the result folder ``values["db"]`` (default ``ped2-video``), each under
        ``values["timeout"]`` seconds (default 3600; 0 for none), then write
        ``report.md`` there. ``dry_run``: one line per job, ``stored`` or ``run``."""
        from deepad.bench import video_suite

        given = {k for k, v in values.items() if v is not None and v != [] and v != {}}
        extra = sorted(given - KEYS)
        if extra:
            msg = (f"--suite ped2 takes --detectors (its job names), --db (its result folder) "
                   f"and --timeout; not {', '.join(extra)} (each job fixes its seed, setting "
                   "and hyperparameters).")
            raise ValueError(msg)
        names = values.get("detectors")
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        jobs = list(names or video_suite.DEFAULT_JOBS)
        unknown = [n for n in jobs if n not in video_suite.JOBS]
        if unknown:
            msg = (f"--suite ped2 runs named jobs, not detectors: {', '.join(unknown)} "
                   f"unknown; jobs: {', '.join(video_suite.ORDER)}.")
            raise ValueError(msg)
        out = Path(values.get("db") or DEFAULT_FOLDER)
        limit = values.get("timeout")
        limit = DEFAULT_TIMEOUT if limit is None else float(limit)
        if dry_run:
            for name in jobs:
                state = "stored" if (out / f"{name}.json").exists() else "run"
                cls, params, options, protocol = video_suite.JOBS[name]
                echo(f"{state:<8} {name}: {cls} {params} {options} ({protocol})")
            return
        video_suite.run_suite(out, only=jobs, timeout=limit or None, echo=echo)
        echo(f"Done. Report: {out / 'report.md'}")

    # ------------------------------------------------------------------ per-job interface
    def _own(self, what: str) -> NoReturn:
        msg = (f"the {self.name!r} protocol (suite ped2) runs its own jobs "
               f"(VideoProtocol.run_own, deepad bench --suite ped2); it has no {what} for "
               "the generic runner.")
        raise ValueError(msg)

    def claims(self, config: BenchConfig) -> bool:
        return False  # only its suite names it

    def datasets(self, config: BenchConfig) -> dict[str, DatasetEntry]:
        self._own("datasets")

    def job_settings(self, config: BenchConfig) -> list[tuple[str, float | None]]:
        self._own("job settings")

    def detector(self, ref: detectors.DetectorRef, cls: type | None,
                 params: dict[str, Any]) -> DetectorEntry:
        self._own("detector entries")

    def load(self, job: Job) -> Data | str:
        self._own("per-job data")

    def build(self, ref: detectors.DetectorRef, params: dict[str, Any], seed: int,
              data: Data) -> tuple[Any, bool]:
        self._own("estimators")

    def metrics(self, y_true: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
        self._own("per-job metrics")

    def write_report(self, frame: pd.DataFrame, out_dir: Path, title: str | None
                     ) -> dict[str, Path]:
        self._own("report of store rows (its report is made from its job files)")
