"""The ADBench protocol for tabular data (settings ``unsupervised`` and ``weak``).

Each job fits on the training part of :func:`deepad.data.adbench.adbench_split` for its seed
(with the labelled anomalies ``y_semi`` in the weak setting, for detectors that learn from
labels), scores the test part and records AUC-ROC, AUC-PR and precision@n. Datasets are
ADBench ``.npz`` files named by their stem (``6_cardio``), a path, or a suite
(:mod:`deepad.bench.suites`), or a user's CSV / Parquet table with a label column, written as
such a file first (:mod:`deepad.bench.tables`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deepad.bench import detectors
from deepad.bench.jobs import SETTINGS
from deepad.bench.protocol import (
    Data,
    DatasetEntry,
    DetectorEntry,
    Protocol,
    default_params,
    resolve,
)
from deepad.bench.suites import SUITES, resolve_dataset, suite_datasets
from deepad.bench.tables import is_table_path, table_dataset, tables_folder

if TYPE_CHECKING:
    import pandas as pd

    from deepad.bench.config import BenchConfig
    from deepad.bench.jobs import Job


@functools.lru_cache(maxsize=2)
def _load(dataset: str, path: str) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` from the supervisor's path, or by name where that path does not exist."""
    from deepad.data.adbench import load_adbench

    X, y = load_adbench(path if path and Path(path).is_file() else dataset)
    X.setflags(write=False)
    y.setflags(write=False)
    return X, y


class TabularProtocol(Protocol):
    """ADBench protocol: train / test split per seed, unsupervised or weakly supervised."""

    name = "adbench"
    settings = SETTINGS
    suites = tuple(SUITES)

    def claims(self, config: BenchConfig) -> bool:
        """Tabular suites; without a suite, any datasets (the fallback protocol)."""
        if config.suite:
            return config.suite.strip().lower() in self.suites
        return True

    def datasets(self, config: BenchConfig) -> dict[str, DatasetEntry]:
        names = suite_datasets(config.suite) if config.suite else config.datasets
        missing, found = [], {}
        for name in names:
            if is_table_path(name):  # bad tables fail here, before any job starts
                path = table_dataset(name, config.label_column, tables_folder(config.db))
                found.setdefault(path.stem, DatasetEntry(str(path)))
                continue
            try:
                path = resolve_dataset(name)
            except FileNotFoundError as error:
                missing.append((name, error))
                continue
            found.setdefault(path.stem, DatasetEntry(str(path)))
        if len(missing) == 1:
            raise missing[0][1]
        if missing:
            msg = (f"{len(missing)} datasets not found: {', '.join(n for n, _ in missing)}. "
                   f"{missing[0][1]}")
            raise FileNotFoundError(msg)
        return found

    def job_settings(self, config: BenchConfig) -> list[tuple[str, float | None]]:
        return [(setting, float(config.labeled_ratio) if setting == "weak" else None)
                for setting in config.settings]

    def detector(self, ref: detectors.DetectorRef, cls: type | None,
                 params: dict[str, Any]) -> DetectorEntry:
        if cls is None:
            return DetectorEntry(ref, params, None, None)
        detectors.check_params(ref, cls, params)
        fixed = detectors.job_defaults(ref, cls, 0)
        resolved = resolve({**default_params(ref, cls), **fixed}, params)
        return DetectorEntry(ref, params, detectors.supervision(ref, cls), resolved)

    def load(self, job: Job) -> Data:
        from deepad.data.adbench import adbench_split

        X, y = _load(job.dataset, job.path)
        if job.setting == "weak":
            split = adbench_split(X, y, job.seed, labeled_anomalies=job.labeled_ratio,
                                  at_least_one=True)
            return Data(split.X_train, split.X_test, split.y_test, labels=split.y_semi)
        split = adbench_split(X, y, job.seed)
        return Data(split.X_train, split.X_test, split.y_test)

    def build(self, ref: detectors.DetectorRef, params: dict[str, Any], seed: int,
              data: Data) -> tuple[Any, bool]:
        return detectors.build(ref, params, seed, n_features=data.train.shape[1])

    def metrics(self, y_true: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
        from deepad.metrics import auc_pr, auc_roc, precision_at_n

        return {"auc_roc": auc_roc(y_true, scores), "auc_pr": auc_pr(y_true, scores),
                "precision_at_n": precision_at_n(y_true, scores)}

    def write_report(self, frame: pd.DataFrame, out_dir: Path, title: str | None
                     ) -> dict[str, Path]:
        from deepad.bench.tabular_report import DEFAULT_TITLE, write_tabular_report

        return write_tabular_report(frame, out_dir, title=title or DEFAULT_TITLE)
