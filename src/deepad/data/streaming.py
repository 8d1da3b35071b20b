"""Streaming sources: training data read batch by batch, never held in memory whole.

A detector's ``fit`` accepts, besides an array or a DataFrame, a *streaming source* of table
rows (``docs/scale.md``):

- :class:`ParquetSource`: a Parquet file or a directory of Parquet files (a
  ``pyarrow.dataset``), read one row group at a time;
- :class:`BatchSource`: any re-readable supply of ``(k, d)`` array batches: a callable that
  returns a fresh iterator on every call, or a re-iterable object (a list of arrays, a
  class whose ``__iter__`` starts again). A one-shot iterator (a generator object) is refused
  with a ``TypeError`` (:func:`as_source`): ``fit`` reads the stream once for its statistics
  and once per epoch.

Three pieces serve the training loop (:class:`deepad.core.trainer.Trainer`), all bounded in
memory by the batch and buffer sizes, not by the data size:

- :func:`scan`: one pass that counts the rows, checks them (numeric, finite, the same width)
  and computes per-feature min / max / mean / variance (Chan et al.'s pairwise update, in
  float64) and a uniform reservoir sample of the rows (Vitter's Algorithm R), the sample
  being what a method that needs rows at once (a centre, a normaliser, training scores for
  the threshold) reads;
- :meth:`StreamSource.chunks`: the source's units (row groups) in a per-epoch shuffled order,
  dealt round-robin to the ranks of a distributed run;
- :func:`shuffle_batches`: a bounded shuffle buffer that mixes rows of several units and cuts
  them into mini-batches.

numpy / pyarrow only (the data layer never imports torch).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["BatchSource", "MappedSource", "ParquetSource", "StreamSource", "StreamStats",
           "as_source", "is_stream", "scan", "shuffle_batches"]

DEFAULT_BUFFER_ROWS = 65_536
"""Rows held by the shuffle buffer of :func:`shuffle_batches` (8 MB at 32 float32 features)."""

DEFAULT_RESERVOIR = 100_000
"""Rows kept by :func:`scan`'s reservoir sample (12.8 MB at 32 float32 features)."""


class StreamSource:
    """Base of the streaming sources: a sequence of *units* (row groups, batches), each read
    as a float32 ``(k, d)`` array.

    Subclasses implement ``_units()`` (the list of unit keys, in storage order) and
    ``_read(unit)``; ``columns`` names the features.
    """

    columns: list[str]
    named = True  # whether ``columns`` are real names (a fitted detector keeps them)
    buffer_rows = DEFAULT_BUFFER_ROWS
    reservoir = DEFAULT_RESERVOIR

    def _units(self) -> list[Any]:
        raise NotImplementedError

    def _read(self, unit: Any) -> np.ndarray:
        raise NotImplementedError

    def unit_rows(self) -> list[int] | None:
        """Rows of each unit, in storage order, where known without reading (Parquet
        metadata); None otherwise."""
        return None

    def chunks(self, seed: int | None = None, rank: int = 0,
               world: int = 1) -> Iterator[np.ndarray]:
        """The units as float32 arrays: in storage order when ``seed`` is None, else in the
        order of a permutation drawn from ``seed`` (a new order per epoch: pass a seed per
        epoch). With ``world > 1`` the permuted units are dealt round-robin and this rank
        reads every ``world``-th one, starting at ``rank``."""
        units = self._units()
        order = np.arange(len(units))
        if seed is not None:
            order = np.random.default_rng(seed).permutation(len(units))
        for position, u in enumerate(order):
            if position % world == rank:
                yield self._read(units[u])

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.chunks()

    def read_all(self) -> np.ndarray:
        """Every row as one float32 array (for data that does fit in memory)."""
        parts = list(self.chunks())
        if not parts:
            return np.empty((0, len(self.columns)), dtype=np.float32)
        return np.concatenate(parts)


