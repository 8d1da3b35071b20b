"""deepad: deep anomaly detection, the whole taxonomy, one scikit-learn compatible contract.

Every built-in detector is importable from here (``from deepad import DeepSVDD``) and from
the registry (``deepad.get_detector("DeepSVDD")``).

>>> import deepad
>>> det = deepad.get_detector("DeepSVDD")(epochs=5)      # doctest: +SKIP
>>> det.fit(X_train).decision_function(X_test)          # doctest: +SKIP

Names are resolved lazily (PEP 562, a module ``__getattr__``): ``import deepad``, and
``import deepad.metrics`` or ``import deepad.data`` through it, load neither torch nor the
detectors; the first use of a detector class, of the base classes, of ``load`` or of
``SeriesDetector`` imports what it needs. The registry imports every built-in detector on
its first query, so ``list_detectors`` / ``get_detector`` always see all of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from deepad._version import __version__

if TYPE_CHECKING:  # what the lazy names resolve to, for type checkers and IDEs
    from deepad.core import BaseDetector, DeepDetector, get_detector, list_detectors, load
    from deepad.detectors import *  # noqa: F403
    from deepad.series import SeriesDetector
    from deepad.tabular import TableDetector
    from deepad.video import VideoDetector

# name -> module that defines it (imported on first access)
_CONTRACT = {
    "BaseDetector": "deepad.core.base",
    "DeepDetector": "deepad.core.deep",
    "get_detector": "deepad.core.registry",
    "list_detectors": "deepad.core.registry",
    "load": "deepad.core.persistence",
    "SeriesDetector": "deepad.series",
    "VideoDetector": "deepad.video",
    "TableDetector": "deepad.tabular",
}
# every built-in detector class, from ``deepad.detectors`` (its ``__all__``; a test keeps the
# two lists equal)
_DETECTORS = ("ALAD", "ALOCC", "APE", "AnoGAN", "AutoEncoder", "DAGMM", "DeepFeatureDetector",
              "DeepKNN", "DeepLog", "DeepSAD", "DeepSVDD", "DeepXGBOD", "DevNet", "DPLAN", "ECOD",
              "Energy",
              "Forecaster", "FuturePrediction", "GANomaly", "GEOM", "GOAD", "ICL", "IRLAD",
              "IsolationForest", "KDBU",
              "KNN", "LID", "LOF", "LSTMAutoEncoder", "Mahalanobis", "MahalanobisAdversarial",
              "MILRanking", "MSP", "NeuTraL", "OCAN", "OCNN", "ODIN", "OutlierEnsemble",
              "PReNet", "RandNet", "RDP",
              "REPEN", "RND", "RobustAutoEncoder", "SDOR", "VAE",
              "AnomalyDAE", "CoLA", "CONAD", "DOMINANT", "GAAN", "OCGNN")

# sub-packages reachable as attributes after a plain ``import deepad`` (``deepad.core.X``), as
# when this module imported them eagerly
_SUBPACKAGES = ("bench", "cli", "core", "data", "detectors", "metrics", "nets", "series",
                "tabular", "video")

__all__ = ["BaseDetector", "DeepDetector", "__version__", "get_detector", "list_detectors",
           "load", "SeriesDetector", "TableDetector", "VideoDetector", *_DETECTORS]


def __getattr__(name: str) -> Any:
    if name in _CONTRACT:
        module = _CONTRACT[name]
    elif name in _DETECTORS:
        module = "deepad.detectors"
    elif name in _SUBPACKAGES:
        return importlib.import_module(f"deepad.{name}")  # the import sets the attribute
    else:
        msg = f"module 'deepad' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolved once; later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
