"""``deepad run`` on a graph: an ``.npz`` with ``x`` (n_nodes, n_features), ``edge_index``
(2, n_edges) and an optional ``y`` (outlier if ``y != 0``); never a pickled ``.pt``.

The command fits a detector of the ``graph`` modality (AutoEncoder by default, with its
class's graph settings, ``modality_defaults["graph"]``, under any ``--param``) on the whole
graph, scores every node, and

- prints the top nodes with their score, degree (neighbours in the undirected graph) and
  label, and the metrics when ``y`` is given;
- writes the scores CSV: one row per node (node, score, degree, is_anomaly, label);
- writes a PNG of the score distribution by degree: every node's score against its degree
  (outliers marked when ``y`` is given), the threshold, and the median score per degree bin,
  so a detector that merely ranks hubs (or leaves) first is visible at a glance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer

GRAPH_DEFAULT = "AutoEncoder"


def is_graph_file(path: Path) -> bool:
    """Whether ``deepad run`` reads ``path`` as a graph: an ``.npz`` holding ``edge_index``."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() != ".npz":
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            return "edge_index" in data.files
    except (OSError, ValueError):
        return False


def graph_detector(name: str) -> type:
    """The registered detector ``name``, which must accept graphs (``ValueError`` naming
    those that do)."""
    from deepad import get_detector, list_detectors

    cls = get_detector(name)
    if "graph" not in cls.modalities:
        names = [info["name"] for info in list_detectors(modalities="graph")]
        msg = (f"{cls.name} does not accept graphs (its modalities: "
               f"{', '.join(cls.modalities)}); graph detectors: {', '.join(names)}.")
        raise ValueError(msg)
    return cls


def run_graph(path: Path, *, detector: str, params: dict[str, Any], labeled_ratio: float,
              seed: int, top: int, output: str | None, plot: str | None,
              save_model: Path | None) -> None:
    """Fit ``detector`` on the graph in ``path``, print the top nodes, write CSV and PNG."""
    from deepad.data.graphs import read_graph_npz
    from deepad.metrics import auc_pr, auc_roc, precision_at_n

    cls = graph_detector(detector)
    graph, y = read_graph_npz(path)
    settings = {**getattr(cls, "modality_defaults", {}).get("graph", {}), **params}
    estimator = cls(**settings)
    labels = None
    if "weakly-supervised" in cls.supervision:
        if y is None or not y.any():
            msg = (f"{cls.name} is weakly supervised: the graph file needs labels y (outlier "
                   "if y != 0), of which --labeled-ratio are revealed.")
            raise ValueError(msg)
        outliers = np.flatnonzero(y)
        k = min(len(outliers), max(1, int(round(labeled_ratio * len(outliers)))))
        labels = np.zeros(graph.n_nodes, dtype=np.int64)
        labels[np.random.default_rng(seed).choice(outliers, size=k, replace=False)] = 1
    typer.echo(f"{path.name}: {graph.n_nodes} nodes, {graph.n_edges} undirected edges, "
               f"{graph.n_features} attributes"
               + (f", {int(y.sum())} labelled outliers" if y is not None else ""))
    estimator.fit(graph, labels)
    scores = estimator.decision_scores_
    degree = graph.degree()
    flags = estimator.labels_
    order = np.argsort(-scores, kind="stable")
    shown = order[:top]
    typer.echo(f"{cls.name}: top {len(shown)} of {graph.n_nodes} nodes (higher score = more "
               f"anomalous; {int(flags.sum())} above the threshold {estimator.threshold_:.4g})")
    table = pd.DataFrame({"rank": np.arange(1, len(shown) + 1), "node": shown,
                          "score": scores[shown], "degree": degree[shown]})
    if y is not None:
        table["label"] = y[shown]
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if y is not None and 0 < y.sum() < len(y):
        mask = np.ones(len(y), dtype=bool) if labels is None else labels == 0
        typer.echo(f"AUC-ROC {auc_roc(y[mask], scores[mask]):.4f}  AUC-PR "
                   f"{auc_pr(y[mask], scores[mask]):.4f}  Recall@k (k = outliers) "
                   f"{precision_at_n(y[mask], scores[mask]):.4f}"
                   + ("" if labels is None else "  (nodes not revealed as labels)"))
    if output is not None:
        frame = pd.DataFrame({"node": np.arange(graph.n_nodes), "score": scores,
                              "degree": degree, "is_anomaly": flags})
        if y is not None:
            frame["label"] = y
        frame.to_csv(output, index=False)
        typer.echo(f"wrote {output}")
    if plot is not None:
        plot_scores_by_degree(scores, degree, estimator.threshold_, y, plot,
                              title=f"{cls.name} on {path.name}")
        typer.echo(f"wrote {plot}")
    if save_model is not None:
        estimator.save(save_model)
        typer.echo(f"saved the model to {save_model}")


def plot_scores_by_degree(scores: np.ndarray, degree: np.ndarray, threshold: float,
                          y: np.ndarray | None, path: str | Path, title: str) -> Path:
    """Scatter of score against degree (log scale, degree + 1), outliers marked, the
    threshold, and the median score per degree bin (bins of about equal node counts)."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    x = degree + 1
    jitter = np.random.default_rng(0).uniform(0.9, 1.1, len(x))
    normal = np.ones(len(scores), dtype=bool) if y is None else y == 0
    ax.scatter(x[normal] * jitter[normal], scores[normal], s=6, alpha=0.35, color="tab:blue",
               label="nodes" if y is None else "normal nodes", linewidths=0)
    if y is not None:
        ax.scatter(x[~normal] * jitter[~normal], scores[~normal], s=22, color="tab:red",
                   marker="x", label="labelled outliers")
    edges = np.unique(np.quantile(x, np.linspace(0, 1, 11)))
    if len(edges) > 1:
        which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        centres, medians = [], []
        for b in range(len(edges) - 1):
            members = which == b
            if members.any():
                centres.append(float(np.median(x[members])))
                medians.append(float(np.median(scores[members])))
        ax.plot(centres, medians, color="black", marker="o", linewidth=1.5,
                label="median score per degree bin")
    ax.axhline(threshold, color="tab:orange", linestyle="--", label="threshold")
    ax.set_xscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    if x.max() / max(x.min(), 1) < 100:  # few decades: label the minor ticks too
        ax.xaxis.set_minor_formatter(plain)
    ax.set_xlabel("degree + 1 (neighbours, log scale)")
    ax.set_ylabel("anomaly score (higher = more anomalous)")
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
