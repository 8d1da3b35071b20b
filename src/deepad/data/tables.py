"""Read a user's table (CSV, Parquet or ``.npz``) into features and optional 0/1 labels.

numpy / pandas only. By default nothing is coerced: non-numeric feature columns and NaN
values are returned as they are, and the detector's input validation reports them. With
``categorical="onehot"`` or ``"ordinal"`` the non-numeric columns are encoded
(:func:`deepad.data.encoding.encode_categorical`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from deepad.data.encoding import CATEGORICAL_CHOICES, encode_categorical

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".npz")

__all__ = ["SUPPORTED_SUFFIXES", "load_table"]


def load_table(path: str | Path, label_column: str | None = None,
               categorical: str | None = None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Features and labels of a table file.

    Parameters
    ----------
    path : str or Path
        ``.csv`` (comma-separated, read with pandas), ``.parquet`` (pandas with pyarrow, a
        dependency) or ``.npz`` (array ``X`` of shape (n_samples, n_features) and
        optional ``y``; read with ``allow_pickle=False``, columns named ``f0`` … ``f{d-1}``).
    label_column : str, optional
        CSV / Parquet: the column holding labels (1 = anomaly, 0 = normal); it is removed
        from the features. ``.npz`` files carry their labels in the array ``y``.
    categorical : {None, "error", "onehot", "ordinal"}, optional
        What to do with non-numeric feature columns (object, string, category, bool).
        None (default): return them unchanged. ``"error"``: raise a ``ValueError`` naming
        them. ``"onehot"`` / ``"ordinal"``: encode them with
        :func:`~deepad.data.encoding.encode_categorical` (each replaced at its place; numeric
        columns unchanged). To encode other data the same way, load it with
        ``categorical=None`` and call ``encode_categorical`` yourself, keeping the encoding.

    Returns
    -------
    X : DataFrame
        Feature columns: unchanged with ``categorical=None`` (non-numeric columns and NaN are
        kept), else with the non-numeric columns encoded (NaN in numeric columns is kept).
    y : ndarray of int64, or None
        Labels when ``label_column`` is given (or the ``.npz`` file has ``y``).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Unknown extension, unreadable file, missing label column, labels other than 0/1, no
        feature column left, an unknown ``categorical``, non-numeric columns with
        ``categorical="error"``, or missing values in a column to encode.
    ImportError
        A Parquet file without pyarrow installed.
    """
    if categorical is not None and categorical not in CATEGORICAL_CHOICES:
        msg = (f"categorical must be None or one of {CATEGORICAL_CHOICES}; got "
               f"{categorical!r}.")
        raise ValueError(msg)
    frame, y = _read_table(Path(path), label_column)
    if categorical is not None:
        try:
            frame, _ = encode_categorical(frame, categorical)
        except ValueError as error:
            msg = f"{path}: {error}"
            raise ValueError(msg) from error
    return frame, y


