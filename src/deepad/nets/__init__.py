"""Backbones per modality and small reusable heads; knows nothing of detectors."""

from deepad.nets.conv import ConvDecoder, ConvEncoder
from deepad.nets.factory import build_backbone, build_decoder, resolve_backbone
from deepad.nets.heads import LinearScoreNet
from deepad.nets.lenet import LeNetDecoder, LeNetEncoder
from deepad.nets.mlp import MLP
from deepad.nets.scaling import Standardize
from deepad.nets.temporal import GRUDecoder, GRUEncoder, StepConv, TCNEncoder

__all__ = ["MLP", "ConvDecoder", "ConvEncoder", "GRUDecoder", "GRUEncoder", "LeNetDecoder",
           "LeNetEncoder", "LinearScoreNet", "Standardize", "StepConv", "TCNEncoder",
           "build_backbone", "build_decoder", "resolve_backbone"]
