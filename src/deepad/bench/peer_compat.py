"""API compatibility for DeepOD 0.4.1 under current torch and numpy, and for PyGOD 1.1.0
without PyG's compiled sampling extensions: fixes that change no computation.

1. Torch: DeepOD's own Transformer layers (:func:`accept_is_causal`).
2. Numpy: REPEN's triplet sampler (:func:`scalar_single_draws`).
3. PyG: PyGOD's full-graph "sampler" (:func:`full_graph_loader`).

Transformer layers
------------------

DeepOD's TranAD and its Transformer network (used by DeepSVDDTS, and others through
``network="Transformer"``) define encoder and decoder layers whose ``forward(src, src_mask=None,
src_key_padding_mask=None)`` predates torch 2.0, where ``torch.nn.TransformerEncoder`` and
``TransformerDecoder`` started passing ``is_causal=`` (``tgt_is_causal=``,
``memory_is_causal=``) to every layer. Under a current torch they fail with ``forward() got an
unexpected keyword argument 'is_causal'`` before training a single step.

:func:`accept_is_causal` lets those layers take the flags and ignore them. The flags are only
hints that a mask passed alongside is causal; DeepOD passes no causal mask to these layers
(they attend over the whole window), so dropping them changes no computation: the peers run
as published, on the torch they are installed with. This is the one change the adapter makes
to a peer's Transformer layers; it is a signature fix, not a change of method.

PyGOD's loader
--------------
Every PyGOD 1.1.0 deep detector (``pygod.detector.DeepDetector.fit`` / ``decision_function``,
and GADNR in mini-batch mode) iterates over ``torch_geometric.loader.NeighborLoader(data,
num_neigh, batch_size=batch_size)``, also with its defaults ``batch_size=0`` (→ all nodes)
and ``num_neigh=-1`` (all neighbours), where the "sample" is the whole graph. PyG's neighbour
sampler needs the compiled ``pyg-lib`` or ``torch-sparse``, which have no wheels for current
torch, so every PyGOD deep detector fails at its first batch (``'NeighborSampler' requires
either 'pyg-lib' or 'torch-sparse'``). :func:`full_graph_loader` replaces the name
``NeighborLoader`` in those two PyGOD modules by :class:`FullGraphLoader`, which yields what
the sampler yields in that case: one batch holding every node in order (``n_id = 0..n-1``,
``batch_size = n``) and every edge, with the graph's other attributes (``data.s``, the dense
adjacency PyGOD's models read) as they are. PyGOD's models, losses, optimisers and scores run
unchanged; only the order in which edges are listed may differ from the sampler's (the
sampler lists a subgraph's edges by target node), which changes sums in floating point, not
the method. Genuine sampling (``num_neigh`` other than -1, or ``batch_size`` smaller than the
graph) raises ``NotImplementedError`` saying so, never silently trains on the full graph.

REPEN's sampler
---------------
``deepod.models.tabular.repen.REPENLoader.triplet_batch_generation`` draws each triplet index
with ``np.random.choice(n, 1, ...)``, an array of shape ``(1,)``, and stores it in one element
of an index array (``examples_ids[i] = inlier_ids[sid]``). Numpy deprecated that assignment in
1.25 and refuses it from 2.4 on (``ValueError: setting an array element with a sequence``), so
REPEN failed on every job of the quick suite. :func:`scalar_single_draws` gives that module
(only it: its global name ``np``) a numpy whose ``random.choice(n, 1, ...)`` returns the one
draw as a scalar, ``np.random.choice(n, None, ...)``. Both calls consume the global generator
identically and return the same value (tested), so REPEN trains on the same triplets as under
an older numpy.
"""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import sys
from typing import Any

import numpy as np

_PATCHED = "_deepad_accepts_is_causal"
_FLAGS = ("is_causal", "tgt_is_causal", "memory_is_causal")
_LAYER_ARGUMENTS = ("src_key_padding_mask", "tgt_key_padding_mask")


def _needs_patch(cls: type) -> bool:
    forward = cls.__dict__.get("forward")
    if forward is None or getattr(forward, _PATCHED, False):
        return False
    parameters = inspect.signature(forward).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    is_layer = any(name in parameters for name in _LAYER_ARGUMENTS)
    return is_layer and not takes_any and not any(flag in parameters for flag in _FLAGS)


