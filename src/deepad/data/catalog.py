"""What datasets are available locally: ADBench files, time series and MNIST, with sizes and
anomaly ratios (``deepad datasets``). numpy / pandas only."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from deepad.data import images, timeseries
from deepad.data.adbench import data_dirs

__all__ = ["DatasetEntry", "local_datasets"]


@dataclass(frozen=True)
class DatasetEntry:
    """One locally available dataset. For series, ``rows`` counts timestamps (train + test)
    and ``features`` channels; ``anomalies`` counts labelled rows or timestamps."""

    source: str
    name: str
    rows: int
    features: int
    anomalies: int
    bytes: int | None  # None where the dataset spans several files
    path: str

    @property
    def anomaly_ratio(self) -> float:
        return self.anomalies / self.rows if self.rows else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "anomaly_ratio": self.anomaly_ratio}


def _size(paths: list[Path]) -> int | None:
    found = [p for p in paths if p.is_file()]
    return sum(p.stat().st_size for p in found) if found else None


def _adbench(folders: list[Path]) -> Iterator[DatasetEntry]:
    seen: set[Path] = set()
    for folder in folders:
        for path in sorted(folder.rglob("*.npz")) if folder.is_dir() else []:
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                with np.load(path, allow_pickle=False) as data:
                    if not {"X", "y"} <= set(data.files):
                        continue  # another kind of .npz (a graph, a user's table)
                    shape, y = data["X"].shape, data["y"]
            except (OSError, ValueError, zipfile.BadZipFile):
                continue
            if len(shape) != 2 or y.ndim != 1:
                continue
            yield DatasetEntry("adbench", path.stem, shape[0], shape[1], int((y == 1).sum()),
                               path.stat().st_size, str(path))


def _series(source: str, names: Callable[[], list[str]],
            load: Callable[[str], timeseries.SeriesDataset]) -> Iterator[DatasetEntry]:
    try:
        available = names()
    except FileNotFoundError:  # the source's layout is nowhere in the data folders
        return
    for name in available:
        try:
            data = load(name)
        except (OSError, ValueError):
            continue
        file = data.meta.get("file")  # NAB and UCR: one file; SMAP/MSL and SMD: several
        yield DatasetEntry(source, name, len(data.train) + len(data.test), data.n_channels,
                           int(data.y_train.sum() + data.y_test.sum()),
                           _size([Path(file)]) if file else None, str(file or ""))


def _mnist() -> Iterator[DatasetEntry]:
    try:
        folder = images.find_mnist("test")
        X, _ = images.load_mnist(folder)
    except (OSError, ValueError):
        return
    yield DatasetEntry("mnist", "mnist-test", len(X), int(np.prod(X.shape[1:])), 0,
                       _size(sorted(folder.glob("t10k-*"))), str(folder))


def local_datasets(sources: tuple[str, ...] | None = None) -> list[DatasetEntry]:
    """Every dataset found in :func:`deepad.data.adbench.data_dirs`.

    ``sources`` filters by source ("adbench", "nab", "smap_msl", "ucr", "smd", "mnist").
    MNIST has no anomaly labels of its own (one digit is made normal by the protocol), so its
    anomaly count is 0.
    """
    generators: dict[str, Callable[[], Iterator[DatasetEntry]]] = {
        "adbench": lambda: _adbench(data_dirs()),
        "nab": lambda: _series("nab", timeseries.nab_series, timeseries.load_nab),
        "smap_msl": lambda: _series("smap_msl", timeseries.smap_msl_channels,
                                    timeseries.load_smap_msl),
        "ucr": lambda: _series("ucr", timeseries.ucr_series, timeseries.load_ucr),
        "smd": lambda: _series("smd", timeseries.smd_machines, timeseries.load_smd),
        "mnist": _mnist,
    }
    unknown = set(sources or ()) - set(generators)
    if unknown:
        msg = f"unknown source(s) {sorted(unknown)}; choose from {', '.join(generators)}."
        raise ValueError(msg)
    return [entry for source, make in generators.items()
            if sources is None or source in sources for entry in make()]
