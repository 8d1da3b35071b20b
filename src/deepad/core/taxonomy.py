"""The taxonomy of deep anomaly detection (Pang, Cao & Aggarwal, WSDM 2021 tutorial;
Pang et al., "Deep learning for anomaly detection: A review", ACM CSUR 2021).

Every registered deep detector names one ``(category, subcategory)`` leaf of this tree. The
CLI listing, the README table and the registry's checks are all generated from it, so a
leaf without an implementation shows up as such instead of being hidden. The shallow
baselines name a category outside the tree (``BASELINES``).
"""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "feature_extraction": "Deep learning for feature extraction",
    "generic_normality": "Learning feature representations of normality: generic normality",
    "measure_normality": "Learning feature representations of normality: anomaly measure-dependent",
    "score_learning": "End-to-end anomaly score learning",
    "related": "Closely related areas",
}

SUBCATEGORIES: dict[str, dict[str, str]] = {
    "feature_extraction": {
        "deep_features": "deep features + a shallow detector",
    },
    "generic_normality": {
        "autoencoders": "autoencoders",
        "gans": "generative adversarial networks",
        "predictability": "predictability modelling",
        "self_supervised": "self-supervised classification",
    },
    "measure_normality": {
        "distance": "distance-based measures",
        "one_class": "one-class classification measures",
        "clustering": "clustering-based measures",
    },
    "score_learning": {
        "ranking": "ranking models",
        "prior": "prior-driven models",
        "softmax": "softmax likelihood models",
        "one_class": "end-to-end one-class classification",
    },
    "related": {
        "ood": "out-of-distribution detection",
        "adversarial": "adversarial example detection",
        "curiosity": "curiosity learning",
    },
}

BASELINES: dict[str, str] = {
    "baselines": "Shallow baselines, outside the taxonomy: classical detectors to compare with",
    "ensembles": "Outlier ensembles, outside the taxonomy: registered detectors combined",
}
"""Categories a detector may name that are not branches of the taxonomy: the shallow baselines
(isolation forest, LOF, kNN, ECOD), registered so deep detectors can be compared with them in
the same API; and the outlier ensembles, which combine registered detectors (of any leaf)
by their normalised scores. Listings show them apart, and counts of the taxonomy's leaves
exclude them."""

BASELINE_SUBCATEGORIES: dict[str, dict[str, str]] = {
    "baselines": {"shallow": "classical (not deep) anomaly detectors"},
    "ensembles": {"score_combination": "members' normalised scores averaged or maximised"},
}

REGISTERED_CATEGORIES: dict[str, str] = {**CATEGORIES, **BASELINES}
"""Every category a registered detector may name: the taxonomy's branches and the baselines."""
REGISTERED_SUBCATEGORIES: dict[str, dict[str, str]] = {**SUBCATEGORIES, **BASELINE_SUBCATEGORIES}

SUPERVISIONS: tuple[str, ...] = ("unsupervised", "weakly-supervised", "class-labels")
"""``unsupervised``: ``fit(X)``; ``weakly-supervised``: ``fit(X, y)`` with y = 1 for the few
labelled anomalies and 0 for unlabelled rows (which may themselves contain anomalies);
``class-labels``: ``fit(X, y)`` with y the integer class of each in-distribution sample (at
least two classes), for the out-of-distribution and adversarial-example detectors, which work
on a classifier of those classes (:func:`deepad.core.validation.check_class_labels`)."""

MODALITIES: tuple[str, ...] = ("tabular", "sequence", "image", "graph", "categorical", "event",
                               "video")
"""``tabular``: rows of numeric features; ``sequence``: windows of a (multivariate) series;
``categorical``: rows of categories (strings / ints), encoded by the detector itself;
``event``: sessions of integer event keys of varying length (parsed log keys); ``video``:
clips of consecutive frames ``(n, T, C, H, W)`` (:class:`deepad.video.VideoDetector`)."""
