"""Time-series anomaly detection datasets: NAB, NASA SMAP / MSL, the UCR 2021 archive, SMD.

Every loader returns a :class:`SeriesDataset`: a training series, a test series, one 0/1
label per timestamp for each (1 = anomaly) and a JSON-serialisable ``meta`` dictionary.
numpy / pandas only.

Where the data is looked up
---------------------------
Each loader takes an optional ``root``. When it is None, the folders of
:func:`deepad.data.adbench.data_dirs` (the ``DEEPAD_DATA_DIR`` entries, then
``~/.cache/deepad``) are searched; a given ``root`` is searched the same way. A folder
matches when it holds the source's own layout, checked in the folder itself and up to
``MAX_DEPTH`` levels below it (hidden folders skipped), never by a recursive walk of
everything:

=========  ================================================================================
source     layout of the matching folder
=========  ================================================================================
NAB        ``labels/combined_windows.json`` and ``data/<category>/<series>.csv``
SMAP/MSL   ``labeled_anomalies.csv``, ``train/<chan>.npy`` and ``test/<chan>.npy``
UCR        files named ``<id>_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt``
SMD        ``train/<machine>.txt``, ``test/<machine>.txt`` and ``test_label/<machine>.txt``
=========  ================================================================================

When several folders match, the first one holding the requested series is used.

Training labels
---------------
``y_train`` is honest about what is known. NAB and UCR label every timestamp, so their
training labels are the true labels (NAB's probationary period can contain anomalies).
SMAP / MSL and SMD publish no training labels; their training series are treated as normal by
convention, ``y_train`` is all zeros and ``meta["train_labelled"]`` is False.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from deepad.data.adbench import data_dirs

__all__ = [
    "MAX_DEPTH",
    "SeriesDataset",
    "load_nab",
    "load_smap_msl",
    "load_smd",
    "load_ucr",
    "nab_series",
    "smap_msl_channels",
    "smd_machines",
    "ucr_series",
]

MAX_DEPTH = 3
"""How many folder levels below each searched folder a dataset layout is looked for."""

UCR_PATTERN = re.compile(
    r"^(?P<id>\d+)_UCR_Anomaly_(?P<name>.+)_(?P<train_end>\d+)_(?P<begin>\d+)_(?P<end>\d+)"
    r"\.txt$")
SMAP_MSL_COLUMNS = ("chan_id", "spacecraft", "anomaly_sequences", "class", "num_values")


# ---------------------------------------------------------------------------- dataset
@dataclass(frozen=True, eq=False, repr=False)
class SeriesDataset:
    """One time series split into a training part and a test part, with point labels.

    Parameters
    ----------
    name : str
        The series' name in its source (``"realKnownCause/nyc_taxi"``, ``"A-1"``, ...).
    train : array-like, shape (T_train, C)
        Training series, stored as float64.
    y_train : array-like of 0/1, shape (T_train,)
        Point labels of the training series (1 = anomaly), stored as int64. All zeros where
        the source publishes no training labels (see ``meta["train_labelled"]``).
    test : array-like, shape (T_test, C)
        Test series, stored as float64, with the same channels as ``train``.
    y_test : array-like of 0/1, shape (T_test,)
        Point labels of the test series, stored as int64.
    meta : dict, optional
        Facts about the series (source, category, channel, label ranges, ...). The loaders
        of this module only put JSON-serialisable values in it. Every loader sets
        ``source``, ``train_labelled``, ``train_anomaly_ranges`` and
        ``test_anomaly_ranges`` (lists of 0-based half-open ``[start, stop)`` runs of
        ``y_train`` / ``y_test``).

    Raises
    ------
    ValueError
        Series not 2-D, non-numeric or not finite, differing channel counts, empty parts,
        labels not 1-D, not 0/1 or not one per timestamp.

    Examples
    --------
    >>> data = SeriesDataset("toy", np.zeros((4, 2)), np.zeros(4), np.ones((3, 2)), [0, 1, 0])
    >>> data.n_channels, data.test.dtype, data.y_test.dtype
    (2, dtype('float64'), dtype('int64'))
    """

    name: str
    train: np.ndarray
    y_train: np.ndarray
    test: np.ndarray
    y_test: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for part in ("train", "test"):
            values = np.asarray(getattr(self, part))
            if values.ndim != 2:
                msg = (f"SeriesDataset {self.name!r}: {part} has shape {values.shape}; "
                       "expected 2-D (timestamps, channels).")
                raise ValueError(msg)
            if values.dtype.kind not in "biuf":
                msg = (f"SeriesDataset {self.name!r}: {part} has dtype {values.dtype}; "
                       "expected numbers.")
                raise ValueError(msg)
            if len(values) == 0:
                msg = f"SeriesDataset {self.name!r}: {part} has no timestamps."
                raise ValueError(msg)
            values = values.astype(np.float64, copy=False)
            if not np.isfinite(values).all():
                n_bad = int((~np.isfinite(values)).sum())
                msg = (f"SeriesDataset {self.name!r}: {part} contains {n_bad} NaN or "
                       "infinite value(s).")
                raise ValueError(msg)
            labels = _as_labels(getattr(self, f"y_{part}"),
                                f"y_{part} of SeriesDataset {self.name!r}")
            if len(labels) != len(values):
                msg = (f"SeriesDataset {self.name!r}: y_{part} has {len(labels)} labels for "
                       f"{len(values)} timestamps of {part}; expected one label per timestamp.")
                raise ValueError(msg)
            object.__setattr__(self, part, values)
            object.__setattr__(self, f"y_{part}", labels)
        if self.train.shape[1] != self.test.shape[1]:
            msg = (f"SeriesDataset {self.name!r}: train has {self.train.shape[1]} channels, "
                   f"test has {self.test.shape[1]}; expected the same channels.")
            raise ValueError(msg)

    @property
    def n_channels(self) -> int:
        """Number of channels ``C`` (columns of ``train`` and ``test``)."""
        return int(self.train.shape[1])

    def __repr__(self) -> str:
        return (f"SeriesDataset(name={self.name!r}, train={self.train.shape}, "
                f"test={self.test.shape}, anomalous points train/test="
                f"{int(self.y_train.sum())}/{int(self.y_test.sum())})")


def _as_labels(values: Any, where: str) -> np.ndarray:
    """int64 0/1 labels from ``values``; ValueError saying what was found otherwise."""
    values = np.asarray(values)
    if values.ndim != 1:
        msg = f"{where} has shape {values.shape}; expected 1-D, one label per timestamp."
        raise ValueError(msg)
    if values.dtype.kind == "b":
        return values.astype(np.int64)
    if values.dtype.kind in "iuf":
        bad = ~np.isin(values, (0, 1))
        if not bad.any():
            return values.astype(np.int64)
        found = np.unique(values[bad]).tolist()[:10]
        msg = f"{where} must hold 0 (normal) or 1 (anomaly); found {found}."
        raise ValueError(msg)
    msg = f"{where} has dtype {values.dtype}; expected 0/1 labels."
    raise ValueError(msg)


def _label_ranges(y: np.ndarray) -> list[list[int]]:
    """0-based half-open ``[start, stop)`` runs of ones in ``y``."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], y, [0]))))
    return edges.reshape(-1, 2).tolist()