def _read_table(path: Path,
                label_column: str | None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Features (unchanged) and labels of a table file; see :func:`load_table`."""
    if not path.exists():
        msg = f"No such file: {path}"
        raise FileNotFoundError(msg)
    if not path.is_file():
        msg = f"{path} is not a file; expected a {', '.join(SUPPORTED_SUFFIXES)} table."
        raise ValueError(msg)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path, label_column)
    if suffix == ".csv":
        frame = _read_csv(path)
    elif suffix == ".parquet":
        frame = _read_parquet(path)
    else:
        msg = (f"{path} has the unknown extension {path.suffix!r}; deepad reads "
               f"{', '.join(SUPPORTED_SUFFIXES)} files.")
        raise ValueError(msg)
    y = None
    if label_column is not None:
        if label_column not in frame.columns:
            available = ", ".join(repr(str(c)) for c in frame.columns[:30])
            more = f" ... ({len(frame.columns)} in all)" if len(frame.columns) > 30 else ""
            msg = (f"{path} has no column {label_column!r}; available columns: "
                   f"{available}{more}.")
            raise ValueError(msg)
        y = _check_labels(frame[label_column].to_numpy(), f"column {label_column!r} of {path}")
        frame = frame.drop(columns=[label_column])
    if frame.shape[1] == 0:
        msg = f"{path} has no feature column" + (
            f" besides the label column {label_column!r}." if label_column is not None else ".")
        raise ValueError(msg)
    return frame, y


def _read_csv(path: Path) -> pd.DataFrame:
    """A comma-separated file as a DataFrame; an empty file, a header without rows and a file
    separated by another character each get their own message."""
    empty = (f"{path} is empty: a CSV needs a header line with the column names, then one "
             "line per row.")
    if path.stat().st_size == 0:
        raise ValueError(empty)
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError as error:  # only blank lines
        raise ValueError(empty) from error
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        hint = _separator_hint(path)
        msg = hint or f"{path} could not be read as CSV ({error})."
        raise ValueError(msg) from error
    if frame.shape[1] == 1:
        hint = _separator_hint(path)
        if hint:
            raise ValueError(hint)
    if len(frame) == 0:
        msg = (f"{path} has a header ({frame.shape[1]} column(s): "
               f"{', '.join(repr(str(c)) for c in frame.columns[:10])}) but no rows.")
        raise ValueError(msg)
    return frame


_SEPARATORS = ((";", "semicolon"), ("\t", "tab"), ("|", "pipe"))


def _separator_hint(path: Path) -> str | None:
    """The message for a file whose header is split by ``;``, a tab or ``|``, not commas."""
    try:
        with path.open(encoding="utf-8", errors="replace") as file:
            header = file.readline().strip()
    except OSError:
        return None
    for sep, name in _SEPARATORS:
        if header.count(sep) > header.count(","):
            shown = header if len(header) <= 60 else header[:57] + "..."
            decimal = ', decimal=","' if sep == ";" else ""
            return (f"{path} looks {name}-separated (header {shown!r}); deepad reads "
                    "comma-separated CSV. Convert it first, e.g. in Python: "
                    f"pandas.read_csv(path, sep={sep!r}{decimal}).to_csv('data.csv', "
                    "index=False).")
    return None


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow  # noqa: F401
    except ImportError as error:
        msg = ("Reading Parquet files needs pyarrow, a dependency of deepad that is missing "
               "here: pip install pyarrow.")
        raise ImportError(msg) from error
    try:
        return pd.read_parquet(path, engine="pyarrow")
    except (OSError, ValueError) as error:
        msg = f"{path} could not be read as Parquet ({error})."
        raise ValueError(msg) from error


def _load_npz(path: Path, label_column: str | None) -> tuple[pd.DataFrame, np.ndarray | None]:
    if label_column not in (None, "y"):
        msg = (f"--label-column / label_column={label_column!r} does not apply to {path}: "
               ".npz files carry their labels in the array 'y'.")
        raise ValueError(msg)
    try:
        with np.load(path, allow_pickle=False) as data:
            names = list(data.files)
            X = data["X"] if "X" in names else None
            y = data["y"] if "y" in names else None
    except (OSError, EOFError, ValueError) as error:
        # ValueError includes object arrays, refused because reading them needs pickle
        msg = f"{path} could not be read safely as a .npz archive of numeric arrays ({error})."
        raise ValueError(msg) from error
    if X is None:
        msg = f"{path} has no array 'X' (arrays: {names}); expected X and optionally y."
        raise ValueError(msg)
    if X.ndim != 2:
        msg = (f"{path}: array 'X' has shape {X.shape}; a table needs 2-D "
               "(n_samples, n_features).")
        raise ValueError(msg)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    if y is None:
        return frame, None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != len(X):
        msg = (f"{path}: array 'y' has shape {y.shape}; expected ({len(X)},), one label per "
               "row of X.")
        raise ValueError(msg)
    return frame, _check_labels(y, f"array 'y' of {path}")


def _check_labels(values: np.ndarray, where: str) -> np.ndarray:
    """int64 labels from ``values`` if every value is 0 or 1 (bool, int or float)."""
    values = np.asarray(values)
    if values.dtype.kind == "b":
        return values.astype(np.int64)
    if values.dtype.kind in "iuf":
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            n_bad = int((~np.isfinite(values)).sum())
            msg = (f"Labels in {where} contain {n_bad} missing or infinite value(s); expected "
                   "0 and 1.")
            raise ValueError(msg)
        found = np.unique(values).tolist()
        if set(found) <= {0, 1}:
            return values.astype(np.int64)
    else:
        found = pd.unique(pd.Series(values, dtype=object).astype(str)).tolist()
    shown = ", ".join(repr(v) for v in found[:10])
    msg = (f"Labels in {where} must be 0 (normal) or 1 (anomaly); found {shown}"
           f"{' ...' if len(found) > 10 else ''}.")
    raise ValueError(msg)
