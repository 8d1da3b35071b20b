"""The time-series protocol (setting ``series``): the :class:`~deepad.bench.protocol.Protocol`
of the ``series`` suite. Names, loading, scaling, detectors and metrics are in
:mod:`deepad.bench.series`; the report in :mod:`deepad.bench.series_report`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from deepad.bench import detectors, series
from deepad.bench.jobs import SERIES
from deepad.bench.protocol import (
    Data,
    DatasetEntry,
    DetectorEntry,
    Protocol,
    default_params,
    resolve,
)

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from deepad.bench.config import BenchConfig
    from deepad.bench.jobs import Job


class SeriesProtocol(Protocol):
    """Train on a series' training part without labels, score every test timestamp."""

    name = "series"
    settings = (SERIES,)
    suites = series.SERIES_SUITES

    def claims(self, config: BenchConfig) -> bool:
        """The ``series`` suite, or datasets that are all series names (``ValueError`` when
        they mix series with tabular datasets)."""
        if config.suite:
            return config.suite.strip().lower() in self.suites
        kinds = {series.is_series_name(name) for name in config.datasets}
        if len(kinds) > 1:
            msg = ("--datasets mixes series (smap_msl/..., ucr/..., nab/...) with tabular "
                   "datasets; run them as two benchmarks, each with its own --db.")
            raise ValueError(msg)
        return kinds == {True}

    def datasets(self, config: BenchConfig) -> dict[str, DatasetEntry]:
        names = series.series_names() if config.suite else config.datasets
        found: dict[str, DatasetEntry] = {}
        missing: list[tuple[str, FileNotFoundError]] = []
        for name in names:
            try:
                data = series.load_series(name)
            except FileNotFoundError as error:
                missing.append((name, error))
                continue
            stored = f"{name.strip().partition('/')[0].lower()}/{data.name}"
            found.setdefault(stored, DatasetEntry(problem=series.evaluation_problem(data)))
        if len(missing) == 1:
            raise missing[0][1]
        if missing:
            msg = (f"{len(missing)} series not found: {', '.join(n for n, _ in missing)}. "
                   f"{missing[0][1]}")
            raise FileNotFoundError(msg)
        return found

    def job_settings(self, config: BenchConfig) -> list[tuple[str, float | None]]:
        if list(config.settings) != ["unsupervised"]:
            msg = (f"time-series jobs have one setting ({SERIES}: trained without labels); "
                   f"--setting {','.join(config.settings)} does not apply to them.")
            raise ValueError(msg)
        return [(SERIES, None)]

    def detector(self, ref: detectors.DetectorRef, cls: type | None,
                 params: dict[str, Any]) -> DetectorEntry:
        if ref.kind == "pyod":
            series.check_series_detector(ref, object, params)  # raises: PyOD takes rows
        params = {**series.protocol_defaults(ref, cls), **params}
        if cls is None:  # deepod is missing: each job records why
            return DetectorEntry(ref, params, None, None)
        series.check_series_detector(ref, cls, params)
        fixed = detectors.job_defaults(ref, cls, 0)
        if ref.kind == "deepad":
            from deepad.series import SeriesDetector

            wrapper = {k: v for k, v in SeriesDetector(cls()).get_params(deep=False).items()
                       if k in series.wrapper_parameters()}
            resolved = resolve({**default_params(ref, cls), **fixed, **wrapper}, params)
        elif ref.kind == "deepod":
            resolved = resolve({**default_params(ref, cls), **fixed},
                               series.peer_params(ref, params))
        else:
            resolved = resolve({**default_params(ref, cls), **fixed}, params)
        return DetectorEntry(ref, params, detectors.supervision(ref, cls), resolved)

    def skip_reason(self, detector: DetectorEntry, setting: str, dataset: str,
                    entry: DatasetEntry) -> str | None:
        supervision = detector.supervision
        if supervision is not None and "unsupervised" not in supervision:
            return (f"{detector.ref.spec} is weakly supervised only: it needs labelled "
                    "anomalies, which time-series jobs do not give")
        return f"{dataset}: {entry.problem}" if entry.problem else None

    def load(self, job: Job) -> Data | str:
        data = series.load_series(job.dataset)
        problem = series.evaluation_problem(data)
        if problem is not None:
            return f"{job.dataset}: {problem}"
        train, test = series.scale_series(data.train, data.test)
        return Data(train, test, data.y_test)

    def build(self, ref: detectors.DetectorRef, params: dict[str, Any], seed: int,
              data: Data) -> tuple[Any, bool]:
        return series.build_series(ref, params, seed), False

    def metrics(self, y_true: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
        return series.series_metrics(y_true, scores)

    def code_classes(self, ref: detectors.DetectorRef, cls: type) -> list[type]:
        if ref.kind != "deepad":
            return [cls]
        from deepad.series import SeriesDetector

        return [cls, SeriesDetector]

    def write_report(self, frame: pd.DataFrame, out_dir: Path, title: str | None
                     ) -> dict[str, Path]:
        from deepad.bench.series_report import DEFAULT_TITLE, write_series_report

        return write_series_report(frame, out_dir, title=title or DEFAULT_TITLE)
