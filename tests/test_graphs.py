"""Graph input: validation and normalisation, mini-batches, transductive detectors, the
weakly supervised GDN (DevNet on a GNN), loaders and outlier injection, ``deepad run
graph.npz`` and the graph bench protocol."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

pytest.importorskip("torch_geometric")

from test_graph_conformance import PLANTED  # noqa: E402

import deepad  # noqa: E402
from deepad.data.graph import Graph, check_graph  # noqa: E402
from deepad.data.graphs import inject_contextual, inject_structural  # noqa: E402
from deepad.metrics import auc_roc  # noqa: E402


# ---------------------------------------------------------------------------- validation
def test_edges_symmetrised_coalesced_without_self_loops():
    x = np.ones((4, 2), dtype=np.float32)
    edges = np.array([[0, 1, 1, 2, 2, 0], [1, 0, 1, 0, 0, 0]])  # (1,0) again, (1,1), (0,0)
    graph = check_graph((x, edges))
    assert graph.edge_index.tolist() == [[0, 0, 1, 2], [1, 2, 0, 0]]
    assert graph.n_edges == 2
    assert graph.degree().tolist() == [2, 1, 1, 0]  # node 3 isolated, kept
    assert len(graph) == 4


def test_adjacency_and_edge_list_agree():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3))
    adjacency = sp.random(6, 6, density=0.4, random_state=0, format="csr")
    from_matrix = check_graph((x, adjacency))
    from_edges = check_graph((x, np.vstack(adjacency.nonzero())))
    np.testing.assert_array_equal(from_matrix.edge_index, from_edges.edge_index)
    assert from_matrix.x.dtype == np.float32


@pytest.mark.parametrize(("graph", "error", "match"), [
    ((np.ones((3, 2)), np.array([[0, 3], [1, 0]])), ValueError, "node 3, outside 0 .. 2"),
    ((np.ones((3, 2)), np.array([[0, -1], [1, 0]])), ValueError, "node -1, outside"),
    ((np.ones((3, 2)), np.array([[0.0, 1.0], [1.0, 2.0]])), TypeError, "integer node"),
    ((np.ones((3, 2)), np.array([[0, 1, 2]])), ValueError, "2, n_edges"),
    ((np.ones(3), np.array([[0], [1]])), ValueError, "expected 2-D"),
    ((np.array([[np.nan, 1.0], [1, 1]]), np.array([[0], [1]])), ValueError, "NaN"),
    ((np.ones((3, 2)), sp.eye(4, format="csr")), ValueError, "4 x 4 but x has 3 rows"),
    ((np.ones((3, 2)), sp.random(3, 4, density=0.5, format="csr")), ValueError, "square"),
])
def test_bad_graphs_raise_clear_errors(graph, error, match):
    with pytest.raises(error, match=match):
        check_graph(graph)


def test_pyg_data_without_x_is_refused():
    torch = pytest.importorskip("torch")
    from torch_geometric.data import Data

    with pytest.raises(ValueError, match="without node attributes"):
        deepad.AutoEncoder(epochs=1).fit(Data(edge_index=torch.tensor([[0, 1], [1, 0]]),
                                              num_nodes=2))


def test_detector_without_graph_modality_refuses_a_graph():
    with pytest.raises(TypeError, match="is a graph; this detector takes"):
        deepad.IsolationForest().fit(PLANTED[0])


def test_fit_labels_must_match_the_nodes():
    labels = np.zeros(PLANTED[0].n_nodes - 1, dtype=np.int64)
    labels[0] = 1
    with pytest.raises(ValueError, match="labels but X has 200 samples"):
        deepad.DevNet(epochs=1).fit(PLANTED[0], labels)


# ---------------------------------------------------------------------------- training
def test_mini_batches_train_and_rank(tmp_path):
    graph, y = PLANTED
    batched = graph.mini_batched(batch_nodes=32, fanouts=(5, 5))
    params = {**deepad.DeepSVDD.test_params, "backbone": "sage", "epochs": 10,
              "random_state": 0}
    first = deepad.DeepSVDD(**params).fit(batched)
    again = deepad.DeepSVDD(**params).fit(batched)
    np.testing.assert_array_equal(first.decision_scores_, again.decision_scores_)
    assert auc_roc(y, first.decision_scores_) >= 0.75
    # mini-batches of the same graph differ from full-graph steps
    full = deepad.DeepSVDD(**params).fit(graph.full_graph())
    assert not np.allclose(full.decision_scores_, first.decision_scores_)


def test_more_nodes_than_one_chunk():
    """Graphs above one chunk of rows (8,192): the centre of Deep SAD over the unlabelled
    nodes and the soft-boundary radius are one pass over the graph, never sliced."""
    rng = np.random.default_rng(0)
    n = 9000
    graph = check_graph((rng.normal(size=(n, 4)), rng.integers(0, n, (2, 20000))))
    labels = np.zeros(n, dtype=np.int64)
    labels[:3] = 1
    sad = deepad.DeepSAD(epochs=1, pretrain_epochs=1, hidden_dims=(8,), rep_dim=4,
                         random_state=0).fit(graph, labels)
    svdd = deepad.DeepSVDD(epochs=2, warm_up_epochs=0, objective="soft-boundary",
                           hidden_dims=(8,), rep_dim=4, random_state=0).fit(graph)
    assert np.isfinite(sad.decision_scores_).all() and len(sad.decision_scores_) == n
    assert float(svdd.model_.radius) > 0


def test_sampled_subgraph_is_a_valid_neighbourhood():
    import torch

    from deepad.core.graph_input import GraphSource

    graph = PLANTED[0].mini_batched(batch_nodes=8, fanouts=(3,))
    source = GraphSource(graph, "cpu", torch.Generator().manual_seed(0))
    targets = torch.tensor([5, 17, 5])
    batch = source[targets]
    assert len(batch) == 3
    local = batch.edge_index
    assert int(local.max()) < batch.x.shape[0]
    kept = {tuple(e) for e in graph.edge_index.T.tolist()}
    # every sampled edge is an edge of the graph, and the targets' attributes are theirs
    index = {tuple(row.tolist()): i for i, row in enumerate(source.x)}
    ids = [index[tuple(row.tolist())] for row in batch.x]
    assert all((ids[u], ids[v]) in kept for u, v in local.T.tolist())
    assert [ids[t] for t in batch.target.tolist()] == [5, 17, 5]


class TransductiveAE(deepad.AutoEncoder):
    """An AutoEncoder declared transductive (not registered), to test the check."""

    inductive = False


def test_transductive_detector_scores_only_its_graph(tmp_path):
    graph = PLANTED[0]
    detector = TransductiveAE(epochs=2, hidden_dims=(8, 4), random_state=0).fit(graph)
    np.testing.assert_allclose(detector.decision_function(graph), detector.decision_scores_,
                               rtol=1e-5, atol=1e-6)
    other = check_graph((graph.x[:150], graph.edge_index[:, (graph.edge_index < 150).all(0)]))
    with pytest.raises(ValueError, match="is transductive"):
        detector.decision_function(other)


def test_gdn_learns_from_labelled_outliers():
    """DevNet on a GNN (GDN) with its graph settings: a few labelled outliers lift the
    ranking of the others above what the attributes-only prior gives."""
    graph, y = PLANTED
    labels = np.zeros_like(y)
    labels[np.flatnonzero(y)[:3]] = 1
    params = {**deepad.DevNet.modality_defaults["graph"], "random_state": 0}
    detector = deepad.DevNet(**params).fit(graph, labels)
    unlabelled = labels == 0
    assert auc_roc(y[unlabelled], detector.decision_scores_[unlabelled]) >= 0.8


# ---------------------------------------------------------------------------- data
def test_inject_contextual_copies_the_farthest_candidate():
    rng = np.random.default_rng(0)
    graph = check_graph((rng.normal(size=(50, 4)), rng.integers(0, 50, (2, 120))))
    injected, y = inject_contextual(graph, n=5, k=10, seed=1)
    assert y.sum() == 5 and injected.n_edges == graph.n_edges
    changed = np.flatnonzero((injected.x != graph.x).any(axis=1))
    assert set(changed) <= set(np.flatnonzero(y))
    for i in np.flatnonzero(y):  # each outlier now holds some original node's attributes
        assert (np.abs(graph.x - injected.x[i]).sum(axis=1) == 0).any()


def test_inject_structural_makes_cliques():
    rng = np.random.default_rng(0)
    graph = check_graph((rng.normal(size=(60, 3)), rng.integers(0, 60, (2, 80))))
    injected, y = inject_structural(graph, m=3, n=5, seed=2)
    assert y.sum() == 15
    adjacency = injected.to_adjacency().toarray()
    members = np.flatnonzero(y)
    inside = adjacency[np.ix_(members, members)]
    assert inside.sum() >= 3 * 5 * 4  # each of the 3 cliques: 5 x 4 directed pairs
    np.testing.assert_array_equal(injected.x, graph.x)
    with pytest.raises(ValueError, match="m \\* n <= 60"):
        inject_structural(graph, m=20, n=5)


@pytest.mark.needs_shared
def test_load_pygod_books(shared_datasets):
    from deepad.data import load_planetoid, load_pygod

    graph, y = load_pygod("books", root=shared_datasets / "graph")
    assert isinstance(graph, Graph) and graph.n_nodes == 1418 and y.sum() == 28
    reddit, y = load_pygod("reddit", root=shared_datasets / "graph")
    assert y.sum() == 366 and (reddit.edge_index[0] != reddit.edge_index[1]).all()
    cora = load_planetoid("cora", root=shared_datasets / "graph")
    assert cora.n_nodes == 2708 and cora.n_edges == 5278
    with pytest.raises(ValueError, match="Unknown PyGOD graph"):
        load_pygod("weibo")


# ---------------------------------------------------------------------------- CLI and bench
def test_deepad_run_graph_npz(tmp_path):
    from typer.testing import CliRunner

    from deepad.cli import app

    graph, y = PLANTED
    path = tmp_path / "graph.npz"
    np.savez(path, x=graph.x, edge_index=graph.edge_index, y=y)
    out, png = tmp_path / "scores.csv", tmp_path / "degree.png"
    result = CliRunner().invoke(app, [
        "run", str(path), "--top", "5", "--output", str(out), "--plot", str(png),
        "--param", "epochs=20"])
    assert result.exit_code == 0, result.output
    assert "200 nodes" in result.output and "degree" in result.output
    assert "AUC-ROC" in result.output
    import pandas as pd

    scores = pd.read_csv(out)
    assert list(scores.columns) == ["node", "score", "degree", "is_anomaly", "label"]
    assert len(scores) == 200 and png.stat().st_size > 10_000
    top = scores.sort_values("score", ascending=False).head(10)
    assert top["label"].sum() >= 8  # the planted outliers come first


def test_deepad_run_refuses_a_row_detector_on_a_graph(tmp_path):
    from typer.testing import CliRunner

    from deepad.cli import app

    path = tmp_path / "graph.npz"
    np.savez(path, x=PLANTED[0].x, edge_index=PLANTED[0].edge_index)
    result = CliRunner().invoke(app, ["run", str(path), "-d", "IsolationForest"])
    assert result.exit_code != 0
    assert "does not accept graphs" in result.output


def test_graph_protocol_weak_labels_and_metrics():
    from deepad.bench.graph_protocol import GraphProtocol, weak_labels

    y = np.zeros(100, dtype=np.int64)
    y[:30] = 1
    labels = weak_labels(y, 0.1, seed=0)
    assert labels.sum() == 3 and set(np.flatnonzero(labels)) <= set(range(30))
    np.testing.assert_array_equal(labels, weak_labels(y, 0.1, seed=0))
    assert weak_labels(y[:40] * 0 + np.r_[1, np.zeros(39)].astype(int), 0.1, 0).sum() == 1
    scores = np.r_[np.linspace(2, 1, 30), np.linspace(0.5, 0, 70)]
    metrics = GraphProtocol().metrics(y, scores)
    assert metrics["auc_roc"] == 1.0 and metrics["recall_at_k"] == 1.0


def test_torch_geometric_is_imported_only_when_a_graph_network_is_built():
    import subprocess
    import sys

    code = ("import sys, numpy as np, deepad, deepad.core, deepad.data, deepad.nets\n"
            "deepad.AutoEncoder(epochs=1).fit(np.random.default_rng(0).normal(size=(20, 3)))\n"
            "from deepad.data import check_graph\n"
            "check_graph((np.ones((3, 2)), np.array([[0, 1], [1, 2]])))\n"
            "print('torch_geometric' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "False"
