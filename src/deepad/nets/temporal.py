"""Temporal backbones for sequence windows ``(batch, window, n_features)``.

Encoders (GRU, LSTM, TCN, Transformer) map a window to one vector (for scores, centres,
reconstructions); the decoders (GRU, LSTM) map a vector back to a window. :class:`StepConv`
maps a window to a window of the same length (per-step codes), for reconstructors whose
bottleneck is a narrow feature map rather than one vector. Every encoder reads
out the per-step features by mean **and** max pooling over time rather than the last step
only: a local anomaly (a spike, a shift, a burst of high frequency) can sit anywhere in the
window, and max pooling over translation-equivariant features finds it wherever it is. On
planted local anomalies this lifted Deep SVDD from 0.83 to 0.95 AUC-ROC and DevNet from 0.54
to 0.86 (``docs/decisions.md``). Pooling forgets *where* in the window things happen;
encoders whose code must be decoded back into the window add the last step's features
(``readout="pool_last"``, :data:`READOUTS`).

The first entry of ``hidden_dims`` is the recurrent / convolutional / attention width, the
remaining entries are dense layers of the head, so the same ``hidden_dims`` hyperparameter
describes a network for rows and for windows.

``bias=False`` (Deep SVDD's bias-free networks, Ruff et al. 2018, Prop. 2) removes every
additive constant, so every encoder maps the all-zero window to the zero vector and cannot
learn a constant map by zeroing its weights. For the Transformer this rules out the usual
additive sinusoidal position code (a constant input: with zero input weights the encoder
would output a function of the positions only, the same for every window); the bias-free
Transformer encodes positions with a depthwise convolution instead (see
:class:`TransformerEncoder`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from deepad.nets.mlp import MLP, activation_layer

READOUTS = ("pool", "pool_last")
"""How an encoder reads its per-step features out: ``"pool"``, the mean and the maximum over
time (position-free: finds a local anomaly wherever it sits); ``"pool_last"``, those and the
last step's features, which (causal TCN, recurrent nets) summarise the whole window in order
and so keep where things happen in it, such as the phase of a periodic signal. A network that
must reconstruct a window from its code needs that; a scoring head does not."""


def pool_steps(steps: torch.Tensor, readout: str = "pool") -> torch.Tensor:
    """Per-step features ``(batch, window, channels)`` → ``(batch, 2 · channels)``: the mean
    and the maximum over time; with ``readout="pool_last"`` also the last step,
    ``(batch, 3 · channels)``."""
    pooled = [steps.mean(dim=1), steps.amax(dim=1)]
    if readout == "pool_last":
        pooled.append(steps[:, -1])
    return torch.cat(pooled, dim=1)


def readout_width(channels: int, readout: str) -> int:
    """The width :func:`pool_steps` gives for ``channels`` per-step features."""
    if readout not in READOUTS:
        msg = f"Unknown readout={readout!r}; choose one of {list(READOUTS)}."
        raise ValueError(msg)
    return (3 if readout == "pool_last" else 2) * channels


class GRUEncoder(nn.Module):
    """GRU over the window; its per-step outputs, mean- and max-pooled over time, feed an MLP
    head."""

    def __init__(self, n_features: int, hidden_dims: Sequence[int], out_dim: int | None, *,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False,
                 bias: bool = True, readout: str = "pool") -> None:
        super().__init__()
        self.readout = readout
        self.gru = nn.GRU(n_features, hidden_dims[0], batch_first=True, bias=bias)
        self.head = MLP(readout_width(hidden_dims[0], readout), hidden_dims[1:], out_dim,
                        activation=activation, dropout=dropout, batch_norm=batch_norm,
                        bias=bias)
        self.out_dim = self.head.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, _ = self.gru(x)
        return self.head(pool_steps(steps, self.readout))


class LSTMEncoder(nn.Module):
    """LSTM over the window (Hochreiter & Schmidhuber 1997; the LSTM encoders of Malhotra et
    al. 2015 / 2016 for time-series anomalies); its per-step outputs, mean- and max-pooled over
    time, feed an MLP head."""

    def __init__(self, n_features: int, hidden_dims: Sequence[int], out_dim: int | None, *,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False,
                 bias: bool = True, readout: str = "pool") -> None:
        super().__init__()
        self.readout = readout
        self.lstm = nn.LSTM(n_features, hidden_dims[0], batch_first=True, bias=bias)
        self.head = MLP(readout_width(hidden_dims[0], readout), hidden_dims[1:], out_dim,
                        activation=activation, dropout=dropout, batch_norm=batch_norm,
                        bias=bias)
        self.out_dim = self.head.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, _ = self.lstm(x)
        return self.head(pool_steps(steps, self.readout))


class _CausalBlock(nn.Module):
    """Two dilated causal convolutions with a residual connection (Bai et al. 2018)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, dilation: int, activation: str,
                 dropout: float, bias: bool) -> None:
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv1 = nn.Conv1d(in_ch, out_ch, kernel, dilation=dilation, bias=bias)
        self.conv2 = nn.Conv1d(out_ch, out_ch, kernel, dilation=dilation, bias=bias)
        self.act = activation_layer(activation)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.skip = nn.Conv1d(in_ch, out_ch, 1, bias=bias) if in_ch != out_ch else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.act(self.conv1(F.pad(x, (self.pad, 0)))))
        h = self.drop(self.act(self.conv2(F.pad(h, (self.pad, 0)))))
        return self.act(h + self.skip(x))


