"""The one-class image protocol (setting ``oneclass``): suites ``fashion-oneclass`` and
``mnist-oneclass``.

A dataset is one normal class of a source, named ``<source>/<class>``: ``fashion_mnist/0`` ...
``fashion_mnist/9`` and ``mnist/0`` ... ``mnist/9``. Each job takes the split of
:func:`deepad.data.images.one_class_split` for its source's protocol:

- ``fashion_mnist``: the Ruff et al. protocol (``"ruff"``): train on the class's 6,000 training
  images, test on all 10,000 test images (the seed changes only the detector);
- ``mnist``: only the MNIST test set is available, so the ``"within-test"`` protocol: one
  stratified 70 / 30 split of the 10,000 test images per seed.

Detectors that accept images (``"image"`` among a deepad detector's ``modalities``, or a
``python:`` class declaring it) get uint8 images of shape (n, 1, 28, 28) and scale them
themselves; the others (PyOD, DeepOD, plain ``python:`` classes) get flattened rows of 784
float32 pixel values in [0, 1] (:class:`FlatRows`). A deepad detector without the image
modality is refused when the plan is made. A deepad detector whose class declares image
settings (``modality_defaults["image"]``, e.g. DeepSVDD's shorter schedule) runs with them
unless the job's parameters say otherwise; they are the job's parameters, so the report lists
them.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from deepad.bench import detectors
from deepad.bench.image_sets import (  # noqa: F401 (re-exported names)
    IMAGE_SUITES,
    N_CLASSES,
    SOURCE_TITLES,
    SOURCES,
    class_names,
    is_image_name,
    parse_name,
)
from deepad.bench.protocol import (
    Data,
    DatasetEntry,
    DetectorEntry,
    Protocol,
    default_params,
    resolve,
    unknown_choice,
)

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from deepad.bench.config import BenchConfig
    from deepad.bench.jobs import Job

ONECLASS = "oneclass"
"""The setting of one-class image jobs (never chosen by ``--setting``: by the datasets)."""

def takes_images(ref: detectors.DetectorRef, cls: type | None) -> bool:
    """Whether the detector is given images (else flattened rows)."""
    if ref.kind not in ("deepad", "python") or cls is None:
        return False
    return "image" in tuple(getattr(cls, "modalities", ()) or ())


def image_settings(ref: detectors.DetectorRef, cls: type | None) -> dict[str, Any]:
    """A deepad detector's image settings (``cls.modality_defaults["image"]``, chosen on
    training images only and documented on the class), else none; a job's own parameters
    override them."""
    if ref.kind != "deepad" or cls is None:
        return {}
    return dict(getattr(cls, "modality_defaults", {}).get("image", {}))


@functools.lru_cache(maxsize=1)
def _source(source: str):
    """The source's :class:`~deepad.data.images.ImageDataset` (cached: a worker's next job
    on the same source reuses it)."""
    from deepad.data.images import ImageDataset, load_fashion_mnist, load_mnist

    if source == "fashion_mnist":
        data = load_fashion_mnist("all")
    else:
        data = ImageDataset.from_arrays(*load_mnist(split="test"), part="test", name="mnist")
    data.images.setflags(write=False)
    return data


class FlatRows:
    """A row detector on images: ``fit`` and ``decision_function`` receive each image as one
    row of float32 pixel values in [0, 1] (uint8 input divided by 255)."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    @staticmethod
    def rows(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X)
        rows = X.reshape(len(X), -1)
        if rows.dtype == np.uint8:
            return rows.astype(np.float32) / np.float32(255)
        return rows.astype(np.float32, copy=False)

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> FlatRows:
        if y is None:
            self.estimator.fit(self.rows(X))
        else:
            self.estimator.fit(self.rows(X), y)
        return self

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        return self.estimator.decision_function(self.rows(X))


