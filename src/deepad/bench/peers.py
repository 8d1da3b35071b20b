"""Peer libraries as benchmark detectors: PyOD (``pyod:IForest``), DeepOD (``deepod:DevNet``),
PyGOD for graphs (``pygod:DOMINANT``) and the gradient-boosted classifiers ADBench compares
with (``catboost:CatBoostClassifier``, ``xgboost:XGBClassifier``, ``lightgbm:LGBMClassifier``).

The peers are imported only when a job uses them; a missing one makes that job an ``error``
("pyod is not installed ...") and nothing else. They run exactly as published: the adapter
only chooses the constructor arguments a fair comparison needs (the seed, ``device="cpu"``)
when the constructor takes them, and gives the labels to those that learn from them. Their
failures, slowness and crashes are recorded, never worked around. The exceptions are three
API fixes in :mod:`deepad.bench.peer_compat` that change no computation: DeepOD's Transformer
layers under torch >= 2.0, REPEN's triplet sampler under numpy >= 2.4, and PyGOD's full-graph
loader without PyG's compiled sampler (PyGOD has no seed argument: the worker seeds torch's
global generator, which PyGOD draws from, and ``gpu=-1`` keeps it on the CPU).

How each package takes labels:

- PyOD: ``fit(X, y)`` with ``y`` required (``DevNet``, ``XGBOD``) means the detector learns
  from labels; ``fit(X, y=None)`` means it ignores them.
- DeepOD: every detector has ``fit(X, y=None)``; the weakly-supervised ones
  (:data:`DEEPOD_WEAK`) read ``y == 1`` as the labelled anomalies.
- PyGOD: ``fit(data, label=None)`` uses the labels only to log a training AUC; every PyGOD
  detector is unsupervised here.
- CatBoost, XGBoost, LightGBM: trained as ADBench trains its supervised baselines
  (``baseline/Supervised.py``): the classifier at its library defaults with
  ``random_state=seed``, fitted on every training row with the partial labels (labelled
  anomaly = 1, every other row = 0), the score is the predicted probability of class 1
  (:class:`BoostedClassifier`). Only their output is silenced (CatBoost's per-iteration log
  and ``catboost_info/`` folder, LightGBM's warnings); no setting that changes the model.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import pkgutil
import re
from pathlib import Path
from typing import Any

from deepad.bench.environment import package_version
from deepad.bench.peer_compat import accept_is_causal, full_graph_loader, scalar_single_draws

PACKAGES = ("pyod", "deepod", "pygod", "catboost", "xgboost", "lightgbm")

BOOSTERS = {"catboost": "CatBoostClassifier", "xgboost": "XGBClassifier",
            "lightgbm": "LGBMClassifier"}
"""The classifier each gradient-boosting package offers as a detector (its only name)."""

QUIET = {"catboost": {"verbose": False, "allow_writing_files": False},
         "lightgbm": {"verbose": -1}}
"""Constructor arguments that only silence a booster's output (not shown as parameters)."""

DEEPOD_WEAK = frozenset({"DevNet", "DeepSAD", "PReNet", "FeaWAD", "RoSAS",
                         "DevNetTS", "DeepSADTS", "PReNetTS"})
"""DeepOD detectors trained on labelled anomalies (``deepod.models``, version 0.4)."""

SEED_ARGUMENTS = ("random_state", "random_seed", "seed")
_CLASS_LINE = re.compile(r"^class ([A-Za-z]\w*)\(", re.MULTILINE)


def is_installed(package: str) -> bool:
    """Whether ``package`` can be imported here (without importing it)."""
    return importlib.util.find_spec(package) is not None


def require(package: str) -> None:
    """Raise ``ImportError`` naming the package when it is not installed."""
    if not is_installed(package):
        msg = f"{package} is not installed (pip install {package})."
        raise ImportError(msg)


def _squash(name: str) -> str:
    return name.replace("_", "").lower()


def _pyod_modules() -> list[str]:
    import pyod.models

    return [info.name for info in pkgutil.iter_modules(pyod.models.__path__)]