class TCNEncoder(nn.Module):
    """Temporal convolutional network: residual blocks with dilations 1, 2, 4, ... until the
    receptive field covers the window; the per-step features, mean- and max-pooled over time,
    feed an MLP head."""

    def __init__(self, n_features: int, window: int, hidden_dims: Sequence[int],
                 out_dim: int | None, *, kernel_size: int = 3, activation: str = "relu",
                 dropout: float = 0.0, batch_norm: bool = False, bias: bool = True,
                 readout: str = "pool") -> None:
        super().__init__()
        self.readout = readout
        # each block adds 2 * (k - 1) * dilation to the receptive field
        levels = max(1, math.ceil(math.log2(max(window - 1, 1) / (2 * (kernel_size - 1)) + 1)))
        channels = hidden_dims[0]
        self.blocks = nn.Sequential(*[
            _CausalBlock(n_features if i == 0 else channels, channels, kernel_size, 2**i,
                         activation, dropout, bias) for i in range(levels)])
        self.head = MLP(readout_width(channels, readout), hidden_dims[1:], out_dim,
                        activation=activation, dropout=dropout, batch_norm=batch_norm,
                        bias=bias)
        self.out_dim = self.head.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.blocks(x.transpose(1, 2))  # (batch, channels, window)
        return self.head(pool_steps(features.transpose(1, 2), self.readout))


