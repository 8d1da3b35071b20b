"""A user's own table as a benchmark dataset: ``deepad bench --datasets file.csv``.

A CSV (or Parquet) file with a label column (``--label-column``, default ``"label"``: 1 =
anomaly, 0 = normal) and numeric feature columns is checked here, in the supervisor, and
written once as an ADBench-style ``.npz`` (arrays ``X`` and ``y``) into a folder beside the
result store (``deepad-bench.db`` → ``deepad-bench.datasets/``). The jobs then read that file
as they read any ADBench set, split by the same protocol; the dataset's name is the file's
stem. Bad tables fail before any job starts, with the reason: no label column, labels other
than 0/1, non-numeric or missing values, or an index column written by pandas.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

TABLE_SUFFIXES = (".csv", ".parquet")
DEFAULT_LABEL_COLUMN = "label"


def is_table_path(name: str) -> bool:
    """Whether a ``--datasets`` entry names a table file (``.csv`` / ``.parquet``)."""
    return Path(str(name).strip()).suffix.lower() in TABLE_SUFFIXES


def tables_folder(db: str | Path) -> Path:
    """Where the tables of the benchmark stored in ``db`` are written as ``.npz``."""
    db = Path(db)
    return db.with_name(f"{db.stem}.datasets")


def table_dataset(path: str | Path, label_column: str, folder: str | Path) -> Path:
    """Check the table ``path`` and write it as ``folder/<stem>.npz``; return that path.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        The table cannot be benchmarked: unreadable, no column ``label_column`` (the message
        lists the columns and names ``--label-column``), labels other than 0/1, no anomaly or
        no normal row, non-numeric feature columns, missing values, or an unnamed column
        (a pandas index written with the data).
    """
    from deepad.data.tables import load_table

    path = Path(path)
    try:
        frame, y = load_table(path, label_column=label_column)
    except ValueError as error:
        if f"no column {label_column!r}" in str(error):
            msg = (f"{error} deepad bench reads the labels (1 = anomaly, 0 = normal) from the "
                   "column --label-column names (default 'label').")
            raise ValueError(msg) from error
        raise
    unnamed = [str(c) for c in frame.columns if str(c).startswith("Unnamed:")]
    if unnamed:
        msg = (f"{path} has unnamed column(s) {unnamed}: a pandas index written with the data "
               "(to_csv without index=False). An index would be scored as a feature; write "
               "the file again without it, or drop the column.")
        raise ValueError(msg)
    numeric = frame.select_dtypes(include="number")
    other = [str(c) for c in frame.columns if c not in numeric.columns]
    if other:
        msg = (f"{path} has non-numeric column(s) {other[:10]}; the benchmark's detectors take "
               "numeric features. Encode them first (deepad run --categorical onehot shows "
               "one way) or drop them.")
        raise ValueError(msg)
    X = numeric.to_numpy(dtype=np.float64)
    missing = ~np.isfinite(X)
    if missing.any():
        columns = [str(c) for c in frame.columns[missing.any(axis=0)]]
        msg = (f"{path} has {int(missing.sum())} missing or infinite value(s), in column(s) "
               f"{columns[:10]}; fill or drop them before benchmarking.")
        raise ValueError(msg)
    if y is None or not (y == 1).any() or not (y == 0).any():
        kind = "no anomaly (1)" if y is not None and not (y == 1).any() else "no normal row (0)"
        msg = (f"column {label_column!r} of {path} has {kind}; AUC needs both kinds of row.")
        raise ValueError(msg)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{path.stem}.npz"
    np.savez(out, X=X, y=y.astype(np.int64))
    return out.resolve()
