"""deepad: deep anomaly detection, the whole taxonomy, one scikit-learn compatible contract.

>>> import deepad
>>> det = deepad.get_detector("DeepSVDD")(epochs=5)      # doctest: +SKIP
>>> det.fit(X_train).decision_function(X_test)          # doctest: +SKIP
"""

from deepad._version import __version__
from deepad.core import BaseDetector, DeepDetector, get_detector, list_detectors, load
from deepad.detectors import AutoEncoder, DeepSVDD, DevNet

__all__ = ["AutoEncoder", "BaseDetector", "DeepDetector", "DeepSVDD", "DevNet", "__version__",
           "get_detector", "list_detectors", "load"]