def _check_chunk(chunk: Any, where: str, width: int | None) -> np.ndarray:
    array = np.asarray(chunk)
    if array.dtype.kind not in "biuf" or array.dtype == np.bool_:
        msg = (f"{where}: a streaming batch must hold numbers; got an array of dtype "
               f"{array.dtype}.")
        raise TypeError(msg)
    if array.ndim != 2:
        msg = (f"{where}: a streaming batch must be a 2-D (rows, features) array; got shape "
               f"{array.shape}.")
        raise ValueError(msg)
    if width is not None and array.shape[1] != width:
        msg = (f"{where}: a streaming batch has {array.shape[1]} columns; the stream's first "
               f"batch had {width}.")
        raise ValueError(msg)
    return np.ascontiguousarray(array, dtype=np.float32)


class ParquetSource(StreamSource):
    """Rows of a Parquet file or of a directory of Parquet files, read one row group at a time.

    Parameters
    ----------
    path : str or Path
        A ``.parquet`` file or a directory holding them (``pyarrow.dataset``, format parquet).
    columns : sequence of str, optional
        The feature columns, in this order; None → every column except ``exclude``.
    exclude : sequence of str, default ()
        Columns that are not features (a row id, a label), when ``columns`` is None.
    buffer_rows : int, default 65536
        Rows of the training loop's shuffle buffer (:func:`shuffle_batches`).
    reservoir : int, default 100000
        Rows of the uniform sample :func:`scan` keeps (training scores, threshold, centres).

    Every feature column must be numeric (ints, floats; not bool): a ``TypeError`` names the
    others when the source is made. A row group is the unit of shuffling and of sharding
    between the ranks of a distributed run, so write files with several row groups (pyarrow's
    ``row_group_size``; 64k to 1M rows each).

    Examples
    --------
    >>> import numpy as np, pandas as pd, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame(np.ones((10, 2)), columns=["a", "b"]).to_parquet(folder / "part.parquet")
    >>> source = ParquetSource(folder)
    >>> source.columns, source.count_rows()
    (['a', 'b'], 10)
    """

    def __init__(self, path: str | Path, columns: Sequence[str] | None = None,
                 exclude: Sequence[str] = (), buffer_rows: int = DEFAULT_BUFFER_ROWS,
                 reservoir: int = DEFAULT_RESERVOIR) -> None:
        import pyarrow.dataset as ds
        import pyarrow.types as pat

        self.buffer_rows = _positive("buffer_rows", buffer_rows)
        self.reservoir = _positive("reservoir", reservoir)
        self.path = Path(path)
        if not self.path.exists():
            msg = f"ParquetSource: {self.path} does not exist."
            raise FileNotFoundError(msg)
        self._dataset = ds.dataset(str(self.path), format="parquet")
        schema = self._dataset.schema
        names = list(schema.names)
        if columns is None:
            columns = [c for c in names if c not in set(exclude)
                       and not c.startswith("__index_level_")]
        columns = [str(c) for c in columns]
        missing = [c for c in columns if c not in names]
        if missing:
            msg = f"ParquetSource: {self.path} has no column(s) {missing}; it has {names[:20]}."
            raise ValueError(msg)
        if not columns:
            msg = f"ParquetSource: {self.path} has no feature column."
            raise ValueError(msg)
        bad = [f"{c} ({schema.field(c).type})" for c in columns
               if not (pat.is_integer(schema.field(c).type)
                       or pat.is_floating(schema.field(c).type))]
        if bad:
            msg = (f"ParquetSource: feature columns must be numeric; {bad[:10]} are not (list "
                   "them in exclude, or encode them first).")
            raise TypeError(msg)
        self.columns = columns
        self._row_groups = None

    def _fragments(self) -> list:
        if self._row_groups is None:
            groups = []
            for fragment in self._dataset.get_fragments():
                groups.extend(fragment.split_by_row_group())
            self._row_groups = groups
        return self._row_groups

    def _units(self) -> list[Any]:
        return self._fragments()

    def unit_rows(self) -> list[int]:
        return [sum(rg.num_rows for rg in f.row_groups) for f in self._fragments()]

    def count_rows(self) -> int:
        """Rows in the source (from the Parquet metadata)."""
        return int(sum(self.unit_rows()))

    def _read(self, unit: Any) -> np.ndarray:
        table = unit.to_table(columns=self.columns)
        if table.num_rows == 0:
            return np.empty((0, len(self.columns)), dtype=np.float32)
        out = np.empty((table.num_rows, len(self.columns)), dtype=np.float32)
        for j, column in enumerate(table.columns):
            if column.null_count:
                msg = (f"ParquetSource: column {self.columns[j]!r} of {unit.path} holds "
                       f"{column.null_count} missing value(s); fill or drop them first.")
                raise ValueError(msg)
            out[:, j] = column.to_numpy()
        return out

    def __repr__(self) -> str:
        return f"ParquetSource({str(self.path)!r}, columns=[{len(self.columns)} columns])"


