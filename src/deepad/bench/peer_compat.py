"""Torch-API compatibility for DeepOD 0.4.1's own Transformer layers.

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
to a peer; it is a signature fix, not a change of method.
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any

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
