"""Shallow baselines: classical anomaly detectors in deepad's contract.

Not deep learning and not a branch of the taxonomy (their category is ``"baselines"``, listed
apart by ``deepad list``): they are here so a deep detector can be compared with the usual
classical ones in the same API, on the same validated input, saved and loaded the same safe
way. Each is a thin wrapper of a scorer of :mod:`deepad.core.shallow` on the rows themselves:
scikit-learn's isolation forest and LOF, kNN distance, and ECOD written from its definition
(PyOD is not a dependency). Fitted state is stored as arrays (safetensors) and JSON; nothing is
pickled, and a loaded model scores exactly as the fitted one.

As in PyOD, scores are higher = more anomalous (scikit-learn's ``score_samples`` negated), and
``decision_scores_`` are the scores ``decision_function`` gives the training rows: for kNN and
LOF a training row counts among its own neighbours (PyOD's training scores leave it out; new
rows score the same in both).
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
import torch

from deepad.core.base import BaseDetector
from deepad.core.deep import DeepDetector
from deepad.core.params import Interval, Options
from deepad.core.registry import register
from deepad.core.runtime import resolve_seed
from deepad.core.saved_state import read_field, take_tensors
from deepad.core.shallow import (
    ECOD_VARIANTS,
    KNN_METHODS,
    ECODScorer,
    IForestScorer,
    KNNScorer,
    LOFScorer,
    check_scorer_state,
)


class _ShallowBaseline(BaseDetector):
    """Template of the baselines: ``_make_scorer()`` builds a scorer of
    :mod:`deepad.core.shallow`, which is fitted on the training rows (float64) and saved as
    its arrays under ``scorer.``."""

    category = "baselines"
    subcategory = "shallow"
    supervision = ("unsupervised",)
    modalities = ("tabular",)

    def _make_scorer(self) -> Any:
        raise NotImplementedError

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        k = getattr(self, "n_neighbors", None)
        if k is not None and k >= len(X):
            msg = (f"{type(self).__name__}(n_neighbors={k}) needs more than {k} training rows; "
                   f"got {len(X)}. Lower n_neighbors.")
            raise ValueError(msg)
        scorer = self._make_scorer()
        scorer.fit(X.astype(np.float64))
        self.scorer_ = scorer

    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(self.scorer_.score(X.astype(np.float64)), dtype=np.float64)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        tensors.update({f"scorer.{k}": v for k, v in self.scorer_.state().items()})
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        super()._set_state(state, tensors)
        scorer = self._make_scorer()
        scorer_tensors = take_tensors(tensors, "scorer.")
        check_scorer_state(scorer, scorer_tensors, self.n_features_in_)
        scorer.load(scorer_tensors)
        self.scorer_ = scorer


@register
class IsolationForest(_ShallowBaseline):
    """Isolation forest: rows that random axis-parallel splits isolate in few steps score high.

    scikit-learn's ``IsolationForest`` (Liu, Ting & Zhou, ICDM 2008), scored
    ``2^(−E[h(x)] / c(ψ))``, the negated ``score_samples``: ``decision_function`` equals
    ``-sklearn.ensemble.IsolationForest(...).score_samples`` with the same parameters and
    seed. The fitted trees are saved as their node arrays (no pickle).

    Parameters
    ----------
    n_estimators : int, default 100
    max_samples : "auto", int or float, default "auto"
        Rows per tree: "auto" = min(256, n), an int, or a fraction of the rows.
    max_features : int or float, default 1.0
        Features per tree: an int, or a fraction of the features.
    contamination : float, default 0.1
    random_state : int or None, default None

    Attributes
    ----------
    decision_scores_, threshold_, labels_, spec_
    seed_ : int
        The seed the forest was grown with.

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import IsolationForest
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> det = IsolationForest(random_state=0).fit(X)
    >>> bool(det.decision_function([[8.0, 8.0, 8.0]])[0] > det.threshold_)
    True

    See Also
    --------
    LOF, KNN, ECOD, DeepFeatureDetector

    References
    ----------
    Liu, Ting & Zhou, "Isolation Forest", ICDM 2008.
    """

    name = "IsolationForest"
    reference = "Liu, Ting & Zhou, Isolation Forest, ICDM 2008 (scikit-learn's)"
    test_params: ClassVar[dict] = {"n_estimators": 50}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **BaseDetector._parameter_constraints,
        "n_estimators": [Interval(numbers.Integral, 1, None)],
        "max_samples": [Options(("auto",)), Interval(numbers.Integral, 1, None),
                        Interval(numbers.Real, 0.0, 1.0, closed="right")],
        "max_features": [Interval(numbers.Integral, 1, None),
                         Interval(numbers.Real, 0.0, 1.0, closed="right")],
        "random_state": DeepDetector._parameter_constraints["random_state"],
    }

    def __init__(self, n_estimators=100, max_samples="auto", max_features=1.0,
                 contamination=0.1, random_state=None):
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.contamination = contamination
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        if isinstance(self.max_features, numbers.Integral) and self.max_features > X.shape[1]:
            msg = (f"IsolationForest(max_features={self.max_features}) exceeds the "
                   f"{X.shape[1]} features of X; give at most {X.shape[1]} or a fraction.")
            raise ValueError(msg)
        self.seed_ = resolve_seed(self.random_state)
        super()._fit(X, y)

    def _make_scorer(self) -> IForestScorer:
        return IForestScorer(self.seed_, self.n_estimators, self.max_samples, self.max_features)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["seed"] = self.seed_
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        self.seed_ = read_field(state, "seed", "int", low=0)
        super()._set_state(state, tensors, device)


@register
class LOF(_ShallowBaseline):
    """Local outlier factor: rows whose neighbourhood is sparser than their neighbours' score
    high.

    scikit-learn's ``LocalOutlierFactor(novelty=True)`` (Breunig, Kriegel, Ng & Sander,
    SIGMOD 2000); the score is the LOF itself (``-score_samples``, about 1 inside a cluster,
    larger outside), as PyOD's ``LOF.decision_function``. The training rows are the saved
    state; LOF's fit on them is deterministic and is repeated on load. Deterministic: there
    is no ``random_state``.

    Parameters
    ----------
    n_neighbors : int, default 20
    contamination : float, default 0.1

    Attributes
    ----------
    decision_scores_, threshold_, labels_, spec_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import LOF
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> det = LOF(n_neighbors=10).fit(X)
    >>> bool(det.decision_function([[8.0, 8.0, 8.0]])[0] > det.threshold_)
    True

    See Also
    --------
    KNN, IsolationForest, ECOD

    References
    ----------
    Breunig, Kriegel, Ng & Sander, "LOF: Identifying Density-Based Local Outliers",
    SIGMOD 2000.
    """

    name = "LOF"
    reference = "Breunig et al., LOF: Identifying Density-Based Local Outliers, SIGMOD 2000"
    test_params: ClassVar[dict] = {"n_neighbors": 20}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **BaseDetector._parameter_constraints,
        "n_neighbors": [Interval(numbers.Integral, 1, None)],
    }

    def __init__(self, n_neighbors=20, contamination=0.1):
        self.n_neighbors = n_neighbors
        self.contamination = contamination

    def _make_scorer(self) -> LOFScorer:
        return LOFScorer(self.n_neighbors)


@register
class KNN(_ShallowBaseline):
    """k-nearest-neighbour distance: rows far from their k-th nearest training row score high.

    The distance to the k-th nearest training row (``method="largest"``, Ramaswamy, Rastogi &
    Shim, SIGMOD 2000), or the mean (Angiulli & Pizzuti, PKDD 2002) or median distance to
    the k nearest, Euclidean, as PyOD's ``KNN``; new rows score as in PyOD. The training rows
    are the saved state. Deterministic: there is no ``random_state``.

    Parameters
    ----------
    n_neighbors : int, default 5
    method : {"largest", "mean", "median"}, default "largest"
    contamination : float, default 0.1

    Attributes
    ----------
    decision_scores_, threshold_, labels_, spec_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import KNN
    >>> det = KNN(n_neighbors=2).fit(np.array([[0.0], [1.0], [3.0], [7.0]]))
    >>> det.decision_function(np.array([[2.0], [6.0]]))
    array([1., 3.])

    See Also
    --------
    LOF, IsolationForest, ECOD

    References
    ----------
    Ramaswamy, Rastogi & Shim, "Efficient algorithms for mining outliers from large data
    sets", SIGMOD 2000. Angiulli & Pizzuti, "Fast outlier detection in high dimensional
    spaces", PKDD 2002.
    """

    name = "KNN"
    reference = ("Ramaswamy, Rastogi & Shim, Efficient algorithms for mining outliers from "
                 "large data sets, SIGMOD 2000")
    test_params: ClassVar[dict] = {"n_neighbors": 5}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **BaseDetector._parameter_constraints,
        "n_neighbors": [Interval(numbers.Integral, 1, None)],
        "method": [Options(KNN_METHODS)],
    }

    def __init__(self, n_neighbors=5, method="largest", contamination=0.1):
        self.n_neighbors = n_neighbors
        self.method = method
        self.contamination = contamination

    def _make_scorer(self) -> KNNScorer:
        return KNNScorer(self.n_neighbors, self.method)


@register
class ECOD(_ShallowBaseline):
    """ECOD: rows in the tails of the features' empirical distributions score high.

    Empirical-cumulative-distribution-based outlier detection (Li, Zhao, Hu, Botta, Ionescu &
    Chen, IEEE TKDE 2022), written from its definition (Algorithm 1): per feature, the left
    and right tail probabilities of a value under the training column's empirical CDF; the
    score sums their negative logarithms over the features, taking the left tail, the right
    tail, or the tail each feature's skewness points to, whichever sum is largest. No
    hyperparameters, deterministic, no ``random_state``. See
    :class:`deepad.core.shallow.ECODScorer` for the formulas.

    A row is scored against the training sample alone (the scored value joins the training
    column, so a value beyond every training value has tail probability 1 / (n + 1)). PyOD's
    ``ECOD`` instead ranks the rows of one ``decision_function`` call together with the
    training data, so the rows of a call shift each other's scores; for one row at a time the
    tail probabilities are equal.

    Parameters
    ----------
    variant : {"paper", "pyod"}, default "paper"
        "paper": the maximum of the three sums (Algorithm 1). "pyod": PyOD 3.6.7's
        aggregation, per feature the larger tail (or PyOD's skewness-chosen one), summed;
        equal to PyOD's scores of single rows.
    contamination : float, default 0.1

    Attributes
    ----------
    decision_scores_, threshold_, labels_, spec_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import ECOD
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> det = ECOD().fit(X)
    >>> bool(det.decision_function([[8.0, 8.0, 8.0]])[0] > det.threshold_)
    True

    See Also
    --------
    IsolationForest, KNN, LOF

    References
    ----------
    Li, Zhao, Hu, Botta, Ionescu & Chen, "ECOD: Unsupervised Outlier Detection Using
    Empirical Cumulative Distribution Functions", IEEE TKDE 35(12), 2022 (Algorithm 1).
    """

    name = "ECOD"
    reference = ("Li et al., ECOD: Unsupervised Outlier Detection Using Empirical Cumulative "
                 "Distribution Functions, IEEE TKDE 2022")
    test_params: ClassVar[dict] = {"variant": "paper"}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **BaseDetector._parameter_constraints,
        "variant": [Options(ECOD_VARIANTS)],
    }

    def __init__(self, variant="paper", contamination=0.1):
        self.variant = variant
        self.contamination = contamination

    def _make_scorer(self) -> ECODScorer:
        return ECODScorer(self.variant)
