"""The node outlier protocol on whole graphs (settings ``graph`` and ``graph-weak``): suite
``graphs``.

A dataset is one BOND / PyGOD graph (``books``, ``disney``, ``enron``, ``reddit``,
``inj_cora``; :func:`deepad.data.graphs.load_pygod`). As in BOND (Liu et al., NeurIPS 2022),
a detector is fitted on the whole graph and its scores of all nodes are evaluated against the
outlier labels (transductive, unsupervised): AUC-ROC, AUC-PR and Recall@k with k the number
of outliers (equal to precision at k; stored as ``precision_at_n`` and ``recall_at_k``).
The seed changes only the detector. In the weak setting (``--setting weak``, job setting
``graph-weak``) a weakly supervised detector also gets ``labeled_ratio`` (default 10 %) of the
outliers labelled, at least one, drawn with the seed; its scores are still evaluated on all
nodes, labelled ones included, as Ding et al. (WWW 2021) evaluate GDN on the rest: see
:data:`WEAK_EVALUATION`.

Inputs: deepad detectors of the ``graph`` modality get the validated
:class:`~deepad.data.graph.Graph` (undirected, coalesced, no self-loops) and run with their
class's graph settings (``modality_defaults["graph"]``: PyGOD's OCGNN settings for Deep SVDD,
GDN's for DevNet) unless the job's parameters say otherwise; ``pygod:`` peers get the same
graph (their adapter converts it); row detectors (PyOD, DeepOD, ``python:`` classes) get the node
attributes as rows (:class:`NodeRows`), a structure-blind baseline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from deepad.bench import detectors
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

GRAPH = "graph"
GRAPH_WEAK = "graph-weak"
GRAPH_SUITES = {"graphs": ("books", "disney", "enron", "reddit", "inj_cora")}
GRAPH_PEERS = ("pygod",)
"""Peer packages whose detectors take graphs (the others get node attributes as rows)."""
WEAK_EVALUATION = ("all nodes, the labelled outliers included (they are at most 10 % of the "
                   "outliers; BOND's protocol scores every node)")


def is_graph_name(name: str) -> bool:
    return name in GRAPH_SUITES["graphs"]


def modality_defaults(ref: detectors.DetectorRef, cls: type | None) -> dict[str, Any]:
    """A deepad detector's graph settings (``cls.modality_defaults["graph"]``), else none."""
    if ref.kind != "deepad" or cls is None:
        return {}
    return dict(getattr(cls, "modality_defaults", {}).get("graph", {}))


def takes_graphs(ref: detectors.DetectorRef, cls: type | None) -> bool:
    """Whether the detector is given the graph (else node attributes as rows)."""
    if ref.kind in GRAPH_PEERS:
        return True
    if ref.kind not in ("deepad", "python") or cls is None:
        return False
    return "graph" in tuple(getattr(cls, "modalities", ()) or ())


