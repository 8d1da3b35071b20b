"""Graph datasets and outlier injection (numpy / scipy only).

- :func:`load_pygod`: the BOND / PyGOD node-outlier graphs (``books``, ``disney``, ``enron``,
  ``reddit``, ``inj_cora``) from their ``.npz`` conversion (``x``, ``edge_index`` as stored,
  ``y``; an outlier is ``y != 0``).
- :func:`load_planetoid`: Cora and CiteSeer (Planetoid release, ``cora.npz`` /
  ``citeseer.npz``), clean base graphs for injection.
- :func:`inject_contextual` / :func:`inject_structural`: the outlier injection of Ding et
  al., SDM 2019 (Sec. 5.1) as the BOND benchmark (Liu et al., NeurIPS 2022) and PyGOD define
  it.

Every loader returns a validated :class:`~deepad.data.graph.Graph` (undirected, coalesced,
no self-loops); the files are ``numpy.load``-ed with ``allow_pickle=False``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from deepad.data.adbench import data_dirs
from deepad.data.graph import Graph, check_graph

__all__ = ["PYGOD_GRAPHS", "PLANETOID_GRAPHS", "find_graph_file", "inject_contextual",
           "inject_structural", "load_planetoid", "load_pygod", "read_graph_npz"]

PYGOD_GRAPHS = ("books", "disney", "enron", "reddit", "inj_cora")
PLANETOID_GRAPHS = ("cora", "citeseer")
_SEARCH_DEPTH = 3


def find_graph_file(name: str, root: str | Path | None = None) -> Path:
    """The file ``<name>.npz`` in ``root`` or the data folders (``$DEEPAD_DATA_DIR``, then
    the cache), searched up to three folders deep (``graph/pygod/books.npz``).

    Raises
    ------
    FileNotFoundError
        Naming the folders searched.
    """
    roots = [Path(root)] if root is not None else data_dirs()
    for top in roots:
        if not top.is_dir():
            continue
        for depth in range(_SEARCH_DEPTH + 1):
            pattern = "/".join(["*"] * depth + [f"{name}.npz"])
            found = sorted(top.glob(pattern))
            if found:
                return found[0]
    where = ", ".join(str(r) for r in roots) or "(none)"
    msg = (f"{name}.npz was not found in {where} (searched {_SEARCH_DEPTH} folders deep). "
           "Pass root= the folder holding it, or set DEEPAD_DATA_DIR.")
    raise FileNotFoundError(msg)


def read_graph_npz(path: str | Path) -> tuple[Graph, np.ndarray | None]:
    """A graph from an ``.npz`` holding ``x`` ``(n, d)``, ``edge_index`` ``(2, E)`` and an
    optional ``y`` (outlier if ``y != 0``): ``(Graph, y as int64 0/1 or None)``. Never
    unpickles.

    Raises
    ------
    ValueError
        Missing ``x`` or ``edge_index``, a ``y`` of another length, or an invalid graph
        (:func:`~deepad.data.graph.check_graph`).
    """
    with np.load(path, allow_pickle=False) as data:
        missing = [k for k in ("x", "edge_index") if k not in data.files]
        if missing:
            msg = (f"{path} has arrays {data.files}; a graph file needs 'x' (n_nodes, "
                   f"n_features) and 'edge_index' (2, n_edges), optionally 'y'; missing "
                   f"{missing}.")
            raise ValueError(msg)
        graph = check_graph((data["x"], data["edge_index"]), name=str(path))
        y = None
        if "y" in data.files:
            y = np.asarray(data["y"]).reshape(-1)
            if len(y) != graph.n_nodes:
                msg = f"{path}: y has {len(y)} entries but x has {graph.n_nodes} nodes."
                raise ValueError(msg)
            y = (y != 0).astype(np.int64)
    return graph, y


def load_pygod(name: str, root: str | Path | None = None) -> tuple[Graph, np.ndarray]:
    """A BOND / PyGOD benchmark graph and its node outlier labels.

    Parameters
    ----------
    name : {"books", "disney", "enron", "reddit", "inj_cora"}
    root : str or Path, optional
        Folder holding ``<name>.npz`` (or a folder above it); default: the data folders.

    Returns
    -------
    graph : Graph
        Normalised (the stored ``edge_index`` is not always symmetric; reddit lists a
        self-loop on every node, inj_cora six duplicate edges).
    y : ndarray of int64 (n_nodes,)
        1 for an outlier (``y != 0`` in the file; inj_cora's contextual, structural or both).

    References
    ----------
    Liu et al., "BOND: Benchmarking Unsupervised Outlier Node Detection on Static Attributed
    Graphs", NeurIPS 2022 Datasets and Benchmarks.
    """
    if name not in PYGOD_GRAPHS:
        msg = f"Unknown PyGOD graph {name!r}; choose one of {list(PYGOD_GRAPHS)}."
        raise ValueError(msg)
    graph, y = read_graph_npz(find_graph_file(name, root))
    if y is None:
        msg = f"{name}.npz has no labels 'y'."
        raise ValueError(msg)
    return graph, y


def load_planetoid(name: str, root: str | Path | None = None) -> Graph:
    """Cora or CiteSeer (Planetoid release, Yang, Cohen & Salakhutdinov, ICML 2016) as a
    clean graph: binary bag-of-words attributes (float32), citations as undirected edges.
    CiteSeer's 15 isolated nodes without features are kept. Class labels are not anomaly
    labels and are not returned; inject outliers with :func:`inject_contextual` /
    :func:`inject_structural`."""
    if name not in PLANETOID_GRAPHS:
        msg = f"Unknown Planetoid graph {name!r}; choose one of {list(PLANETOID_GRAPHS)}."
        raise ValueError(msg)
    graph, _ = read_graph_npz(find_graph_file(name, root))
    return graph


def _as_graph(G) -> Graph:
    return check_graph(G, name="G")


def inject_contextual(G, n: int, k: int = 50, seed: int | None = None
                      ) -> tuple[Graph, np.ndarray]:
    """Contextual (attribute) outliers: ``n`` random nodes each take the attributes of the
    farthest (Euclidean) of ``k`` random candidate nodes.

    For each outlier node ``i`` (``n`` drawn without replacement), ``k`` candidates are drawn
    without replacement from all nodes and ``x_i ← x_j`` with
    ``j = argmax_candidates ||x_i − x_j||₂`` (Ding et al., SDM 2019, Sec. 5.1; BOND's
    ``gen_contextual_outlier``, k = 50 in both). The structure is unchanged.

    Returns
    -------
    graph : Graph
        A new graph (the input is not modified).
    y : ndarray of int64 (n_nodes,)
        1 for the ``n`` injected outliers.
    """
    graph = _as_graph(G)
    rng = np.random.default_rng(seed)
    n_nodes = graph.n_nodes
    if not 0 <= n <= n_nodes or not 1 <= k <= n_nodes:
        msg = (f"inject_contextual needs 0 <= n <= {n_nodes} and 1 <= k <= {n_nodes} (nodes "
               f"of the graph); got n={n}, k={k}.")
        raise ValueError(msg)
    x = graph.x.copy()
    outliers = rng.choice(n_nodes, size=n, replace=False)
    for i in outliers:
        candidates = rng.choice(n_nodes, size=k, replace=False)
        distance = np.linalg.norm(graph.x[candidates] - x[i], axis=1)
        x[i] = graph.x[candidates[int(np.argmax(distance))]]
    y = np.zeros(n_nodes, dtype=np.int64)
    y[outliers] = 1
    return Graph(x, graph.edge_index), y


def inject_structural(G, m: int, n: int, seed: int | None = None
                      ) -> tuple[Graph, np.ndarray]:
    """Structural outliers: ``m`` cliques of ``n`` nodes each.

    ``m · n`` nodes are drawn without replacement and split into ``m`` groups; every pair
    within a group is connected (Ding et al., SDM 2019, Sec. 5.1; BOND's
    ``gen_structural_outlier``). Attributes are unchanged.

    Returns
    -------
    graph : Graph
        A new graph with the clique edges added.
    y : ndarray of int64 (n_nodes,)
        1 for the ``m · n`` clique members.
    """
    graph = _as_graph(G)
    rng = np.random.default_rng(seed)
    if m < 0 or n < 2 or m * n > graph.n_nodes:
        msg = (f"inject_structural needs m >= 0 cliques of n >= 2 nodes with m * n <= "
               f"{graph.n_nodes} (nodes of the graph); got m={m}, n={n}.")
        raise ValueError(msg)
    members = rng.choice(graph.n_nodes, size=m * n, replace=False).reshape(m, n)
    rows, cols = np.triu_indices(n, k=1)
    new = np.hstack([np.vstack([group[rows], group[cols]]) for group in members]) if m else \
        np.zeros((2, 0), dtype=np.int64)
    edges = np.hstack([graph.edge_index, new])
    y = np.zeros(graph.n_nodes, dtype=np.int64)
    y[members.ravel()] = 1
    return check_graph((graph.x, edges), name="G"), y
