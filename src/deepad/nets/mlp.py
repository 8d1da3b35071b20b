"""Multi-layer perceptron: the backbone for tabular rows and the head of temporal backbones."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "tanh": nn.Tanh,
               "sigmoid": nn.Sigmoid, "elu": nn.ELU, "gelu": nn.GELU}


def activation_layer(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        msg = f"activation must be one of {list(ACTIVATIONS)}; got {name!r}."
        raise ValueError(msg)
    return ACTIVATIONS[name]()


class MLP(nn.Sequential):
    """``in_dim → hidden_dims... → out_dim``: Linear → [BatchNorm] → activation → [Dropout] per
    hidden layer and a plain Linear output (omitted when ``out_dim`` is None).

    ``bias=False`` removes every bias term and makes batch normalisation non-affine, as Deep
    SVDD requires to rule out the trivial constant solution (Ruff et al. 2018, Prop. 2).
    """

    def __init__(self, in_dim: int, hidden_dims: Sequence[int], out_dim: int | None, *,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False,
                 bias: bool = True) -> None:
        layers: list[nn.Module] = []
        previous = in_dim
        for width in hidden_dims:
            layers.append(nn.Linear(previous, width, bias=bias))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width, eps=1e-4, affine=bias))
            layers.append(activation_layer(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            previous = width
        if out_dim is not None:
            layers.append(nn.Linear(previous, out_dim, bias=bias))
            previous = out_dim
        super().__init__(*layers)
        self.out_dim = previous