class NodeRows:
    """A row detector on a graph: ``fit`` and ``decision_function`` receive the node
    attributes ``x`` as rows (the structure is not used)."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator

    def fit(self, G: Any, y: np.ndarray | None = None) -> NodeRows:
        if y is None:
            self.estimator.fit(G.x)
        else:
            self.estimator.fit(G.x, y)
        return self

    def decision_function(self, G: Any) -> np.ndarray:
        return self.estimator.decision_function(G.x)


def weak_labels(y: np.ndarray, ratio: float, seed: int) -> np.ndarray:
    """``round(ratio · #outliers)`` outliers (at least one) labelled 1, drawn with ``seed``;
    every other node 0 (unlabelled)."""
    outliers = np.flatnonzero(y)
    k = min(len(outliers), max(1, int(round(ratio * len(outliers)))))
    labels = np.zeros(len(y), dtype=np.int64)
    labels[np.random.default_rng(seed).choice(outliers, size=k, replace=False)] = 1
    return labels


class GraphProtocol(Protocol):
    """Fit on a whole graph, evaluate every node (BOND's transductive protocol)."""

    name = "graphs"
    settings = (GRAPH, GRAPH_WEAK)
    suites = tuple(GRAPH_SUITES)

    def claims(self, config: BenchConfig) -> bool:
        if config.suite:
            return config.suite.strip().lower() in self.suites
        kinds = {is_graph_name(name) for name in config.datasets}
        if len(kinds) > 1:
            msg = (f"--datasets mixes graphs ({', '.join(GRAPH_SUITES['graphs'])}) with other "
                   "datasets; run them as two benchmarks, each with its own --db.")
            raise ValueError(msg)
        return kinds == {True}

    def datasets(self, config: BenchConfig) -> dict[str, DatasetEntry]:
        from deepad.data.graphs import find_graph_file

        if config.suite:
            key = config.suite.strip().lower()
            if key not in GRAPH_SUITES:
                raise ValueError(unknown_choice("suite", config.suite, GRAPH_SUITES))
            names = list(GRAPH_SUITES[key])
        else:
            names = list(config.datasets)
        return {name: DatasetEntry(path=str(find_graph_file(name))) for name in names}

    def job_settings(self, config: BenchConfig) -> list[tuple[str, float | None]]:
        unknown = [s for s in config.settings if s not in ("unsupervised", "weak")]
        if unknown:
            msg = (f"graph jobs have the settings unsupervised and weak; --setting "
                   f"{','.join(unknown)} does not apply to them.")
            raise ValueError(msg)
        return [(GRAPH_WEAK, float(config.labeled_ratio)) if s == "weak" else (GRAPH, None)
                for s in config.settings]

    def detector(self, ref: detectors.DetectorRef, cls: type | None,
                 params: dict[str, Any]) -> DetectorEntry:
        if cls is None:  # a missing peer: each job records why
            return DetectorEntry(ref, params, None, None)
        if ref.kind == "deepad" and "graph" not in cls.modalities:
            msg = (f"{ref.spec} does not accept graphs (its modalities: "
                   f"{', '.join(cls.modalities)}); `deepad list` shows the detectors with "
                   "'graph'. Run a row detector on node attributes as a peer (pyod:Name).")
            raise ValueError(msg)
        params = {**modality_defaults(ref, cls), **params}
        detectors.check_params(ref, cls, params)
        fixed = detectors.job_defaults(ref, cls, 0)
        resolved = resolve({**default_params(ref, cls), **fixed}, params)
        return DetectorEntry(ref, params, detectors.supervision(ref, cls), resolved)

    def skip_reason(self, detector: DetectorEntry, setting: str, dataset: str,
                    entry: DatasetEntry) -> str | None:
        supervision = detector.supervision
        if setting == GRAPH and supervision is not None and "unsupervised" not in supervision:
            return (f"{detector.ref.spec} is weakly supervised only: it needs labelled "
                    "outliers, which the unsupervised setting does not give (run it with "
                    "--setting weak)")
        if setting == GRAPH_WEAK and supervision is not None and (
                "weakly-supervised" not in supervision):
            return (f"{detector.ref.spec} is unsupervised: the weak setting is for detectors "
                    "that learn from labelled outliers (its unsupervised jobs are its result)")
        return None

    def load(self, job: Job) -> Data | str:
        from pathlib import Path

        from deepad.data.graphs import find_graph_file, read_graph_npz

        path = job.path if job.path and Path(job.path).is_file() else None
        graph, y = read_graph_npz(path or find_graph_file(job.dataset))
        if y is None or not y.any():
            return f"{job.dataset} has no outlier labels"
        labels = None
        if job.setting == GRAPH_WEAK:
            labels = weak_labels(y, float(job.labeled_ratio), job.seed)
        info = {"nodes": graph.n_nodes, "edges": graph.n_edges, "outliers": int(y.sum())}
        return Data(graph, graph, y, labels=labels, info=info)

    def build(self, ref: detectors.DetectorRef, params: dict[str, Any], seed: int,
              data: Data) -> tuple[Any, bool]:
        cls = detectors.load_class(ref)
        if ref.kind == "pygod":  # PyGOD takes a torch_geometric Data: the peer adapter
            from deepad.bench.peers import PyGODGraph

            estimator, _ = detectors.build(ref, params, seed)
            return PyGODGraph(estimator), False
        if takes_graphs(ref, cls):
            # torch_geometric is imported before the fit timer starts, as PyGOD's peers
            # import it with their class: a one-time import (2.4 s of CPU) is not fit time
            from deepad.nets.graph import import_pyg

            import_pyg()
            return detectors.build(ref, params, seed)
        estimator, takes_labels = detectors.build(ref, params, seed,
                                                  n_features=data.train.n_features)
        return NodeRows(estimator), takes_labels

    def metrics(self, y_true: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
        from deepad.metrics import auc_pr, auc_roc, precision_at_n

        at_k = precision_at_n(y_true, scores)  # n = k = #outliers: precision@k = recall@k
        return {"auc_roc": auc_roc(y_true, scores), "auc_pr": auc_pr(y_true, scores),
                "precision_at_n": at_k, "recall_at_k": at_k}

    def code_classes(self, ref: detectors.DetectorRef, cls: type) -> list[type]:
        return [cls] if takes_graphs(ref, cls) else [cls, NodeRows]

    def write_report(self, frame: pd.DataFrame, out_dir: Path, title: str | None
                     ) -> dict[str, Path]:
        from deepad.bench.graph_report import DEFAULT_TITLE, write_graph_report

        return write_graph_report(frame, out_dir, title=title or DEFAULT_TITLE)