def _dataset(name: str, train: np.ndarray, y_train: np.ndarray, test: np.ndarray,
             y_test: np.ndarray, meta: dict[str, Any]) -> SeriesDataset:
    data = SeriesDataset(name, train, y_train, test, y_test, meta)
    meta["train_anomaly_ranges"] = _label_ranges(data.y_train)
    meta["test_anomaly_ranges"] = _label_ranges(data.y_test)
    return data


# ---------------------------------------------------------------------------- lookup
def _walk(base: Path, depth: int) -> Iterator[Path]:
    """``base`` and its non-hidden sub-folders down to ``depth`` levels, breadth first."""
    level = [base]
    for current in range(depth + 1):
        yield from level
        if current == depth:
            return
        below = []
        for folder in level:
            try:
                children = sorted(p for p in folder.iterdir()
                                  if p.is_dir() and not p.name.startswith("."))
            except OSError:  # unreadable folder: nothing below it is searched
                continue
            below.extend(children)
        level = below


def _layout_roots(root: str | Path | None, is_layout: Callable[[Path], bool],
                  source: str, layout: str, hint: str) -> list[Path]:
    """Every folder holding ``source``'s layout, in search order; FileNotFoundError if none."""
    if root is not None:
        bases = [Path(root).expanduser()]
        if not bases[0].is_dir():
            msg = (f"root={str(root)!r} is not a folder; expected the {source} folder holding "
                   f"{layout}.")
            raise FileNotFoundError(msg)
    else:
        bases = [path for path in data_dirs() if path.is_dir()]
    found = [folder for base in bases for folder in _walk(base, MAX_DEPTH) if is_layout(folder)]
    if found:
        return list(dict.fromkeys(found))
    where = (f"in {root} or up to {MAX_DEPTH} levels below it" if root is not None else
             f"in the data folders ({', '.join(str(p) for p in data_dirs())}; set "
             "DEEPAD_DATA_DIR to add one) or up to "
             f"{MAX_DEPTH} levels below them")
    msg = (f"{source} data not found: no folder holding {layout} {where}. {hint} Pass its "
           "folder as root= or point DEEPAD_DATA_DIR to a folder containing it.")
    raise FileNotFoundError(msg)


