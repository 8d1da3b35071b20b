"""A small real dataset that ships with scikit-learn, for first runs and examples.

``load_default_dataset`` needs no download and no file: it is what ``deepad run`` uses when
no data is given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer

DEFAULT_DATASET = "breast-cancer"
N_ANOMALIES = 10

__all__ = ["DEFAULT_DATASET", "load_default_dataset"]


def load_default_dataset(random_state: int | None = 0) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The default dataset: benign breast tumours with a few malignant ones as anomalies.

    Recipe: scikit-learn's bundled Wisconsin diagnostic breast cancer data
    (``sklearn.datasets.load_breast_cancer(as_frame=True)``, 569 tumours, 30 features). All
    357 benign tumours are normal (y = 0); the 212 malignant ones are down-sampled, with
    ``numpy.random.default_rng(random_state)``, to 10 (y = 1), about 2.7 % of the 367 rows.
    Rows keep their original order (index reset to 0..366); columns keep their feature
    names. The same ``random_state`` always gives the same rows.

    Parameters
    ----------
    random_state : int or None, default 0
        Seed of the down-sampling of the malignant tumours.

    Returns
    -------
    X : DataFrame of shape (367, 30)
        Float features, named as in scikit-learn.
    y : ndarray of int64, shape (367,)
        1 = anomaly (malignant), 0 = normal (benign).
    description : str
        One line stating the recipe above.

    Examples
    --------
    >>> X, y, description = load_default_dataset()
    >>> X.shape, int(y.sum())
    ((367, 30), 10)
    """
    bunch = load_breast_cancer(as_frame=True)
    features: pd.DataFrame = bunch.data
    # scikit-learn's target: 0 = malignant, 1 = benign
    target = np.asarray(bunch.target)
    benign = np.flatnonzero(target == 1)
    malignant = np.flatnonzero(target == 0)
    rng = np.random.default_rng(random_state)
    chosen = rng.choice(malignant, size=N_ANOMALIES, replace=False)
    rows = np.sort(np.concatenate([benign, chosen]))
    X = features.iloc[rows].reset_index(drop=True)
    y = np.isin(rows, chosen).astype(np.int64)
    description = (
        f"{DEFAULT_DATASET}: scikit-learn's bundled breast cancer data (load_breast_cancer); "
        f"the {len(benign)} benign tumours are normal (y=0) and {N_ANOMALIES} of the "
        f"{len(malignant)} malignant ones, drawn with numpy.random.default_rng({random_state}), "
        f"are anomalies (y=1): {len(rows)} rows, {X.shape[1]} features, "
        f"{100 * N_ANOMALIES / len(rows):.1f} % anomalies."
    )
    return X, y, description