class BatchSource(StreamSource):
    """Array batches from a re-readable supply.

    Parameters
    ----------
    batches : callable or re-iterable
        A zero-argument callable returning a fresh iterator of ``(k, d)`` numeric arrays each
        time it is called, or an object that can be iterated several times (a list of arrays).
    columns : sequence of str, optional
        Feature names; None → ``f0`` ... ``f{d-1}`` from the first batch (not kept by the
        fitted detector, which then scores arrays).
    buffer_rows, reservoir : int
        As for :class:`ParquetSource`.

    Every batch is one unit. A callable or an iterable has no random access, so the batches
    come in the supply's order every epoch and only the shuffle buffer mixes their rows
    (:class:`ParquetSource` also permutes its row groups); a distributed run deals batches
    round-robin to its ranks.

    Examples
    --------
    >>> import numpy as np
    >>> parts = [np.zeros((4, 3)), np.ones((5, 3))]
    >>> BatchSource(lambda: iter(parts)).read_all().shape
    (9, 3)
    """

    def __init__(self, batches: Callable[[], Iterable[Any]] | Iterable[Any],
                 columns: Sequence[str] | None = None, buffer_rows: int = DEFAULT_BUFFER_ROWS,
                 reservoir: int = DEFAULT_RESERVOIR) -> None:
        if not callable(batches) and _one_shot(batches):
            raise _one_shot_error()
        self.batches = batches
        self._columns = None if columns is None else [str(c) for c in columns]
        self.named = columns is not None
        self.buffer_rows = _positive("buffer_rows", buffer_rows)
        self.reservoir = _positive("reservoir", reservoir)

    def _iterate(self) -> Iterator[Any]:
        return iter(self.batches() if callable(self.batches) else self.batches)

    def chunks(self, seed: int | None = None, rank: int = 0,
               world: int = 1) -> Iterator[np.ndarray]:
        """The batches in the order the supply gives them (a callable or an iterable has no
        random access, so ``seed`` does not reorder them: the shuffle buffer alone mixes
        their rows); with ``world > 1`` this rank reads every ``world``-th batch."""
        width = None if self._columns is None else len(self._columns)
        for i, chunk in enumerate(self._iterate()):
            if i % world != rank:
                continue
            array = _check_chunk(chunk, f"BatchSource batch {i}", width)
            width = array.shape[1]
            yield array

    @property
    def columns(self) -> list[str]:  # type: ignore[override]
        if self._columns is None:
            first = next(iter(self.chunks()), None)
            if first is None:
                msg = "BatchSource: the stream holds no batch."
                raise ValueError(msg)
            self._columns = [f"f{j}" for j in range(first.shape[1])]
        return self._columns

    def __repr__(self) -> str:
        supply = self.batches
        if callable(supply):
            shown = getattr(supply, "__qualname__", type(supply).__name__)
        else:
            shown = f"a {type(supply).__name__}"
        return f"BatchSource({shown})"


