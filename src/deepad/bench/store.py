"""The result store: one SQLite file, one row per finished job, committed as each job ends.

The file is in WAL mode and every row is its own transaction, so killing the runner at any
moment loses at most the jobs in flight; ``run_key`` is UNIQUE, so a job has at most one row
(``--retry-failed`` replaces a failure's row). Only the supervisor process writes; readers
(:func:`load_results`, a report writer) may read while a run is going on.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from deepad.bench.jobs import STATUSES, UNRECORDED, Job, Outcome

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 2
"""1: the first schema (series F1s in their own columns, no code identity); 2: protocol
metrics in the JSON ``metrics`` column, ``slot``, ``resolved_params``, ``code_version`` and
``detector_code``. :class:`ResultStore` migrates a version 1 file in place."""
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
    metrics         TEXT,
    fit_cpu_seconds REAL,
    slot            TEXT,
    resolved_params TEXT,
    code_version    TEXT,
    detector_code   TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

COLUMNS = ("run_key", "detector", "params", "dataset", "seed", "setting", "labeled_ratio",
           "status", "auc_roc", "auc_pr", "precision_at_n", "fit_seconds", "score_seconds",
           "peak_memory_mb", "error", *VERSION_COLUMNS.values(), "host", "started_at",
           "finished_at", "metrics", "fit_cpu_seconds", "slot", "resolved_params",
           "code_version", "detector_code")

ADDED_COLUMNS = {"metrics": "TEXT", "fit_cpu_seconds": "REAL", "slot": "TEXT",
                 "resolved_params": "TEXT", "code_version": "TEXT", "detector_code": "TEXT"}
"""Nullable columns added to the first schema; :class:`ResultStore` adds the missing ones to an
older file, :func:`load_results` reads them as NULL where a file lacks them (``slot`` as the
run key and the identities as ``unrecorded``)."""

LEGACY_METRIC_COLUMNS = ("best_f1", "range_f1", "pa_f1")
"""Version 1 columns of series metrics; migrated into the JSON ``metrics`` column."""


def _row(job: Job, outcome: Outcome) -> tuple:
    values = {"run_key": job.key, "detector": job.detector, "params": job.params_json,
              "dataset": job.dataset, "seed": job.seed, "setting": job.setting,
              "labeled_ratio": job.labeled_ratio, "status": outcome.status,
              "auc_roc": outcome.auc_roc, "auc_pr": outcome.auc_pr,
              "precision_at_n": outcome.precision_at_n, "fit_seconds": outcome.fit_seconds,
              "score_seconds": outcome.score_seconds, "peak_memory_mb": outcome.peak_memory_mb,
              "error": outcome.error, "host": outcome.host, "started_at": outcome.started_at,
              "finished_at": outcome.finished_at,
              "metrics": json.dumps(outcome.metrics, sort_keys=True) if outcome.metrics
              else None, "fit_cpu_seconds": outcome.fit_cpu_seconds, "slot": job.slot,
              "resolved_params": job.resolved_json,
              "code_version": outcome.code.get("version"),
              "detector_code": outcome.code.get("detector")}
    for name, column in VERSION_COLUMNS.items():
        values[column] = outcome.versions.get(name)
    return tuple(values[c] for c in COLUMNS)


@dataclass(frozen=True)
class StoredRow:
    """What the runner needs to know of a stored row."""

    run_key: str
    slot: str
    status: str
    detector: str
    setting: str
    detector_code: str | None
    resolved: bool


class ResultStore:
    """Read and write the results of one benchmark database.

    Parameters
    ----------
    path : str or Path
        The SQLite file; created (with its folder) when missing. A file of schema version 1
        is migrated in place (:meth:`migrate`).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            existed = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='results'"
            ).fetchone() is not None
            self._db.executescript(SCHEMA)
            self._check_version(existed)
        except sqlite3.DatabaseError as error:
            self._db.close()
            msg = f"{self.path} is not a deepad benchmark database ({error})."
            raise ValueError(msg) from error

    def _check_version(self, existed: bool) -> None:
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                             ("1" if existed else str(SCHEMA_VERSION),))
        found = self._db.execute(
            "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        if found == "1":
            self.migrate()
        elif found != str(SCHEMA_VERSION):
            msg = (f"{self.path} has result schema version {found}; this deepad writes "
                   f"version {SCHEMA_VERSION}. Use a new --db file.")
            raise ValueError(msg)

    def migrate(self) -> None:
        """Migrate a version 1 file to version 2 in one transaction, keeping every row:
        add the missing columns, move the series F1 columns into the JSON ``metrics``,
        set ``slot`` to the run key (version 1 keys hash the given parameters, as slots do)
        and the code identity to ``unrecorded`` (so the rows count as stale)."""
        present = _columns(self._db)
        with self._db:
            for name, kind in ADDED_COLUMNS.items():
                if name not in present:
                    self._db.execute(f"ALTER TABLE results ADD COLUMN {name} {kind}")
            legacy = [c for c in LEGACY_METRIC_COLUMNS if c in present]
            if legacy:
                rows = self._db.execute(
                    f"SELECT run_key, metrics, {', '.join(legacy)} FROM results").fetchall()
                for key, text, *values in rows:
                    found = {c: v for c, v in zip(legacy, values, strict=True) if v is not None}
                    if found:
                        merged = {**(json.loads(text) if text else {}), **found}
                        self._db.execute("UPDATE results SET metrics = ? WHERE run_key = ?",
                                         (json.dumps(merged, sort_keys=True), key))
                for column in legacy:
                    self._db.execute(f"ALTER TABLE results DROP COLUMN {column}")
            self._db.execute("UPDATE results SET slot = run_key WHERE slot IS NULL")
            for column in ("code_version", "detector_code"):
                self._db.execute(f"UPDATE results SET {column} = ? WHERE {column} IS NULL",
                                 (UNRECORDED,))
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                             (str(SCHEMA_VERSION),))

    def statuses(self) -> dict[str, str]:
        """``{run_key: status}`` of every stored job."""
        return dict(self._db.execute("SELECT run_key, status FROM results"))

    def rows(self) -> list[StoredRow]:
        """Every stored row, as the runner sees it."""
        return [StoredRow(k, s or k, st, d, se, c, r is not None) for k, s, st, d, se, c, r in
                self._db.execute("SELECT run_key, slot, status, detector, setting, "
                                 "detector_code, resolved_params FROM results")]

    def write(self, job: Job, outcome: Outcome) -> None:
        """Store the outcome of ``job`` and commit: it replaces an earlier row of the same
        key, and any row of the same slot (the job as given, run with other resolved
        hyperparameters or before they were recorded)."""
        marks = ", ".join("?" for _ in COLUMNS)
        with self._db:
            self._db.execute("DELETE FROM results WHERE (slot = ? OR run_key = ?) "
                             "AND run_key != ?", (job.slot, job.slot, job.key))
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
    return {row.run_key: row.status for row in stored_rows(db)}


