"""Data-parallel training with ``torch.distributed``: what the one ``Trainer`` does under a
launcher such as ``torchrun``.

Launched by ``torchrun --nproc-per-node N script.py`` (or any launcher that sets ``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``), every ``fit`` of a deep detector trains
data-parallel: the process group is initialised on first need (:func:`context`; gloo on the
CPU, NCCL on CUDA devices) unless the script did so itself, and then

- every rank draws the same permutation of the rows (the same ``random_state``) and takes
  its share of each global mini-batch of ``batch_size`` rows (rows ``rank::world`` of it), so
  ``batch_size`` means the global batch whatever the number of processes; a streaming source
  deals its row groups round-robin to the ranks instead;
- before every optimiser step the gradients are all-reduced (:class:`GradientAllReduce`):
  each rank's gradient of its mean loss is weighted by its share of the global batch and
  summed, which is the gradient of the mean loss over the global batch, the arithmetic of
  ``DistributedDataParallel``;
- parameters and buffers start from rank 0's and buffers are broadcast from rank 0 at the
  end; per-epoch losses are averaged over the ranks, so ``history_``, early stopping and the
  fitted model are the same on every rank;
- only rank 0 writes a saved model (:func:`rank0_save`); the others wait for it.

Why the all-reduce is a hook on the optimisers and not the ``DistributedDataParallel``
wrapper: the wrapper synchronises only the gradients of forward passes made through it, and
deepad's methods call their networks' parts directly (an encoder, a generator, a
discriminator), several per step and with several optimisers (GANs). A hook before each
optimiser's step reduces exactly the gradients that step applies, for every method, with the
wrapper's arithmetic (the comparison with a single-process fit is ``tests/test_scale_ddp.py``;
``docs/decisions.md``). What the wrapper adds and this does not is the overlap of the
all-reduce with the backward pass.

A detector whose training is not data-parallel (``data_parallel = False`` on its class, with
the reason in ``data_parallel_refusal``) refuses to fit in a distributed run.
"""

from __future__ import annotations

import dataclasses
import logging
import os

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)

__all__ = ["DistContext", "GradientAllReduce", "context", "rank0_save"]


@dataclasses.dataclass(frozen=True)
class DistContext:
    """The rank of this process and the number of processes of the group."""

    rank: int
    world: int

    def all_mean(self, values: dict[str, float]) -> dict[str, float]:
        """The mean over the ranks of each value (every rank passes the same keys)."""
        if not values:
            return values
        keys = sorted(values)
        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64)
        dist.all_reduce(t)
        return {k: float(v) / self.world for k, v in zip(keys, t.tolist(), strict=True)}

    def all_sum(self, values: list[float]) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def broadcast_module(self, module: torch.nn.Module, buffers_only: bool = False) -> None:
        """Rank 0's parameters (unless ``buffers_only``) and buffers, copied to every rank."""
        tensors = [] if buffers_only else [p.data for p in module.parameters()]
        tensors += [b for b in module.buffers()]
        for t in tensors:
            dist.broadcast(t, src=0)


def _env_world() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def context(device: torch.device | None = None) -> DistContext | None:
    """The data-parallel context of this process, or None when it runs alone.

    An initialised default process group of more than one process is used as it is. Without
    one, a launcher's environment (``WORLD_SIZE`` > 1 with ``RANK``, ``MASTER_ADDR``,
    ``MASTER_PORT``, as ``torchrun`` sets) initialises it: NCCL when ``device`` is a CUDA
    device, else gloo.
    """
    if not dist.is_available():
        return None
    if not dist.is_initialized():
        if _env_world() <= 1 or "RANK" not in os.environ or "MASTER_ADDR" not in os.environ:
            return None
        backend = "nccl" if device is not None and device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        logger.info("deepad: initialised the %s process group, rank %d of %d", backend,
                    dist.get_rank(), dist.get_world_size())
    world = dist.get_world_size()
    return DistContext(dist.get_rank(), world) if world > 1 else None


class GradientAllReduce:
    """Before each step of ``optimizers``, the weighted sum over the ranks of the gradients
    that step applies: rank r's gradients times ``share`` (its rows over the global batch's,
    set by the trainer before every training step), summed with one all-reduce of a flat
    buffer per step. Use as a context manager (the hooks are removed on exit)."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]) -> None:
        self.optimizers = optimizers
        self.share = 1.0
        self._handles: list = []

    def _hook(self, optimizer: torch.optim.Optimizer, args, kwargs) -> None:
        # the parameters with a gradient this step: the same on every rank, which runs the
        # same code on rows of the same shape (a parameter without one is left alone, as
        # the optimiser leaves it: a zero gradient would still move it through momentum)
        grads = [p.grad for group in optimizer.param_groups for p in group["params"]
                 if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads]) * self.share
        dist.all_reduce(flat)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def __enter__(self) -> GradientAllReduce:
        self._handles = [opt.register_step_pre_hook(self._hook) for opt in self.optimizers]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []


def rank0_save(save, path):
    """Call ``save(path)`` on rank 0 only, in a distributed run (all ranks then wait at a
    barrier, so the files exist for everyone when it returns); just ``save(path)`` alone."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return save(path)
    result = save(path) if dist.get_rank() == 0 else path
    dist.barrier()
    return result
