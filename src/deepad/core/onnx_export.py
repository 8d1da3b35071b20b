"""ONNX export of a fitted detector whose score is one forward pass of its network.

:meth:`deepad.core.base.BaseDetector.to_onnx` writes the scoring rule of a fitted deep
detector (``x`` → anomaly score, the network with its input standardisation, centres and radii
as constants) as one ONNX graph, so a model can be served by onnxruntime without Python's
deep-learning stack. Only the detectors in :data:`ONNX_DETECTORS` are exported: their
``score`` is a single pass through the network. Detectors whose scoring is a search
(AnoGAN's latent optimisation), a sampled estimate (VAE), a chunked loop over transformations
(GOAD, NeuTraL, ICL), a comparison with a reference set (RDP), a Gaussian mixture's matrix
factorisation (DAGMM), or a classical model (the baselines, DeepFeatureDetector) are refused
with :class:`OnnxExportError`.

The graph takes float32 ``x`` of the fitted input's shape with any number of samples (the
first axis is dynamic) and returns float32 ``score`` of shape (n,). A network with a step that
tracing fixes to the example's batch size (the convolutional decoders of the autoencoders on
images reshape to a constant shape) fails the check below and is refused. Before the file is kept,
onnxruntime (when installed) scores a probe batch and the result is compared with
``decision_function``: scores agree to float32 precision, ``|Δ| ≤ 1e-4 · max(1, |s|)``
(:data:`ONNX_TOLERANCE`), or the export is refused. ``decision_function``'s float64 scores
are the float32 network output widened, so the two differ only by the operator
implementations. The model's metadata (``metadata_props``) carry the detector's name,
``threshold_``, the input shape and the deepad version, so a deployment can apply the same
threshold.

The exporter is torch's TorchScript-based one (``torch.onnx.export(..., dynamo=False)``),
which needs only the ``onnx`` package; onnxruntime is used for the check. Both come with
``pip install 'deepad[onnx]'``.
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

ONNX_DETECTORS = frozenset({
    "ALAD", "ALOCC", "AutoEncoder", "DeepSAD", "DeepSVDD", "DevNet", "DPLAN", "GANomaly",
    "MILRanking", "OCAN", "OCNN", "PReNet", "RandNet", "REPEN", "RobustAutoEncoder", "SDOR",
})
"""Detectors whose score is one forward pass of their network (exported and checked)."""
ONNX_NUMERIC_MODALITIES = ("tabular", "sequence", "image")
ONNX_TOLERANCE = 1e-4
"""Largest ``|onnx − decision_function| / max(1, |decision_function|)`` accepted."""
OPSET = 17
PROBE_ROWS = 64


class OnnxExportError(ValueError, NotImplementedError):
    """The detector cannot be exported to ONNX (a ``ValueError`` and a
    ``NotImplementedError``, so either ``except`` catches it)."""


def _require(package: str) -> Any:
    try:
        return __import__(package)
    except ImportError as error:
        msg = (f"ONNX export needs {package}: pip install 'deepad[onnx]' (installs onnx and "
               "onnxruntime).")
        raise ImportError(msg) from error


class _ScoreGraph(nn.Module):
    """``x`` → the detector's ``score`` (one forward pass), as a module torch can trace."""

    def __init__(self, detector: Any) -> None:
        super().__init__()
        self.model = detector.model_
        object.__setattr__(self, "detector", detector)  # not a submodule: only its score

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from deepad.core.trainer import Batch

        index = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        return self.detector.score(Batch(x, None, index)).float()


