"""Safe persistence: state, not objects.

``save`` writes a directory with two files:

- ``config.json``: format version, library versions (deepad / torch / numpy), the detector's
  registered name, its hyperparameters and its fitted non-tensor attributes;
- ``weights.safetensors``: every tensor (network weights and buffers, training scores).

``load`` reads JSON and safetensors only; nothing is ever unpickled, so a model directory
from a stranger cannot run code. The class is looked up in the registry by name (never
imported from a path given in the file), re-created from its hyperparameters, and its
networks are rebuilt from the saved input spec before the weights are loaded.

A model directory may also have been tampered with, so ``load`` is strict and allocates
nothing the files do not justify: both files' sizes are bounded, the weights file's header
(names, dtypes, shapes) is read before any tensor, hyperparameters are checked with the
constraints ``fit`` uses, every field of the fitted state is type-checked
(:mod:`deepad.core.saved_state`), every tensor must be finite and read by the detector, and a
network is allocated only after the one the configuration implies, built on the ``meta``
device, is found to have exactly the saved tensors' names, shapes and dtypes.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from deepad._version import __version__
from deepad.core.params import validate_parameters
from deepad.core.registry import get_detector
from deepad.core.saved_state import CONFIG_FILE, WEIGHTS_FILE, SavedTensors

logger = logging.getLogger(__name__)

FORMAT = "deepad-detector"
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 64 * 2**20
"""Largest ``config.json`` read (hyperparameters, column names, categories)."""
MAX_HEADER_BYTES = 16 * 2**20
"""Largest safetensors header read (the JSON table of tensor names, dtypes and shapes)."""


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
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        # e.g. an ensemble member's parameters, ("AutoEncoder", {"epochs": 10})
        return {k: _json_param(name, v) for k, v in value.items()}
    if isinstance(value, torch.device):
        return str(value)
    msg = (f"Hyperparameter {name}={value!r} ({type(value).__name__}) cannot be saved as JSON; "
           "save supports None, bool, int, float, str, and lists and string-keyed dicts of them.")
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
    write_weights(tensors, path / WEIGHTS_FILE, FORMAT)
    (path / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))
    return path


def write_weights(tensors: dict[str, torch.Tensor], path: Path, kind: str) -> None:
    """Write ``tensors`` as the safetensors file ``path``, created as ``config.json`` is
    (an ordinary file honouring the umask: ``safetensors.torch.save_file`` creates it
    owner-only, 0600, so a model shared by a group could not be read)."""
    path.write_bytes(safetensors_bytes(tensors, metadata={"format": kind}))


_FORMAT_LOADERS: dict[str, Callable[..., Any]] = {}
_BUILTIN_FORMATS = {"deepad-series-detector": "deepad.series",
                    "deepad-table-detector": "deepad.tabular"}
"""Formats of deepad's own wrappers and the module that registers each: imported by
:func:`load` on first need, so a fresh interpreter opens them too."""
LEGACY_SCALING_FILE = "scaling.json"
"""The side file of the feature scaling that ``deepad run --save-model`` wrote before the
preprocessing was part of the saved model (:class:`deepad.tabular.TableDetector`)."""


def register_format(name: str, loader: Callable[..., Any]) -> None:
    """Let :func:`load` open directories whose ``config.json`` declares ``format == name`` (a
    model that is not a single registered detector, such as ``deepad.series.SeriesDetector``)
    by calling ``loader(path, device=device)``.

    The loader must be as strict as :func:`load` (read its files with :func:`read_json` and
    :func:`read_weights`, check its fields with :mod:`deepad.core.saved_state`) and raise only
    ``FileNotFoundError`` / ``ValueError`` naming the file and the field."""
    if name == FORMAT:
        msg = f"{FORMAT!r} is the detectors' own format."
        raise ValueError(msg)
    _FORMAT_LOADERS[name] = loader


def read_json(path: Path) -> Any:
    """The JSON document ``path`` (at most ``MAX_CONFIG_BYTES``), or ``FileNotFoundError`` /
    ``ValueError`` naming the file."""
    if not path.is_file():
        msg = f"{path.parent} is not a deepad model directory: {path.name} is missing."
        raise FileNotFoundError(msg)
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        msg = (f"{path} is {size} bytes; a deepad configuration is at most {MAX_CONFIG_BYTES}. "
               "Refusing to load it.")
        raise ValueError(msg)
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        msg = f"{path} is not valid JSON ({error}); refusing to load it."
        raise ValueError(msg) from error


def _declared_format(path: Path) -> Any:
    try:
        config = read_json(path / CONFIG_FILE)
    except (OSError, ValueError):
        return None  # _read_config gives the precise error
    return config.get("format") if isinstance(config, dict) else None


def _read_config(path: Path) -> dict[str, Any]:
    config_path = path / CONFIG_FILE
    config = read_json(config_path)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        msg = f"{config_path} is not a deepad detector configuration (format != {FORMAT!r})."
        raise ValueError(msg)
    if config.get("format_version") != FORMAT_VERSION:
        msg = (f"{config_path} has format version {config.get('format_version')!r}; this deepad "
               f"reads version {FORMAT_VERSION}.")
        raise ValueError(msg)
    for key, kind in (("detector", str), ("params", dict), ("state", dict)):
        if key not in config:
            msg = f"{config_path}: field {key!r} is missing."
            raise ValueError(msg)
        if not isinstance(config[key], kind):
            msg = (f"{config_path}: field {key!r} must be {_JSON_NAMES[kind]}; got "
                   f"{type(config[key]).__name__}.")
            raise ValueError(msg)
    versions = config.get("versions", {})
    if not isinstance(versions, dict):
        msg = f"{config_path}: field 'versions' must be an object; got {type(versions).__name__}."
        raise ValueError(msg)
    return config


_JSON_NAMES = {str: "a string", dict: "an object", list: "a list"}


def read_weights(path: Path) -> SavedTensors:
    """The tensors of the safetensors file ``path``, every floating-point one finite.

    The header is read first and bounded (``MAX_HEADER_BYTES``); safetensors then checks that
    the declared shapes and dtypes account for the file's bytes exactly, so what is read is
    never larger than the file. Raises ``FileNotFoundError`` / ``ValueError`` naming the file
    and the tensor."""
    if not path.is_file():
        msg = f"{path.parent} is not a deepad model directory: {path.name} is missing."
        raise FileNotFoundError(msg)
    size = path.stat().st_size
    with path.open("rb") as file:
        prefix = file.read(8)
    header = int.from_bytes(prefix, "little") if len(prefix) == 8 else -1
    if not 0 < header <= min(MAX_HEADER_BYTES, size - 8):
        msg = (f"{path} is not a valid safetensors file (its header length {header} does not "
               f"fit a {size}-byte file of at most {MAX_HEADER_BYTES} header bytes); refusing "
               "to load it.")
        raise ValueError(msg)
    try:
        with safe_open(str(path), framework="pt") as weights:
            tensors = {name: weights.get_tensor(name) for name in weights.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, TypeError, RuntimeError) as error:
        msg = f"{path} is not a valid safetensors file ({error}); refusing to load it."
        raise ValueError(msg) from error
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            msg = (f"{path}: tensor {name!r} holds {bad} non-finite value(s) (NaN or inf) of "
                   f"{tensor.numel()}; a fitted model's tensors are finite. Refusing to load it.")
            raise ValueError(msg)
    return SavedTensors(tensors)


def _params_from_json(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    defaults = cls().get_params(deep=False)
    unknown = set(params) - set(defaults)
    if unknown:
        msg = f"Saved hyperparameters {sorted(unknown)} are not parameters of {cls.__name__}."
        raise ValueError(msg)
    # a model saved before a hyperparameter existed is rebuilt with the value it had then
    params = {**getattr(cls, "params_added", {}), **params}
    # JSON has no tuples: restore the container type of each default (nested lists too, for
    # tuple parameters made of tuples such as DeepXGBOD's member_params triples), and of the
    # parameters a class names in ``tuple_params`` (a tuple whose default is not one, such as
    # OutlierEnsemble's members, "auto" by default)
    as_tuples = set(getattr(cls, "tuple_params", ()))
    return {k: _tuples(v) if isinstance(v, list)
            and (k in as_tuples or isinstance(defaults[k], tuple)) else v
            for k, v in params.items()}


def _tuples(value: Any) -> Any:
    """Lists as tuples, inside lists and string-keyed dicts too."""
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def load(path: str | Path, device: str | torch.device | None = None) -> Any:
    """Load a detector written by ``save``; its scores equal those before saving.

    The directory may come from a stranger: nothing is unpickled, and nothing is allocated
    that the files do not justify (see the module docstring). Hyperparameters are checked as
    ``fit`` checks them, and the fitted state field by field.

    Parameters
    ----------
    path : directory written by ``det.save(path)``.
    device : where to put the networks; None → the saved ``device`` hyperparameter, resolved
        as in ``fit`` (None → CUDA when available, else CPU). Scores are identical to those
        before saving on the same device; across devices they agree to float32 precision.

    Raises
    ------
    FileNotFoundError
        The directory, ``config.json`` or ``weights.safetensors`` is missing.
    ValueError
        Anything wrong with the files, named with the file and the field: a configuration
        that is not deepad's or not valid JSON; a weights file that is not safetensors (for
        example a pickle, refused without being executed), too large a header, or a
        non-finite tensor; an unknown detector name; a hyperparameter that ``fit`` would
        refuse; a missing field or one of the wrong type or range in the fitted state (an
        input spec of an unsupported modality or of sizes beyond the bounds, a non-finite
        threshold, training scores that are empty or not 1-D); saved tensors whose names,
        shapes or dtypes differ from those of the network the configuration implies, or that
        nothing reads.
    """
    path = Path(path)
    declared = _declared_format(path)
    if isinstance(declared, str) and declared in _BUILTIN_FORMATS:
        importlib.import_module(_BUILTIN_FORMATS[declared])  # registers its loader
    loader = _FORMAT_LOADERS.get(declared)
    if loader is not None:
        return loader(path, device=device)
    config = _read_config(path)
    if (path / LEGACY_SCALING_FILE).is_file():
        warnings.warn(
            f"{path} was saved by an older `deepad run --save-model`: the detector expects "
            f"features scaled as {path / LEGACY_SCALING_FILE} says (x * multiply + add per "
            "column), which deepad.load does not apply; scores of raw data would be wrong. "
            "Scale the data that way first, or rerun `deepad run --save-model`: the models it "
            "saves now carry their preprocessing and score raw tables.", UserWarning,
            stacklevel=2)
    config_path, weights_path = path / CONFIG_FILE, path / WEIGHTS_FILE
    saved = config.get("versions", {}).get("deepad")
    if saved != __version__:
        warnings.warn(f"{path} was saved with deepad {saved}; loading with {__version__}.",
                      UserWarning, stacklevel=2)
    try:
        cls = get_detector(config["detector"])
    except KeyError as error:
        msg = f"{config_path}: field 'detector': {error.args[0] if error.args else error}"
        raise ValueError(msg) from error
    tensors = read_weights(weights_path)
    detector = _detector_from_params(cls, config["params"], config_path)
    try:
        detector._set_state(config["state"], tensors, device=device)
    except ValueError as error:
        msg = f"Cannot load {path}: {error}"
        raise ValueError(msg) from error
    except (KeyError, TypeError, IndexError, AttributeError, RuntimeError) as error:
        # a check that a detector's _set_state lacks: still a clear refusal, never a crash
        msg = (f"Cannot load {path}: its fitted state is inconsistent "
               f"({type(error).__name__}: {error}).")
        raise ValueError(msg) from error
    unused = sorted(tensors.unused())
    if unused:
        msg = (f"Cannot load {path}: {WEIGHTS_FILE} holds tensors that "
               f"{type(detector).__name__} does not have: {unused[:5]}.")
        raise ValueError(msg)
    return detector


def _detector_from_params(cls: type, params: dict[str, Any], config_path: Path) -> Any:
    """``cls(**params)`` with every hyperparameter checked as ``fit`` checks it."""
    try:
        detector = cls(**_params_from_json(cls, params))
        validate_parameters(detector)
    except ValueError as error:
        msg = f"{config_path}: field 'params': {error}"
        raise ValueError(msg) from error
    return detector
