"""``deepad score MODEL DATA --out scores.parquet``: apply a saved model to a table, streaming.

The model is a directory written by ``save`` (a detector, or a :class:`deepad.TableDetector`
that holds the table's preprocessing, as ``deepad run --save-model`` writes). The data are a
CSV file, a Parquet file or directory (a ``pyarrow.dataset``), or an ``.npz`` file; they are
read and scored batch by batch, so their size is bounded by the disk, not the memory. The
output holds one row per input row, in the input's order: the row id (``--id-column``, or
the row's position ``row``), ``score`` (higher = more anomalous) and ``label`` (1 above the
model's ``threshold_``). ``--explain K`` adds, for each row labelled anomalous, its K
features that raise the score most (:func:`deepad.explain.explain`; the batch's normal rows
are the reference) as a text column ``explanation``.

``--dask ADDRESS|local`` scores a Parquet dataset on a Dask cluster (``local``: a
``LocalCluster`` of ``--workers`` processes): ``dask.dataframe.read_parquet`` and
``map_partitions``, the model loaded once per worker process from its safetensors directory
(the task carries only the path; the model is never pickled through the scheduler), and
the scores written partition by partition as ``OUT/part-NNNNN.parquet``, each file written
whole or not at all (written to a temporary name, then renamed). A partition whose file
exists is not scored again, so a killed job, run again, scores only what is missing.
A Dask cluster runs whatever its clients send (tasks are pickled): use only a cluster you
trust, as for any Dask work.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from deepad.cli.app import _clean_errors, _configure_logging, _fail, app

SCORE_COLUMN = "score"
LABEL_COLUMN = "label"
ROW_COLUMN = "row"
DEFAULT_BATCH_ROWS = 262_144

_MODELS: dict[str, Any] = {}
"""Models loaded in this process, by directory: a Dask worker loads each model once."""


def _model(path: str) -> Any:
    if path not in _MODELS:
        import torch

        import deepad

        torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
        _MODELS[path] = deepad.load(path, device="cpu")
    return _MODELS[path]


def _feature_frame(model: Any, frame: pd.DataFrame, id_column: str | None) -> Any:
    """What ``model.decision_function`` reads of a batch: the raw frame for a
    ``TableDetector`` (it selects and scales its columns), the fitted columns for a
    detector that knows them, else every column but the id."""
    from deepad.tabular import TableDetector

    if id_column is not None:
        frame = frame.drop(columns=[id_column])
    names = getattr(model, "feature_names_in_", None)
    generic = [f"f{j}" for j in range(frame.shape[1])]
    if names is not None and list(frame.columns) == generic and len(generic) == len(names):
        # an .npz array has no column names: its columns are the model's, in fitted order
        frame = frame.set_axis([str(c) for c in names], axis=1)
    if isinstance(model, TableDetector):
        extra = [c for c in frame.columns if str(c) not in model.preprocessor_.columns_]
        return frame.drop(columns=extra) if extra else frame
    if names is not None:
        missing = [str(c) for c in names if c not in frame.columns]
        if missing:
            msg = f"The data lack the model's feature column(s) {missing[:10]}."
            raise ValueError(msg)
        return frame[list(names)]
    return frame.to_numpy(dtype=np.float32)


EXPLAIN_REFERENCE_ROWS = 10_000
"""Normal rows of a batch that ``--explain`` uses as the reference (normal ranges, baseline)."""


def explain_flagged(model: Any, features: Any, labels: np.ndarray, top: int) -> np.ndarray:
    """``--explain``: for each row labelled anomalous, its ``top`` features that raise the
    score most, as text ``"feature (share %, direction)"`` joined by ``"; "``; an empty
    string for the other rows. The reference (normal ranges, baseline) is the batch's rows
    labelled normal, at most ``EXPLAIN_REFERENCE_ROWS`` of them."""
    from deepad.explain import explain

    text = np.full(len(labels), "", dtype=object)
    flagged = np.flatnonzero(labels)
    normal = np.flatnonzero(labels == 0)[:EXPLAIN_REFERENCE_ROWS]
    if not len(flagged) or not len(normal):
        return text

    def rows(index: np.ndarray) -> Any:
        return features.iloc[index] if isinstance(features, pd.DataFrame) else features[index]

    explanation = explain(model, rows(flagged), reference=rows(normal))
    for j, i in enumerate(flagged):
        parts = explanation.top_features(j, top)
        text[i] = "; ".join(f"{r.feature} ({r.share:.0%}, {r.direction})"
                            for r in parts.itertuples())
    return text


def score_frame(model: Any, frame: pd.DataFrame, id_column: str | None,
                first_row: int = 0, explain_top: int = 0) -> pd.DataFrame:
    """Scores of one batch as the output frame: id (or ``row``), ``score``, ``label`` (and
    ``explanation`` with ``explain_top`` > 0, :func:`explain_flagged`)."""
    if id_column is not None and id_column not in frame.columns:
        msg = f"--id-column {id_column!r} is not a column of the data ({list(frame.columns)[:10]})."
        raise ValueError(msg)
    features = _feature_frame(model, frame, id_column)
    scores = model.decision_function(features)
    ids = (frame[id_column].to_numpy() if id_column is not None
           else np.arange(first_row, first_row + len(frame), dtype=np.int64))
    labels = (scores > model.threshold_).astype(np.int8)
    out = pd.DataFrame({id_column or ROW_COLUMN: ids, SCORE_COLUMN: scores,
                        LABEL_COLUMN: labels})
    if explain_top:
        out["explanation"] = explain_flagged(model, features, labels, explain_top)
    return out


def read_batches(data: Path, batch_rows: int) -> tuple[Iterator[pd.DataFrame], int | None]:
    """The data as DataFrame batches of up to ``batch_rows`` rows, and the row count where it
    is known in advance (Parquet metadata, npz)."""
    suffix = data.suffix.lower()
    if data.is_dir() or suffix in (".parquet", ".pq"):
        import pyarrow.dataset as ds

        dataset = ds.dataset(str(data), format="parquet")
        total = dataset.count_rows()

        def parquet() -> Iterator[pd.DataFrame]:
            # file by file, batch by batch, nothing read ahead: the dataset scanner reads
            # ahead (gigabytes when the scoring is slower than the disk)
            import pyarrow.parquet as pq

            for path in dataset.files:
                with pq.ParquetFile(path) as handle:
                    for batch in handle.iter_batches(batch_size=batch_rows, use_threads=False):
                        if batch.num_rows:
                            yield batch.to_pandas()

        return parquet(), total
    if suffix == ".csv":
        return iter(pd.read_csv(data, chunksize=batch_rows)), None
    if suffix == ".npz":
        with np.load(data, allow_pickle=False) as archive:
            arrays = {k: archive[k] for k in archive.files}
        key = "X" if "X" in arrays else next((k for k, v in arrays.items() if v.ndim == 2), None)
        if key is None:
            msg = f"{data} holds no 2-D array (looked for 'X', then any 2-D array)."
            raise ValueError(msg)
        X = arrays[key]
        frame_columns = [f"f{j}" for j in range(X.shape[1])]
        ids = {k: v for k, v in arrays.items() if v.ndim == 1 and len(v) == len(X)}

        def npz() -> Iterator[pd.DataFrame]:
            for start in range(0, len(X), batch_rows):
                frame = pd.DataFrame(X[start:start + batch_rows], columns=frame_columns)
                for name, values in ids.items():
                    frame[name] = values[start:start + batch_rows]
                yield frame

        return npz(), len(X)
    msg = f"{data}: deepad score reads .csv, .parquet (a file or a directory) or .npz files."
    raise ValueError(msg)


def score_file(model_dir: Path, data: Path, out: Path, *, id_column: str | None = None,
               batch_rows: int = DEFAULT_BATCH_ROWS, progress: bool = True,
               explain_top: int = 0) -> int:
    """Score ``data`` in process, batch by batch, into the Parquet file ``out``; return the
    number of rows. ``out`` is written under a temporary name and renamed when complete."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    model = _model(str(model_dir))
    batches, total = read_batches(data, batch_rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    writer = None
    n = 0
    with tqdm(total=total, unit="rows", unit_scale=True, disable=not progress,
              desc="deepad score") as bar:
        try:
            for frame in batches:
                table = pa.Table.from_pandas(
                    score_frame(model, frame, id_column, n, explain_top=explain_top),
                    preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table)
                n += len(frame)
                bar.update(len(frame))
        finally:
            if writer is not None:
                writer.close()
    if writer is None:
        msg = f"{data} holds no rows."
        raise ValueError(msg)
    tmp.replace(out)
    return n


# ---------------------------------------------------------------------------- Dask
def part_path(out: Path, number: int) -> Path:
    return out / f"part-{number:05d}.parquet"


def _score_partition(frame: pd.DataFrame, model_dir: str, out: str, id_column: str | None,
                     partition_info: dict | None = None) -> pd.DataFrame:
    """Score one Dask partition into ``out/part-NNNNN.parquet`` unless that file exists;
    return one row: the partition, its rows, whether it was scored now."""
    number = int(partition_info["number"]) if partition_info else 0
    path = part_path(Path(out), number)
    scored = not path.exists()
    if scored:
        result = score_frame(_model(model_dir), frame, id_column)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
        result.to_parquet(tmp, index=False)
        tmp.replace(path)
    return pd.DataFrame({"partition": [number], "rows": [len(frame)], "scored": [scored],
                         "pid": [os.getpid()]})


def score_dask(model_dir: Path, data: Path, out: Path, *, address: str, workers: int = 2,
               id_column: str | None = None, progress: bool = True) -> pd.DataFrame:
    """Score the Parquet dataset ``data`` on a Dask cluster (``address``, or ``"local"``
    for a ``LocalCluster`` of ``workers`` single-threaded processes) into ``out/``, one file
    per partition; partitions already written are skipped. Returns one row per partition
    (``partition``, ``rows``, ``scored``: False where its file existed, ``pid``: the
    worker process)."""
    try:
        import dask.dataframe as dd
        from distributed import Client, LocalCluster, as_completed
    except ImportError as error:
        msg = "deepad score --dask needs dask: pip install 'deepad[dask]'."
        raise ImportError(msg) from error
    from tqdm.auto import tqdm

    if not (data.is_dir() or data.suffix.lower() in (".parquet", ".pq")):
        msg = f"--dask scores a Parquet file or dataset directory; got {data}."
        raise ValueError(msg)
    out.mkdir(parents=True, exist_ok=True)
    model_dir = model_dir.resolve()
    _model(str(model_dir))  # fail here, not on the workers, if the model does not load
    frame = dd.read_parquet(str(data))
    meta = pd.DataFrame({"partition": pd.Series(dtype=np.int64),
                         "rows": pd.Series(dtype=np.int64), "scored": pd.Series(dtype=bool),
                         "pid": pd.Series(dtype=np.int64)})
    tasks = frame.map_partitions(_score_partition, str(model_dir), str(out.resolve()),
                                 id_column, meta=meta).to_delayed()
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None)
        address = cluster
    results = []
    try:
        with Client(address) as client:
            futures = client.compute(tasks)
            with tqdm(total=len(futures), unit="partitions", disable=not progress,
                      desc="deepad score") as bar:
                for future in as_completed(futures):
                    results.append(future.result())
                    bar.update(1)
    finally:
        if cluster is not None:
            cluster.close()
    return pd.concat(results).sort_values("partition").reset_index(drop=True)


