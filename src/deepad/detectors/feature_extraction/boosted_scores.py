"""Deep outlier scores as features of a gradient-boosted classifier trained on the partial
labels (the XGBOD idea, Zhao & Hryniewicki, IJCNN 2018, with deepad's own detectors as the
unsupervised feature extractors), optionally rank-averaged with weakly supervised deep
detectors.

The booster is CatBoost (``booster="catboost"``, the default; the optional extra
``deepad[boost]``) or scikit-learn's ``HistGradientBoostingClassifier`` (``booster="histgb"``, no
extra dependency). Saving keeps state, never objects: CatBoost's model as CatBoost's own JSON
model format (text inside deepad's JSON configuration; :class:`CatBoostTrees`), scikit-learn's
trees as node arrays (children, split feature, threshold, leaf value) in safetensors
(:class:`BoostedTrees`). Either way the fitted detector scores with the booster restored from
that saved form, so a loaded model scores exactly as the fitted one; the extractors and the
blended detectors are saved as their own states under prefixes. Members are found through the
registry by name, so this module imports no other branch of the detectors.
"""

from __future__ import annotations

import json
import numbers
import tempfile
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from deepad.core.base import BaseDetector
from deepad.core.deep import DeepDetector
from deepad.core.params import Interval, Options
from deepad.core.registry import get_detector, register
from deepad.core.runtime import resolve_seed
from deepad.core.saved_state import read_field, read_tensor, take_tensors

TREE_ARRAYS = ("left", "right", "feature", "threshold", "value")
DEFAULT_EXTRACTORS = ("REPEN", "AutoEncoder", "VAE")
DEFAULT_BLEND = ("DevNet",)
BOOSTERS = ("catboost", "histgb")
DEFAULT_BOOSTER = "catboost"
DEFAULT_BOOSTER_WEIGHT = 0.5
CV_FOLDS = 3
AUTO_PRIOR = 0.5
"""``booster_weight="auto"`` keeps this weight unless another candidate is better by more
than one standard error."""
AUTO_WEIGHTS = (0.5, 2.0 / 3.0, 1.0)
"""Candidate weights of the booster for ``booster_weight="auto"``, besides equal weights."""


def hanley_mcneil_se(auc: float, n_positive: int, n_negative: int) -> float:
    """Standard error of an AUROC estimated from ``n_positive`` and ``n_negative`` rows
    (Hanley & McNeil, Radiology 1982, eq. 2 with their exponential approximations of
    Q1 = A / (2 − A) and Q2 = 2A² / (1 + A))."""
    q1 = auc / (2.0 - auc)
    q2 = 2.0 * auc * auc / (1.0 + auc)
    variance = (auc * (1.0 - auc) + (n_positive - 1) * (q1 - auc * auc)
                + (n_negative - 1) * (q2 - auc * auc)) / (n_positive * n_negative)
    return float(np.sqrt(max(variance, 0.0)))
"""The extractors, the blend and the booster were chosen on the quick suite only
(``benchmarks/weak_boost_choice.py``, ``docs/results/weak_boost_choice.md``,
``docs/decisions.md``)."""