def _natural_key(text: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def _not_found(source: str, what: str, roots: list[Path], expected: str,
               available: list[str]) -> FileNotFoundError:
    shown = ", ".join(available[:20]) + (f" ... ({len(available)} in all)"
                                         if len(available) > 20 else "")
    msg = (f"{source} {what} not found: expected {expected} in "
           f"{', '.join(str(r) for r in roots)}. Available: {shown or 'none'}. DEEPAD_DATA_DIR "
           "(or root=) can point to a folder that holds it.")
    return FileNotFoundError(msg)


def _check_finite(values: np.ndarray, path: Path) -> None:
    if not np.isfinite(values).all():
        bad = np.argwhere(~np.isfinite(values))
        msg = (f"{path} contains {len(bad)} NaN or infinite value(s) (first at row "
               f"{int(bad[0][0])}); expected finite numbers.")
        raise ValueError(msg)


# ---------------------------------------------------------------------------- NAB
NAB_LAYOUT = "labels/combined_windows.json and data/<category>/<series>.csv"
NAB_HINT = "Get the folders data/ and labels/ of github.com/numenta/NAB."


def _is_nab(folder: Path) -> bool:
    return (folder / "labels" / "combined_windows.json").is_file() and (folder / "data").is_dir()


def _nab_roots(root: str | Path | None) -> list[Path]:
    return _layout_roots(root, _is_nab, "NAB", NAB_LAYOUT, NAB_HINT)


def _nab_files(base: Path) -> list[Path]:
    return sorted((base / "data").glob("*/*.csv"))


def nab_series(root: str | Path | None = None) -> list[str]:
    """Names (``"<category>/<series>"``) of the NAB series found.

    Parameters
    ----------
    root : str or Path, optional
        A folder holding NAB's ``data/`` and ``labels/`` (or one up to ``MAX_DEPTH`` levels
        above it); default: search the data folders.

    Returns
    -------
    names : list of str
        Sorted, e.g. ``"realKnownCause/nyc_taxi"``; the union over every matching folder.

    Raises
    ------
    FileNotFoundError
        No folder with NAB's layout.
    """
    names = {f"{path.parent.name}/{path.stem}" for base in _nab_roots(root)
             for path in _nab_files(base)}
    return sorted(names)


def _find_nab_file(base: Path, key: str) -> Path | None:
    if "/" in key:
        path = base / "data" / f"{key}.csv"
        return path if path.is_file() else None
    matches = [path for path in _nab_files(base) if path.stem == key]
    if len(matches) > 1:
        options = ", ".join(f"{p.parent.name}/{p.stem}" for p in matches)
        msg = f"NAB series name {key!r} is ambiguous in {base}: {options}. Give the category."
        raise ValueError(msg)
    return matches[0] if matches else None


def load_nab(name: str, root: str | Path | None = None,
             train_fraction: float = 0.15) -> SeriesDataset:
    """A NAB series (Numenta Anomaly Benchmark) with point labels from its anomaly windows.

    Parameters
    ----------
    name : str
        ``"<category>/<series>"`` such as ``"realKnownCause/nyc_taxi"``, with or without
        ``.csv``; the bare series name (``"nyc_taxi"``) works when it is unique.
    root : str or Path, optional
        The NAB folder (holding ``data/`` and ``labels/``) or a folder up to ``MAX_DEPTH``
        levels above it; default: search the data folders.
    train_fraction : float, default=0.15
        NAB series are not split. The first ``floor(train_fraction * T)`` rows, NAB's
        probationary period, become ``train`` and the rest ``test``. NAB's own scorer caps
        the probationary period at ``0.15 * 5000 = 750`` rows; this loader does not.

    Returns
    -------
    SeriesDataset
        ``train`` / ``test`` of shape (T, 1): the ``value`` column, rows in file order.
        ``y[t] = 1`` where the row's timestamp falls inside any window of
        ``labels/combined_windows.json`` (bounds inclusive), in ``train`` as well: the
        probationary period's labels are kept, not zeroed. ``meta`` holds ``category``,
        ``file``, ``windows`` (the JSON's ``[start, end]`` strings), ``n_rows``,
        ``train_end`` (first test row) and the label ranges.

    Raises
    ------
    FileNotFoundError
        No NAB folder, or no such series in it.
    ValueError
        An ambiguous bare name, a bad ``train_fraction``, a CSV without exactly the columns
        ``timestamp,value``, unparseable timestamps or values, NaN values, or a series
        missing from (or malformed in) ``combined_windows.json``.

    References
    ----------
    Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms: the Numenta Anomaly
    Benchmark", IEEE ICMLA 2015.

    Examples
    --------
    >>> data = load_nab("realKnownCause/nyc_taxi")  # doctest: +SKIP
    >>> data.train.shape, data.test.shape  # doctest: +SKIP
    ((1548, 1), (8772, 1))
    """
    if isinstance(train_fraction, bool) or not isinstance(train_fraction, int | float) or \
            not 0.0 < train_fraction < 1.0:
        msg = f"train_fraction must be a number in (0, 1); got {train_fraction!r}."
        raise ValueError(msg)
    key = name.removesuffix(".csv")
    roots = _nab_roots(root)
    for base in roots:
        path = _find_nab_file(base, key)
        if path is not None:
            break
    else:
        available = sorted({f"{p.parent.name}/{p.stem}" for b in roots for p in _nab_files(b)})
        expected = (f"data/{key}.csv" if "/" in key else f"data/<category>/{key}.csv")
        raise _not_found("NAB", f"series {name!r}", roots, expected, available)

    frame = _read_nab_csv(path)
    values = frame["value"].to_numpy(dtype=np.float64)[:, None]
    stamps = _parse_times(frame["timestamp"], f"column 'timestamp' of {path}")
    label_file = base / "labels" / "combined_windows.json"
    series_key = f"{path.parent.name}/{path.name}"
    windows = _nab_windows(label_file, series_key)
    if windows:
        bounds = _parse_times(pd.Series([t for w in windows for t in w]),
                              f"the windows of {series_key!r} in {label_file}").reshape(-1, 2)
        if (bounds[:, 0] > bounds[:, 1]).any():
            msg = f"{label_file}: a window of {series_key!r} ends before it starts: {windows}."
            raise ValueError(msg)
        inside = (stamps[:, None] >= bounds[:, 0]) & (stamps[:, None] <= bounds[:, 1])
        y = inside.any(axis=1).astype(np.int64)
    else:
        y = np.zeros(len(values), dtype=np.int64)
    n_train = int(np.floor(train_fraction * len(values)))
    if not 0 < n_train < len(values):
        msg = (f"train_fraction={train_fraction} leaves {n_train} of the {len(values)} rows "
               f"of {path} for training; both parts need at least one row.")
        raise ValueError(msg)
    meta = {"source": "NAB", "category": path.parent.name, "file": str(path),
            "windows": windows, "n_rows": len(values), "train_end": n_train,
            "train_fraction": float(train_fraction), "train_labelled": True}
    return _dataset(f"{path.parent.name}/{path.stem}", values[:n_train], y[:n_train],
                    values[n_train:], y[n_train:], meta)


def _read_nab_csv(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        msg = f"{path} could not be read as a NAB CSV ({error})."
        raise ValueError(msg) from error
    if list(frame.columns) != ["timestamp", "value"]:
        msg = (f"{path} has the columns {list(frame.columns)}; a NAB CSV has exactly "
               "'timestamp,value'.")
        raise ValueError(msg)
    if len(frame) == 0:
        msg = f"{path} has no rows."
        raise ValueError(msg)
    try:
        frame["value"] = pd.to_numeric(frame["value"])
    except (ValueError, TypeError) as error:
        msg = f"column 'value' of {path} is not numeric ({error})."
        raise ValueError(msg) from error
    _check_finite(frame["value"].to_numpy(dtype=np.float64), path)
    return frame


def _parse_times(texts: pd.Series, where: str) -> np.ndarray:
    try:
        return pd.to_datetime(texts, format="ISO8601").to_numpy()
    except (ValueError, TypeError) as error:
        msg = f"Timestamps in {where} could not be parsed as 'YYYY-MM-DD HH:MM:SS' ({error})."
        raise ValueError(msg) from error


def _nab_windows(label_file: Path, series_key: str) -> list[list[str]]:
    try:
        windows = json.loads(label_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        msg = f"{label_file} is not valid JSON ({error})."
        raise ValueError(msg) from error
    if not isinstance(windows, dict) or series_key not in windows:
        msg = (f"{label_file} has no entry for {series_key!r}; expected "
               '{"<category>/<file>.csv": [["<start>", "<end>"], ...], ...}.')
        raise ValueError(msg)
    entry = windows[series_key]
    if not isinstance(entry, list) or not all(
            isinstance(w, list) and len(w) == 2 and all(isinstance(t, str) for t in w)
            for w in entry):
        msg = (f"{label_file}: the entry of {series_key!r} is {entry!r}; expected a list of "
               '["<start timestamp>", "<end timestamp>"] pairs.')
        raise ValueError(msg)
    return entry


# ---------------------------------------------------------------------------- SMAP / MSL
SMAP_MSL_LAYOUT = "labeled_anomalies.csv, train/<chan>.npy and test/<chan>.npy"
SMAP_MSL_HINT = ("Get data.zip and labeled_anomalies.csv of github.com/khundman/telemanom "
                 "(TranAD's data/SMAP_MSL has the same layout).")


def _is_smap_msl(folder: Path) -> bool:
    return ((folder / "labeled_anomalies.csv").is_file() and (folder / "train").is_dir()
            and (folder / "test").is_dir())


def _smap_msl_roots(root: str | Path | None) -> list[Path]:
    return _layout_roots(root, _is_smap_msl, "SMAP/MSL", SMAP_MSL_LAYOUT, SMAP_MSL_HINT)


def _smap_msl_names(base: Path) -> list[str]:
    return [path.stem for path in sorted((base / "train").glob("*.npy"))
            if (base / "test" / path.name).is_file()]


def smap_msl_channels(root: str | Path | None = None) -> list[str]:
    """Channels (``"A-1"``, ``"C-1"``, ...) with both a train and a test ``.npy`` file.

    Parameters
    ----------
    root : str or Path, optional
        The SMAP / MSL folder (or one up to ``MAX_DEPTH`` levels above it); default: search
        the data folders.

    Returns
    -------
    channels : list of str
        Sorted; the union over every matching folder.

    Raises
    ------
    FileNotFoundError
        No folder with the SMAP / MSL layout.
    """
    names = {name for base in _smap_msl_roots(root) for name in _smap_msl_names(base)}
    return sorted(names, key=_natural_key)


def load_smap_msl(channel: str, root: str | Path | None = None) -> SeriesDataset:
    """A NASA SMAP or MSL telemetry channel with its expert-labelled anomaly sequences.

    Parameters
    ----------
    channel : str
        Channel id such as ``"A-1"`` (``.npy`` suffix optional).
    root : str or Path, optional
        The folder holding ``labeled_anomalies.csv``, ``train/`` and ``test/`` (or one up to
        ``MAX_DEPTH`` levels above it); default: search the data folders.

    Returns
    -------
    SeriesDataset
        ``train`` / ``test``: the ``.npy`` arrays (T, D) as stored; column 0 is the telemetry
        value, the others one-hot commands. ``y_train`` is all zeros (no training labels are
        published; telemanom treats the training series as normal). ``y_test[s:e + 1] = 1``
        for each inclusive ``[s, e]`` of the channel's ``anomaly_sequences``. A channel listed
        on several rows of the csv (P-2 is) gets the union of their sequences. ``meta``
        holds ``spacecraft``, ``channel``, ``sequences`` (inclusive pairs as in the csv,
        merged, duplicates dropped), ``classes`` (one per sequence), ``csv_rows`` and the
        label ranges.

    Raises
    ------
    FileNotFoundError
        No SMAP / MSL folder, or no ``.npy`` file for the channel.
    ValueError
        Arrays that are not numeric 2-D (or would need pickle), NaN values, train and test
        with different column counts, a channel missing from the csv, unparseable or
        out-of-range sequences, or ``num_values`` differing from the test length.

    References
    ----------
    Hundman, Constantinou, Laporte, Colwell & Soderstrom, "Detecting Spacecraft Anomalies
    Using LSTMs and Nonparametric Dynamic Thresholding", KDD 2018.

    Examples
    --------
    >>> data = load_smap_msl("A-1")  # doctest: +SKIP
    >>> data.test.shape, data.meta["sequences"]  # doctest: +SKIP
    ((8640, 25), [[4690, 4774]])
    """
    channel = channel.removesuffix(".npy")
    roots = _smap_msl_roots(root)
    for base in roots:
        if (base / "train" / f"{channel}.npy").is_file() and \
                (base / "test" / f"{channel}.npy").is_file():
            break
    else:
        available = sorted({n for b in roots for n in _smap_msl_names(b)}, key=_natural_key)
        raise _not_found("SMAP/MSL", f"channel {channel!r}", roots,
                         f"train/{channel}.npy and test/{channel}.npy", available)
    train = _load_npy(base / "train" / f"{channel}.npy")
    test = _load_npy(base / "test" / f"{channel}.npy")
    if train.shape[1] != test.shape[1]:
        msg = (f"SMAP/MSL channel {channel!r}: train has {train.shape[1]} columns and test "
               f"{test.shape[1]} (in {base}); expected the same.")
        raise ValueError(msg)
    label_file = base / "labeled_anomalies.csv"
    spacecraft, sequences, classes, n_rows = _smap_msl_labels(label_file, channel, len(test))
    y_test = np.zeros(len(test), dtype=np.int64)
    for start, end in sequences:  # a handful of sequences per channel
        y_test[start:end + 1] = 1
    meta = {"source": "SMAP/MSL (telemanom)", "spacecraft": spacecraft, "channel": channel,
            "sequences": sequences, "classes": classes, "csv_rows": n_rows,
            "train_labelled": False}
    return _dataset(channel, train, np.zeros(len(train), dtype=np.int64), test, y_test, meta)


def _load_npy(path: Path) -> np.ndarray:
    try:
        values = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        # ValueError includes object arrays, refused because reading them needs pickle
        msg = f"{path} could not be read safely as a numeric .npy array ({error})."
        raise ValueError(msg) from error
    if not isinstance(values, np.ndarray) or values.ndim != 2 or values.dtype.kind not in "biuf":
        shape = getattr(values, "shape", None)
        msg = (f"{path} holds an array of shape {shape} and dtype "
               f"{getattr(values, 'dtype', None)}; expected numbers of shape (T, D).")
        raise ValueError(msg)
    values = values.astype(np.float64, copy=False)
    _check_finite(values, path)
    return values


def _smap_msl_labels(label_file: Path, channel: str,
                     n_test: int) -> tuple[str, list[list[int]], list[str], int]:
    try:
        table = pd.read_csv(label_file, dtype=str)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        msg = f"{label_file} could not be read as CSV ({error})."
        raise ValueError(msg) from error
    missing = [c for c in SMAP_MSL_COLUMNS if c not in table.columns]
    if missing:
        msg = (f"{label_file} lacks the column(s) {missing}; expected "
               f"{', '.join(SMAP_MSL_COLUMNS)}.")
        raise ValueError(msg)
    rows = table[table["chan_id"].str.strip() == channel]
    if rows.empty:
        msg = f"{label_file} has no row for channel {channel!r}, so its labels are unknown."
        raise ValueError(msg)
    spacecraft = sorted(set(rows["spacecraft"].str.strip()))
    counts = sorted(set(rows["num_values"].str.strip()))
    if len(spacecraft) != 1 or len(counts) != 1:
        msg = (f"{label_file}: the {len(rows)} rows of channel {channel!r} disagree on "
               f"spacecraft {spacecraft} or num_values {counts}.")
        raise ValueError(msg)
    if counts[0] != str(n_test):
        msg = (f"{label_file}: num_values of channel {channel!r} is {counts[0]}, but its test "
               f"array has {n_test} rows; labels and data do not match.")
        raise ValueError(msg)
    sequences: list[list[int]] = []
    classes: list[str] = []
    for text, kinds in zip(rows["anomaly_sequences"], rows["class"], strict=True):
        pairs = _parse_sequences(text, label_file, channel, n_test)
        names = [k.strip() for k in str(kinds).strip().strip("[]").split(",") if k.strip()]
        if len(names) != len(pairs):
            msg = (f"{label_file}: channel {channel!r} has {len(pairs)} anomaly sequences but "
                   f"{len(names)} classes ({kinds!r}); expected one class per sequence.")
            raise ValueError(msg)
        for pair, name in zip(pairs, names, strict=True):
            if pair not in sequences:
                sequences.append(pair)
                classes.append(name)
    return spacecraft[0], sequences, classes, len(rows)


def _parse_sequences(text: str, label_file: Path, channel: str, n_test: int) -> list[list[int]]:
    try:
        pairs = json.loads(text)
    except (json.JSONDecodeError, TypeError) as error:
        msg = (f"{label_file}: anomaly_sequences of channel {channel!r} is {text!r}, not a "
               f"list of [start, end] pairs ({error}).")
        raise ValueError(msg) from error
    valid = isinstance(pairs, list) and all(
        isinstance(p, list) and len(p) == 2 and all(type(i) is int for i in p) for p in pairs)
    if not valid or any(not 0 <= s <= e < n_test for s, e in pairs):
        msg = (f"{label_file}: anomaly_sequences of channel {channel!r} is {text!r}; expected "
               f"inclusive [start, end] integer pairs with 0 <= start <= end < {n_test} "
               "(the test length).")
        raise ValueError(msg)
    return pairs


# ---------------------------------------------------------------------------- UCR
UCR_LAYOUT = "files named <id>_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt"
UCR_HINT = "Get UCR_TimeSeriesAnomalyDatasets2021.zip (UCR Time Series Anomaly Archive)."


def _is_ucr(folder: Path) -> bool:
    return any(path.is_file() for path in folder.glob("*_UCR_Anomaly_*.txt"))


def _ucr_roots(root: str | Path | None) -> list[Path]:
    return _layout_roots(root, _is_ucr, "UCR anomaly archive", UCR_LAYOUT, UCR_HINT)


def _ucr_files(base: Path) -> list[Path]:
    return sorted((p for p in base.glob("*_UCR_Anomaly_*.txt") if p.is_file()),
                  key=lambda p: _natural_key(p.name))


def ucr_series(root: str | Path | None = None) -> list[str]:
    """File stems of the UCR anomaly archive series found, in order of their id.

    Parameters
    ----------
    root : str or Path, optional
        The folder holding the ``*_UCR_Anomaly_*.txt`` files (or one up to ``MAX_DEPTH``
        levels above it); default: search the data folders.

    Returns
    -------
    names : list of str
        E.g. ``"135_UCR_Anomaly_InternalBleeding16_1200_4187_4199"``; the union over every
        matching folder.

    Raises
    ------
    FileNotFoundError
        No folder with UCR files.
    """
    names = {path.stem for base in _ucr_roots(root) for path in _ucr_files(base)}
    return sorted(names, key=_natural_key)


def _ucr_matches(path: Path, key: str) -> bool:
    if path.stem == key:
        return True
    match = UCR_PATTERN.match(path.name)
    if match is None:
        return False
    if key.isdigit():
        return int(match["id"]) == int(key)
    return match["name"] == key


def load_ucr(name_or_path: str | Path, root: str | Path | None = None) -> SeriesDataset:
    """A series of the UCR Time Series Anomaly Archive (KDD Cup 2021).

    The file name ``<id>_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt`` carries the split
    and the one anomaly, in the archive's **1-based** positions: points ``1 .. trainEnd`` are
    the anomaly-free training data and points ``begin .. end`` (inclusive) the anomaly. In
    0-based numpy terms: ``train = x[:trainEnd]``, ``test = x[trainEnd:]`` and
    ``y[begin - 1 : end] = 1`` over the whole series.

    Parameters
    ----------
    name_or_path : str or Path
        A path to the file; or, looked up under ``root``, the id (``"135"``), the file name
        (with or without ``.txt``), or the series name (``"InternalBleeding16"``) when unique.
    root : str or Path, optional
        The folder holding the files (or one up to ``MAX_DEPTH`` levels above it); default:
        search the data folders. Ignored when ``name_or_path`` is an existing file.

    Returns
    -------
    SeriesDataset
        ``train`` (trainEnd, 1) and ``test`` (T - trainEnd, 1). ``meta`` holds ``id``,
        ``series``, ``file``, ``length``, ``train_end`` (= trainEnd: the number of training
        points and the 0-based index of the first test point), ``anomaly_1based``
        (``[begin, end]``, inclusive, as in the file name), ``anomaly`` (``[begin - 1, end]``:
        0-based, start inclusive, stop exclusive, over the whole series) and the label ranges
        (half-open, relative to ``train`` / ``test``).

    Raises
    ------
    FileNotFoundError
        No such file, or no UCR folder.
    ValueError
        A file name that does not parse, an ambiguous name, values that are not numbers or
        not finite, or split / anomaly positions outside the series.

    References
    ----------
    Wu & Keogh, "Current Time Series Anomaly Detection Benchmarks are Flawed and are Creating
    the Illusion of Progress", IEEE TKDE 2021.

    Examples
    --------
    >>> data = load_ucr("135")  # doctest: +SKIP
    >>> data.meta["train_end"], data.meta["anomaly"]  # doctest: +SKIP
    (1200, [4186, 4199])
    """
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        if len(path.parts) > 1:
            msg = (f"No such UCR file: {path}. Expected a file named "
                   "<id>_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt.")
            raise FileNotFoundError(msg)
        path = _find_ucr(str(name_or_path), root)
    match = UCR_PATTERN.match(path.name)
    if match is None:
        msg = (f"UCR file name {path.name!r} does not parse; expected "
               "<id>_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt (1-based positions).")
        raise ValueError(msg)
    train_end, begin, end = int(match["train_end"]), int(match["begin"]), int(match["end"])
    try:
        values = np.asarray(path.read_text(encoding="utf-8").split(), dtype=np.float64)
    except (ValueError, UnicodeDecodeError) as error:
        msg = f"{path} does not hold whitespace-separated numbers ({error})."
        raise ValueError(msg) from error
    _check_finite(values, path)
    n = len(values)
    if not (1 <= train_end < n and 1 <= begin <= end <= n):
        msg = (f"{path.name}: trainEnd={train_end}, anomaly {begin}-{end} do not fit a series "
               f"of {n} points; expected 1 <= trainEnd < {n} and 1 <= begin <= end <= {n} "
               "(1-based).")
        raise ValueError(msg)
    y = np.zeros(n, dtype=np.int64)
    y[begin - 1:end] = 1
    meta = {"source": "UCR Anomaly Archive 2021", "id": int(match["id"]),
            "series": match["name"], "file": str(path), "length": n, "train_end": train_end,
            "anomaly_1based": [begin, end], "anomaly": [begin - 1, end],
            "train_labelled": True}
    return _dataset(path.stem, values[:train_end, None], y[:train_end],
                    values[train_end:, None], y[train_end:], meta)


def _find_ucr(name: str, root: str | Path | None) -> Path:
    key = name.removesuffix(".txt")
    roots = _ucr_roots(root)
    for base in roots:
        matches = [path for path in _ucr_files(base) if _ucr_matches(path, key)]
        exact = [path for path in matches if path.stem == key]
        if len(matches) > 1 and not exact:
            options = ", ".join(path.name for path in matches)
            msg = f"UCR series {name!r} is ambiguous in {base}: {options}. Give the file name."
            raise ValueError(msg)
        if matches:
            return (exact or matches)[0]
    available = sorted({p.stem for b in roots for p in _ucr_files(b)}, key=_natural_key)
    raise _not_found("UCR", f"series {name!r}", roots,
                     "a file <id>_UCR_Anomaly_<name>_<trainEnd>_<begin>_<end>.txt matching it",
                     available)


# ---------------------------------------------------------------------------- SMD
SMD_LAYOUT = "train/<machine>.txt, test/<machine>.txt and test_label/<machine>.txt"
SMD_HINT = "Get ServerMachineDataset/ of github.com/NetManAIOps/OmniAnomaly."


def _is_smd(folder: Path) -> bool:
    return all((folder / sub).is_dir() for sub in ("train", "test", "test_label"))


def _smd_roots(root: str | Path | None) -> list[Path]:
    return _layout_roots(root, _is_smd, "SMD (Server Machine Dataset)", SMD_LAYOUT, SMD_HINT)


def smd_machines(root: str | Path | None = None) -> list[str]:
    """Machines (``"machine-1-1"``, ...) with a training file in an SMD folder.

    Parameters
    ----------
    root : str or Path, optional
        The SMD folder (holding ``train/``, ``test/``, ``test_label/``) or one up to
        ``MAX_DEPTH`` levels above it; default: search the data folders.

    Returns
    -------
    machines : list of str
        In natural order (``machine-1-2`` before ``machine-1-10``); the union over every
        matching folder.

    Raises
    ------
    FileNotFoundError
        No folder with the SMD layout.
    """
    names = {path.stem for base in _smd_roots(root) for path in (base / "train").glob("*.txt")}
    return sorted(names, key=_natural_key)


def load_smd(machine: str, root: str | Path | None = None) -> SeriesDataset:
    """A machine of the Server Machine Dataset (SMD).

    Parameters
    ----------
    machine : str
        Machine name such as ``"machine-1-1"`` (``.txt`` suffix optional).
    root : str or Path, optional
        The SMD folder (``ServerMachineDataset/`` of OmniAnomaly, holding ``train/``,
        ``test/`` and ``test_label/``) or one up to ``MAX_DEPTH`` levels above it; default:
        search the data folders.

    Returns
    -------
    SeriesDataset
        ``train`` / ``test``: the comma-separated rows of ``train/<machine>.txt`` and
        ``test/<machine>.txt``, one row per timestamp (38 metrics in the real data).
        ``y_test``: ``test_label/<machine>.txt``, one 0/1 per line. ``y_train`` is all zeros
        (SMD publishes no training labels). ``meta`` holds ``machine`` and the label ranges.

    Raises
    ------
    FileNotFoundError
        No SMD folder, or one of the machine's three files is missing.
    ValueError
        Rows of differing length, non-numeric or NaN values, train and test with different
        column counts, labels other than 0/1 or not one per test row.

    References
    ----------
    Su, Zhao, Niu, Liu, Sun & Pei, "Robust Anomaly Detection for Multivariate Time Series
    through Stochastic Recurrent Neural Network", KDD 2019 (OmniAnomaly).

    Examples
    --------
    >>> data = load_smd("machine-1-1")  # doctest: +SKIP
    >>> data.n_channels  # doctest: +SKIP
    38
    """
    machine = machine.removesuffix(".txt")
    roots = _smd_roots(root)
    parts = ("train", "test", "test_label")
    for base in roots:
        if all((base / part / f"{machine}.txt").is_file() for part in parts):
            break
    else:
        available = sorted({p.stem for b in roots for p in (b / "train").glob("*.txt")},
                           key=_natural_key)
        expected = ", ".join(f"{part}/{machine}.txt" for part in parts)
        raise _not_found("SMD", f"machine {machine!r}", roots, expected, available)
    train = _load_rows(base / "train" / f"{machine}.txt")
    test = _load_rows(base / "test" / f"{machine}.txt")
    if train.shape[1] != test.shape[1]:
        msg = (f"SMD machine {machine!r}: train has {train.shape[1]} columns and test "
               f"{test.shape[1]} (in {base}); expected the same.")
        raise ValueError(msg)
    label_file = base / "test_label" / f"{machine}.txt"
    try:
        raw = np.loadtxt(label_file, dtype=np.float64, ndmin=1)
    except ValueError as error:
        msg = f"{label_file} does not hold one number per line ({error})."
        raise ValueError(msg) from error
    y_test = _as_labels(raw, str(label_file))
    if len(y_test) != len(test):
        msg = (f"{label_file} has {len(y_test)} labels, but {base / 'test' / machine}.txt has "
               f"{len(test)} rows; expected one label per test row.")
        raise ValueError(msg)
    meta = {"source": "SMD (OmniAnomaly)", "machine": machine, "train_labelled": False}
    return _dataset(machine, train, np.zeros(len(train), dtype=np.int64), test, y_test, meta)


def _load_rows(path: Path) -> np.ndarray:
    try:
        values = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as error:
        msg = (f"{path} does not hold comma-separated numbers with the same number of columns "
               f"on every row ({error}).")
        raise ValueError(msg) from error
    if values.size == 0:
        msg = f"{path} has no rows."
        raise ValueError(msg)
    _check_finite(values, path)
    return values
