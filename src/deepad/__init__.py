"""deepad: deep anomaly detection, the whole taxonomy, one scikit-learn compatible contract.

Every built-in detector is importable from here (``from deepad import DeepSVDD``) and from
the registry (``deepad.get_detector("DeepSVDD")``).

>>> import deepad
>>> det = deepad.get_detector("DeepSVDD")(epochs=5)      # doctest: +SKIP
>>> det.fit(X_train).decision_function(X_test)          # doctest: +SKIP
"""

from deepad import detectors as _detectors
from deepad._version import __version__
from deepad.core import BaseDetector, DeepDetector, get_detector, list_detectors, load
from deepad.detectors import *  # noqa: F403  (every built-in detector class)
from deepad.series import SeriesDetector

__all__ = ["BaseDetector", "DeepDetector", "__version__", "get_detector", "list_detectors",
           "load", "SeriesDetector", *_detectors.__all__]
