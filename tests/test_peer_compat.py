"""The torch-API fix for DeepOD's pre-torch-2 Transformer layers (deepad.bench.peer_compat)."""

import sys
import types

import pytest
import torch

from deepad.bench.peer_compat import accept_is_causal


class _OldEncoderLayer(torch.nn.Module):
    """A layer written before torch 2.0: no ``is_causal`` argument."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)
        self.self_attn = torch.nn.MultiheadAttention(4, 1)  # read by TransformerEncoder's checks

    def forward(self, src, src_mask=None, src_key_padding_mask=None):
        return self.linear(src)


class _OldDecoderLayer(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)
        self.self_attn = torch.nn.MultiheadAttention(4, 1)  # read by TransformerEncoder's checks

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None):
        return self.linear(tgt) + memory


@pytest.fixture
def old_package(monkeypatch):
    """A fake ``oldpeer.layers`` module holding the two pre-torch-2 layer classes."""
    package = types.ModuleType("oldpeer")
    module = types.ModuleType("oldpeer.layers")
    encoder = type("EncoderLayer", (_OldEncoderLayer,), {"__module__": "oldpeer.layers",
                                                         "forward": _OldEncoderLayer.forward})
    decoder = type("DecoderLayer", (_OldDecoderLayer,), {"__module__": "oldpeer.layers",
                                                         "forward": _OldDecoderLayer.forward})
    module.EncoderLayer, module.DecoderLayer = encoder, decoder
    monkeypatch.setitem(sys.modules, "oldpeer", package)
    monkeypatch.setitem(sys.modules, "oldpeer.layers", module)
    return module


def test_unpatched_layers_fail_under_current_torch(old_package):
    encoder = torch.nn.TransformerEncoder(old_package.EncoderLayer(), 1, enable_nested_tensor=False)
    with pytest.raises(TypeError, match="is_causal"):
        encoder(torch.randn(2, 3, 4))


def test_patched_layers_run_and_compute_the_same(old_package):
    assert sorted(accept_is_causal("oldpeer")) == ["oldpeer.layers.DecoderLayer",
                                                  "oldpeer.layers.EncoderLayer"]
    assert accept_is_causal("oldpeer") == []  # idempotent
    layer = old_package.EncoderLayer()
    x = torch.randn(2, 3, 4)
    encoder = torch.nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
    torch.testing.assert_close(encoder(x), encoder.layers[0].linear(x))
    decoder = torch.nn.TransformerDecoder(old_package.DecoderLayer(), 1)
    memory = torch.randn(2, 3, 4)
    torch.testing.assert_close(decoder(x, memory), decoder.layers[0].linear(x) + memory)


def test_layers_that_take_the_flag_are_left_alone(monkeypatch):
    module = types.ModuleType("newpeer")
    module.Layer = type("Layer", (torch.nn.TransformerEncoderLayer,), {"__module__": "newpeer"})
    monkeypatch.setitem(sys.modules, "newpeer", module)
    assert accept_is_causal("newpeer") == []
