"""The result store: one SQLite file, one row per finished job, committed as each job ends.

The file is in WAL mode and every row is its own transaction, so killing the runner at any
moment loses at most the jobs in flight; ``run_key`` is UNIQUE, so a job has at most one row
(``--retry-failed`` replaces a failure's row). Only the supervisor process writes; readers
(:func:`load_results`, a report writer) may read while a run is going on.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from deepad.bench.jobs import STATUSES, Job, Outcome

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 1
VERSION_COLUMNS = {"deepad": "deepad_version", "torch": "torch_version",
                   "numpy": "numpy_version", "sklearn": "sklearn_version",
                   "python": "python_version", "peer": "peer_version"}
_STATUS_LIST = ", ".join(f"'{s}'" for s in STATUSES)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS results (
    run_key         TEXT NOT NULL UNIQUE,
    detector        TEXT NOT NULL,
    params          TEXT NOT NULL,
    dataset         TEXT NOT NULL,
    seed            INTEGER NOT NULL,
    setting         TEXT NOT NULL,
    labeled_ratio   REAL,
    status          TEXT NOT NULL CHECK (status IN ({_STATUS_LIST})),
    auc_roc         REAL,
    auc_pr          REAL,
    precision_at_n  REAL,
    fit_seconds     REAL,
    score_seconds   REAL,
    peak_memory_mb  REAL,
    error           TEXT,
    deepad_version  TEXT,
    torch_version   TEXT,
    numpy_version   TEXT,
    sklearn_version TEXT,
    python_version  TEXT,
    peer_version    TEXT,
    host            TEXT,
    started_at      TEXT,
    finished_at     TEXT,
    best_f1         REAL,
    range_f1        REAL,
    pa_f1           REAL,
    metrics         TEXT,
    fit_cpu_seconds REAL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

COLUMNS = ("run_key", "detector", "params", "dataset", "seed", "setting", "labeled_ratio",
           "status", "auc_roc", "auc_pr", "precision_at_n", "fit_seconds", "score_seconds",
           "peak_memory_mb", "error", *VERSION_COLUMNS.values(), "host", "started_at",
           "finished_at", "best_f1", "range_f1", "pa_f1", "metrics", "fit_cpu_seconds")

ADDED_COLUMNS = {"best_f1": "REAL", "range_f1": "REAL", "pa_f1": "REAL", "metrics": "TEXT",
                 "fit_cpu_seconds": "REAL"}
"""Nullable columns added to the first schema; :class:`ResultStore` adds the missing ones to an
older file, :func:`load_results` reads them as NULL where a file lacks them."""


def _row(job: Job, outcome: Outcome) -> tuple:
    values = {"run_key": job.key, "detector": job.detector, "params": job.params_json,
              "dataset": job.dataset, "seed": job.seed, "setting": job.setting,
              "labeled_ratio": job.labeled_ratio, "status": outcome.status,
              "auc_roc": outcome.auc_roc, "auc_pr": outcome.auc_pr,
              "precision_at_n": outcome.precision_at_n, "fit_seconds": outcome.fit_seconds,
              "score_seconds": outcome.score_seconds, "peak_memory_mb": outcome.peak_memory_mb,
              "error": outcome.error, "host": outcome.host, "started_at": outcome.started_at,
              "finished_at": outcome.finished_at, "best_f1": outcome.best_f1,
              "range_f1": outcome.range_f1, "pa_f1": outcome.pa_f1,
              "metrics": json.dumps(outcome.metrics, sort_keys=True) if outcome.metrics
              else None, "fit_cpu_seconds": outcome.fit_cpu_seconds}
    for name, column in VERSION_COLUMNS.items():
        values[column] = outcome.versions.get(name)
    return tuple(values[c] for c in COLUMNS)


class ResultStore:
    """Read and write the results of one benchmark database.

    Parameters
    ----------
    path : str or Path
        The SQLite file; created (with its folder) when missing.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(SCHEMA)
            self._check_version()
            self._add_columns()
        except sqlite3.DatabaseError as error:
            self._db.close()
            msg = f"{self.path} is not a deepad benchmark database ({error})."
            raise ValueError(msg) from error

    def _check_version(self) -> None:
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                             (str(SCHEMA_VERSION),))
        found = self._db.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        if found != str(SCHEMA_VERSION):
            msg = (f"{self.path} has result schema version {found}; this deepad writes "
                   f"version {SCHEMA_VERSION}. Use a new --db file.")
            raise ValueError(msg)

    def _add_columns(self) -> None:
        """Add the :data:`ADDED_COLUMNS` an older file lacks (nullable: rows are unchanged)."""
        present = _columns(self._db)
        with self._db:
            for name, kind in ADDED_COLUMNS.items():
                if name not in present:
                    self._db.execute(f"ALTER TABLE results ADD COLUMN {name} {kind}")

    def statuses(self) -> dict[str, str]:
        """``{run_key: status}`` of every stored job."""
        return dict(self._db.execute("SELECT run_key, status FROM results"))

    def write(self, job: Job, outcome: Outcome) -> None:
        """Store the outcome of ``job`` (replacing an earlier row of the same key) and commit."""
        marks = ", ".join("?" for _ in COLUMNS)
        with self._db:
            self._db.execute(f"INSERT OR REPLACE INTO results ({', '.join(COLUMNS)}) "
                             f"VALUES ({marks})", _row(job, outcome))

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def _columns(connection: sqlite3.Connection) -> set[str]:
    return {row[1] for row in connection.execute("PRAGMA table_info(results)")}


def _read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        msg = f"No benchmark database at {path}."
        raise FileNotFoundError(msg)
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def stored_statuses(db: str | Path) -> dict[str, str]:
    """``{run_key: status}`` of a database, read-only; empty when the file does not exist."""
    path = Path(db)
    if not path.is_file():
        return {}
    connection = _read_only(path)
    try:
        return dict(connection.execute("SELECT run_key, status FROM results"))
    except sqlite3.DatabaseError as error:
        msg = f"{path} is not a deepad benchmark database ({error})."
        raise ValueError(msg) from error
    finally:
        connection.close()


def load_results(db: str | Path) -> pd.DataFrame:
    """Every stored job as a DataFrame, one row per run key, columns as in the table
    ``results`` (:data:`COLUMNS`); ``started_at`` / ``finished_at`` as UTC timestamps. The
    ``metrics`` column holds JSON text (None for tabular jobs).

    The file is opened read-only, so a report can be written while a run goes on.
    """
    import pandas as pd

    connection = _read_only(Path(db))
    try:
        present = _columns(connection)
        wanted = [c for c in COLUMNS if c in present or c not in ADDED_COLUMNS]
        frame = pd.read_sql_query(
            f"SELECT {', '.join(wanted)} FROM results ORDER BY rowid", connection)
    finally:
        connection.close()
    for column in ADDED_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame = frame[list(COLUMNS)]
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame
