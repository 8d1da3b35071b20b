"""Small heads on a backbone."""

from __future__ import annotations

import torch
from torch import nn


class LinearScoreNet(nn.Module):
    """``x → backbone → [dropout] → linear → one score per sample`` (shape ``(batch,)``).

    The network of the methods that learn an anomaly score end to end (DevNet, SDOR, MIL
    ranking); ``backbone`` is any module with an ``out_dim`` attribute (the modality's
    backbone from :func:`deepad.nets.build_backbone` with ``out_dim=None``).
    """

    def __init__(self, backbone: nn.Module, dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone = backbone
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.output = nn.Linear(backbone.out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.dropout(self.backbone(x))).squeeze(1)
