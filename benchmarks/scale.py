"""Large-scale benchmark: streaming training, ``deepad score`` and data-parallel training.

Subcommands (each measurement is a separate process, run with ``nice``; results are kept in
``benchmarks/results/scale.json`` and a finished measurement is not repeated unless
``--force``; ``report`` writes ``docs/results/scale.md``):

- ``generate DIR``: a 20,000,000 x 32 float32 Parquet dataset (20 files of 1,000,000 rows,
  row groups of 131,072 rows, an int64 ``id`` column): rows ``z W + noise`` with a rank-8
  latent ``z``, 0.1 % of them shifted (the anomalies);
- ``stream DIR``: the default AutoEncoder (``TableDetector``: min-max scaling fitted in one
  streaming pass) trained one epoch on the whole Parquet dataset; wall / CPU time, rows per
  second, peak RSS;
- ``memory DIR``: the same on the first N rows read into memory (rows per second of the
  in-memory path), and the streaming path on the same rows (a Parquet copy of them);
- ``score DIR``: ``deepad score`` of the streamed model over the whole dataset, and the bare
  forward pass of the same network on in-memory float32 batches;
- ``ddp DIR``: one epoch on N in-memory rows with 1 process and with 2 processes
  (``torchrun``, gloo), one thread each;
- ``report``: ``docs/results/scale.md`` from the stored results.

Every timing records the load average beside it: the machine has 2 CPU cores shared by
several jobs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STORE = ROOT / "benchmarks" / "results" / "scale.json"
PAGE = ROOT / "docs" / "results" / "scale.md"
N_ROWS = 20_000_000
N_FILES = 20
N_FEATURES = 32
ROW_GROUP = 131_072
SUBSET = 1_000_000


def load_store() -> dict:
    return json.loads(STORE.read_text()) if STORE.exists() else {}


def save_result(key: str, value: dict) -> None:
    store = load_store()
    store[key] = value
    STORE.parent.mkdir(parents=True, exist_ok=True)
    tmp = STORE.with_suffix(".tmp")
    tmp.write_text(json.dumps(store, indent=1, sort_keys=True))
    tmp.replace(STORE)


def loadavg() -> float:
    return os.getloadavg()[0]


# ---------------------------------------------------------------------------- data
def generate(folder: Path, n_rows: int = N_ROWS, n_files: int = N_FILES) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(8, N_FEATURES)).astype(np.float32)
    per_file = n_rows // n_files
    names = [f"x{j:02d}" for j in range(N_FEATURES)]
    for i in range(n_files):
        path = folder / f"part-{i:03d}.parquet"
        if path.exists():
            continue
        frng = np.random.default_rng(1000 + i)
        z = frng.normal(size=(per_file, 8)).astype(np.float32)
        x = z @ weights + 0.1 * frng.normal(size=(per_file, N_FEATURES)).astype(np.float32)
        anomalies = frng.random(per_file) < 0.001
        x[anomalies] += frng.normal(0, 3, size=(int(anomalies.sum()), N_FEATURES)).astype(
            np.float32)
        columns = {"id": pa.array(np.arange(i * per_file, (i + 1) * per_file, dtype=np.int64))}
        columns |= {name: pa.array(x[:, j]) for j, name in enumerate(names)}
        columns["is_anomaly"] = pa.array(anomalies.astype(np.int8))
        tmp = path.with_suffix(".tmp")
        pq.write_table(pa.table(columns), tmp, row_group_size=ROW_GROUP, compression="none")
        tmp.replace(path)
        print(f"wrote {path}", flush=True)


# ---------------------------------------------------------------------------- measured runs
def child_stats(start_wall: float, start_cpu: float, start_load: float) -> dict:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall_s": time.perf_counter() - start_wall,
            "cpu_s": time.process_time() - start_cpu,
            "peak_rss_mb": usage.ru_maxrss / 1024,
            "load_start": start_load, "load_end": loadavg()}


def run_child(args: list[str], key: str, force: bool, threads: int = 1,
              batch: int = 64) -> None:
    if batch != 64:
        key = f"{key}-b{batch}"
    if key in load_store() and not force:
        print(f"{key}: stored, skipped")
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "SCALE_BATCH": str(batch)}
    out = subprocess.run(["nice", "-n", "10", sys.executable, __file__, "child", *args],
                         env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        print(out.stdout[-3000:], out.stderr[-3000:])
        raise SystemExit(f"{key} failed")
    result = json.loads(out.stdout.strip().splitlines()[-1]) | {"batch_size": batch}
    save_result(key, result)
    print(key, result)


def time_training() -> dict:
    """Wrap the trainer's loops to record the wall and CPU time of training alone (the
    fits also scan, scale and score), filled in when a loop returns."""
    from deepad.core.trainer import Trainer

    times: dict = {}
    for name in ("fit", "fit_stream"):
        original = getattr(Trainer, name)

        def timed(self, *args, _original=original, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            history = _original(self, *args, **kwargs)
            times.update(train_wall_s=time.perf_counter() - wall,
                         train_cpu_s=time.process_time() - cpu)
            return history

        setattr(Trainer, name, timed)
    return times


def watch_progress(key: str, wall: float, cpu: float, load: float) -> None:
    """Count the rows trained and store them with the peak RSS every 30 s, so a run stopped
    before its end still leaves its rate and memory."""
    from deepad import AutoEncoder

    original = AutoEncoder.training_step
    state = {"rows": 0, "steps": 0, "last": time.perf_counter()}

    def counted(self, batch, optimizers):
        logs = original(self, batch, optimizers)
        state["rows"] += len(batch.x)
        state["steps"] += 1
        if time.perf_counter() - state["last"] > 30:
            state["last"] = time.perf_counter()
            save_result(key, child_stats(wall, cpu, load) | {"rows_trained": state["rows"],
                                                             "steps": state["steps"]})
        return logs

    AutoEncoder.training_step = counted


def child(argv: list[str]) -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    kind, folder = argv[0], Path(argv[1])
    batch = int(os.environ.get("SCALE_BATCH", "64"))
    from deepad import AutoEncoder, TableDetector
    from deepad.data import ParquetSource

    train = time_training()
    wall, cpu, load = time.perf_counter(), time.process_time(), loadavg()
    if kind == "stream":
        watch_progress(f"{kind}-b{batch}-progress", wall, cpu, load)
        source = ParquetSource(folder, exclude=["id", "is_anomaly"])
        model = TableDetector(AutoEncoder(epochs=1, batch_size=batch, random_state=0)).fit(source)
        model.save(argv[2])
        stats = child_stats(wall, cpu, load)
        stats |= {"rows": source.count_rows(), "loss": model.detector_.history_[-1]["loss"]}
    elif kind == "memory":
        import pyarrow.parquet as pq

        frame = pq.read_table(folder / "part-000.parquet").to_pandas()
        frame = frame.drop(columns=["id", "is_anomaly"])
        wall, cpu, load = time.perf_counter(), time.process_time(), loadavg()
        model = TableDetector(AutoEncoder(epochs=1, batch_size=batch, random_state=0)).fit(frame)
        stats = child_stats(wall, cpu, load)
        stats |= {"rows": len(frame), "loss": model.detector_.history_[-1]["loss"]}
    elif kind == "stream-subset":
        source = ParquetSource(folder / "part-000.parquet", exclude=["id", "is_anomaly"])
        model = TableDetector(AutoEncoder(epochs=1, batch_size=batch, random_state=0)).fit(source)
        stats = child_stats(wall, cpu, load)
        stats |= {"rows": source.count_rows(), "loss": model.detector_.history_[-1]["loss"]}
    elif kind == "forward":
        import deepad

        model = deepad.load(argv[2])
        net = model.detector_.model_.eval()
        x = np.random.default_rng(0).random((1_000_000, N_FEATURES), dtype=np.float32)
        wall, cpu, load = time.perf_counter(), time.process_time(), loadavg()
        with torch.no_grad():
            for start in range(0, len(x), 65_536):
                xb = torch.from_numpy(x[start:start + 65_536])
                ((net(xb) - xb) ** 2).mean(dim=1)
        stats = child_stats(wall, cpu, load) | {"rows": len(x)}
    else:
        raise SystemExit(f"unknown child {kind}")
    print(json.dumps(stats | train))


def fit_small_model(folder: Path, model: Path) -> None:
    """The default AutoEncoder (behind min-max scaling) fitted one epoch on the first 100,000
    rows: the network ``deepad score`` applies (its rate does not depend on the weights)."""
    import pyarrow.parquet as pq

    from deepad import AutoEncoder, TableDetector

    frame = pq.read_table(folder / "part-000.parquet").slice(0, 100_000).to_pandas()
    TableDetector(AutoEncoder(epochs=1, random_state=0), drop=["id", "is_anomaly"]).fit(
        frame).save(model)


def score(folder: Path, model: Path, out: Path, force: bool) -> None:
    key = "score"
    if key in load_store() and not force:
        print(f"{key}: stored, skipped")
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    load = loadavg()
    wall = time.perf_counter()
    cmd = ["nice", "-n", "10", sys.executable, "-m", "deepad", "score", str(model), str(folder),
           "--out", str(out), "--id-column", "id"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, env=env, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(out).metadata.num_rows
    save_result(key, {"wall_s": time.perf_counter() - wall, "cpu_s": cpu, "rows": rows,
                      "peak_rss_mb": after.ru_maxrss / 1024, "load_start": load,
                      "load_end": loadavg()})


def ddp(folder: Path, force: bool, n_rows: int, batch: int = 64) -> None:
    script = ROOT / "benchmarks" / "scale_ddp_worker.py"
    for procs in (1, 2):
        key = f"ddp-{procs}" if batch == 64 else f"ddp-{procs}-b{batch}"
        if key in load_store() and not force:
            print(f"{key}: stored, skipped")
            continue
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        load = loadavg()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter()
        cmd = ["nice", "-n", "10", sys.executable, "-m", "torch.distributed.run",
               "--standalone", f"--nproc-per-node={procs}", str(script), str(folder),
               str(n_rows), str(batch)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if out.returncode:
            print(out.stdout[-3000:], out.stderr[-3000:])
            raise SystemExit(f"{key} failed")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        fit = json.loads([line for line in out.stdout.splitlines()
                          if line.startswith("{")][-1])
        save_result(key, fit | {"procs": procs, "total_wall_s": time.perf_counter() - wall,
                                "cpu_s_all": (after.ru_utime + after.ru_stime)
                                - (before.ru_utime + before.ru_stime),
                                "load_start": load, "load_end": loadavg()})
        print(key, load_store()[key])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["generate", "stream", "memory", "score", "ddp",
                                            "report", "child"])
    parser.add_argument("rest", nargs="*")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--ddp-rows", type=int, default=200_000)
    parser.add_argument("--model", type=Path, default=None,
                        help="score: this saved model instead of the one `stream` saves")
    parser.add_argument("--fit-model", action="store_true",
                        help="score: first fit the default AutoEncoder for one epoch on the "
                             "first 100,000 rows and save it as --model")
    parser.add_argument("--score-files", type=int, default=N_FILES,
                        help="score: the first N files of the dataset (symlinked into a folder)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="AutoEncoder batch size of stream / memory (64: the default)")
    args, extra = parser.parse_known_args()
    if args.command == "child":
        child(args.rest + extra)
        return
    if args.command == "report":
        from scale_report import write_report  # benchmarks/scale_report.py

        write_report(load_store(), PAGE)
        print(f"wrote {PAGE}")
        return
    folder = Path(args.rest[0])
    model = args.model or folder.parent / "scale-model"
    if args.command == "generate":
        generate(folder)
    elif args.command == "stream":
        run_child(["stream", str(folder), str(model)], "stream", args.force,
                  batch=args.batch_size)
    elif args.command == "memory":
        run_child(["memory", str(folder)], "memory", args.force, batch=args.batch_size)
        run_child(["stream-subset", str(folder)], "stream-subset", args.force,
                  batch=args.batch_size)
    elif args.command == "score":
        if args.fit_model and not model.exists():
            fit_small_model(folder, model)
        data = folder
        if args.score_files < N_FILES:
            data = folder.parent / f"first-{args.score_files}-files"
            data.mkdir(exist_ok=True)
            for path in sorted(folder.glob("*.parquet"))[:args.score_files]:
                link = data / path.name
                if not link.exists():
                    link.symlink_to(path)
        score(data, model, folder.parent / "scores.parquet", args.force)
        run_child(["forward", str(folder), str(model)], "forward", args.force)
    elif args.command == "ddp":
        ddp(folder, args.force, args.ddp_rows, args.batch_size)


if __name__ == "__main__":
    main()