class MappedSource(StreamSource):
    """``source`` with ``transform`` applied to every unit it reads (the preprocessing of a
    :class:`deepad.TableDetector`); ``columns`` names the transformed features."""

    def __init__(self, source: StreamSource, transform: Callable[[np.ndarray], np.ndarray],
                 columns: Sequence[str]) -> None:
        self.source = source
        self.transform = transform
        self.columns = [str(c) for c in columns]
        self.named = source.named
        self.buffer_rows = source.buffer_rows
        self.reservoir = source.reservoir

    def chunks(self, seed: int | None = None, rank: int = 0,
               world: int = 1) -> Iterator[np.ndarray]:
        for chunk in self.source.chunks(seed=seed, rank=rank, world=world):
            yield np.ascontiguousarray(self.transform(chunk), dtype=np.float32)

    def unit_rows(self) -> list[int] | None:
        return self.source.unit_rows()

    def __repr__(self) -> str:
        return f"{self.source!r} (preprocessed)"


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        msg = f"{name} must be a positive int; got {value!r}."
        raise ValueError(msg)
    return int(value)


def _one_shot(obj: Any) -> bool:
    try:
        return iter(obj) is obj
    except TypeError:
        return False


def _one_shot_error() -> TypeError:
    return TypeError(
        "A one-shot iterator (a generator object, iter(...)) can be read only once, but fit "
        "reads a stream once for its statistics and once per epoch. Pass "
        "deepad.data.BatchSource(make_batches) with a function that returns a fresh iterator, "
        "a list of arrays, or deepad.data.ParquetSource(path).")


def is_stream(X: Any) -> bool:
    """Whether ``X`` is a streaming source (or a one-shot iterator of batches, which
    :func:`as_source` refuses) rather than in-memory data."""
    if isinstance(X, StreamSource):
        return True
    if isinstance(X, np.ndarray | list | tuple | str | bytes | dict) or hasattr(X, "__array__"):
        return False
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # a DataFrame
        return False
    return _one_shot(X)


def as_source(X: Any) -> StreamSource:
    """``X`` as a :class:`StreamSource`; a one-shot iterator raises ``TypeError``."""
    if isinstance(X, StreamSource):
        return X
    if _one_shot(X):
        raise _one_shot_error()
    msg = f"Expected a streaming source (ParquetSource, BatchSource); got {type(X).__name__}."
    raise TypeError(msg)


@dataclasses.dataclass
class StreamStats:
    """What :func:`scan` learns of a stream in one pass.

    Attributes
    ----------
    n_rows, n_features : int
    min, max, mean, var : ndarray of float64, shape (n_features,)
        Per-feature statistics (``var`` is the population variance).
    sample : ndarray of float32, shape (min(n_rows, reservoir), n_features)
        A uniform random sample of the rows without replacement (Algorithm R), in no
        particular order.
    """

    n_rows: int
    n_features: int
    min: np.ndarray
    max: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    sample: np.ndarray


