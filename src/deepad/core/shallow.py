"""Classical (shallow) anomaly scorers whose fitted state is plain arrays.

Shared by :class:`~deepad.detectors.DeepFeatureDetector` (a deep encoder's embeddings scored by
one of them) and the shallow baselines (:mod:`deepad.detectors.baselines`: the same scorers on
the input itself). Each scorer keeps its fitted state as arrays that safetensors can hold
(kNN and LOF: the reference rows; one-class SVM: support vectors, dual coefficients, offset and
γ; isolation forest: every tree's node arrays; ECOD: the sorted training columns and their
skewness signs) and always scores through those arrays, so a loaded model scores exactly as
the fitted one, and nothing is pickled. Scores are higher = more anomalous.

Every scorer has ``fit(Z)``, ``score(Z)`` (float64, one per row), ``state()`` (named tensors)
and ``load(tensors)``; :func:`check_scorer_state` checks saved tensors before ``load`` uses
them, so a tampered model directory fails with a ``ValueError`` naming the tensor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from sklearn.svm import OneClassSVM

from deepad.core.chunks import element_rows, in_chunks
from deepad.core.saved_state import read_tensor

KNN_METHODS = ("largest", "mean", "median")
ECOD_VARIANTS = ("paper", "pyod")


def average_path_length(n: np.ndarray) -> np.ndarray:
    """c(n) of Liu, Ting & Zhou (ICDM 2008): the average path length of an unsuccessful
    search in a binary search tree of n points; 0 for n ≤ 1, 1 for n = 2."""
    n = np.asarray(n, dtype=np.float64)
    out = np.zeros_like(n)
    out[n == 2] = 1.0
    big = n > 2
    out[big] = 2.0 * (np.log(n[big] - 1.0) + np.euler_gamma) - 2.0 * (n[big] - 1.0) / n[big]
    return out


def _node_depths(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Depth of every node of a binary tree (root 0), one level at a time."""
    depth = np.zeros(len(left), dtype=np.int64)
    frontier, level = np.array([0]), 0
    while frontier.size:
        depth[frontier] = level
        children = np.concatenate([left[frontier], right[frontier]])
        frontier, level = children[children >= 0], level + 1
    return depth


class KNNScorer:
    """Distance to the k-th nearest training row (``"largest"``), or the mean / median
    distance to the k nearest (Ramaswamy, Rastogi & Shim, SIGMOD 2000; Angiulli & Pizzuti,
    PKDD 2002). State: the reference rows; the neighbour index is rebuilt from them on load.
    A training row counts among its own neighbours (its distance 0), so the scores of the
    training data are those ``score`` gives them."""

    def __init__(self, n_neighbors: int, method: str = "largest") -> None:
        self.n_neighbors = n_neighbors
        self.method = method

    def fit(self, Z: np.ndarray) -> None:
        self.reference = np.ascontiguousarray(Z, dtype=np.float64)
        self.index = NearestNeighbors(n_neighbors=self.n_neighbors).fit(self.reference)

    def score(self, Z: np.ndarray) -> np.ndarray:
        distances, _ = self.index.kneighbors(np.asarray(Z, dtype=np.float64))
        if self.method == "largest":
            return distances[:, -1]
        if self.method == "median":
            return np.median(distances, axis=1)
        return distances.mean(axis=1)

    def state(self) -> dict[str, torch.Tensor]:
        return {"reference": torch.from_numpy(self.reference)}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        self.fit(tensors["reference"].numpy())


class LOFScorer(KNNScorer):
    """Local outlier factor (Breunig et al., SIGMOD 2000), scikit-learn's with
    ``novelty=True``; score = LOF (higher = more anomalous). State: the reference rows; LOF's
    fit on them is deterministic and is repeated on load."""

    def fit(self, Z: np.ndarray) -> None:
        self.reference = np.ascontiguousarray(Z, dtype=np.float64)
        self.index = LocalOutlierFactor(n_neighbors=self.n_neighbors,
                                        novelty=True).fit(self.reference)

    def score(self, Z: np.ndarray) -> np.ndarray:
        return -self.index.score_samples(np.asarray(Z, dtype=np.float64))