def _dropping_is_causal(forward: Any) -> Any:
    @functools.wraps(forward)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        for flag in _FLAGS:
            kwargs.pop(flag, None)
        return forward(self, *args, **kwargs)

    setattr(wrapper, _PATCHED, True)
    return wrapper


def accept_is_causal(package: str = "deepod") -> list[str]:
    """Patch every loaded ``package`` Transformer layer that rejects the flags; return their names.

    Idempotent. Only classes defined in already-imported ``package.*`` modules are touched.
    """
    import torch

    patched = []
    for name, module in list(sys.modules.items()):
        if module is None or not (name == package or name.startswith(package + ".")):
            continue
        for cls in list(vars(module).values()):
            if (isinstance(cls, type) and issubclass(cls, torch.nn.Module)
                    and cls.__module__ == name and _needs_patch(cls)):
                cls.forward = _dropping_is_causal(cls.__dict__["forward"])
                patched.append(f"{name}.{cls.__qualname__}")
    return patched


REPEN_MODULE = "deepod.models.tabular.repen"


class _Delegate:
    """An object that answers every attribute of ``target``, except ``overrides``."""

    def __init__(self, target: Any, **overrides: Any) -> None:
        self._target = target
        self.__dict__.update(overrides)
        setattr(self, _PATCHED, True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


def _choice(a: Any, size: Any = None, replace: bool = True, p: Any = None) -> Any:
    """``np.random.choice`` with a single draw (``size=1``) returned as a scalar."""
    if isinstance(size, int | np.integer) and not isinstance(size, bool) and size == 1:
        size = None
    return np.random.choice(a, size, replace, p)


def scalar_single_draws(module_name: str = REPEN_MODULE) -> bool:
    """Give ``module_name`` a numpy whose ``random.choice(n, 1)`` is a scalar draw (see the
    module doc); returns whether the module was patched now (False when it is not installed
    or already patched). Only that module's global ``np`` changes."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    current = getattr(module, "np", None)
    if current is None or getattr(current, _PATCHED, False):
        return False
    module.np = _Delegate(current, random=_Delegate(current.random, choice=_choice))
    return True


PYGOD_LOADER_MODULES = ("pygod.detector.base", "pygod.detector.gadnr")


class FullGraphLoader:
    """What ``NeighborLoader(data, [-1, ...], batch_size=n)`` yields, without the compiled
    sampler: one batch, the whole graph, ``n_id = arange(n)``, ``batch_size = n`` (see the
    module doc). Any real sampling request raises ``NotImplementedError``."""

    def __init__(self, data: Any, num_neighbors: Any, batch_size: int = 1, **kwargs: Any) -> None:
        n = int(data.num_nodes)
        many = isinstance(num_neighbors, list | tuple)
        fanouts = list(num_neighbors) if many else [num_neighbors]
        unsupported = sorted(k for k, v in kwargs.items() if v not in (None, False))
        if any(int(f) != -1 for f in fanouts) or int(batch_size) < n or unsupported:
            extra = "".join(f", {name}" for name in unsupported)
            msg = (f"PyGOD asked for neighbour sampling (num_neigh={num_neighbors}, "
                   f"batch_size={batch_size} of {n} nodes{extra}), which needs pyg-lib or "
                   "torch-sparse; deepad's compatibility loader serves only PyGOD's full-graph "
                   "default (num_neigh=-1, batch_size=0).")
            raise NotImplementedError(msg)
        self.data = data
        self.num_nodes = n

    def __len__(self) -> int:
        return 1

    def __iter__(self):
        import torch

        batch = copy.copy(self.data)
        batch.n_id = torch.arange(self.num_nodes)
        batch.batch_size = self.num_nodes
        yield batch


def full_graph_loader() -> list[str]:
    """Give PyGOD's detector modules :class:`FullGraphLoader` as ``NeighborLoader``; return
    the modules patched now (idempotent; none when PyGOD is not installed)."""
    patched = []
    for name in PYGOD_LOADER_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "NeighborLoader", None) is not FullGraphLoader:
            module.NeighborLoader = FullGraphLoader
            patched.append(name)
    return patched
