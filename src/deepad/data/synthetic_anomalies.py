"""ADBench's four types of realistic synthetic anomalies, generated from a real dataset.

Han et al., "ADBench", NeurIPS 2022, section 4.3 and ``generate_realistic_synthetic`` of the
authors' release. A Gaussian mixture (components chosen by BIC among 1-9, as ADBench does)
is fitted to the normal rows; then

- ``local``: anomalies from the same mixture with covariances scaled by ``alpha`` (5);
- ``cluster``: anomalies from the mixture with means scaled by ``alpha``;
- ``global``: anomalies uniform per feature on ``[min·(1+p), max·(1+p)]`` of the normal
  rows, ``p = percentage`` (0.1). This is ADBench's formula as written: for a feature whose
  minimum is positive the lower end moves inwards, not outwards;
- ``dependency``: every feature drawn independently from a 1-D Gaussian KDE of its
  marginal, which keeps the marginals and breaks the dependence between features.

Normal rows: ``normals="synthetic"`` (ADBench) samples them from the mixture, or for
``dependency`` from a copula of the normal rows; ``normals="real"`` keeps the real normal
rows. Deviation: ADBench fits a C-vine copula (the ``copulas`` package) for ``dependency``;
we fit a Gaussian copula (empirical marginals, normal-score correlation), which needs no
extra dependency and also preserves the marginals while keeping pairwise dependence.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm
from sklearn.mixture import GaussianMixture

KINDS = ("local", "cluster", "global", "dependency")
MAX_COMPONENTS = 9

__all__ = ["KINDS", "make_adbench_synthetic"]


def _best_mixture(X: np.ndarray, seed: int) -> GaussianMixture:
    fits = [GaussianMixture(n_components=k, random_state=seed, reg_covar=1e-6).fit(X)
            for k in range(1, min(MAX_COMPONENTS, len(X) - 1) + 1)]
    return min(fits, key=lambda gm: gm.bic(X))


def _kde_marginals(X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Each column drawn independently from a Gaussian KDE of that column (Scott's rule)."""
    bandwidth = X.std(axis=0) * len(X) ** (-1 / 5)
    rows = rng.integers(len(X), size=(n, X.shape[1]))
    return X[rows, np.arange(X.shape[1])] + rng.normal(size=(n, X.shape[1])) * bandwidth


def _gaussian_copula(X: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Rows with X's empirical marginals and X's normal-score correlation."""
    ranks = X.argsort(axis=0).argsort(axis=0)
    scores = norm.ppf((ranks + 1) / (len(X) + 1))
    correlation = np.atleast_2d(np.corrcoef(scores, rowvar=False))
    correlation = np.nan_to_num(correlation) + 1e-9 * np.eye(X.shape[1])  # constant columns
    levels = norm.cdf(rng.multivariate_normal(np.zeros(X.shape[1]), correlation, size=n))
    return np.column_stack([np.quantile(X[:, j], levels[:, j]) for j in range(X.shape[1])])


def make_adbench_synthetic(X: np.ndarray, y: np.ndarray, kind: str, seed: int = 0, *,
                           alpha: float = 5.0, percentage: float = 0.1,
                           normals: str = "synthetic",
                           n_anomalies: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A dataset with synthetic anomalies of ``kind`` built from the normal rows of (X, y).

    Parameters
    ----------
    X, y : arrays (n, d) and (n,)
        A real dataset; only rows with ``y == 0`` are used.
    kind : {"local", "cluster", "global", "dependency"}
    seed : int
        Fixes the mixture fit and every draw.
    alpha : float
        Covariance (local) or mean (cluster) scaling factor; ADBench uses 5.
    percentage : float
        Widening of the bounding box for global anomalies; ADBench uses 0.1.
    normals : {"synthetic", "real"}
        Sample the normal rows from the fitted model (ADBench) or keep the real ones.
    n_anomalies : int, optional
        How many anomalies; default the number of anomalies in ``y`` (ADBench keeps the
        dataset's counts).

    Returns
    -------
    X_new : ndarray (n_normal + n_anomalies, d), normal rows first
    y_new : ndarray of int64, 1 = synthetic anomaly
    """
    if kind not in KINDS:
        msg = f"kind must be one of {', '.join(KINDS)}; got {kind!r}."
        raise ValueError(msg)
    if normals not in ("synthetic", "real"):
        msg = f"normals must be 'synthetic' or 'real'; got {normals!r}."
        raise ValueError(msg)
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y)
    normal = X[y == 0]
    if len(normal) < 3:
        msg = f"need at least 3 normal rows (y == 0) to fit a model; got {len(normal)}."
        raise ValueError(msg)
    n_anomalies = int((y == 1).sum()) if n_anomalies is None else int(n_anomalies)
    if n_anomalies < 1:
        msg = "no anomalies to generate: pass n_anomalies or labels with some y == 1."
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    mixture = _best_mixture(normal, seed) if kind != "dependency" else None
    if normals == "real":
        X_normal = normal
    elif mixture is not None:
        X_normal = mixture.sample(len(normal))[0]
    else:
        X_normal = _gaussian_copula(normal, len(normal), rng)

    if kind == "local":
        mixture.covariances_ = alpha * mixture.covariances_
        X_anomalies = mixture.sample(n_anomalies)[0]
    elif kind == "cluster":
        mixture.means_ = alpha * mixture.means_
        X_anomalies = mixture.sample(n_anomalies)[0]
    elif kind == "global":
        reference = X_normal
        low = reference.min(axis=0) * (1 + percentage)
        high = reference.max(axis=0) * (1 + percentage)
        X_anomalies = rng.uniform(low, high, size=(n_anomalies, X.shape[1]))
    else:
        X_anomalies = _kde_marginals(normal, n_anomalies, rng)
    X_new = np.concatenate([X_normal, X_anomalies])
    y_new = np.concatenate([np.zeros(len(X_normal), np.int64), np.ones(n_anomalies, np.int64)])
    return X_new, y_new