def scan(source: StreamSource, reservoir: int = DEFAULT_RESERVOIR, seed: int = 0,
         transform: Callable[[np.ndarray], np.ndarray] | None = None) -> StreamStats:
    """One pass over ``source``: row count, per-feature min / max / mean / variance, a uniform
    reservoir sample of ``reservoir`` rows; each batch checked (numeric, finite, one width).

    ``transform`` (optional) is applied to every batch first. Memory: one unit plus the
    reservoir. Raises ``ValueError`` for an empty stream or a non-finite value (naming the
    unit), ``TypeError`` for non-numeric batches.
    """
    rng = np.random.default_rng(seed)
    n, width = 0, None
    lo = hi = mean = m2 = None
    sample = None
    for i, chunk in enumerate(source.chunks()):
        x = _check_chunk(chunk, f"{source!r}, unit {i}", width)
        if transform is not None:
            x = np.ascontiguousarray(transform(x), dtype=np.float32)
        if not len(x):
            continue
        if width is None:
            width = x.shape[1]
            lo = np.full(width, np.inf)
            hi = np.full(width, -np.inf)
            mean = np.zeros(width)
            m2 = np.zeros(width)
            sample = np.empty((min(reservoir, 1 << 20), width), dtype=np.float32)
        finite = np.isfinite(x)
        if not finite.all():
            row, col = np.argwhere(~finite)[0]
            msg = (f"{source!r}: unit {i} holds {int((~finite).sum())} NaN / infinite "
                   f"value(s), the first at its row {int(row)}, feature {int(col)}; fill or "
                   "drop them first.")
            raise ValueError(msg)
        k = len(x)
        x64 = x.astype(np.float64)
        lo = np.minimum(lo, x64.min(axis=0))
        hi = np.maximum(hi, x64.max(axis=0))
        batch_mean = x64.mean(axis=0)
        batch_m2 = ((x64 - batch_mean) ** 2).sum(axis=0)
        delta = batch_mean - mean
        total = n + k
        mean = mean + delta * (k / total)
        m2 = m2 + batch_m2 + delta ** 2 * (n * k / total)
        # Algorithm R, vectorised: row t (0-based, global) replaces a random slot j ~ U[0, t]
        # when j < reservoir; later rows of the batch overwrite earlier ones, as in sequence
        take = max(0, min(reservoir - n, k))
        if take:
            if reservoir > len(sample):
                sample = np.concatenate([sample, np.empty_like(sample)])[:reservoir]
            sample[n:n + take] = x[:take]
        if take < k:
            t = np.arange(n + take, n + k)
            j = rng.integers(0, t + 1)
            hit = j < reservoir
            sample[j[hit]] = x[take:][hit]
        n = total
    if n == 0:
        msg = f"{source!r} holds no rows."
        raise ValueError(msg)
    return StreamStats(n_rows=n, n_features=width, min=lo, max=hi, mean=mean, var=m2 / n,
                       sample=sample[:min(n, reservoir)].copy())


def shuffle_batches(chunks: Iterable[np.ndarray], batch_size: int,
                    buffer_rows: int = DEFAULT_BUFFER_ROWS,
                    rng: np.random.Generator | None = None) -> Iterator[np.ndarray]:
    """Mini-batches of ``batch_size`` rows from ``chunks`` through a bounded shuffle buffer.

    The buffer holds up to ``buffer_rows`` rows (at least ``2 * batch_size``). When it is
    full, its rows are permuted, the first half is cut into batches and the second half stays
    to mix with the rows of the next chunks; at the end what is left is permuted and cut too
    (the last batch may be shorter). Every row comes out exactly once. With ``rng`` None the
    rows keep their order (no shuffling). Memory: the buffer plus one chunk.
    """
    capacity = max(int(buffer_rows), 2 * batch_size)
    buffer = None
    filled = 0
    carry = None  # rows of a batch not yet complete

    def emit(rows: np.ndarray) -> Iterator[np.ndarray]:
        nonlocal carry
        if carry is not None and len(carry):
            rows = np.concatenate([carry, rows])
        cut = len(rows) - len(rows) % batch_size
        for start in range(0, cut, batch_size):
            yield rows[start:start + batch_size]
        carry = rows[cut:].copy()

    for chunk in chunks:
        if rng is None:
            yield from emit(chunk)
            continue
        if buffer is None and len(chunk):
            buffer = np.empty((capacity, chunk.shape[1]), dtype=chunk.dtype)
        start = 0
        while start < len(chunk):
            room = capacity - filled
            part = chunk[start:start + room]
            buffer[filled:filled + len(part)] = part
            filled += len(part)
            start += len(part)
            if filled == capacity:
                order = rng.permutation(capacity)
                half = capacity // 2
                out = buffer[order[:half]]
                buffer[:capacity - half] = buffer[order[half:]]
                filled = capacity - half
                yield from emit(out)
    if buffer is not None and filled:
        yield from emit(buffer[rng.permutation(filled)])
    if carry is not None and len(carry):
        yield carry
