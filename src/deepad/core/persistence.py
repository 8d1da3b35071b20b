"""Safe persistence: state, not objects.

``save`` writes a directory with two files:

- ``config.json``: format version, library versions (deepad / torch / numpy), the detector's
  registered name, its hyperparameters and its fitted non-tensor attributes;
- ``weights.safetensors``: every tensor (network weights and buffers, training scores).

``load`` reads JSON and safetensors only; nothing is ever unpickled, so a model directory
from a stranger cannot run code. The class is looked up in the registry by name (never
imported from a path given in the file), re-created from its hyperparameters, and its
networks are rebuilt from the saved input spec before the weights are loaded.
"""

from __future__ import annotations

import json
import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from deepad._version import __version__
from deepad.core.registry import get_detector

logger = logging.getLogger(__name__)

FORMAT = "deepad-detector"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"


def _json_param(name: str, value: Any) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float | np.integer | np.floating):
        value = value.item() if hasattr(value, "item") else value
        if isinstance(value, float) and not math.isfinite(value):
            msg = f"Hyperparameter {name}={value!r} is not finite and cannot be saved."
            raise TypeError(msg)
        return value
    if isinstance(value, list | tuple):
        return [_json_param(name, v) for v in value]
    if isinstance(value, torch.device):
        return str(value)
    msg = (f"Hyperparameter {name}={value!r} ({type(value).__name__}) cannot be saved as JSON; "
           "save supports None, bool, int, float, str and lists of them.")
    raise TypeError(msg)


def save_detector(detector: Any, path: str | Path) -> Path:
    """Write ``detector`` to the directory ``path`` (created if needed) and return it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        msg = f"{path} exists and is not a directory; save writes a model directory."
        raise FileExistsError(msg)
    params = {k: _json_param(k, v) for k, v in detector.get_params(deep=False).items()}
    state, tensors = detector._get_state()
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": {"deepad": __version__, "torch": torch.__version__, "numpy": np.__version__},
        "detector": type(detector).name,
        "params": params,
        "state": state,
    }
    path.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path / WEIGHTS_FILE), metadata={"format": FORMAT})
    (path / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))
    return path


_FORMAT_LOADERS: dict[str, Callable[..., Any]] = {}


def register_format(name: str, loader: Callable[..., Any]) -> None:
    """Let :func:`load` open directories whose ``config.json`` declares ``format == name`` (a
    model that is not a single registered detector, such as ``deepad.series.SeriesDetector``)
    by calling ``loader(path, device=device)``."""
    if name == FORMAT:
        msg = f"{FORMAT!r} is the detectors' own format."
        raise ValueError(msg)
    _FORMAT_LOADERS[name] = loader


def _declared_format(path: Path) -> Any:
    try:
        config = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None  # _read_config gives the precise error
    return config.get("format") if isinstance(config, dict) else None


def _read_config(path: Path) -> dict[str, Any]:
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        msg = f"{path} is not a deepad model directory: {CONFIG_FILE} is missing."
        raise FileNotFoundError(msg)
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        msg = f"{config_path} is not valid JSON ({error}); refusing to load it."
        raise ValueError(msg) from error
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        msg = f"{config_path} is not a deepad detector configuration (format != {FORMAT!r})."
        raise ValueError(msg)
    if config.get("format_version") != FORMAT_VERSION:
        msg = (f"{config_path} has format version {config.get('format_version')!r}; this deepad "
               f"reads version {FORMAT_VERSION}.")
        raise ValueError(msg)
    return config


def _params_from_json(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    defaults = cls().get_params(deep=False)
    unknown = set(params) - set(defaults)
    if unknown:
        msg = f"Saved hyperparameters {sorted(unknown)} are not parameters of {cls.__name__}."
        raise ValueError(msg)
    # a model saved before a hyperparameter existed is rebuilt with the value it had then
    params = {**getattr(cls, "params_added", {}), **params}
    # JSON has no tuples: restore the container type of each default
    return {k: tuple(v) if isinstance(v, list) and isinstance(defaults[k], tuple) else v
            for k, v in params.items()}


def load(path: str | Path, device: str | torch.device | None = None) -> Any:
    """Load a detector written by ``save``; its scores equal those before saving.

    Parameters
    ----------
    path : directory written by ``det.save(path)``.
    device : where to put the networks; None → the saved ``device`` hyperparameter, resolved
        as in ``fit`` (None → CUDA when available, else CPU). Scores are identical to those
        before saving on the same device; across devices they agree to float32 precision.

    Raises
    ------
    FileNotFoundError, ValueError
        Missing files, a configuration that is not deepad's, or a weights file that is not
        safetensors (for example a pickle), which is refused without being executed.
    """
    path = Path(path)
    loader = _FORMAT_LOADERS.get(_declared_format(path))
    if loader is not None:
        return loader(path, device=device)
    config = _read_config(path)
    saved = config.get("versions", {}).get("deepad")
    if saved != __version__:
        warnings.warn(f"{path} was saved with deepad {saved}; loading with {__version__}.",
                      UserWarning, stacklevel=2)
    cls = get_detector(config["detector"])
    weights_path = path / WEIGHTS_FILE
    if not weights_path.is_file():
        msg = f"{path} is not a deepad model directory: {WEIGHTS_FILE} is missing."
        raise FileNotFoundError(msg)
    try:
        tensors = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        msg = f"{weights_path} is not a valid safetensors file ({error}); refusing to load it."
        raise ValueError(msg) from error
    detector = cls(**_params_from_json(cls, config["params"]))
    detector._set_state(config["state"], tensors, device=device)
    return detector