class ImageProtocol(Protocol):
    """One class normal, the others anomalies, on raw images."""

    name = "images"
    settings = (ONECLASS,)
    suites = tuple(IMAGE_SUITES)

    def claims(self, config: BenchConfig) -> bool:
        """The image suites, or datasets that are all one-class image names (``ValueError``
        when they mix them with other datasets)."""
        if config.suite:
            return config.suite.strip().lower() in self.suites
        kinds = {is_image_name(name) for name in config.datasets}
        if len(kinds) > 1:
            msg = ("--datasets mixes one-class image datasets (fashion_mnist/<class>, "
                   "mnist/<class>) with others; run them as two benchmarks, each with its own "
                   "--db.")
            raise ValueError(msg)
        return kinds == {True}

    def datasets(self, config: BenchConfig) -> dict[str, DatasetEntry]:
        if config.suite:
            key = config.suite.strip().lower()
            if key not in IMAGE_SUITES:
                raise ValueError(unknown_choice("suite", config.suite, IMAGE_SUITES))
            names = [f"{IMAGE_SUITES[key]}/{c}" for c in range(N_CLASSES)]
        else:
            names = list(config.datasets)
        found: dict[str, DatasetEntry] = {}
        for name in names:
            source, normal = parse_name(name)
            self._find(source)
            found.setdefault(f"{source}/{normal}", DatasetEntry())
        return found

    @staticmethod
    def _find(source: str) -> None:
        """Raise ``FileNotFoundError`` (saying where to put the files) when a source's
        files are not in the data folders."""
        from deepad.data.images import find_fashion_mnist, find_mnist

        if source == "fashion_mnist":
            find_fashion_mnist("train")
            find_fashion_mnist("test")
        else:
            find_mnist("test")

    def job_settings(self, config: BenchConfig) -> list[tuple[str, float | None]]:
        if list(config.settings) != ["unsupervised"]:
            msg = (f"one-class image jobs have one setting ({ONECLASS}: trained on normal "
                   f"images only, without labels); --setting {','.join(config.settings)} does "
                   "not apply to them.")
            raise ValueError(msg)
        return [(ONECLASS, None)]

    def detector(self, ref: detectors.DetectorRef, cls: type | None,
                 params: dict[str, Any]) -> DetectorEntry:
        if cls is None:  # a missing peer: each job records why
            return DetectorEntry(ref, params, None, None)
        if ref.kind == "deepad" and "image" not in cls.modalities:
            msg = (f"{ref.spec} does not accept images (its modalities: "
                   f"{', '.join(cls.modalities)}); `deepad list` shows the detectors with "
                   "'image'. Run a row detector on flattened pixels as a peer (pyod:Name).")
            raise ValueError(msg)
        params = {**image_settings(ref, cls), **params}
        detectors.check_params(ref, cls, params)
        fixed = detectors.job_defaults(ref, cls, 0)
        resolved = resolve({**default_params(ref, cls), **fixed}, params)
        return DetectorEntry(ref, params, detectors.supervision(ref, cls), resolved)

    def skip_reason(self, detector: DetectorEntry, setting: str, dataset: str,
                    entry: DatasetEntry) -> str | None:
        supervision = detector.supervision
        if supervision is not None and "unsupervised" not in supervision:
            return (f"{detector.ref.spec} is weakly supervised only: it needs labelled "
                    "anomalies, which one-class jobs do not give")
        return None

    def load(self, job: Job) -> Data:
        from deepad.data.images import one_class_split

        source, normal = parse_name(job.dataset)
        split = one_class_split(_source(source), normal, seed=job.seed, flatten=False,
                                scale=False, protocol=SOURCES[source])
        return Data(split.X_train, split.X_test, split.y_test,
                    info={"protocol": split.protocol, "normal_class": normal})

    def build(self, ref: detectors.DetectorRef, params: dict[str, Any], seed: int,
              data: Data) -> tuple[Any, bool]:
        cls = detectors.load_class(ref)
        if takes_images(ref, cls):
            return detectors.build(ref, params, seed)
        estimator, takes_labels = detectors.build(
            ref, params, seed, n_features=int(np.prod(data.train.shape[1:])))
        return FlatRows(estimator), takes_labels

    def metrics(self, y_true: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
        from deepad.metrics import auc_pr, auc_roc, precision_at_n

        return {"auc_roc": auc_roc(y_true, scores), "auc_pr": auc_pr(y_true, scores),
                "precision_at_n": precision_at_n(y_true, scores)}

    def code_classes(self, ref: detectors.DetectorRef, cls: type) -> list[type]:
        return [cls] if takes_images(ref, cls) else [cls, FlatRows]

    def write_report(self, frame: pd.DataFrame, out_dir: Path, title: str | None
                     ) -> dict[str, Path]:
        from deepad.bench.image_report import DEFAULT_TITLE, write_image_report

        return write_image_report(frame, out_dir, title=title or DEFAULT_TITLE)
