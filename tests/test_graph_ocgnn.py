"""OCGNN (the release's network and settings), CoLA's scoring rounds on large graphs, and
deepad's AnomalyDAE against PyGOD's with the same weights."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch_geometric")

import torch  # noqa: E402

import deepad  # noqa: E402
from deepad.data.graph import check_graph  # noqa: E402
from deepad.detectors.generic_normality import cola as cola_module  # noqa: E402
from deepad.detectors.measure_normality.ocgnn import RADIUS_EVERY  # noqa: E402
from deepad.metrics import auc_roc  # noqa: E402
from deepad.nets.graph import SelfWeightedSAGEConv  # noqa: E402


def small_graph(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random undirected graph without self-loops: its dense adjacency and edge list."""
    generator = torch.Generator().manual_seed(seed)
    upper = torch.triu((torch.rand(n, n, generator=generator) < 0.12).float(), diagonal=1)
    adjacency = upper + upper.T
    return adjacency, adjacency.nonzero().T.contiguous()


@pytest.mark.parametrize(("in_dim", "out_dim"), [(12, 5), (5, 12)])
def test_release_layer_is_dgl_gcn_aggregation_with_self_loops(in_dim, out_dim):
    """``W (2 h_v + Σ_{u∈N(v)} h_u) / (deg(v) + 2) + b``, values and gradients, whether the
    layer narrows (product first) or widens (average first)."""
    adjacency, edge_index = small_graph()
    torch.manual_seed(0)
    x = torch.randn(len(adjacency), in_dim, requires_grad=True)
    layer = SelfWeightedSAGEConv(in_dim, out_dim, bias=True, dropout=0.0)
    layer.bias.data.normal_()
    out = layer(x, edge_index)
    degree = adjacency.sum(1, keepdim=True)
    expected = layer.lin((adjacency @ x + 2 * x) / (degree + 2)) + layer.bias
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    (grad,) = torch.autograd.grad(out.square().sum(), x)
    (grad_expected,) = torch.autograd.grad(expected.square().sum(), x)
    torch.testing.assert_close(grad, grad_expected, atol=1e-5, rtol=1e-5)


def planted(seed: int = 0):
    """Two communities of 100 nodes, 10 of them with attributes shifted by ±3."""
    rng = np.random.default_rng(seed)
    n = 200
    community = rng.integers(0, 2, n)
    x = rng.normal(0, 1, (2, 8))[community] + rng.normal(0, 0.3, (n, 8))
    same = community[:, None] == community[None, :]
    edges = np.argwhere(np.triu(rng.random((n, n)) < np.where(same, 0.06, 0.004), k=1)).T
    y = np.zeros(n, dtype=np.int64)
    outliers = rng.choice(n, 10, replace=False)
    x[outliers] += rng.choice([-3.0, 3.0], size=(10, 8))
    y[outliers] = 1
    return check_graph((x.astype(np.float32), edges)), y


def one_community(seed: int = 0):
    """200 nodes of one Gaussian community (random edges), 10 with attributes shifted ±3."""
    rng = np.random.default_rng(seed)
    n = 200
    x = rng.normal(0, 1, (n, 8))
    edges = np.argwhere(np.triu(rng.random((n, n)) < 0.03, k=1)).T
    y = np.zeros(n, dtype=np.int64)
    outliers = rng.choice(n, 10, replace=False)
    x[outliers] += rng.choice([-3.0, 3.0], size=(10, 8))
    y[outliers] = 1
    return check_graph((x.astype(np.float32), edges)), y


def test_ocgnn_defaults_rank_planted_outliers_and_keep_the_release_settings():
    graph, y = one_community()
    detector = deepad.OCGNN(random_state=0).fit(graph)
    # the 10-epoch default (chosen on planted graphs) ranks them well above chance, not first
    assert auc_roc(y, detector.decision_scores_) >= 0.65
    optimizer = detector.configure_optimizers()[0]
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.defaults["weight_decay"] == 5e-4 and optimizer.defaults["lr"] == 1e-3
    convs = detector.model_.encoder.convs
    assert [(c.lin.in_features, c.lin.out_features) for c in convs] == [(8, 64), (64, 64),
                                                                         (64, 32)]
    assert all(c.bias is not None for c in convs)
    # the score is Deep SVDD's soft-boundary score ||φ(v) − c||² − R², with R the
    # (1 − ν)-quantile of the distances: about a share ν of the nodes lies outside the sphere
    assert float(detector.model_.radius) > 0
    assert abs((detector.decision_scores_ > 0).mean() - detector.nu) <= 0.1