@app.command("score")
def score_command(
    model: Annotated[Path, typer.Argument(help="A model directory written by save / "
                                               "deepad run --save-model.")],
    data: Annotated[Path, typer.Argument(help="CSV, Parquet (file or directory) or .npz.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output Parquet file (with --dask: "
                                                          "a directory of part files).")]
    = Path("scores.parquet"),
    id_column: Annotated[str | None, typer.Option(
        "--id-column", help="A column copied into the output as the row id (default: the "
                            "row's position, column 'row').")] = None,
    batch_rows: Annotated[int, typer.Option("--batch-rows", min=1, help="Rows per batch.")]
    = DEFAULT_BATCH_ROWS,
    dask: Annotated[str | None, typer.Option(
        "--dask", metavar="ADDRESS|local",
        help="Score a Parquet dataset on this Dask scheduler, or on a local cluster; the "
             "cluster must be trusted (Dask pickles tasks).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Processes of --dask local.")]
    = 2,
    explain_top: Annotated[int, typer.Option(
        "--explain", metavar="K", min=0,
        help="For each row labelled anomalous, its K features that raise the score most "
             "(deepad.explain; normal ranges from the batch's normal rows) in a column "
             "'explanation'. Not with --dask.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Score DATA with a saved MODEL, streaming; write id, score and label per row to OUT.

    With --dask ADDRESS|local, score a Parquet dataset partition by partition on a Dask
    cluster; a partition whose output file exists is skipped, so a killed run resumes.
    """
    _configure_logging(verbose)
    if not model.is_dir():
        _fail(f"{model} is not a model directory (written by save / deepad run --save-model).")
    if not data.exists():
        _fail(f"{data} does not exist.")
    start = time.perf_counter()
    with _clean_errors(verbose):
        if dask is not None:
            if explain_top:
                _fail("--explain is not offered with --dask; score in process to explain.")
            parts = score_dask(model, data, out, address=dask, workers=workers,
                               id_column=id_column, progress=not quiet)
            rows, scored = int(parts["rows"].sum()), int(parts["scored"].sum())
            typer.echo(f"{rows:,} rows in {len(parts)} partitions ({scored} scored now, "
                       f"{len(parts) - scored} already written) → {out}/ in "
                       f"{time.perf_counter() - start:.1f} s")
            return
        rows = score_file(model, data, out, id_column=id_column, batch_rows=batch_rows,
                          progress=not quiet, explain_top=explain_top)
    elapsed = time.perf_counter() - start
    typer.echo(f"{rows:,} rows scored → {out} in {elapsed:.1f} s "
               f"({rows / max(elapsed, 1e-9) * 60:,.0f} rows/min)")