class OCSVMScorer:
    """One-class SVM (Schölkopf et al. 2001), scikit-learn's with its defaults (RBF kernel,
    ν = 0.5, γ = 1 / (D · Var(Z))). Scores ``−f(z) = −(Σ_i α_i exp(−γ ||z − s_i||²) − ρ)``
    from the support vectors ``s_i``, dual coefficients ``α_i`` and offset, which are the
    saved state (no refit on load)."""

    def fit(self, Z: np.ndarray) -> None:
        variance = Z.var()
        self.gamma = 1.0 / (Z.shape[1] * variance) if variance > 0 else 1.0
        svm = OneClassSVM(kernel="rbf", gamma=self.gamma).fit(Z)
        self.support = np.ascontiguousarray(svm.support_vectors_, dtype=np.float64)
        self.coef = np.ascontiguousarray(svm.dual_coef_[0], dtype=np.float64)
        self.intercept = float(svm.intercept_[0])

    def score(self, Z: np.ndarray) -> np.ndarray:
        sv_norms = (self.support ** 2).sum(axis=1)

        def score(z: np.ndarray) -> np.ndarray:
            sq = (z ** 2).sum(axis=1)[:, None] + sv_norms[None, :] - 2.0 * z @ self.support.T
            kernel = np.exp(-self.gamma * np.maximum(sq, 0.0))
            return -(kernel @ self.coef + self.intercept)

        return in_chunks(score, np.asarray(Z, dtype=np.float64),
                         rows=element_rows(len(self.support)))

    def state(self) -> dict[str, torch.Tensor]:
        scalars = torch.tensor([self.gamma, self.intercept], dtype=torch.float64)
        return {"support": torch.from_numpy(self.support), "coef": torch.from_numpy(self.coef),
                "scalars": scalars}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        self.support = tensors["support"].numpy()
        self.coef = tensors["coef"].numpy()
        self.gamma, self.intercept = (float(v) for v in tensors["scalars"])


class IForestScorer:
    """Isolation forest (Liu, Ting & Zhou, ICDM 2008), scikit-learn's ``IsolationForest``
    (by default 100 trees of 256 rows). Scores ``2^(−E[h(z)] / c(ψ))`` (the negated
    ``score_samples``) by walking every tree's node arrays (children, split feature in the
    input's columns, threshold, leaf path length), which are the saved state (no refit on
    load); all trees and rows advance one level per step."""

    def __init__(self, random_state: int, n_estimators: int = 100,
                 max_samples: int | float | str = "auto", max_features: float = 1.0) -> None:
        self.random_state = random_state
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features

    def fit(self, Z: np.ndarray) -> None:
        forest = IsolationForest(n_estimators=self.n_estimators, max_samples=self.max_samples,
                                 max_features=self.max_features,
                                 random_state=self.random_state).fit(Z)
        trees = [estimator.tree_ for estimator in forest.estimators_]
        width = max(tree.node_count for tree in trees)
        shape = (len(trees), width)
        self.left = np.full(shape, -1, dtype=np.int64)
        self.right = np.full(shape, -1, dtype=np.int64)
        self.feature = np.zeros(shape, dtype=np.int64)
        self.threshold = np.zeros(shape, dtype=np.float64)
        self.path = np.zeros(shape, dtype=np.float64)  # edges to the node + c(leaf size)
        for i, (tree, columns) in enumerate(zip(trees, forest.estimators_features_,
                                                strict=True)):
            nodes = tree.node_count
            self.left[i, :nodes] = tree.children_left
            self.right[i, :nodes] = tree.children_right
            # a tree of a feature subsample splits on its subsample's columns; leaves hold -2
            self.feature[i, :nodes] = np.asarray(columns)[np.maximum(tree.feature, 0)]
            self.threshold[i, :nodes] = tree.threshold
            depth = _node_depths(tree.children_left, tree.children_right)
            self.path[i, :nodes] = depth + average_path_length(tree.n_node_samples)
        self.norm = float(average_path_length(np.array([forest.max_samples_]))[0])

    def score(self, Z: np.ndarray) -> np.ndarray:
        # scikit-learn's trees compare float32 inputs against float64 thresholds
        Z = np.asarray(Z).astype(np.float32).astype(np.float64)
        return in_chunks(self._score, Z, rows=element_rows(len(self.left)))

    def _score(self, Z: np.ndarray) -> np.ndarray:
        node = np.zeros((len(self.left), len(Z)), dtype=np.int64)
        row = np.arange(len(Z))[None, :]
        while True:
            left = np.take_along_axis(self.left, node, axis=1)
            inner = left >= 0
            if not inner.any():
                break
            feature = np.take_along_axis(self.feature, node, axis=1)
            threshold = np.take_along_axis(self.threshold, node, axis=1)
            right = np.take_along_axis(self.right, node, axis=1)
            child = np.where(Z[row, feature] <= threshold, left, right)
            node = np.where(inner, child, node)
        depth = np.take_along_axis(self.path, node, axis=1).sum(axis=0)
        return 2.0 ** (-depth / (len(self.left) * self.norm))

    def state(self) -> dict[str, torch.Tensor]:
        arrays = {name: getattr(self, name) for name in
                  ("left", "right", "feature", "threshold", "path")}
        tensors = {name: torch.from_numpy(np.ascontiguousarray(a)) for name, a in arrays.items()}
        tensors["norm"] = torch.tensor([self.norm], dtype=torch.float64)
        return tensors

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        for name in ("left", "right", "feature", "threshold", "path"):
            setattr(self, name, tensors[name].numpy())
        self.norm = float(tensors["norm"][0])


