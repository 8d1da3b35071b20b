"""Safe persistence: what ``save`` writes, and what ``load`` refuses.

The round trip of every registered detector is in ``test_conformance.py``; here are the
specifics of the format and the attacks: a model directory from a stranger must never run
code, so pickles in place of either file are refused without being unpickled.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import deepad
from deepad import AutoEncoder, DeepSVDD

EXPECTED_FILES = {"config.json", "weights.safetensors"}


@pytest.fixture(scope="module")
def svdd(fitted) -> DeepSVDD:
    return fitted(DeepSVDD, "tabular")


@pytest.fixture(scope="module")
def saved(svdd, tmp_path_factory) -> Path:
    """A model directory written by ``save`` (read-only: copy it before tampering)."""
    return svdd.save(tmp_path_factory.mktemp("saved") / "svdd")


@pytest.fixture
def copy_of_saved(saved, tmp_path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


def read_config(path: Path) -> dict:
    return json.loads((path / "config.json").read_text(encoding="utf-8"))


def write_config(path: Path, config: dict) -> None:
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")


# ---------------------------------------------------------------------------- format
def test_saved_directory_holds_exactly_two_files(saved):
    assert {p.name for p in saved.iterdir()} == EXPECTED_FILES


def test_config_holds_versions_params_and_state(saved, svdd):
    config = read_config(saved)
    assert config["format"] == "deepad-detector"
    assert config["format_version"] == 1
    assert config["versions"] == {"deepad": deepad.__version__, "torch": torch.__version__,
                                  "numpy": np.__version__}
    assert config["detector"] == "DeepSVDD"
    expected = {k: list(v) if isinstance(v, tuple) else v for k, v in svdd.get_params().items()}
    assert config["params"] == expected
    assert config["state"]["spec"] == {"modality": "tabular", "n_features": 8, "window": None}
    assert config["state"]["threshold"] == svdd.threshold_


def test_weights_hold_the_network_and_its_buffers(saved, svdd):
    tensors = load_file(str(saved / "weights.safetensors"))
    assert torch.equal(tensors["model.center"], svdd.model_.center.cpu())
    assert np.array_equal(tensors["decision_scores"].numpy(), svdd.decision_scores_)
    model_keys = {k.removeprefix("model.") for k in tensors if k.startswith("model.")}
    assert model_keys == set(svdd.model_.state_dict())


def test_save_returns_the_path_and_creates_parents(svdd, tmp_path):
    target = tmp_path / "a" / "b" / "model"
    assert svdd.save(target) == target
    assert {p.name for p in target.iterdir()} == EXPECTED_FILES


def test_save_over_a_file_is_refused(svdd, tmp_path):
    target = tmp_path / "model"
    target.write_text("not a directory")
    with pytest.raises(FileExistsError, match="is not a directory"):
        svdd.save(target)


def test_unsaveable_hyperparameter(planted_rows, tmp_path):
    # a numpy RandomState is a valid random_state for fit, but it cannot be saved as JSON
    detector = DeepSVDD(**DeepSVDD.test_params, random_state=np.random.RandomState(0))
    detector.fit(planted_rows[0])
    with pytest.raises(TypeError, match="random_state=.*cannot be saved as JSON"):
        detector.save(tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_tuple_hyperparameters_come_back_as_tuples(saved):
    assert isinstance(deepad.load(saved).hidden_dims, tuple)


def test_feature_names_survive(planted_rows, tmp_path):
    import pandas as pd

    frame = pd.DataFrame(planted_rows[0], columns=[f"c{i}" for i in range(8)])
    detector = AutoEncoder(**AutoEncoder.test_params, random_state=0).fit(frame)
    loaded = deepad.load(detector.save(tmp_path / "model"), device=detector.device_)
    assert list(loaded.feature_names_in_) == list(frame.columns)
    assert np.array_equal(loaded.decision_function(frame), detector.decision_function(frame))
    with pytest.raises(ValueError, match="same columns in the same order"):
        loaded.decision_function(frame[frame.columns[::-1]])


def test_load_onto_cpu(saved, svdd, planted_rows):
    loaded = deepad.load(saved, device="cpu")
    assert loaded.device_ == torch.device("cpu")
    assert {p.device.type for p in loaded.model_.parameters()} == {"cpu"}
    assert loaded.model_.center.device.type == "cpu"
    X = planted_rows[0]
    if svdd.device_.type == "cpu":
        assert np.array_equal(loaded.decision_function(X), svdd.decision_function(X))
    else:  # fitted on a GPU: the CPU's float32 arithmetic differs in the last bits
        np.testing.assert_allclose(loaded.decision_function(X), svdd.decision_function(X),
                                   rtol=1e-4, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_load_onto_cuda(saved, svdd, planted_rows):
    loaded = deepad.load(saved, device="cuda")
    assert loaded.device_.type == "cuda"
    assert {p.device.type for p in loaded.model_.parameters()} == {"cuda"}
    X = planted_rows[0]
    np.testing.assert_allclose(loaded.decision_function(X), svdd.decision_function(X),
                               rtol=1e-4, atol=1e-6)


def test_loaded_model_is_in_eval_mode_and_refits(saved, planted_rows, svdd):
    loaded = deepad.load(saved)
    assert not loaded.model_.training
    # a loaded detector is an ordinary estimator: refitting with the same seed reproduces it
    loaded.fit(planted_rows[0])
    assert np.array_equal(loaded.decision_scores_, svdd.decision_scores_)


# ---------------------------------------------------------------------------- attacks
class _Payload:
    """Unpickling this object creates ``marker`` (as ``open(marker, "w")`` would)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


