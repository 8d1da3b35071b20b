"""Backbones per modality and small reusable heads; knows nothing of detectors."""

from deepad.nets.conv import ConvDecoder, ConvEncoder
from deepad.nets.factory import build_backbone, build_decoder, resolve_backbone
from deepad.nets.heads import LinearScoreNet
from deepad.nets.lenet import LeNetDecoder, LeNetEncoder
from deepad.nets.mlp import MLP
from deepad.nets.scaling import Standardize
from deepad.nets.temporal import GRUDecoder, GRUEncoder, StepConv, TCNEncoder
from deepad.nets.video import Conv3DEncoder, FrameStackDecoder, FrameStackEncoder, UNet

__all__ = ["MLP", "Conv3DEncoder", "ConvDecoder", "ConvEncoder", "FrameStackDecoder",
           "FrameStackEncoder", "GRUDecoder", "GRUEncoder", "LeNetDecoder",
           "LeNetEncoder", "LinearScoreNet", "Standardize", "StepConv", "TCNEncoder",
           "UNet", "build_backbone", "build_decoder", "resolve_backbone"]