def stored_rows(db: str | Path) -> list[StoredRow]:
    """:meth:`ResultStore.rows` of a database, read-only (a version 1 file read as its
    migration would leave it); empty when the file does not exist."""
    path = Path(db)
    if not path.is_file():
        return []
    connection = _read_only(path)
    try:
        present = _columns(connection)
        if "detector_code" in present:
            query = ("SELECT run_key, slot, status, detector, setting, detector_code, "
                     "resolved_params FROM results")
        else:
            query = ("SELECT run_key, run_key, status, detector, setting, NULL, NULL "
                     "FROM results")
        return [StoredRow(k, s or k, st, d, se, c, r is not None)
                for k, s, st, d, se, c, r in connection.execute(query)]
    except sqlite3.DatabaseError as error:
        msg = f"{path} is not a deepad benchmark database ({error})."
        raise ValueError(msg) from error
    finally:
        connection.close()


def load_results(db: str | Path) -> pd.DataFrame:
    """Every stored job as a DataFrame, one row per run key: the columns of the table
    ``results`` (:data:`COLUMNS`), then one column per protocol metric found in the JSON
    ``metrics`` column (``best_f1``, ``range_f1``, ... for series jobs; NaN where a row lacks
    it). ``started_at`` / ``finished_at`` are UTC timestamps; ``metrics`` stays JSON text.

    The file is opened read-only, so a report can be written while a run goes on; a version 1
    file is read as its migration would leave it (:meth:`ResultStore.migrate`).
    """
    import pandas as pd

    connection = _read_only(Path(db))
    try:
        present = _columns(connection)
        wanted = [c for c in (*COLUMNS, *LEGACY_METRIC_COLUMNS)
                  if c in present or c not in (*ADDED_COLUMNS, *LEGACY_METRIC_COLUMNS)]
        frame = pd.read_sql_query(
            f"SELECT {', '.join(wanted)} FROM results ORDER BY rowid", connection)
    finally:
        connection.close()
    for column in ADDED_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["slot"] = frame["slot"].where(frame["slot"].notna(), frame["run_key"])
    for column in ("code_version", "detector_code"):
        if column not in present:
            frame[column] = UNRECORDED
    metrics = [_metrics(text, row) for text, row in zip(
        frame["metrics"], frame.reindex(columns=list(LEGACY_METRIC_COLUMNS)).to_dict("records"),
        strict=True)]
    frame["metrics"] = [json.dumps(m, sort_keys=True) if m else None for m in metrics]
    frame = frame[list(COLUMNS)]
    names = sorted({k for m in metrics for k, v in m.items()
                    if isinstance(v, int | float | str) and k not in frame.columns})
    if names:
        extra = pd.DataFrame([{k: m.get(k) for k in names} for m in metrics],
                             index=frame.index, columns=names)
        frame = pd.concat([frame, extra], axis=1)
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
    return frame


def _metrics(text: str | None, legacy: dict) -> dict:
    """The JSON metrics of a row, with the version 1 F1 columns merged in."""
    values = json.loads(text) if isinstance(text, str) and text else {}
    for name, value in legacy.items():
        if value is not None and value == value:  # not NaN
            values.setdefault(name, float(value))
    return values