def _source_classes(package: str) -> dict[str, str]:
    """``{class name: module}`` of the public classes defined in ``package.models``, read
    from the source files without importing them."""
    spec = importlib.util.find_spec(f"{package}.models")
    if spec is None or not spec.submodule_search_locations:
        return {}
    classes: dict[str, str] = {}
    for folder in spec.submodule_search_locations:
        root = Path(folder)
        for path in sorted(root.rglob("*.py")):
            if path.name.startswith("_") and path.name != "__init__.py":
                continue
            relative = path.relative_to(root).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            module = ".".join([f"{package}.models", *parts])
            for name in _CLASS_LINE.findall(path.read_text(encoding="utf-8", errors="replace")):
                classes.setdefault(name, module)
    return classes


def _unknown(package: str, name: str, names: list[str]) -> KeyError:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(f'{package}:{c}' for c in close)}?" if close else ""
    return KeyError(f"{package} has no detector {name!r} in {package}.models.{hint}")


def peer_class(package: str, name: str) -> type:
    """The class ``name`` of ``package.models`` (``pyod`` or ``deepod``).

    Raises ``ImportError`` when the package is missing and ``KeyError`` with close matches
    when it has no such class.
    """
    if package not in PACKAGES:
        msg = f"unknown peer package {package!r}; use one of {list(PACKAGES)}."
        raise ValueError(msg)
    require(package)
    if package in BOOSTERS:
        if name != BOOSTERS[package]:
            raise _unknown(package, name, [BOOSTERS[package]])
        return _BOOSTER_CLASSES[package]
    if package == "pygod":
        models = importlib.import_module("pygod.detector")
        full_graph_loader()  # PyGOD 1.1.0's NeighborLoader without pyg-lib / torch-sparse
        cls = getattr(models, name, None)
        if isinstance(cls, type) and name in getattr(models, "__all__", []):
            return cls
        raise _unknown(package, name, [n for n in getattr(models, "__all__", [])
                                       if n not in ("Detector", "DeepDetector")])
    if package == "deepod":
        models = importlib.import_module("deepod.models")
        accept_is_causal("deepod")  # DeepOD 0.4.1's Transformer layers on torch >= 2.0
        scalar_single_draws()  # REPEN's triplet sampler on numpy >= 2.4
        cls = getattr(models, name, None)
        if isinstance(cls, type):
            return cls
        raise _unknown(package, name, list(getattr(models, "__all__", [])))
    # PyOD imports nothing at package level: find the module first (iforest.py holds IForest).
    module = next((m for m in _pyod_modules() if _squash(m) == _squash(name)), None)
    if module is None:
        module = _source_classes("pyod").get(name, "")
        module = module.removeprefix("pyod.models.") or None
    if module is not None:
        cls = getattr(importlib.import_module(f"pyod.models.{module}"), name, None)
        if isinstance(cls, type):
            return cls
    raise _unknown(package, name, sorted(_source_classes("pyod")))


def _parameters(cls: type) -> dict[str, inspect.Parameter]:
    return dict(inspect.signature(cls.__init__).parameters)


def constructor_arguments(cls: type) -> set[str] | None:
    """Names ``cls(...)`` accepts, or None when it takes ``**kwargs`` (anything)."""
    parameters = _parameters(cls)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return None
    return {name for name, p in parameters.items() if name != "self"
            and p.kind not in (inspect.Parameter.VAR_POSITIONAL,)}


def learns_from_labels(package: str, cls: type) -> bool:
    """Whether the peer detector ``cls`` is trained on labelled anomalies (see module doc)."""
    if package == "pygod":
        return False
    if package == "deepod":
        return cls.__name__ in DEEPOD_WEAK
    fit = getattr(cls, "fit", None)
    if fit is None:
        return False
    y = inspect.signature(fit).parameters.get("y")
    return y is not None and y.default is inspect.Parameter.empty