def rank_normalise(train: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The empirical distribution function of the training scores ``train`` at ``scores``,
    ties counted half: ``F(s) = (#{t < s} + #{t ≤ s}) / (2 n)``, in [0, 1]."""
    ordered = np.sort(np.asarray(train, dtype=np.float64))
    scores = np.asarray(scores, dtype=np.float64)
    below = np.searchsorted(ordered, scores, side="left")
    at_or_below = np.searchsorted(ordered, scores, side="right")
    return (below + at_or_below) / (2.0 * len(ordered))


class BoostedTrees:
    """The additive tree model of a fitted binary ``HistGradientBoostingClassifier`` as arrays:
    the raw score (log-odds of class 1) of a row is ``baseline + Σ_t value_t(leaf_t(x))``,
    where each tree sends a row left when ``x[feature] <= threshold`` (scikit-learn's rule for
    numerical splits; the input holds no NaN, so its missing-value branch never applies). All
    trees and rows advance one level per step."""

    def fit(self, model: Any) -> BoostedTrees:
        trees = [predictors[0].nodes for predictors in model._predictors]
        if any(bool(nodes["is_categorical"].any()) for nodes in trees):  # never: no categories
            msg = "categorical splits are not supported"
            raise ValueError(msg)
        width = max(len(nodes) for nodes in trees)
        shape = (len(trees), width)
        self.left = np.full(shape, -1, dtype=np.int64)
        self.right = np.full(shape, -1, dtype=np.int64)
        self.feature = np.zeros(shape, dtype=np.int64)
        self.threshold = np.zeros(shape, dtype=np.float64)
        self.value = np.zeros(shape, dtype=np.float64)
        for i, nodes in enumerate(trees):
            n = len(nodes)
            leaf = nodes["is_leaf"].astype(bool)
            self.left[i, :n] = np.where(leaf, -1, nodes["left"].astype(np.int64))
            self.right[i, :n] = np.where(leaf, -1, nodes["right"].astype(np.int64))
            self.feature[i, :n] = np.where(leaf, 0, nodes["feature_idx"])
            self.threshold[i, :n] = nodes["num_threshold"]
            self.value[i, :n] = nodes["value"]
        self.baseline = float(np.ravel(model._baseline_prediction)[0])
        return self

    def raw(self, Z: np.ndarray) -> np.ndarray:
        """Log-odds of class 1 for the rows of ``Z`` (float64)."""
        Z = np.asarray(Z, dtype=np.float64)
        out = np.empty(len(Z), dtype=np.float64)
        step = max(1, 2_000_000 // max(1, len(self.left)))
        for start in range(0, len(Z), step):
            out[start:start + step] = self._raw(Z[start:start + step])
        return out

    def _raw(self, Z: np.ndarray) -> np.ndarray:
        node = np.zeros((len(self.left), len(Z)), dtype=np.int64)
        row = np.arange(len(Z))[None, :]
        for _ in range(self.left.shape[1]):  # a path is never longer than a tree's nodes
            left = np.take_along_axis(self.left, node, axis=1)
            inner = left >= 0
            if not inner.any():
                break
            feature = np.take_along_axis(self.feature, node, axis=1)
            threshold = np.take_along_axis(self.threshold, node, axis=1)
            right = np.take_along_axis(self.right, node, axis=1)
            node = np.where(inner, np.where(Z[row, feature] <= threshold, left, right), node)
        return self.baseline + np.take_along_axis(self.value, node, axis=1).sum(axis=0)

    def state(self) -> dict[str, torch.Tensor]:
        tensors = {name: torch.from_numpy(np.ascontiguousarray(getattr(self, name)))
                   for name in TREE_ARRAYS}
        tensors["baseline"] = torch.tensor([self.baseline], dtype=torch.float64)
        return tensors

    def load(self, tensors: dict[str, torch.Tensor], n_columns: int) -> BoostedTrees:
        """Restore the arrays, checked so that a tampered file can neither index outside the
        input nor walk a tree forever (``ValueError`` naming the tensor)."""
        dtypes = {"left": torch.int64, "right": torch.int64, "feature": torch.int64,
                  "threshold": torch.float64, "value": torch.float64}
        arrays = {name: read_tensor(tensors, name, ndim=2, dtype=dtypes[name]).numpy()
                  for name in TREE_ARRAYS}
        baseline = read_tensor(tensors, "baseline", ndim=1, rows=1, dtype=torch.float64)
        shape = arrays["left"].shape

        def refuse(rule: str) -> None:
            msg = f"weights.safetensors: the booster's trees (tensors 'booster.*') {rule}."
            raise ValueError(msg)

        if shape[0] == 0 or shape[1] == 0:
            refuse(f"must hold at least one tree of one node; got shape {shape}")
        if any(a.shape != shape for a in arrays.values()):
            refuse("must all have the same shape")
        index = np.arange(shape[1])[None, :]
        for side in ("left", "right"):
            child = arrays[side]
            inner = child >= 0
            if ((child < -1) | (child >= shape[1])).any() or (inner & (child <= index)).any():
                refuse(f"'{side}' must point forward to a node of the same tree (or be -1)")
        if ((arrays["left"] >= 0) != (arrays["right"] >= 0)).any():
            refuse("must give every inner node two children")
        if ((arrays["feature"] < 0) | (arrays["feature"] >= n_columns)).any():
            refuse(f"'feature' must index one of the {n_columns} input columns")
        if not (np.isfinite(arrays["value"]).all() and torch.isfinite(baseline).all()):
            refuse("'value' and 'baseline' must be finite")
        for name, array in arrays.items():
            setattr(self, name, array)
        self.baseline = float(baseline[0])
        return self


CATBOOST_HINT = ('pip install "deepad[boost]" (or booster="histgb": scikit-learn\'s booster, '
                 "no extra dependency)")


def import_catboost() -> Any:
    """The ``catboost`` module, or ``ImportError`` naming the extra that installs it."""
    try:
        import catboost
    except ImportError as error:
        msg = f'DeepXGBOD(booster="catboost") needs CatBoost: {CATBOOST_HINT}. ({error})'
        raise ImportError(msg) from error
    return catboost


class CatBoostTrees:
    """A fitted binary ``CatBoostClassifier`` kept as CatBoost's JSON model format
    (``save_model(..., format="json")``): plain data (oblivious trees: split feature, border,
    leaf values; scale and bias), never code, so loading it cannot run anything.

    CatBoost writes its JSON with floats rounded in the last digit, so the model read back
    from the text can differ from the in-memory one by about 1e-16. The fitted detector
    therefore scores with the model read back from the very text it saves (:meth:`raw` of a
    model made by :meth:`fit` and of one made by :meth:`load` are the same function)."""

    def fit(self, features: np.ndarray, y: np.ndarray, seed: int) -> CatBoostTrees:
        catboost = import_catboost()
        # CatBoost's defaults (1000 oblivious trees of depth 6, learning rate set from the
        # data, all cores; the result does not depend on the number of threads), silenced
        model = catboost.CatBoostClassifier(random_seed=seed, verbose=False,
                                            allow_writing_files=False)
        model.fit(features, y)
        with tempfile.TemporaryDirectory(prefix="deepad-catboost-") as folder:
            path = Path(folder) / "model.json"
            model.save_model(str(path), format="json")
            text = path.read_text(encoding="utf-8")
        return self.load(text, features.shape[1])

    def load(self, text: Any, n_columns: int) -> CatBoostTrees:
        """Read the JSON model ``text``, checked to be a CatBoost model of ``n_columns``
        numerical features (``ValueError`` naming the field otherwise)."""

        def refuse(rule: str) -> None:
            msg = f"config.json: state['booster_json'] (the CatBoost model) {rule}."
            raise ValueError(msg)

        if not isinstance(text, str):
            refuse(f"must be a string of CatBoost's JSON model format; got {type(text).__name__}")
        try:
            document = json.loads(text)
        except ValueError:
            refuse("is not valid JSON")
        if not isinstance(document, dict) or not isinstance(document.get("features_info"), dict):
            refuse("must be an object with 'features_info'")
        info = document["features_info"]
        floats = info.get("float_features")
        if any(info.get(kind) for kind in ("categorical_features", "text_features",
                                           "embedding_features")):
            refuse("must use numerical features only")
        if not isinstance(floats, list) or len(floats) > n_columns or not all(
                isinstance(f, dict) and isinstance(f.get("flat_feature_index"), int)
                and 0 <= f["flat_feature_index"] < n_columns for f in floats):
            refuse(f"must describe numerical features indexed below {n_columns}, the booster's "
                   "input columns")
        trees = document.get("oblivious_trees")
        if not isinstance(trees, list) or not trees:
            refuse("must hold at least one oblivious tree")
        catboost = import_catboost()
        model = catboost.CatBoostClassifier()
        with tempfile.TemporaryDirectory(prefix="deepad-catboost-") as folder:
            path = Path(folder) / "model.json"
            path.write_text(text, encoding="utf-8")
            try:
                model.load_model(str(path), format="json")
            except catboost.CatBoostError as error:
                refuse(f"cannot be read by CatBoost ({error})")
        self.model = model
        self.text = text
        self.n_trees = int(model.tree_count_)
        self.n_columns = n_columns
        return self

    def raw(self, Z: np.ndarray) -> np.ndarray:
        """Log-odds of class 1 for the rows of ``Z`` (CatBoost's ``RawFormulaVal``)."""
        Z = np.asarray(Z, dtype=np.float64)
        return np.asarray(self.model.predict(Z, prediction_type="RawFormulaVal"),
                          dtype=np.float64).reshape(len(Z))


class _NamesConstraint:
    """Distinct names of registered detectors of tabular rows of one supervision kind."""

    def __init__(self, supervision: str, allow_empty: bool) -> None:
        self.supervision = supervision
        self.allow_empty = allow_empty

    def is_satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, list | tuple) or (not value and not self.allow_empty):
            return False
        if not all(isinstance(v, str) for v in value) or len(set(value)) != len(value):
            return False
        try:
            classes = [get_detector(v) for v in value]
        except KeyError:
            return False
        return all(self.supervision in c.supervision and "tabular" in c.modalities
                   and c is not DeepXGBOD for c in classes)

    def __str__(self) -> str:
        size = "zero or more" if self.allow_empty else "one or more"
        return (f"a tuple of {size} distinct names of registered {self.supervision} detectors "
                "of tabular rows")


class _MemberParamsConstraint:
    """``(member name, hyperparameter, value)`` triples (saved as JSON lists)."""

    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, list | tuple) and all(
            isinstance(t, list | tuple) and len(t) == 3 and isinstance(t[0], str)
            and isinstance(t[1], str) for t in value)

    def __str__(self) -> str:
        return ("a tuple of (detector name, hyperparameter, value) triples, e.g. "
                "(('DevNet', 'epochs', 20),)")


@register
class DeepXGBOD(BaseDetector):
    """Deep outlier scores as extra features of a gradient-boosted classifier trained on the
    labelled anomalies (XGBOD with deepad's detectors), rank-averaged with DevNet and with
    the unsupervised scores themselves.

    XGBOD (Zhao & Hryniewicki, IJCNN 2018) augments the features of a supervised outlier
    classifier with "transformed outlier scores" (TOS): the scores that unsupervised detectors
    give every row. Here, with ``X`` the training rows and ``y`` the partial labels (1 =
    labelled anomaly, 0 = unlabelled, which the classifier treats as normal, as ADBench trains
    its supervised baselines):

    1. Feature extraction (XGBOD §III-A): each unsupervised detector ``u_k`` of
       ``extractors`` (default REPEN, AutoEncoder, VAE: deep detectors at their defaults) is
       fitted on every row of ``X`` without labels; the TOS of a row are
       ``φ(x) = [u_1(x), ..., u_K(x)]``.
    2. The augmented features ``[x, φ(x)]`` (XGBOD §III-C: the original features and the TOS;
       ``use_raw_features=False`` keeps the TOS only).
    3. A gradient-boosted tree classifier on ``([x_i, φ(x_i)], y_i)`` minimising the binary
       log-loss ``Σ_i −y_i log p_i − (1 − y_i) log(1 − p_i)``, ``p_i = σ(F(x_i))``, ``F`` a
       sum of regression trees fitted to the loss's gradients. ``booster="catboost"`` (the
       default): CatBoost (Prokhorenkova et al., NeurIPS 2018) at its defaults, as ADBench
       runs it: 1000 oblivious (symmetric) trees of depth 6, ordered boosting (each row's
       gradient taken from a model that has not seen that row, §4 of the paper), learning
       rate set by CatBoost from the data size. ``booster="histgb"``: scikit-learn's
       histogram implementation of second-order boosting (XGBoost's, Chen & Guestrin 2016)
       with its defaults: 100 iterations, learning rate 0.1, 31 leaves, 20 rows per leaf.
    4. Scores. The default score is a weighted rank average of the booster and J + 1 other
       members:

       ``S(x) = w F̂_F(F(x)) + (1 − w) ( Σ_j F̂_j(w_j(x)) + (1/K) Σ_k F̂_k(u_k(x)) ) / (J + 1)``

       that is, the booster's rank with weight ``w`` (``booster_weight``, default 1/2) and,
       with weight ``1 − w``, the mean of the rank of each weakly supervised detector ``w_j``
       of ``blend`` (default DevNet, fitted on ``(X, y)``; J of them) and of the mean rank of
       the extractors' scores (``blend_extractors=True``), where
       ``F̂(s) = (#{i: s_i < s} + #{i: s_i ≤ s}) / (2n)`` is the empirical distribution
       function of a member's own training scores (ties counted half), so a new row is
       scored on its own. ``booster_weight="equal"`` gives every member the same weight
       (``w = 1 / (J + 2)``, the earlier default). With ``blend=()`` and
       ``blend_extractors=False`` the score is the booster's log-odds ``F(x)`` alone (monotone
       in its probability of class 1: XGBOD's score, without the ties of a saturated
       probability). Why the average: with few labelled anomalies (1 %, often a single one)
       the booster has little to split on, the unsupervised ranks carry the detection, and
       DevNet's deviation loss generalises from the labels differently; on the quick suite
       the average beat each part at 10 % and at 1 %, and the weight 1/2 beat equal weights
       at both (``docs/results/weak_boost_choice.md``).
    5. ``booster_weight="auto"`` chooses ``w`` from the training data: the booster and the
       blend are refitted on 3 folds of the training rows (stratified by the partial labels),
       and each candidate ``w`` in {1/(J + 2), 1/2, 2/3, 1} is scored by the AUROC of its
       out-of-fold scores against the partial labels (labelled anomalies against every other
       row). When the labelled anomalies are a random sample of the anomalies (ADBench's
       protocol), that AUROC is an increasing affine function of the AUROC against the true
       labels (Menon et al., ICML 2015), so it ranks the candidates without true labels. The
       best candidate replaces 1/2 only when its AUROC is higher by more than one standard
       error (Hanley & McNeil, Radiology 1982; the one-standard-error rule of Breiman et al.
       1984), because with a few labels the estimate is noisy; with a single labelled anomaly
       there is nothing to hold out and ``w = 1/2``. It costs three more fits of the booster
       and of the blend. On the quick suite it ties with the fixed weight, so the default is
       the cheaper fixed 1/2.

    Deviations from XGBOD: the TOS come from deep detectors of deepad instead of XGBOD's pool
    of shallow ones (kNN, LOF, iForest, HBOS, OCSVM with many settings), and all of them are
    kept (XGBOD selects TOS by accuracy and diversity: with three extractors there is little
    to select); the booster is CatBoost (default) or scikit-learn's
    ``HistGradientBoostingClassifier`` instead of XGBoost; the rank average with a weakly
    supervised detector is this library's addition (XGBOD scores by the classifier alone:
    ``blend=()``, ``blend_extractors=False``).
    The default extractors, blend and booster were chosen on the quick suite only, at 10 % and
    1 % labelled anomalies (``benchmarks/weak_boost_choice.py``, whose page
    ``docs/results/weak_boost_choice.md`` gives the numbers; CatBoost in place of
    scikit-learn's booster was chosen after a first checking run on the 25 other ADBench
    sets had shown scikit-learn's booster weak at 1 %, and the weight 1/2 after a second
    checking run had shown the equal-weight average below CatBoost at 10 %; see
    ``docs/decisions.md``). Cost: the
    fit time is the sum of the members' and the booster's; median fit CPU seconds over the
    quick suite (one thread):
    CatBoost 3.0, scikit-learn's booster 0.2, the four deep members 8.6 together (REPEN 0.9,
    AutoEncoder 2.6, VAE 3.8, DevNet 1.1).

    Parameters
    ----------
    extractors : tuple of str, default ("REPEN", "AutoEncoder", "VAE")
        Registered unsupervised detectors of tabular rows whose scores are the TOS.
    blend : tuple of str, default ("DevNet",)
        Registered weakly supervised detectors rank-averaged with the booster.
    blend_extractors : bool, default True
        Average the extractors' mean rank in as one more member. With ``blend=()`` and
        ``False`` the score is the booster's log-odds alone (XGBOD).
    use_raw_features : bool, default True
        Give the booster the input columns as well as the TOS.
    member_params : tuple of (str, str, value), default ()
        Hyperparameters of members, as ``(member name, hyperparameter, value)`` triples
        (``(("DevNet", "epochs", 20),)``: triples, not a dict, so that they are saved as JSON
        with the model); the others keep their defaults. ``random_state`` and ``device`` are
        set by this detector.
    booster_weight : float in (0, 1], "equal" or "auto", default 0.5
        The booster's weight ``w`` in the rank average (step 4); ``"equal"`` weighs every
        member alike, ``"auto"`` chooses ``w`` by cross-fitting on the partial labels (step 5).
    booster : {"catboost", "histgb"}, default "catboost"
        The gradient-boosted classifier: CatBoost at its defaults (needs the optional extra,
        ``pip install "deepad[boost]"``; ``ImportError`` naming it otherwise) or
        scikit-learn's ``HistGradientBoostingClassifier`` (no extra dependency).
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization
        The ``histgb`` booster's, at scikit-learn's defaults; ``booster="catboost"`` ignores
        them (CatBoost runs at its defaults, as ADBench runs it).
    contamination : float, default 0.1
    device : str or None, default None
        Device of the deep members (None → CUDA when available, else CPU).
    random_state : int or None, default None
        Seed of every member and of the booster.

    Attributes
    ----------
    extractors_ : list of BaseDetector
        The fitted unsupervised extractors, in the order of ``extractors``.
    blend_ : list of BaseDetector
        The fitted weakly supervised detectors, in the order of ``blend``.
    booster_ : CatBoostTrees or BoostedTrees
        The fitted booster: CatBoost's JSON model, or scikit-learn's trees as arrays.
    booster_scores_ : ndarray of shape (n_samples,)
        The booster's log-odds of the training rows (the reference of its rank).
    n_iter_ : int
        Boosting iterations (trees) fitted.
    booster_weight_ : float
        The booster's weight used (1 when nothing else is averaged).
    weight_auroc_ : dict of str to float
        With ``booster_weight="auto"``: each candidate weight's cross-fitted AUROC against
        the partial labels (empty otherwise, and with a single labelled anomaly).
    seed_ : int
    decision_scores_, threshold_, labels_, spec_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import DeepXGBOD
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(300, 4)), rng.normal(5.0, 1.0, size=(10, 4))])
    >>> y = np.zeros(len(X), dtype=int); y[-3:] = 1
    >>> det = DeepXGBOD(extractors=("IsolationForest",), blend=(), blend_extractors=False,
    ...                 booster="histgb", random_state=0).fit(X, y)
    >>> bool(det.decision_function([[5.0, 5.0, 5.0, 5.0]])[0] > det.threshold_)
    True

    See Also
    --------
    DevNet, DeepFeatureDetector, REPEN, AutoEncoder, VAE

    References
    ----------
    Zhao & Hryniewicki, "XGBOD: Improving Supervised Outlier Detection with Unsupervised
    Representation Learning", IJCNN 2018 (§III: TOS generation, selection, and the
    classifier on the augmented features). Prokhorenkova, Gusev, Vorobev, Dorogush & Gulin,
    "CatBoost: unbiased boosting with categorical features", NeurIPS 2018 (ordered boosting,
    oblivious trees). Chen & Guestrin, "XGBoost: A Scalable Tree Boosting System", KDD 2016
    (second-order gradient boosting). Han et al., "ADBench:
    Anomaly Detection Benchmark", NeurIPS 2022 (supervised training on partial labels). Pang,
    Shen & van den Hengel, "Deep Anomaly Detection with Deviation Networks", KDD 2019.
    Menon, van Rooyen, Ong & Williamson, "Learning from Corrupted Binary Labels via
    Class-Probability Estimation", ICML 2015 (AUROC under randomly missing positive labels).
    Hanley & McNeil, "The Meaning and Use of the Area under a ROC Curve", Radiology 1982.
    """

    name = "DeepXGBOD"
    category = "feature_extraction"
    subcategory = "deep_features"
    supervision = ("weakly-supervised",)
    modalities = ("tabular",)
    reference = ("Zhao & Hryniewicki, XGBOD: Improving Supervised Outlier Detection with "
                 "Unsupervised Representation Learning, IJCNN 2018")
    test_params: ClassVar[dict] = {
        "extractors": ("AutoEncoder",),
        "member_params": (("AutoEncoder", "epochs", 3), ("AutoEncoder", "hidden_dims", (16, 4)),
                          ("AutoEncoder", "batch_size", 32), ("DevNet", "epochs", 3),
                          ("DevNet", "batch_size", 32), ("DevNet", "n_batches", 5)),
        "max_iter": 20,
        "booster": "histgb",  # the conformance suite does not need the optional extra
    }
    stream_refusal = ("its booster is fitted on every training row at once, and its members' "
                      "training scores set the scale of their ranks")

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **BaseDetector._parameter_constraints,
        "extractors": [_NamesConstraint("unsupervised", allow_empty=True)],
        "blend": [_NamesConstraint("weakly-supervised", allow_empty=True)],
        "blend_extractors": [Options((True, False))],
        "use_raw_features": [Options((True, False))],
        "member_params": [_MemberParamsConstraint()],
        "booster": [Options(BOOSTERS)],
        "booster_weight": [Options(("equal", "auto")),
                           Interval(numbers.Real, 0.0, 1.0, closed="right")],
        "max_iter": [Interval(numbers.Integral, 1, None)],
        "learning_rate": [Interval(numbers.Real, 0.0, None, closed="neither")],
        "max_leaf_nodes": [Interval(numbers.Integral, 2, None)],
        "min_samples_leaf": [Interval(numbers.Integral, 1, None)],
        "l2_regularization": [Interval(numbers.Real, 0.0, None)],
        "device": DeepDetector._parameter_constraints["device"],
        "random_state": DeepDetector._parameter_constraints["random_state"],
    }

    def __init__(self, extractors=DEFAULT_EXTRACTORS, blend=DEFAULT_BLEND,
                 blend_extractors=True, use_raw_features=True, member_params=(),
                 booster=DEFAULT_BOOSTER, booster_weight=DEFAULT_BOOSTER_WEIGHT, max_iter=100,
                 learning_rate=0.1, max_leaf_nodes=31, min_samples_leaf=20,
                 l2_regularization=0.0, contamination=0.1, device=None, random_state=None):
        self.extractors = extractors
        self.blend = blend
        self.blend_extractors = blend_extractors
        self.use_raw_features = use_raw_features
        self.member_params = member_params
        self.booster = booster
        self.booster_weight = booster_weight
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ members
    def _make_member(self, name: str) -> BaseDetector:
        cls = get_detector(name)
        params = {key: value for member, key, value in (self.member_params or ())
                  if member == name}
        known = cls().get_params(deep=False)
        for key, value in (("random_state", self.seed_), ("device", self.device)):
            if key in known and (key == "random_state" or value is not None):
                params[key] = value
        return cls(**params)

    def _check_config(self) -> None:
        if not self.extractors and not self.use_raw_features:
            msg = ("DeepXGBOD needs features for its booster: give extractors or set "
                   "use_raw_features=True.")
            raise ValueError(msg)
        unknown = sorted({t[0] for t in self.member_params or ()}
                         - set(self.extractors) - set(self.blend))
        if unknown:
            msg = (f"member_params names {unknown}, which are neither extractors "
                   f"{list(self.extractors)} nor blend {list(self.blend)}.")
            raise ValueError(msg)

    def _features(self, X: np.ndarray, tos: list[np.ndarray]) -> np.ndarray:
        columns = [X.reshape(len(X), -1).astype(np.float64)] if self.use_raw_features else []
        columns += [np.asarray(t, dtype=np.float64)[:, None] for t in tos]
        return np.hstack(columns)

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self._check_config()
        if self.booster == "catboost":
            import_catboost()  # before the members are trained, not after
        self.seed_ = resolve_seed(self.random_state)
        self.extractors_ = [self._make_member(n).fit(X) for n in self.extractors]
        features = self._features(X, [m.decision_scores_ for m in self.extractors_])
        self.booster_weight_, self.weight_auroc_ = self._choose_weight(X, y, features)
        self.booster_, self.n_iter_ = self._fit_booster(features, y)
        self.booster_scores_ = self.booster_.raw(features)
        self.blend_ = [self._make_member(n).fit(X, y) for n in self.blend]

    def _fit_booster(self, features: np.ndarray, y: np.ndarray) -> tuple[Any, int]:
        """The booster fitted on ``(features, y)`` and its number of trees."""
        if self.booster == "catboost":
            trees = CatBoostTrees().fit(features, y, self.seed_)
            return trees, trees.n_trees
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(
            max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, random_state=self.seed_)
        model.fit(features, y)
        return BoostedTrees().fit(model), int(model.n_iter_)

    def _n_others(self) -> int:
        """Members averaged beside the booster: the blend and the extractors' mean rank."""
        return len(self.blend) + int(bool(self.blend_extractors and self.extractors))

    def _choose_weight(self, X: np.ndarray, y: np.ndarray,
                       features: np.ndarray) -> tuple[float, dict[str, float]]:
        """The booster's weight in the rank average and, for ``"auto"``, the cross-fitted
        AUROC of each candidate weight (empty otherwise)."""
        others = self._n_others()
        if others == 0:
            return 1.0, {}
        if self.booster_weight == "equal":
            return 1.0 / (others + 1), {}
        if self.booster_weight != "auto":
            return float(self.booster_weight), {}
        n_positive = int(np.sum(y == 1))
        n_folds = min(CV_FOLDS, n_positive)
        if n_folds < 2:  # one labelled anomaly: nothing to hold out
            return AUTO_PRIOR, {}
        booster, rest = self._cross_fitted_ranks(X, y, features, n_folds)
        from sklearn.metrics import roc_auc_score

        candidates = sorted({1.0 / (others + 1), AUTO_PRIOR, *AUTO_WEIGHTS})
        auroc = {w: float(roc_auc_score(y, w * booster + (1.0 - w) * rest)) for w in candidates}
        best = max(candidates, key=lambda w: (auroc[w], -w))  # ties: the smaller weight
        margin = hanley_mcneil_se(auroc[AUTO_PRIOR], n_positive, len(y) - n_positive)
        chosen = best if auroc[best] - auroc[AUTO_PRIOR] > margin else AUTO_PRIOR
        return chosen, {f"{w:.4g}": a for w, a in auroc.items()}

    def _cross_fitted_ranks(self, X: np.ndarray, y: np.ndarray, features: np.ndarray,
                            n_folds: int) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold ranks of the training rows: the booster's, and the mean of the other
        members' (the blend refitted per fold; the extractors, fitted without labels, as
        they are)."""
        from sklearn.model_selection import StratifiedKFold

        booster = np.empty(len(y))
        blend = np.empty((len(self.blend), len(y)))
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=self.seed_)
        for train, held in folds.split(features, y):
            trees, _ = self._fit_booster(features[train], y[train])
            booster[held] = rank_normalise(trees.raw(features[train]), trees.raw(features[held]))
            for j, name in enumerate(self.blend):
                member = self._make_member(name).fit(X[train], y[train])
                blend[j, held] = rank_normalise(member.decision_scores_,
                                                member.decision_function(X[held]))
        ranks = list(blend)
        if self.blend_extractors and self.extractors_:
            ranks.append(np.mean([rank_normalise(m.decision_scores_, m.decision_scores_)
                                  for m in self.extractors_], axis=0))
        return booster, np.mean(ranks, axis=0)

    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            # a member's infinite score, clipped to the largest float with a warning, is an
            # extreme feature or rank here; this detector's own output is not clipped
            warnings.filterwarnings("ignore", message=".*infinite scores.*",
                                    category=RuntimeWarning)
            tos = [np.asarray(m.decision_function(X), dtype=np.float64)
                   for m in self.extractors_]
            blend = [np.asarray(m.decision_function(X), dtype=np.float64) for m in self.blend_]
        booster = self.booster_.raw(self._features(X, tos))
        if not self._blends():
            return booster
        ranks = [rank_normalise(m.decision_scores_, s)
                 for m, s in zip(self.blend_, blend, strict=True)]
        if self.blend_extractors and self.extractors_:
            ranks.append(np.mean([rank_normalise(m.decision_scores_, s)
                                  for m, s in zip(self.extractors_, tos, strict=True)], axis=0))
        weight = self.booster_weight_
        return (weight * rank_normalise(self.booster_scores_, booster)
                + (1.0 - weight) * np.mean(ranks, axis=0))

    def _blends(self) -> bool:
        """Whether the score is a rank average (else the booster's log-odds)."""
        return bool(self.blend_) or bool(self.blend_extractors and self.extractors_)

    # ------------------------------------------------------------------ persistence
    def _set_weight_state(self, state: dict[str, Any]) -> None:
        """The booster's weight; a model saved before the weight was a parameter averaged
        its members with equal weights."""
        if "booster_weight" not in state:
            self.booster_weight_ = 1.0 / (self._n_others() + 1)
            self.weight_auroc_ = {}
            return
        weight = read_field(state, "booster_weight", "float")
        if not 0.0 < weight <= 1.0:
            msg = f"config.json: state['booster_weight'] must be in (0, 1]; got {weight}."
            raise ValueError(msg)
        self.booster_weight_ = weight
        auroc = read_field(state, "weight_auroc", "dict")
        if not all(isinstance(v, float) and 0.0 <= v <= 1.0 for v in auroc.values()):
            msg = "config.json: state['weight_auroc'] must map weights to AUROCs in [0, 1]."
            raise ValueError(msg)
        self.weight_auroc_ = dict(auroc)

    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["seed"] = self.seed_
        state["n_iter"] = self.n_iter_
        state["booster_weight"] = self.booster_weight_
        state["weight_auroc"] = self.weight_auroc_
        for group in ("extractors", "blend"):
            state[group] = []
            for i, member in enumerate(getattr(self, f"{group}_")):
                member_state, member_tensors = member._get_state()
                state[group].append(member_state)
                tensors.update({f"{group}{i}.{k}": v for k, v in member_tensors.items()})
        if isinstance(self.booster_, CatBoostTrees):
            state["booster_json"] = self.booster_.text
        else:
            tensors.update({f"booster.{k}": v for k, v in self.booster_.state().items()})
        tensors["booster_scores"] = torch.from_numpy(self.booster_scores_.copy())
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        super()._set_state(state, tensors)
        self.seed_ = read_field(state, "seed", "int", low=0)
        self.n_iter_ = read_field(state, "n_iter", "int", low=1)
        self._set_weight_state(state)
        for group in ("extractors", "blend"):
            names = getattr(self, group)
            saved = read_field(state, group, "list")
            if len(saved) != len(names):
                msg = (f"state[{group!r}] holds {len(saved)} members; the configuration names "
                       f"{len(names)}: {list(names)}.")
                raise ValueError(msg)
            members = []
            for i, (name, member_state) in enumerate(zip(names, saved, strict=True)):
                if not isinstance(member_state, dict):
                    msg = f"state[{group!r}][{i}] must be an object; got {member_state!r}."
                    raise ValueError(msg)
                member = self._make_member(name)
                member._set_state(member_state, take_tensors(tensors, f"{group}{i}."),
                                  device=device)
                if member.n_features_in_ != self.n_features_in_:
                    msg = (f"state[{group!r}][{i}] ({name}) was fitted on "
                           f"{member.n_features_in_} features; DeepXGBOD on "
                           f"{self.n_features_in_}.")
                    raise ValueError(msg)
                members.append(member)
            setattr(self, f"{group}_", members)
        columns = self.n_features_in_ * int(self.use_raw_features) + len(self.extractors)
        if self.booster == "catboost":
            if "booster_json" not in state:
                msg = ("config.json: state['booster_json'] (the CatBoost model) is missing; a "
                       "model saved before DeepXGBOD had the booster parameter used "
                       "scikit-learn's booster: set \"booster\": \"histgb\" in its params.")
                raise ValueError(msg)
            self.booster_ = CatBoostTrees().load(state["booster_json"], columns)
        else:
            self.booster_ = BoostedTrees().load(take_tensors(tensors, "booster."), columns)
        n = len(self.decision_scores_)
        scores = read_tensor(tensors, "booster_scores", ndim=1, rows=n, dtype=torch.float64)
        if not bool(torch.isfinite(scores).all()):
            msg = "weights.safetensors: tensor 'booster_scores' must be finite."
            raise ValueError(msg)
        self.booster_scores_ = scores.numpy().copy()


__all__ = ["BoostedTrees", "CatBoostTrees", "DeepXGBOD", "import_catboost", "rank_normalise"]