class _ShellPayload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def live_payload(kind: type, tmp_path: Path) -> tuple[bytes, Path]:
    """A pickle that runs code when loaded, and the marker file it would create.

    The payload is first proved live: unpickling it in a scratch folder creates the
    scratch marker, so the refusal tests below can really fail.
    """
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    probe = scratch / f"probe-{kind.__name__}"
    result = pickle.loads(pickle.dumps(kind(probe)))  # noqa: S301 - the point of the test
    if hasattr(result, "close"):
        result.close()
    assert probe.exists(), "the payload is not live; the attack tests would prove nothing"
    marker = tmp_path / f"pwned-{kind.__name__}"
    return pickle.dumps(kind(marker)), marker


@pytest.mark.parametrize("kind", [_Payload, _ShellPayload], ids=["open", "os.system"])
def test_pickled_weights_are_refused_without_running(copy_of_saved, tmp_path, kind):
    payload, marker = live_payload(kind, tmp_path)
    (copy_of_saved / "weights.safetensors").write_bytes(payload)
    with pytest.raises(ValueError, match="not a valid safetensors file.*refusing to load"):
        deepad.load(copy_of_saved)
    assert not marker.exists()


@pytest.mark.parametrize("kind", [_Payload, _ShellPayload], ids=["open", "os.system"])
def test_pickled_config_is_refused_without_running(copy_of_saved, tmp_path, kind):
    payload, marker = live_payload(kind, tmp_path)
    (copy_of_saved / "config.json").write_bytes(payload)
    with pytest.raises(ValueError, match="config.json is not valid JSON.*refusing to load"):
        deepad.load(copy_of_saved)
    assert not marker.exists()


def test_torch_saved_state_dict_is_refused(copy_of_saved, svdd):
    torch.save(svdd.model_.state_dict(), copy_of_saved / "weights.safetensors")
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        deepad.load(copy_of_saved)


def test_torch_saved_malicious_model_is_refused(copy_of_saved, tmp_path):
    payload, marker = live_payload(_Payload, tmp_path)
    torch.save({"model.center": _Payload(marker)}, copy_of_saved / "weights.safetensors")
    assert not marker.exists()
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        deepad.load(copy_of_saved)
    assert not marker.exists()


def test_truncated_weights_are_refused(copy_of_saved):
    weights = copy_of_saved / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ValueError, match="not a valid safetensors file"):
        deepad.load(copy_of_saved)


def test_weights_of_another_network_are_refused(copy_of_saved, fitted, tmp_path):
    other = fitted(AutoEncoder, "tabular").save(tmp_path / "autoencoder")
    shutil.copy(other / "weights.safetensors", copy_of_saved / "weights.safetensors")
    # refused before DeepSVDD's network is allocated, as a ValueError naming the tensors
    with pytest.raises(ValueError, match=r"do not fit DeepSVDD's network.*missing tensor "
                                         r"'model.center'"):
        deepad.load(copy_of_saved)


# ---------------------------------------------------------------------------- bad directories
def test_unknown_detector_name(copy_of_saved):
    config = read_config(copy_of_saved)
    config["detector"] = "DeepSVD"
    write_config(copy_of_saved, config)
    with pytest.raises(ValueError, match="field 'detector'.*No detector named 'DeepSVD'.*"
                                         "Did you mean DeepSVDD"):
        deepad.load(copy_of_saved)


def test_code_paths_in_config_are_not_imported(copy_of_saved):
    config = read_config(copy_of_saved)
    config["detector"] = "os.system"
    write_config(copy_of_saved, config)
    with pytest.raises(ValueError, match="No detector named 'os.system'"):
        deepad.load(copy_of_saved)


@pytest.mark.parametrize("missing", sorted(EXPECTED_FILES))
def test_missing_file(copy_of_saved, missing):
    (copy_of_saved / missing).unlink()
    with pytest.raises(FileNotFoundError, match=f"{missing} is missing"):
        deepad.load(copy_of_saved)


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json is missing"):
        deepad.load(tmp_path / "nowhere")


def test_version_drift_warns(copy_of_saved, saved, planted_rows):
    config = read_config(copy_of_saved)
    config["versions"]["deepad"] = "0.0.1"
    write_config(copy_of_saved, config)
    with pytest.warns(UserWarning, match=f"saved with deepad 0.0.1; loading with "
                                         f"{deepad.__version__}"):
        loaded = deepad.load(copy_of_saved)
    X = planted_rows[0]
    assert np.array_equal(loaded.decision_function(X), deepad.load(saved).decision_function(X))


def test_same_version_does_not_warn(saved, recwarn):
    deepad.load(saved)
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("format", "pickle", "not a deepad detector configuration"),
    ("format_version", 99, "format version 99"),
])
def test_foreign_config_is_refused(copy_of_saved, key, value, message):
    config = read_config(copy_of_saved)
    config[key] = value
    write_config(copy_of_saved, config)
    with pytest.raises(ValueError, match=message):
        deepad.load(copy_of_saved)


def test_config_that_is_not_an_object_is_refused(copy_of_saved):
    (copy_of_saved / "config.json").write_text("[1, 2, 3]", encoding="utf-8")
    with pytest.raises(ValueError, match="not a deepad detector configuration"):
        deepad.load(copy_of_saved)


def test_unknown_hyperparameter_in_config_is_refused(copy_of_saved):
    config = read_config(copy_of_saved)
    config["params"]["__class__"] = "os.system"
    write_config(copy_of_saved, config)
    with pytest.raises(ValueError, match=r"\['__class__'\] are not parameters of DeepSVDD"):
        deepad.load(copy_of_saved)