def peer_kwargs(cls: type, seed: int) -> dict[str, Any]:
    """The seed (``random_state`` / ``random_seed`` / ``seed``) and ``device="cpu"`` (PyGOD's
    ``gpu=-1``), for the arguments ``cls`` takes."""
    if isinstance(cls, type) and issubclass(cls, BoostedClassifier):
        return {"random_state": seed}
    accepted = constructor_arguments(cls) or set()
    kwargs: dict[str, Any] = {name: seed for name in SEED_ARGUMENTS if name in accepted}
    if "device" in accepted:
        kwargs["device"] = "cpu"
    if "gpu" in accepted:
        kwargs["gpu"] = -1
    return kwargs


def peer_version(package: str) -> str | None:
    """Installed version of the peer package."""
    return package_version(package)


class PyGODGraph:
    """A PyGOD detector on a deepad graph: ``fit(G)`` / ``decision_function(G)`` take a
    :class:`~deepad.data.graph.Graph` (or anything with ``x`` and ``edge_index``) and hand
    PyGOD a ``torch_geometric.data.Data`` of the same nodes and edges (the validated graph:
    undirected, coalesced, no self-loops, as deepad's detectors get it).

    ``decision_function`` is PyGOD's own (the trained model in eval mode, one full-graph pass;
    ``decision_score_`` would be the scores of the last training epoch, taken in train mode),
    returned as a float64 array.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    @staticmethod
    def as_data(G: Any) -> Any:
        import numpy as np
        import torch
        from torch_geometric.data import Data

        x = torch.from_numpy(np.ascontiguousarray(G.x, dtype=np.float32))
        edge_index = torch.from_numpy(np.ascontiguousarray(G.edge_index, dtype=np.int64))
        return Data(x=x, edge_index=edge_index, num_nodes=x.shape[0])

    def fit(self, G: Any, y: Any = None) -> PyGODGraph:
        self.estimator.fit(self.as_data(G))
        return self

    def decision_function(self, G: Any) -> Any:
        import numpy as np

        scores = self.estimator.decision_function(self.as_data(G))
        return np.asarray(scores.detach().cpu().numpy() if hasattr(scores, "detach") else scores,
                          dtype=np.float64)


class BoostedClassifier:
    """A gradient-boosted classifier as a weakly supervised detector, the ADBench way:
    ``fit(X, y)`` trains the package's classifier on all rows with ``y`` (1 = labelled
    anomaly, 0 = unlabelled) and ``decision_function(X)`` is its probability of class 1.

    Every keyword goes to the classifier's constructor unchanged (ADBench passes only
    ``random_state``); the subclasses name the package and the class.
    """

    package = ""
    class_name = ""

    def __init__(self, **params: Any) -> None:
        self.params = params

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return dict(self.params)

    def fit(self, X: Any, y: Any) -> BoostedClassifier:
        import numpy as np

        module = importlib.import_module(self.package)
        cls = getattr(module, self.class_name)
        self.model_ = cls(**{**QUIET.get(self.package, {}), **self.params})
        self.model_.fit(np.asarray(X), np.asarray(y).astype(int))
        return self

    def decision_function(self, X: Any) -> Any:
        import numpy as np

        proba = self.model_.predict_proba(np.asarray(X))
        return np.asarray(proba[:, 1], dtype=np.float64)


class CatBoostDetector(BoostedClassifier):
    """``catboost:CatBoostClassifier``."""

    package, class_name = "catboost", "CatBoostClassifier"


class XGBoostDetector(BoostedClassifier):
    """``xgboost:XGBClassifier``."""

    package, class_name = "xgboost", "XGBClassifier"


class LightGBMDetector(BoostedClassifier):
    """``lightgbm:LGBMClassifier``."""

    package, class_name = "lightgbm", "LGBMClassifier"


_BOOSTER_CLASSES: dict[str, type[BoostedClassifier]] = {
    "catboost": CatBoostDetector, "xgboost": XGBoostDetector, "lightgbm": LightGBMDetector}
