"""Run by ``benchmarks/scale.py ddp`` under ``torchrun --nproc-per-node N``: the default
AutoEncoder, one epoch on the first ROWS rows of the generated data (min-max scaled, in
memory, global batch BATCH, 64 by default), the training loop timed on every rank; rank 0
prints one JSON line."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main(folder: Path, n_rows: int, batch_size: int = 64) -> None:
    import numpy as np
    import pyarrow.parquet as pq
    import torch
    import torch.distributed as dist

    from deepad import AutoEncoder
    from deepad.core import trainer as trainer_module

    torch.set_num_threads(1)
    table = pq.read_table(folder / "part-000.parquet").slice(0, n_rows)
    X = np.column_stack([table[c].to_numpy() for c in table.column_names
                         if c.startswith("x")]).astype(np.float32)
    X = (X - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))
    timing = {}
    original = trainer_module.Trainer.fit

    def timed(self, *args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        history = original(self, *args, **kwargs)
        timing.update(train_wall_s=time.perf_counter() - wall,
                      train_cpu_s=time.process_time() - cpu)
        return history

    trainer_module.Trainer.fit = timed
    det = AutoEncoder(epochs=1, batch_size=batch_size, random_state=0).fit(X)
    world = dist.get_world_size() if dist.is_initialized() else 1
    rank = dist.get_rank() if dist.is_initialized() else 0
    if rank == 0:
        print(json.dumps({"rows": len(X), "world": world, "batch_size": batch_size,
                          "loss": det.history_[-1]["loss"],
                          **timing}), flush=True)
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 64)
