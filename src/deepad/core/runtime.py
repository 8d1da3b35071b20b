"""Device resolution and local seeding: the only places that touch torch's global state.

``device=None`` means CUDA when available, else CPU, resolved in ``fit`` (never at import or
in ``__init__``). Seeding never changes the caller's random streams: network initialisation
and dropout run inside ``torch.random.fork_rng``, and data sampling uses a local
``torch.Generator``.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator

import numpy as np
import torch


def resolve_device(device: str | torch.device | None) -> torch.device:
    """``None`` → ``cuda`` when available, else ``cpu``; otherwise the device asked for."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        msg = f"device={device!r} was requested but CUDA is not available on this machine."
        raise ValueError(msg)
    return resolved


def resolve_seed(random_state: int | np.random.RandomState | np.random.Generator | None) -> int:
    """An int seed from a ``random_state`` hyperparameter (None → a fresh random seed)."""
    if random_state is None:
        return int(np.random.default_rng().integers(2**31 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(2**31 - 1))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    msg = f"random_state must be None, an int or a numpy random generator; got {random_state!r}."
    raise ValueError(msg)


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[torch.Generator]:
    """Seed torch for the duration of the block and restore the caller's RNG state after.

    Yields a CPU ``torch.Generator`` seeded with ``seed`` for index sampling.
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)
