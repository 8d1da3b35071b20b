"""Why is this row, window or image anomalous? Attributions of anomaly scores.

``explain(detector, X)`` returns an :class:`Explanation`: one attribution per input value
(per feature for rows, per time step × channel for windows, per pixel for images), the
scores, and actionable summaries (the top features with their value, normal range and
direction; the time span that contributes most; the map). Methods: the score's exact
decomposition where it has one (the autoencoders' per-value reconstruction error),
Captum's integrated gradients, saliency, gradient × input and DeepLIFT on the score, and
model-agnostic SHAP (permutation) / occlusion for detectors without a gradient.

A layer above :mod:`deepad.core`, beside the detectors (which never import it); it uses only
the detector contract (``decision_function``, ``threshold_``, ``spec_``, and for deep
detectors ``model_``, ``score`` and the optional ``score_terms`` /
``representation_terms``). captum and shap are the ``explain`` extra, imported when used.
"""

from deepad.explain.api import explain
from deepad.explain.explanation import NORMAL_QUANTILES, Explanation
from deepad.explain.methods import METHODS

__all__ = ["METHODS", "NORMAL_QUANTILES", "Explanation", "explain"]
