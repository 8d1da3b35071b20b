"""The detector contract: base classes, the training loop, validation, registry, persistence."""

from deepad.core.base import BaseDetector
from deepad.core.deep import DeepDetector
from deepad.core.persistence import load
from deepad.core.registry import get_detector, list_detectors, register
from deepad.core.trainer import Batch, Trainer
from deepad.core.validation import InputSpec

__all__ = ["Batch", "BaseDetector", "DeepDetector", "InputSpec", "Trainer", "get_detector",
           "list_detectors", "load", "register"]
