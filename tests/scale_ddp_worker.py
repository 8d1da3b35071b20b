"""Run by tests/test_scale_ddp.py under ``torchrun --nproc-per-node 2``: a data-parallel fit
(in memory, then streaming) whose scores each rank writes to OUT/rank-R-*.npy."""

from __future__ import annotations

import sys
from pathlib import Path


def main(out: Path) -> None:
    import numpy as np
    import torch
    import torch.distributed as dist

    from deepad import AutoEncoder, GANomaly, load
    from deepad.data import ParquetSource

    torch.set_num_threads(1)
    data = np.load(out / "data.npy")
    params = {"hidden_dims": (16, 4), "dropout": 0.0, "epochs": 3, "batch_size": 64,
              "random_state": 0}
    det = AutoEncoder(**params).fit(data)
    rank = dist.get_rank()
    np.save(out / f"rank-{rank}-memory.npy", det.decision_function(data))
    det.save(out / "model")  # rank 0 writes, every rank returns once it is written
    np.save(out / f"rank-{rank}-loaded.npy", load(out / "model").decision_function(data))
    streamed = AutoEncoder(**params).fit(ParquetSource(out / "data.parquet"))
    np.save(out / f"rank-{rank}-stream.npy", streamed.decision_function(data))
    # two optimisers per step: each step's gradients are reduced
    gan = GANomaly(hidden_dims=(16,), latent_dim=4, epochs=2, batch_size=64, random_state=0)
    np.save(out / f"rank-{rank}-gan.npy", gan.fit(data).decision_function(data))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