def skewness_sign(Z: np.ndarray) -> np.ndarray:
    """Sign of the sample skewness ``m3 / m2^1.5`` of every column (-1, 0 or 1); 0 for a
    constant column (where the skewness is undefined)."""
    centred = Z - Z.mean(axis=0)
    m2 = (centred ** 2).mean(axis=0)
    m3 = (centred ** 3).mean(axis=0)
    sign = np.sign(m3)
    sign[m2 <= 0] = 0.0
    return sign


class ECODScorer:
    """ECOD, empirical-cumulative-distribution-based outlier detection (Li, Zhao, Hu, Botta,
    Ionescu & Chen, IEEE TKDE 2022, Algorithm 1), from its definition.

    Per feature j, the left and right tail probabilities of a value x under the training
    sample's empirical distribution, ``F_left(x) = (#{z_j ≤ x} + 1) / (n + 1)`` and
    ``F_right(x) = (#{z_j ≥ x} + 1) / (n + 1)`` (the ECDF of the training column with the
    scored value added, so a value beyond every training value has probability 1 / (n + 1),
    not 0), give ``U_l = −log F_left`` and ``U_r = −log F_right``; ``U_skew`` takes the tail
    the column's skewness γ_j points to (γ_j < 0: left, else right).

    - ``variant="paper"`` (Algorithm 1): ``O = max(Σ_j U_l, Σ_j U_r, Σ_j U_skew)``.
    - ``variant="pyod"``: PyOD 3.6.7's aggregation, ``Σ_j max(U_l, U_r, U_skew)`` with PyOD's
      ``U_skew`` (``U_l + U_r`` where the skewness sign is 0).

    Each row is scored against the training sample alone, so for a single row the
    probabilities equal PyOD's (which puts the rows it scores together with the training data
    and so lets the rows of one call shift each other's ranks). State: the sorted training
    columns and the skewness signs.
    """

    def __init__(self, variant: str = "paper") -> None:
        self.variant = variant

    def fit(self, Z: np.ndarray) -> None:
        Z = np.asarray(Z, dtype=np.float64)
        self.sorted = np.ascontiguousarray(np.sort(Z, axis=0))
        self.skew = skewness_sign(Z)

    def tails(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(U_l, U_r)``: −log of the left and right tail probabilities, shape (n, d)."""
        Z = np.asarray(Z, dtype=np.float64)
        n = len(self.sorted)
        below = np.empty(Z.shape)
        above = np.empty(Z.shape)
        for j in range(Z.shape[1]):
            column = self.sorted[:, j]
            below[:, j] = np.searchsorted(column, Z[:, j], side="right")
            above[:, j] = n - np.searchsorted(column, Z[:, j], side="left")
        return -np.log((below + 1.0) / (n + 1.0)), -np.log((above + 1.0) / (n + 1.0))

    def score(self, Z: np.ndarray) -> np.ndarray:
        return in_chunks(self._score, np.asarray(Z, dtype=np.float64),
                         rows=element_rows(2 * self.sorted.shape[1]))

    def _score(self, Z: np.ndarray) -> np.ndarray:
        left, right = self.tails(Z)
        if self.variant == "pyod":
            s = self.skew
            skewed = left * -np.sign(s - 1.0) + right * np.sign(s + 1.0)
            return np.maximum(skewed, np.maximum(left, right)).sum(axis=1)
        skewed = np.where(self.skew < 0, left, right)
        return np.maximum.reduce([left.sum(axis=1), right.sum(axis=1), skewed.sum(axis=1)])

    def state(self) -> dict[str, torch.Tensor]:
        return {"sorted": torch.from_numpy(self.sorted),
                "skew": torch.from_numpy(np.ascontiguousarray(self.skew))}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        self.sorted = tensors["sorted"].numpy()
        self.skew = tensors["skew"].numpy()


SCORER_TENSORS = {"KNNScorer": ("reference",), "LOFScorer": ("reference",),
                  "OCSVMScorer": ("support", "coef", "scalars"),
                  "IForestScorer": ("left", "right", "feature", "threshold", "path", "norm"),
                  "ECODScorer": ("sorted", "skew")}
"""The tensors each scorer saves (under ``scorer.`` in ``weights.safetensors``)."""


def check_scorer_state(scorer: Any, tensors: dict[str, torch.Tensor], dim: int) -> None:
    """The saved tensors of a shallow scorer, checked against the scorer and the input width
    ``dim`` before they are used (a loaded model never fails later with an index error nor
    walks a tree forever). Raises ``ValueError`` naming the tensors."""
    kind = type(scorer).__name__
    names = SCORER_TENSORS[kind]
    extra = sorted(set(tensors) - set(names))
    if extra:
        msg = f"weights.safetensors: unexpected tensors {['scorer.' + k for k in extra]}."
        raise ValueError(msg)
    get = {name: read_tensor(tensors, name) for name in names}

    def refuse(rule: str) -> None:
        msg = f"weights.safetensors: the {kind} state (tensors 'scorer.*') {rule}."
        raise ValueError(msg)

    if kind in ("KNNScorer", "LOFScorer"):
        reference = read_tensor(tensors, "reference", ndim=2, dtype=torch.float64)
        if reference.shape[1] != dim or len(reference) <= scorer.n_neighbors:
            refuse(f"needs 'reference' of more than {scorer.n_neighbors} rows x {dim}; got "
                   f"{tuple(reference.shape)}")
    elif kind == "OCSVMScorer":
        support = read_tensor(tensors, "support", ndim=2, dtype=torch.float64)
        read_tensor(tensors, "coef", ndim=1, dtype=torch.float64, rows=len(support))
        read_tensor(tensors, "scalars", ndim=1, dtype=torch.float64, rows=2)
        if support.shape[1] != dim or len(support) == 0:
            refuse(f"needs 'support' of at least one row x {dim}; got {tuple(support.shape)}")
    elif kind == "ECODScorer":
        columns = read_tensor(tensors, "sorted", ndim=2, dtype=torch.float64)
        skew = read_tensor(tensors, "skew", ndim=1, dtype=torch.float64)
        if (columns.shape[1] != dim or len(columns) == 0 or len(skew) != dim
                or not bool(torch.isin(skew, torch.tensor([-1.0, 0.0, 1.0],
                                                          dtype=torch.float64)).all())
                or bool((columns[1:] < columns[:-1]).any())):
            refuse(f"needs 'sorted' of at least one row x {dim}, every column ascending, and "
                   f"'skew' of {dim} signs in {{-1, 0, 1}}; got {tuple(columns.shape)} and "
                   f"{tuple(skew.shape)}")
    else:
        shape = tuple(get["left"].shape)
        for name in names[:-1]:
            dtype = torch.int64 if name in ("left", "right", "feature") else torch.float64
            if tuple(read_tensor(tensors, name, ndim=2, dtype=dtype).shape) != shape:
                refuse("needs 'left', 'right', 'feature', 'threshold' and 'path' of one shape")
        norm = read_tensor(tensors, "norm", ndim=1, dtype=torch.float64, rows=1)
        width = shape[1]
        children = torch.stack([get["left"], get["right"]])
        own = torch.arange(width).expand(shape)
        # scikit-learn numbers a node's children after it: a link back would loop forever
        backwards = ((children >= 0) & (children <= own)).any()
        if (shape[0] == 0 or width == 0 or float(norm[0]) <= 0
                or bool(((children < -1) | (children >= width)).any()) or bool(backwards)
                or bool(((get["feature"] < 0) | (get["feature"] >= dim)).any())):
            refuse(f"has node links outside [-1, {width}) or not after their node, split "
                   f"features outside [0, {dim}) or a non-positive norm")
