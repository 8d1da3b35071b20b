"""``build_backbone`` / ``build_decoder``: the network for an input spec, chosen by modality.

Detectors call these instead of constructing networks, so one implementation of a method
serves rows, sequence windows, images and graph nodes (GraphSAGE / GCN / GAT / GIN,
:mod:`deepad.nets.graph`; torch_geometric is imported only when one is built).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from torch import nn

from deepad.data.spec import InputSpec
from deepad.nets.conv import ConvDecoder, ConvEncoder
from deepad.nets.dcgan import DCGANDecoder, DCGANEncoder
from deepad.nets.graph import GNN_KINDS, GNNEncoder
from deepad.nets.image_mlp import ImageMLPDecoder, ImageMLPEncoder
from deepad.nets.lenet import LeNetDecoder, LeNetEncoder, lenet_widths
from deepad.nets.mlp import MLP
from deepad.nets.rnd import RNDConvEncoder
from deepad.nets.temporal import (
    GRUDecoder,
    GRUEncoder,
    LSTMDecoder,
    LSTMEncoder,
    TCNEncoder,
    TransformerEncoder,
)
from deepad.nets.video import (
    Conv3DEncoder,
    FrameStackDecoder,
    FrameStackEncoder,
    HasanDecoder,
    HasanEncoder,
)
from deepad.nets.wrn import WideResNet

BACKBONES = {"tabular": ("mlp",), "sequence": ("gru", "lstm", "tcn", "transformer"),
             "image": ("conv", "lenet", "dcgan", "wrn", "rnd", "mlp", "zscore_mlp"),
             "graph": GNN_KINDS}
"""The backbone names per modality (``backbone=`` of every deep detector, besides "auto")."""
# TCN for windows: convolutions + max pooling detect local anomalies wherever they sit, and
# beat the GRU for DevNet on planted windows (docs/results/foundation_sequences.md)
# GraphSAGE-mean for graph nodes: it keeps each node's own attributes apart from the
# neighbours' mean, which GCN averages away (docs/decisions.md, graphs: the default backbone)
DEFAULT_BACKBONE = {"tabular": "mlp", "sequence": "tcn", "image": "conv", "graph": "sage"}
# video clips: 2-D convolutions over the stacked frames (Hasan et al.'s Conv-AE), or 3-D ones
BACKBONES["video"] = ("conv", "conv3d", "hasan")
DEFAULT_BACKBONE["video"] = "conv"


def resolve_backbone(spec: InputSpec, kind: str = "auto",
                     prefer: Mapping[str, str] | None = None) -> str:
    """The backbone name for ``spec``: ``"auto"`` → MLP for rows, TCN for windows, CNN for
    images, unless ``prefer`` (a detector's ``preferred_backbones``, modality → name) names
    another for this modality (Deep SVDD's LeNet for images)."""
    if spec.modality not in BACKBONES:
        msg = (f"No backbone takes {spec.modality} input; backbones exist for "
               f"{list(BACKBONES)}.")
        raise ValueError(msg)
    if kind == "auto":
        kind = (prefer or {}).get(spec.modality, DEFAULT_BACKBONE[spec.modality])
    known = [name for names in BACKBONES.values() for name in names]
    if kind not in known:
        msg = (f"Unknown backbone={kind!r}; for {spec.modality} input choose one of "
               f"{['auto', *BACKBONES[spec.modality]]}.")
        raise ValueError(msg)
    if kind not in BACKBONES[spec.modality]:
        msg = (f"backbone={kind!r} does not take {spec.modality} input; choose one of "
               f"{['auto', *BACKBONES[spec.modality]]}.")
        raise ValueError(msg)
    return kind


def build_backbone(spec: InputSpec, *, hidden_dims: Sequence[int], out_dim: int | None,
                   kind: str = "auto", activation: str = "relu", dropout: float = 0.0,
                   batch_norm: bool = False, bias: bool = True,
                   readout: str = "pool", prefer: Mapping[str, str] | None = None) -> nn.Module:
    """An encoder from one sample of ``spec`` to a vector of ``out_dim`` (``module.out_dim``).

    Rows: ``MLP(n_features, hidden_dims, out_dim)``. Windows: a GRU, LSTM, TCN or
    Transformer of width ``hidden_dims[0]`` (:mod:`deepad.nets.temporal`), its steps mean- and
    max-pooled (``readout="pool"``; ``"pool_last"`` adds the last step, see
    :data:`deepad.nets.temporal.READOUTS`), followed by an MLP head over ``hidden_dims[1:]``.
    Rows and images have no steps and ignore ``readout``. Images: a
    :class:`~deepad.nets.conv.ConvEncoder` with one 3 x 3 convolutional block per entry of
    ``hidden_dims`` (their channel widths), pooled to a grid of at most 4 x 4 cells and a linear
    head to ``out_dim``; or ``"lenet"``, Deep SVDD's LeNet-type CNN
    (:class:`~deepad.nets.lenet.LeNetEncoder`): its block widths are the paper's (8, 4 for
    grey images; 32, 64, 128 for colour), not ``hidden_dims``, and its batch normalisation is
    part of it (``batch_norm`` is not read); ``"dcgan"``, DCGAN's strided-convolution
    encoder (:class:`~deepad.nets.dcgan.DCGANEncoder`, Radford et al. 2016), the GANs' choice;
    ``"wrn"``, a Wide-ResNet (:class:`~deepad.nets.wrn.WideResNet`) with group widths
    ``hidden_dims``, always batch-normalised (``batch_norm`` and ``bias`` not read);
    ``"rnd"``, Burda et al.'s random-network-distillation CNN
    (:class:`~deepad.nets.rnd.RNDConvEncoder`: three strided convolutions of the release's
    widths 32, 64, 64 with leaky ReLU, then a linear dense layer; ``hidden_dims``,
    ``activation``, ``dropout`` and ``batch_norm`` are not read), RND's choice;
    ``"mlp"``, each image flattened to one row of ``C·H·W`` pixels and an MLP over
    ``hidden_dims`` (:class:`~deepad.nets.image_mlp.ImageMLPEncoder`: the model family of
    PyOD's image detectors), and ``"zscore_mlp"``, the same on pixels z-scored with the
    training images' per-pixel mean and deviation (learnt by the training loop, saved with
    the model; PyOD's ``preprocessing=True``).
    Graph nodes: a :class:`~deepad.nets.graph.GNNEncoder` (``"sage"``, GraphSAGE-mean, by
    default; ``"gcn"``, ``"gat"``, ``"gin"``) with one message-passing layer per entry of
    ``hidden_dims`` and one to
    ``out_dim``, full-graph, read at the batch's target nodes (one vector per node).
    ``prefer`` maps a modality to the backbone ``"auto"`` means for it (see
    :func:`resolve_backbone`).

    Video clips ``(n, T, C, H, W)`` (:mod:`deepad.nets.video`): ``"conv"``, 2-D convolutions
    over the stacked frames (:class:`~deepad.nets.video.FrameStackEncoder`, Hasan et al.'s
    Conv-AE design), whose code is ``out_dim`` channels over the last feature map, flattened
    (``module.out_dim`` is its length; ``readout="grid"`` average-pools the map to at most
    4 x 4 cells first); ``"conv3d"``, 3-D convolutions
    (:class:`~deepad.nets.video.Conv3DEncoder`, C3D-style) to a vector of ``out_dim``;
    ``"hasan"``, the stacked frames through Hasan et al.'s Conv-AE layers
    (:class:`~deepad.nets.video.HasanEncoder`: 11 x 11 stride 4, 5 x 5, 3 x 3, two poolings)
    to a spatial code.

    Raises
    ------
    ValueError
        An unknown ``kind``, or one that does not take this modality (``"lstm"`` for rows).
    """
    kind = resolve_backbone(spec, kind, prefer)
    if spec.modality == "video":
        cls = {"conv3d": Conv3DEncoder, "hasan": HasanEncoder}.get(kind, FrameStackEncoder)
        extra = {} if kind != "conv" else {"pool_grid": readout == "grid"}
        return cls(spec.window, spec.n_features, spec.height, spec.width, hidden_dims, out_dim,
                   activation=activation, dropout=dropout, batch_norm=batch_norm, bias=bias,
                   **extra)
    if kind == "lenet":
        return LeNetEncoder(spec.n_features, spec.height, spec.width,
                            lenet_widths(spec.n_features), out_dim, activation=activation,
                            dropout=dropout, bias=bias)
    options = {"activation": activation, "dropout": dropout, "batch_norm": batch_norm,
               "bias": bias}
    if kind in GNN_KINDS:
        return GNNEncoder(kind, spec.n_features, hidden_dims, out_dim, **options)
    if spec.modality == "image" and kind in ("mlp", "zscore_mlp"):
        return ImageMLPEncoder(spec.n_features, spec.height, spec.width, hidden_dims, out_dim,
                               standardize=kind == "zscore_mlp", **options)
    if kind == "mlp":
        return MLP(spec.n_features, hidden_dims, out_dim, **options)
    if kind == "conv":
        return ConvEncoder(spec.n_features, spec.height, spec.width, hidden_dims, out_dim,
                           **options)
    if kind == "dcgan":
        return DCGANEncoder(spec.n_features, spec.height, spec.width, hidden_dims, out_dim,
                            **options)
    if kind == "rnd":
        return RNDConvEncoder(spec.n_features, spec.height, spec.width, out_dim, bias=bias)
    if kind == "wrn":
        return WideResNet(spec.n_features, spec.height, spec.width, hidden_dims, out_dim,
                          activation=activation, dropout=dropout)
    options["readout"] = readout
    if kind == "gru":
        return GRUEncoder(spec.n_features, hidden_dims, out_dim, **options)
    if kind == "lstm":
        return LSTMEncoder(spec.n_features, hidden_dims, out_dim, **options)
    if kind == "transformer":
        return TransformerEncoder(spec.n_features, spec.window, hidden_dims, out_dim, **options)
    return TCNEncoder(spec.n_features, spec.window, hidden_dims, out_dim, **options)


def build_decoder(spec: InputSpec, *, latent_dim: int, hidden_dims: Sequence[int],
                  kind: str = "auto", activation: str = "relu", dropout: float = 0.0,
                  batch_norm: bool = False, bias: bool = True,
                  prefer: Mapping[str, str] | None = None,
                  out_channels: int | None = None) -> nn.Module:
    """A decoder from a ``latent_dim`` vector back to one sample of ``spec``.

    Rows: the mirror MLP ``latent_dim → reversed(hidden_dims) → n_features``. Windows:
    :class:`LSTMDecoder` for ``"lstm"``, :class:`GRUDecoder` for the other temporal backbones
    (GRU, TCN, Transformer), of width ``hidden_dims[0]``. Images: the transposed-convolution
    mirror of the encoder (:class:`~deepad.nets.conv.ConvDecoder`) over the same
    ``hidden_dims``, back to ``(channels, height, width)`` (``dropout`` is not used there);
    ``out_channels`` (images only): the output's channels, when not the input's (a VAE's
    mean and log-variance per channel). For ``"lenet"`` the mirror
    :class:`~deepad.nets.lenet.LeNetDecoder` of the paper's widths;
    for ``"dcgan"`` DCGAN's generator (:class:`~deepad.nets.dcgan.DCGANDecoder`, linear
    output). ``"mlp"`` / ``"zscore_mlp"``: the mirror MLP to ``C·H·W`` values, unflattened
    (:class:`~deepad.nets.image_mlp.ImageMLPDecoder`; ``"zscore_mlp"`` maps them back
    with ``μ + σ·ẑ``, so it has no ``out_channels`` other than the input's: ``ValueError``).
    ``"wrn"`` (a classifier) and ``"rnd"`` have no decoder (``ValueError``). Graph
    nodes: the mirror MLP from a node's code back to its attributes (attribute reconstruction; the
    encoder already mixed in the neighbourhood).
    """
    kind = resolve_backbone(spec, kind, prefer)
    if kind in GNN_KINDS:
        return MLP(latent_dim, list(reversed(hidden_dims)), spec.n_features,
                   activation=activation, dropout=dropout, batch_norm=batch_norm, bias=bias)
    if kind == "lenet":  # the widths of the input's channels, whatever the output's
        return LeNetDecoder(latent_dim, out_channels or spec.n_features, spec.height,
                            spec.width, lenet_widths(spec.n_features), activation=activation,
                            bias=bias)
    if spec.modality == "video":  # "conv": the stacked frames' mirror, from a spatial code
        if kind == "conv3d":
            msg = ("backbone='conv3d' has no decoder; for a method that reconstructs clips "
                   "choose 'conv' (2-D convolutions over stacked frames) or 'auto'.")
            raise ValueError(msg)
        cls = HasanDecoder if kind == "hasan" else FrameStackDecoder
        return cls(latent_dim, spec.window, out_channels or spec.n_features, spec.height,
                   spec.width, hidden_dims, activation=activation, batch_norm=batch_norm,
                   bias=bias)
    input_channels = spec.n_features
    if out_channels is not None and spec.modality == "image":
        spec = dataclasses.replace(spec, n_features=out_channels)
    if kind == "dcgan":
        return DCGANDecoder(latent_dim, spec.n_features, spec.height, spec.width, hidden_dims,
                            activation=activation, batch_norm=batch_norm, bias=bias)
    if kind in ("wrn", "rnd"):
        what = {"wrn": "a Wide-ResNet classifier", "rnd": "RND's target network"}[kind]
        msg = (f"backbone={kind!r} ({what}) has no decoder; for a method that "
               "reconstructs images choose 'conv', 'dcgan' or 'auto'.")
        raise ValueError(msg)
    if kind == "conv":
        return ConvDecoder(latent_dim, spec.n_features, spec.height, spec.width, hidden_dims,
                           activation=activation, batch_norm=batch_norm, bias=bias)
    if spec.modality == "image" and kind in ("mlp", "zscore_mlp"):
        if kind == "zscore_mlp" and spec.n_features != input_channels:
            msg = ("backbone='zscore_mlp' maps its output back to the input's pixel scale, "
                   "so its decoder gives the input's channels only; a method whose output "
                   "has other channels (a VAE's mean and log-variance) needs 'mlp' or a "
                   "convolutional backbone.")
            raise ValueError(msg)
        return ImageMLPDecoder(latent_dim, spec.n_features, spec.height, spec.width,
                               list(reversed(hidden_dims)), standardize=kind == "zscore_mlp",
                               activation=activation, dropout=dropout, batch_norm=batch_norm,
                               bias=bias)
    if kind == "mlp":
        return MLP(latent_dim, list(reversed(hidden_dims)), spec.n_features,
                   activation=activation, dropout=dropout, batch_norm=batch_norm, bias=bias)
    if kind == "lstm":
        return LSTMDecoder(latent_dim, spec.window, spec.n_features, hidden_dims[0], bias=bias)
    return GRUDecoder(latent_dim, spec.window, spec.n_features, hidden_dims[0], bias=bias)
