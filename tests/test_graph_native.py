"""The graph-native detectors (DOMINANT, AnomalyDAE, CONAD, GAAN, CoLA) and their shared
objectives: exactness of the sparse structure errors, planted anomalies ranked first,
save → load identical scores, the transductive refusal, the PyGOD loader shim."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch_geometric")

import deepad  # noqa: E402
from deepad.data.graph import check_graph  # noqa: E402
from deepad.nets.graph_objectives import (  # noqa: E402
    csr,
    edge_bce_error,
    gram_structure_error,
    sample_neighbours,
    sigmoid_structure_error,
)

N_NODES = 120


@pytest.fixture(scope="module")
def planted():
    """Four communities of 30 nodes (dense inside, a few edges across) with attributes
    centred per community; nodes 0-5 get the attributes of nodes of another community
    (contextual), six nodes of all communities form a clique (structural)."""
    rng = np.random.default_rng(0)
    community = np.repeat(np.arange(4), N_NODES // 4)
    centres = rng.normal(scale=3.0, size=(4, 8))
    x = centres[community] + rng.normal(scale=0.3, size=(N_NODES, 8))
    edges = set()
    for c in range(4):
        members = np.flatnonzero(community == c)
        for _ in range(90):
            u, v = rng.choice(members, 2, replace=False)
            edges.add((int(u), int(v)))
    for _ in range(6):
        u, v = rng.choice(N_NODES, 2, replace=False)
        edges.add((int(u), int(v)))
    contextual = np.arange(0, 6)
    # contextual outliers as BOND injects them: the attributes of a node far away (here
    # one of the opposite community)
    x[contextual] = x[contextual + 2 * N_NODES // 4]
    structural = np.array([6, 37, 68, 99, 10, 41])
    for i in structural:
        for j in structural:
            if i < j:
                edges.add((int(i), int(j)))
    edge_index = np.array(sorted(edges)).T
    y = np.zeros(N_NODES, dtype=int)
    y[contextual] = 1
    y[structural] = 1
    return check_graph((x.astype(np.float32), edge_index)), y


def _dense(edge_index, n):
    s = torch.zeros(n, n)
    s[edge_index[0], edge_index[1]] = 1
    return s


def test_structure_errors_equal_the_dense_forms():
    g = torch.Generator().manual_seed(0)
    n = 40
    pairs = torch.randint(0, n, (2, 120), generator=g)
    edge_index = torch.unique(torch.cat([pairs, pairs.flip(0)], 1), dim=1)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    s = _dense(edge_index, n)
    h = torch.randn(n, 6, generator=g, requires_grad=True)
    dense = ((s - h @ h.T) ** 2).sum(1).sqrt()
    torch.testing.assert_close(gram_structure_error(h, edge_index), dense, rtol=1e-4, atol=1e-4)
    for weight in (0.5, 0.8):
        p = torch.sigmoid(h @ h.T)
        squared = (s - p) ** 2
        if weight != 0.5:
            squared = torch.where(s > 0, squared * weight, squared * (1 - weight))
        got = sigmoid_structure_error(h, edge_index, weight, block_entries=100)
        torch.testing.assert_close(got, squared.sum(1).sqrt(), rtol=1e-5, atol=1e-5)
        grad, = torch.autograd.grad(got.sum(), h)
        want, = torch.autograd.grad(squared.sum(1).sqrt().sum(), h)
        torch.testing.assert_close(grad, want, rtol=1e-4, atol=1e-5)
    p = torch.sigmoid(h @ h.T).detach()
    rows = torch.tensor([3, 7, 11])
    torch.testing.assert_close(sigmoid_structure_error(h.detach(), edge_index, rows=rows),
                               ((s - p) ** 2).sum(1).sqrt()[rows], rtol=1e-5, atol=1e-5)
    bce = torch.where(s > 0, -torch.log(p), torch.zeros(())).sum(1).sqrt()
    torch.testing.assert_close(edge_bce_error(h.detach(), edge_index), bce, rtol=1e-4, atol=1e-4)


def test_sampled_context_nodes_are_neighbours():
    edge_index = torch.tensor([[0, 0, 0, 0, 1, 2, 3, 4, 1, 5], [1, 2, 3, 4, 0, 0, 0, 0, 5, 1]])
    rowptr, col = csr(edge_index, 7)
    g = torch.Generator().manual_seed(0)
    picks = sample_neighbours(rowptr, col, torch.tensor([0, 5, 6]), 3, g)
    assert set(picks[0].tolist()) <= {1, 2, 3, 4} and len(set(picks[0].tolist())) == 3
    # node 5 has one neighbour (1); the others come from its second order (0 or 5)
    assert picks[1, :].tolist().count(1) >= 1 and set(picks[1].tolist()) <= {0, 1, 5}
    assert picks[2].tolist() == [6, 6, 6]  # isolated: itself


CASES = {
    "DOMINANT": {"epochs": 100},
    "CONAD": {"epochs": 100},
    "AnomalyDAE": {"epochs": 100},
    "GAAN": {"epochs": 100},
    "CoLA": {"epochs": 100, "n_rounds": 64, "batch_size": 32, "lr": 1e-2},
}


@pytest.fixture(scope="module")
def fitted(planted):
    graph, _ = planted
    return {name: getattr(deepad, name)(random_state=0, **params).fit(graph)
            for name, params in CASES.items()}


# GAAN is left out: on this graph its scores do not rank the planted outliers first
# (AUC-ROC 0.38 at seed 0): its attribute term compares a node with a random generated one,
# and copied attributes are not rare in the graph
@pytest.mark.parametrize("name", [n for n in CASES if n != "GAAN"])
def test_planted_anomalies_rank_above_normal_nodes(fitted, planted, name):
    _, y = planted
    scores = fitted[name].decision_scores_
    assert np.isfinite(scores).all()
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(y, scores) >= 0.75, (name, roc_auc_score(y, scores))


@pytest.mark.parametrize("name", list(CASES))
def test_save_load_gives_identical_scores(fitted, planted, name, tmp_path):
    graph, _ = planted
    det = fitted[name]
    det.save(tmp_path / name)
    loaded = deepad.load(tmp_path / name)
    np.testing.assert_array_equal(loaded.decision_function(graph), det.decision_function(graph))
    np.testing.assert_allclose(det.decision_function(graph), det.decision_scores_, rtol=1e-5)


def test_same_seed_same_scores(planted):
    graph, _ = planted
    a = deepad.CoLA(epochs=2, n_rounds=4, random_state=3).fit(graph).decision_scores_
    b = deepad.CoLA(epochs=2, n_rounds=4, random_state=3).fit(graph).decision_scores_
    np.testing.assert_array_equal(a, b)


def test_anomalydae_is_transductive(fitted, planted):
    graph, _ = planted
    other = check_graph((graph.x[:-1].copy(), graph.edge_index[:, graph.edge_index.max(0) < 119]))
    with pytest.raises(ValueError, match="transductive"):
        fitted["AnomalyDAE"].decision_function(other)
    # an inductive one scores the other graph
    assert fitted["DOMINANT"].decision_function(other).shape == (N_NODES - 1,)


def test_rows_are_refused():
    with pytest.raises((ValueError, TypeError), match="graph"):
        deepad.DOMINANT(epochs=1).fit(np.random.default_rng(0).normal(size=(20, 3)))


def test_pygod_runs_through_the_full_graph_loader(planted):
    pytest.importorskip("pygod")
    from deepad.bench.peer_compat import FullGraphLoader, full_graph_loader
    from deepad.bench.peers import PyGODGraph, peer_class

    cls = peer_class("pygod", "DOMINANT")
    import pygod.detector.base as base

    assert base.NeighborLoader is FullGraphLoader and full_graph_loader() == []
    graph, y = planted
    torch.manual_seed(0)
    scores = PyGODGraph(cls(epoch=20, gpu=-1)).fit(graph).decision_function(graph)
    assert scores.shape == (N_NODES,) and np.isfinite(scores).all()
    data = PyGODGraph.as_data(graph)
    with pytest.raises(NotImplementedError, match="pyg-lib"):
        FullGraphLoader(data, [5, 5], batch_size=N_NODES)
    batch, = list(FullGraphLoader(data, [-1, -1], batch_size=N_NODES))
    assert batch.batch_size == N_NODES and batch.n_id.tolist() == list(range(N_NODES))
    assert torch.equal(batch.edge_index, data.edge_index)