def check_exportable(detector: Any) -> None:
    """Raise :class:`OnnxExportError` naming why ``detector`` cannot be exported."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(detector, "decision_scores_")
    name = type(detector).name
    if name not in ONNX_DETECTORS or not hasattr(detector, "model_"):
        msg = (f"{name} cannot be exported to ONNX: its scoring is not a single forward pass "
               f"of a network (it searches, samples, loops over transformations, compares "
               f"with a reference set or is not a deep model). Exportable: "
               f"{', '.join(sorted(ONNX_DETECTORS))}.")
        raise OnnxExportError(msg)
    if detector.spec_.modality not in ONNX_NUMERIC_MODALITIES:
        msg = (f"{name} fitted on {detector.spec_.modality} data cannot be exported to ONNX: "
               f"the graph takes numeric {', '.join(ONNX_NUMERIC_MODALITIES)} input.")
        raise OnnxExportError(msg)


def export_onnx(detector: Any, path: str | Path) -> Path:
    """Write ``detector``'s scoring graph to the ONNX file ``path`` and return it; see the
    module docstring. Raises :class:`OnnxExportError` (a ``ValueError``) for a detector that
    cannot be exported or whose exported scores differ from ``decision_function``, and
    ``ImportError`` naming the extra when ``onnx`` is not installed."""
    check_exportable(detector)
    onnx = _require("onnx")
    path = Path(path)
    if path.is_dir():
        msg = f"{path} is a directory; to_onnx writes one .onnx file."
        raise IsADirectoryError(msg)
    cpu = copy.deepcopy(detector)  # traced on the CPU; the fitted detector is left as it is
    cpu.model_ = cpu.model_.cpu().eval()
    cpu.device_ = torch.device("cpu")
    graph = _ScoreGraph(cpu).eval()
    shape = tuple(detector.spec_.sample_shape)
    example = torch.zeros((2, *shape), dtype=torch.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        # torch >= 2.9 announces the TorchScript exporter's deprecation on every call
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.simplefilter("ignore", UserWarning)  # the exporter's constant-folding notes
        torch.onnx.export(graph, (example,), str(path), dynamo=False, input_names=["x"],
                          output_names=["score"], opset_version=OPSET,
                          dynamic_axes={"x": {0: "n"}, "score": {0: "n"}})
    model = onnx.load(str(path))
    meta = {"deepad_detector": type(detector).name, "threshold": repr(detector.threshold_),
            "input_shape": repr(["n", *shape]), "deepad_version": _version()}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.doc_string = (f"deepad {type(detector).name}: float32 x of shape (n, "
                        f"{', '.join(map(str, shape))}) -> anomaly score (n,), higher = more "
                        "anomalous; anomalies score above metadata 'threshold'.")
    onnx.save(model, str(path))
    try:
        _verify(detector, path, shape)
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return path


def _version() -> str:
    from deepad._version import __version__

    return __version__


def _verify(detector: Any, path: Path, shape: tuple[int, ...]) -> None:
    """Score a probe batch with onnxruntime (when installed) and compare with
    ``decision_function``; raise :class:`OnnxExportError` beyond :data:`ONNX_TOLERANCE`."""
    try:
        import onnxruntime
    except ImportError:
        return
    probe = np.random.default_rng(0).normal(size=(PROBE_ROWS, *shape)).astype(np.float32)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (probe, probe[:1]):
        try:
            got = session.run(None, {"x": batch})[0].astype(np.float64)
        except Exception as error:  # onnxruntime's own exception types
            msg = (f"{type(detector).__name__}'s exported graph fails under onnxruntime on "
                   f"{len(batch)} sample(s) ({type(error).__name__}: {str(error)[:300]}); the "
                   "network has a step that tracing fixes to the example's batch size (a "
                   "reshape to a constant shape). The export is refused.")
            raise OnnxExportError(msg) from error
        with warnings.catch_warnings():  # fitted on a DataFrame: the probe has no names
            warnings.simplefilter("ignore", UserWarning)
            expected = detector.decision_function(batch)
        error = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
        if got.shape != expected.shape or not (error <= ONNX_TOLERANCE).all():
            msg = (f"{type(detector).name}'s exported graph scores a probe batch differently "
                   f"from decision_function (largest relative difference "
                   f"{float(np.max(error, initial=np.inf)):.3g} > {ONNX_TOLERANCE}); the "
                   "export is refused.")
            raise OnnxExportError(msg)