def test_ocgnn_radius_is_set_every_fifth_epoch():
    graph, _ = planted()
    detector = deepad.OCGNN(epochs=12, hidden_dims=(8,), rep_dim=4, random_state=0).fit(graph)
    with_radius = [i for i, record in enumerate(detector.history_) if "radius" in record]
    assert with_radius == list(range(0, 12, RADIUS_EVERY))


def test_ocgnn_refuses_rows_and_bad_dropout():
    rows = np.random.default_rng(0).normal(size=(30, 4))
    with pytest.raises((ValueError, TypeError), match="graph"):
        deepad.OCGNN(epochs=1).fit(rows)
    graph, _ = planted()
    with pytest.raises(ValueError, match="dropout"):
        deepad.OCGNN(dropout=1.0, epochs=1).fit(graph)


def test_ocgnn_library_backbones_build():
    graph, _ = planted()
    detector = deepad.OCGNN(backbone="gcn", bias=False, epochs=2, random_state=0).fit(graph)
    assert detector.decision_scores_.shape == (200,)
    assert all(p.dim() > 1 for p in detector.model_.encoder.parameters())  # no bias vectors


def test_cola_rounds_fall_above_the_threshold_only():
    rounds = cola_module.scoring_rounds
    assert rounds(256, 13_533) == 256 and rounds(256, cola_module.EXACT_ROUNDS_NODES) == 256
    assert rounds(256, 100_000) == 51 and rounds(4, 10**9) == 1


def test_cola_large_graph_scores_with_the_reduced_rounds(monkeypatch):
    """Above the threshold a scoring pass is the pass of ``scoring_rounds(...)`` rounds."""
    graph, _ = planted()
    detector = deepad.CoLA(epochs=1, n_rounds=8, hidden_dims=(8,), random_state=0).fit(graph)
    full = detector.decision_function(graph)
    monkeypatch.setattr(cola_module, "EXACT_ROUNDS_NODES", 50)  # 200 nodes: 8 · 50 // 200 = 2
    reduced = detector.decision_function(graph)
    assert not np.allclose(full, reduced)
    monkeypatch.setattr(cola_module, "EXACT_ROUNDS_NODES", 20_000)
    two_rounds = detector.set_params(n_rounds=2).decision_function(graph)
    np.testing.assert_allclose(reduced, two_rounds, rtol=1e-6, atol=1e-6)


def test_anomalydae_equals_pygod_with_the_same_weights():
    """deepad's AnomalyDAE network and score against PyGOD 1.1.0's AnomalyDAEBase and its
    ``double_recon_loss`` with the weights copied over (α, θ, η not at their defaults)."""
    pytest.importorskip("pygod")
    from pygod.nn.anomalydae import AnomalyDAEBase
    from pygod.nn.functional import double_recon_loss

    from deepad.nets.graph import GraphBatch

    graph, _ = planted()
    alpha, theta, eta = 0.3, 2.0, 3.0
    detector = deepad.AnomalyDAE(epochs=1, alpha=alpha, theta=theta, eta=eta, random_state=0)
    detector.fit(graph)
    net = detector.model_.eval()
    x = torch.as_tensor(graph.x).abs()  # non-negative attributes: η's positive weight applies
    edge_index = torch.as_tensor(graph.edge_index)
    theirs = AnomalyDAEBase(in_dim=x.shape[1], num_nodes=len(x), emb_dim=64, hid_dim=64).eval()
    theirs.dense_stru.load_state_dict(net.structure_in.state_dict())
    theirs.gat_layer.load_state_dict(net.attention.convs[0].state_dict())
    theirs.dense_attr_1.load_state_dict(net.attribute_in.state_dict())
    theirs.dense_attr_2.load_state_dict(net.attribute_out.state_dict())
    with torch.no_grad():
        x_hat, s_hat = theirs(x, edge_index, len(x))
        adjacency = torch.zeros(len(x), len(x))
        adjacency[edge_index[0], edge_index[1]] = 1.0
        expected = double_recon_loss(x, x_hat, adjacency, s_hat, 1 - alpha, eta / (1 + eta),
                                     theta / (1 + theta))
        batch = GraphBatch(x, edge_index, torch.arange(len(x)))
        ours = detector._score(batch)
    torch.testing.assert_close(ours, expected, atol=1e-4, rtol=1e-4)
