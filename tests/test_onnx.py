"""``det.to_onnx(path)``: every exportable detector's graph, run by onnxruntime, scores as
``decision_function`` does (to ``ONNX_TOLERANCE``: ``|Δ| ≤ 1e-4 · max(1, |s|)``, float32), for
any number of rows, with the threshold in the metadata; the others are refused clearly and
leave no file. Fitted models come from the session cache (``conftest.fitted``)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import deepad
from deepad.core import onnx_export
from deepad.core.onnx_export import ONNX_DETECTORS, ONNX_TOLERANCE, OnnxExportError

onnx = pytest.importorskip("onnx", reason="pip install 'deepad[onnx]'")
onnxruntime = pytest.importorskip("onnxruntime", reason="pip install 'deepad[onnx]'")


def run(path, X):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": np.asarray(X, dtype=np.float32)})[0]


def assert_close(onnx_scores, scores):
    assert onnx_scores.dtype == np.float32 and onnx_scores.shape == scores.shape
    error = np.abs(onnx_scores.astype(np.float64) - scores) / np.maximum(1.0, np.abs(scores))
    assert error.max() <= ONNX_TOLERANCE, f"largest relative difference {error.max():.3g}"


@pytest.mark.parametrize("name", sorted(ONNX_DETECTORS))
def test_exported_scores_equal_decision_function(name, fitted, planted, tmp_path):
    det = fitted(deepad.get_detector(name), "tabular")
    X, _ = planted["tabular"]
    path = det.to_onnx(tmp_path / f"{name}.onnx")
    assert path == tmp_path / f"{name}.onnx" and path.is_file()
    assert_close(run(path, X), det.decision_function(X))
    assert_close(run(path, X[:1]), det.decision_function(X[:1]))  # any number of rows
    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["deepad_detector"] == name and float(meta["threshold"]) == det.threshold_
    assert meta["input_shape"] == repr(["n", X.shape[1]])


@pytest.mark.parametrize(("name", "modality"), [("AutoEncoder", "sequence"),
                                              ("DeepSVDD", "image")])
def test_windows_and_images(name, modality, fitted, planted, tmp_path):
    det = fitted(deepad.get_detector(name), modality)
    X, _ = planted[modality]
    path = det.to_onnx(tmp_path / f"{modality}.onnx")
    assert_close(run(path, X), det.decision_function(X))


def test_a_graph_that_fails_under_onnxruntime_is_not_kept(fitted, tmp_path, monkeypatch):
    det = fitted(deepad.DevNet, "tabular")

    class Broken:
        def __init__(self, *args, **kwargs):
            pass

        def run(self, *args, **kwargs):
            raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Reshape")

    monkeypatch.setattr(onnxruntime, "InferenceSession", Broken)
    path = tmp_path / "model.onnx"
    with pytest.raises(OnnxExportError, match=r"fails under onnxruntime on 64 sample\(s\)"):
        det.to_onnx(path)
    assert not path.exists()


@pytest.mark.parametrize("name", ["VAE", "AnoGAN", "GOAD", "DAGMM", "DeepFeatureDetector",
                                  "KNN", "IsolationForest"])
def test_other_detectors_are_refused(name, fitted, tmp_path):
    det = fitted(deepad.get_detector(name), "tabular")
    path = tmp_path / "model.onnx"
    with pytest.raises(OnnxExportError, match=f"{name} cannot be exported to ONNX: its scoring "
                                              "is not a single forward pass") as info:
        det.to_onnx(path)
    assert isinstance(info.value, ValueError) and isinstance(info.value, NotImplementedError)
    assert "Exportable: ALAD, ALOCC, AutoEncoder" in str(info.value)
    assert not path.exists()


def test_not_fitted_is_refused(tmp_path):
    with pytest.raises(NotFittedError):
        deepad.DeepSVDD().to_onnx(tmp_path / "model.onnx")


def test_a_graph_that_scores_differently_is_not_kept(fitted, tmp_path, monkeypatch):
    det = fitted(deepad.DevNet, "tabular")
    monkeypatch.setattr(onnx_export, "ONNX_TOLERANCE", -1.0)  # no difference is small enough
    path = tmp_path / "model.onnx"
    with pytest.raises(OnnxExportError, match="scores a probe batch differently"):
        det.to_onnx(path)
    assert not path.exists()


def test_the_fitted_detector_is_left_as_it_was(fitted, planted, tmp_path):
    det = fitted(deepad.AutoEncoder, "tabular")
    X, _ = planted["tabular"]
    before = det.decision_function(X[:20])
    det.to_onnx(tmp_path / "model.onnx")
    np.testing.assert_array_equal(det.decision_function(X[:20]), before)
    assert next(det.model_.parameters()).device.type == det.device_.type
