"""What ``deepad run`` reads as a table: the file or dataset, its columns, and the checks that
stop a silent wrong result.

- ``DATA`` is a ``.csv`` / ``.parquet`` / ``.npz`` file, or the name of a dataset that
  ``deepad datasets`` lists (an ADBench table, e.g. ``cardio``);
- ``--label-column`` / ``--id-column`` / ``--ignore-columns`` take columns out of the
  features (the id is carried into the scores CSV);
- a column that looks like a saved row index (``Unnamed: 0``, or the integers 0..n-1) or is
  named like a label while no label column was given is used as a feature, with a warning
  saying how to leave it out;
- errors speak the command line (``--categorical onehot``, ``--ignore-columns COL``).

The preprocessing itself (column order, encoding, scaling) is the model's:
:class:`deepad.tabular.TableDetector`, saved with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from deepad.data.encoding import categorical_columns
from deepad.data.tables import SUPPORTED_SUFFIXES

LABEL_LIKE = frozenset({
    "label", "labels", "target", "class", "y", "is_anomaly", "anomaly", "anomalous",
    "is_outlier", "outlier", "outliers", "is_fraud", "fraud", "is_attack", "attack",
    "ground_truth", "groundtruth", "gt", "is_anomalous", "anomaly_label",
})
"""Column names (lower case, spaces and dashes read as ``_``) that usually hold labels."""

_UNNAMED = re.compile(r"^(Unnamed: \d+|index|level_0|)$")
SCORE_COLUMNS = ("row", "score", "is_anomaly", "label", "revealed")
"""The columns ``deepad run`` writes to its scores CSV (an id column may not reuse them)."""


@dataclass
class TableInput:
    """A table read for ``deepad run``: its features, labels, ids and where it came from."""

    features: pd.DataFrame
    y: np.ndarray | None
    name: str
    description: str
    ids: pd.Series | None = None
    not_features: list[str] = field(default_factory=list)
    """Columns of the raw table that are not features (label, id, ignored)."""


def split_names(values: list[str] | None) -> list[str]:
    """``--ignore-columns a,b --ignore-columns c`` → ``["a", "b", "c"]``."""
    names: list[str] = []
    for value in values or []:
        names.extend(part.strip() for part in value.split(",") if part.strip())
    return names


def read_input(data: Path | None, *, label_column: str | None, id_column: str | None,
               ignore_columns: list[str], warn: Callable[[str], None]) -> TableInput:
    """Read ``DATA`` (a file, a dataset name, or None: the built-in data) for ``deepad run``.

    ``warn`` receives one line per suspicious column (index-like, label-like). Raises
    ``ValueError`` / ``FileNotFoundError`` in the words of the command line.
    """
    if data is None:
        given = [option for option, value in (("--label-column", label_column),
                                               ("--id-column", id_column),
                                               ("--ignore-columns", ignore_columns)) if value]
        if given:
            msg = (f"{' / '.join(given)} needs a DATA file; the built-in dataset has its own "
                   "labels and columns.")
            raise ValueError(msg)
        from deepad.data.builtin import DEFAULT_DATASET, load_default_dataset

        X, y, description = load_default_dataset()
        return TableInput(X, y, DEFAULT_DATASET, description)
    if not data.exists() and data.suffix.lower() not in SUPPORTED_SUFFIXES:
        return _read_dataset(str(data), label_column=label_column, id_column=id_column,
                             ignore_columns=ignore_columns)
    from deepad.data.tables import load_table

    frame, y = load_table(data, label_column)
    table = _take_columns(frame, y, name=data.name, description=str(data),
                          label_column=label_column, id_column=id_column,
                          ignore_columns=ignore_columns)
    for line in suspicious_columns(table.features, label_given=label_column is not None):
        warn(line)
    return table


def _take_columns(frame: pd.DataFrame, y: np.ndarray | None, *, name: str, description: str,
                  label_column: str | None, id_column: str | None,
                  ignore_columns: list[str]) -> TableInput:
    columns = [str(c) for c in frame.columns]
    frame = frame.set_axis(columns, axis=1)
    for option, wanted in (("--id-column", [id_column] if id_column else []),
                           ("--ignore-columns", ignore_columns)):
        unknown = [c for c in wanted if c not in columns]
        if unknown:
            shown = ", ".join(repr(c) for c in columns[:30])
            more = f" ... ({len(columns)} in all)" if len(columns) > 30 else ""
            msg = (f"{option}: {description} has no column {', '.join(map(repr, unknown))}; "
                   f"its columns: {shown}{more}.")
            raise ValueError(msg)
    if id_column is not None and id_column in ignore_columns:
        msg = f"--id-column {id_column} is also in --ignore-columns; give it once."
        raise ValueError(msg)
    if id_column in SCORE_COLUMNS:
        msg = (f"--id-column {id_column}: the scores CSV has its own column {id_column!r}; "
               "rename the id column.")
        raise ValueError(msg)
    ids = frame[id_column] if id_column is not None else None
    removed = [c for c in (id_column, *ignore_columns) if c is not None]
    features = frame.drop(columns=removed)
    if features.shape[1] == 0:
        msg = f"{description}: no feature column is left once {removed} are set aside."
        raise ValueError(msg)
    not_features = [c for c in (label_column, *removed) if c is not None]
    return TableInput(features, y, name, description, ids, not_features)


def _read_dataset(name: str, *, label_column: str | None, id_column: str | None,
                  ignore_columns: list[str]) -> TableInput:
    """A dataset of ``deepad datasets`` by name (ADBench tables; series are refused)."""
    from deepad.data.adbench import missing_data_dirs
    from deepad.data.catalog import local_datasets

    entries = local_datasets()
    wanted = name.lower()
    found = [e for e in entries if e.name.lower() == wanted
             or (e.source == "adbench" and e.name.lower().split("_", 1)[-1] == wanted)]
    if not found:
        missing = missing_data_dirs()
        where = (f" ($DEEPAD_DATA_DIR names {', '.join(map(str, missing))}, which does not "
                 "exist)" if missing else "")
        tables = sorted(e.name for e in entries if e.source == "adbench")
        hint = (f" Tables found: {', '.join(tables[:15])}{' ...' if len(tables) > 15 else ''}."
                if tables else "")
        msg = (f"{name}: no such file, and no dataset of that name in `deepad datasets`"
               f"{where}.{hint} DATA is a .csv, .parquet or .npz file or a dataset name.")
        raise FileNotFoundError(msg)
    entry = found[0]
    if entry.source != "adbench":
        msg = (f"{name} is a {entry.source} {'image set' if entry.source == 'mnist' else 'series'}"
               ", not a table; deepad run reads it with its own options (see deepad run "
               "--help) or from Python (deepad.data).")
        raise ValueError(msg)
    if label_column is not None:
        msg = f"--label-column does not apply to the dataset {entry.name}: it has its own labels."
        raise ValueError(msg)
    from deepad.data.adbench import load_adbench

    X, y = load_adbench(entry.path, download=False)
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    description = (f"{entry.name} ({entry.source}, {entry.path}): {len(y)} rows, "
                   f"{int(y.sum())} anomalies")
    return _take_columns(frame, y, name=entry.name, description=description, label_column=None,
                         id_column=id_column, ignore_columns=ignore_columns)


def suspicious_columns(features: pd.DataFrame, *, label_given: bool) -> list[str]:
    """One warning line per feature column that looks like a saved row index (named
    ``Unnamed: 0`` / ``index`` / empty, or holding the integers 0..n-1 or 1..n in order), and,
    when no label column was given, per column named like a label (:data:`LABEL_LIKE`)."""
    lines = []
    n = len(features)
    for column in features.columns:
        name = str(column)
        values = features[column]
        sequence = (pd.api.types.is_integer_dtype(values.dtype) and n > 1
                    and (np.array_equal(values.to_numpy(), np.arange(n))
                         or np.array_equal(values.to_numpy(), np.arange(1, n + 1))))
        if _UNNAMED.match(name) or sequence:
            why = "unnamed" if _UNNAMED.match(name) else "holds the row numbers"
            lines.append(
                f"column {name!r} looks like a saved row index ({why}) and is used as a "
                f"feature: rows in file order can leak the labels. Leave it out with "
                f"--ignore-columns {_quoted(name)} or keep it as --id-column {_quoted(name)}.")
        elif not label_given and _normal_name(name) in LABEL_LIKE:
            lines.append(
                f"column {name!r} is named like a label and is used as a feature; if it holds "
                f"labels, pass --label-column {_quoted(name)} (or --ignore-columns "
                f"{_quoted(name)}).")
    return lines


def categorical_problem(features: pd.DataFrame, *, detector: str, reads_categories: bool,
                        categorical: str) -> str | None:
    """The command-line error for the non-numeric columns of ``features``, or None.

    A numeric detector with ``--categorical error`` (the default) refuses categorical
    columns; a detector of categories refuses non-integral numbers (they are not categories).
    """
    cats = categorical_columns(features)
    if cats and categorical == "error":
        shown = ", ".join(f"{c!r} ({features[c].dtype})" for c in cats[:10])
        more = f" ... ({len(cats)} in all)" if len(cats) > 10 else ""
        first = _quoted(str(cats[0]))
        return (f"non-numeric column(s) {shown}{more}: {detector} needs numbers. Pass "
                "--categorical onehot (one 0/1 column per category) or --categorical ordinal "
                f"(one integer code per category), or leave them out with --ignore-columns "
                f"{first}.")
    if reads_categories:
        floats = [c for c in features.columns if c not in cats
                  and pd.api.types.is_float_dtype(features[c].dtype)
                  and not _integral(features[c].to_numpy())]
        if floats:
            shown = ", ".join(repr(str(c)) for c in floats[:10])
            return (f"{detector} reads categories, and column(s) {shown} hold non-integral "
                    "numbers: bin them into categories first, or leave them out with "
                    f"--ignore-columns {_quoted(','.join(str(c) for c in floats))}.")
    return None


def _integral(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return bool((finite == np.round(finite)).all())


def _normal_name(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _quoted(name: str) -> str:
    return name if re.fullmatch(r"[\w.,:-]+", name) else f"'{name}'"