class StepConv(nn.Module):
    """Non-causal dilated 1-D convolutions that keep the window's length:
    ``(batch, window, in_features) → (batch, window, out_features)``.

    ``len(dilations)`` convolutions of ``width`` channels (kernel ``kernel_size``, "same"
    padding, dilation 1, 2, 4, ... by default), each followed by ``activation``, then a 1×1
    convolution to ``out_features``. As an encoder it gives a code per step; a second one
    decodes it: the window analogue of an image encoder-decoder whose bottleneck is a
    feature map (ALOCC's reconstructor). The receptive field is
    ``1 + (kernel_size - 1) · Σ dilations`` steps (29 by default), centred on the step.
    """

    def __init__(self, in_features: int, width: int, out_features: int, *,
                 kernel_size: int = 5, dilations: Sequence[int] = (1, 2, 4),
                 activation: str = "relu", bias: bool = True) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            msg = f"StepConv needs an odd kernel_size to keep the length; got {kernel_size}."
            raise ValueError(msg)
        layers: list[nn.Module] = []
        channels = in_features
        for dilation in dilations:
            layers += [nn.Conv1d(channels, width, kernel_size, dilation=dilation,
                                 padding=dilation * (kernel_size - 1) // 2, bias=bias),
                       activation_layer(activation)]
            channels = width
        layers.append(nn.Conv1d(channels, out_features, 1, bias=bias))
        self.net = nn.Sequential(*layers)
        self.out_dim = out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.transpose(1, 2)).transpose(1, 2)


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """The sinusoidal position code of Vaswani et al. 2017 (Sec. 3.5), shape (length, dim):
    ``PE[t, 2i] = sin(t / 10000^(2i/dim))``, ``PE[t, 2i+1] = cos(t / 10000^(2i/dim))``."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32)
                          * (-math.log(10000.0) / dim))
    code = torch.zeros(length, dim)
    code[:, 0::2] = torch.sin(position * frequency)
    code[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return code


def attention_heads(width: int, most: int = 4) -> int:
    """The most heads (at most ``most``) that divide ``width``."""
    return next(h for h in range(min(most, width), 0, -1) if width % h == 0)


class _PreNormLayer(nn.Module):
    """One pre-norm Transformer encoder layer (Xiong et al., ICML 2020):
    ``x + MHA(LN(x))`` then ``x + FF(LN(x))``, bidirectional self-attention over the window."""

    def __init__(self, width: int, n_heads: int, ff_width: int, activation: str,
                 dropout: float, bias: bool) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(width, bias=bias)
        self.qkv = nn.Linear(width, 3 * width, bias=bias)
        self.proj = nn.Linear(width, width, bias=bias)
        self.norm2 = nn.LayerNorm(width, bias=bias)
        self.ff = nn.Sequential(nn.Linear(width, ff_width, bias=bias), activation_layer(activation),
                                nn.Linear(ff_width, width, bias=bias))
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        q, k, v = (self.qkv(self.norm1(x)).view(batch, length, 3, self.n_heads, -1)
                   .permute(2, 0, 3, 1, 4))  # 3 × (batch, heads, length, head width)
        attended = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0)
        x = x + self.drop(self.proj(attended.transpose(1, 2).reshape(batch, length, width)))
        return x + self.drop(self.ff(self.norm2(x)))


class TransformerEncoder(nn.Module):
    """A small Transformer encoder over the window (Vaswani et al. 2017), pre-norm.

    Each step is embedded linearly to ``d_model = hidden_dims[0]``, positions are added, then
    ``n_layers`` pre-norm layers (multi-head self-attention over the whole window with
    ``attention_heads(d_model)`` ≤ 4 heads, a feed-forward block of width ``2 · d_model`` with
    ``activation``) and a final layer norm; the per-step features, mean- and max-pooled over
    time, feed an MLP head over ``hidden_dims[1:]``.

    Positions: with ``bias=True`` the fixed sinusoidal code (Vaswani et al., Sec. 3.5) is added
    to the embedding. With ``bias=False`` a fixed code would act as a bias (see the module
    docstring), so the embedding gets a depthwise convolution of itself instead,
    ``e + DWConv_k=3(e)`` (the convolutional position encoding of wav2vec 2.0, Baevski et al.
    2020, and CPE, Chu et al. 2021), which tells steps apart by their neighbourhood and maps
    zero to zero. Attention costs O(window²) memory per window and head.
    """

    def __init__(self, n_features: int, window: int, hidden_dims: Sequence[int],
                 out_dim: int | None, *, n_layers: int = 2, activation: str = "relu",
                 dropout: float = 0.0, batch_norm: bool = False, bias: bool = True,
                 readout: str = "pool") -> None:
        super().__init__()
        self.readout = readout
        width = hidden_dims[0]
        self.embed = nn.Linear(n_features, width, bias=bias)
        if bias:
            self.register_buffer("positions", sinusoidal_positions(window, width),
                                 persistent=False)
            self.position_conv = None
        else:
            self.positions = None
            self.position_conv = nn.Conv1d(width, width, 3, padding=1, groups=width, bias=False)
        self.layers = nn.ModuleList([
            _PreNormLayer(width, attention_heads(width), 2 * width, activation, dropout, bias)
            for _ in range(n_layers)])
        self.norm = nn.LayerNorm(width, bias=bias)
        self.head = MLP(readout_width(width, readout), hidden_dims[1:], out_dim,
                        activation=activation, dropout=dropout, batch_norm=batch_norm,
                        bias=bias)
        self.out_dim = self.head.out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)  # (batch, window, width)
        if self.positions is not None:
            h = h + self.positions
        else:
            h = h + self.position_conv(h.transpose(1, 2)).transpose(1, 2)
        for layer in self.layers:
            h = layer(h)
        return self.head(pool_steps(self.norm(h), self.readout))


class GRUDecoder(nn.Module):
    """Vector → window: the code is repeated over the window and decoded by a GRU and a
    per-step linear read-out (the sequence decoder of Malhotra et al. 2016, simplified to
    condition every step on the code)."""

    def __init__(self, latent_dim: int, window: int, n_features: int, hidden: int, *,
                 bias: bool = True) -> None:
        super().__init__()
        self.window = window
        self.gru = nn.GRU(latent_dim, hidden, batch_first=True, bias=bias)
        self.readout = nn.Linear(hidden, n_features, bias=bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        steps, _ = self.gru(z.unsqueeze(1).expand(-1, self.window, -1))
        return self.readout(steps)


class LSTMDecoder(nn.Module):
    """Vector → window with an LSTM: the decoder of the LSTM encoder-decoder of Malhotra et al.
    2016, simplified like :class:`GRUDecoder` (the code is repeated over the window and every
    step is conditioned on it; a per-step linear read-out)."""

    def __init__(self, latent_dim: int, window: int, n_features: int, hidden: int, *,
                 bias: bool = True) -> None:
        super().__init__()
        self.window = window
        self.lstm = nn.LSTM(latent_dim, hidden, batch_first=True, bias=bias)
        self.readout = nn.Linear(hidden, n_features, bias=bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        steps, _ = self.lstm(z.unsqueeze(1).expand(-1, self.window, -1))
        return self.readout(steps)
