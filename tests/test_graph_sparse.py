"""The sparse-matmul GNN layers, SGC, and GAAN's whole-row structure score (exact and
column-sampled): the same numbers as PyG's layers and as the dense formula they replace."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pyg_nn = pytest.importorskip("torch_geometric.nn")

from deepad.nets.graph import (  # noqa: E402
    SGCInput,
    _conv,
    input_linear,
    propagation_matrix,
    sparse_attributes,
)
from deepad.nets.graph_objectives import (  # noqa: E402
    row_bce_structure_error,
    undirected_half,
)


def _graph(n=40, m=150, seed=0):
    generator = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, n - 3, (2, m), generator=generator)  # 3 isolated nodes
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    edge_index = torch.unique(torch.cat([edge_index, edge_index.flip(0)], 1), dim=1)
    return edge_index, generator


@pytest.mark.parametrize(("kind", "in_dim", "out_dim"),
                         [("gcn", 30, 6), ("gcn", 4, 12), ("sage", 30, 6), ("sage", 4, 12)])
@pytest.mark.parametrize("bias", [True, False])
def test_sparse_layers_equal_pyg(kind, in_dim, out_dim, bias):
    edge_index, generator = _graph()
    torch.manual_seed(0)
    ours = _conv(kind, in_dim, out_dim, bias, "relu")
    reference = (pyg_nn.GCNConv(in_dim, out_dim, bias=bias) if kind == "gcn"
                 else pyg_nn.SAGEConv(in_dim, out_dim, aggr="mean", bias=bias))
    reference.load_state_dict(ours.state_dict())  # same parameters, same names
    x = torch.randn(40, in_dim, generator=generator)
    x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ours, out_ref = ours(x_ours, edge_index), reference(x_ref, edge_index)
    torch.testing.assert_close(out_ours, out_ref, rtol=1e-5, atol=1e-5)
    out_ours.pow(2).sum().backward()
    out_ref.pow(2).sum().backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, rtol=1e-4, atol=1e-5)
    for (name, p_ours), p_ref in zip(ours.named_parameters(), reference.parameters(),
                                     strict=True):
        torch.testing.assert_close(p_ours.grad, p_ref.grad, rtol=1e-4, atol=1e-5, msg=name)


def _sparse_x(n, d, generator):
    x = torch.randn(n, d, generator=generator)
    return x * (torch.rand(n, d, generator=generator) < 0.05)  # 5 % non-zero: sparse path


@pytest.mark.parametrize("kind", ["gcn", "sage"])
def test_sparse_attributes_give_pyg_values_and_gradients(kind):
    edge_index, generator = _graph()
    torch.manual_seed(0)
    ours = _conv(kind, 60, 6, True, "relu")
    reference = (pyg_nn.GCNConv(60, 6) if kind == "gcn"
                 else pyg_nn.SAGEConv(60, 6, aggr="mean"))
    reference.load_state_dict(ours.state_dict())
    x = _sparse_x(40, 60, generator)
    assert sparse_attributes(x) is not None
    out_ours, out_ref = ours(x, edge_index), reference(x, edge_index)
    torch.testing.assert_close(out_ours, out_ref, rtol=1e-5, atol=1e-5)
    out_ours.pow(2).sum().backward()
    out_ref.pow(2).sum().backward()
    for (name, p_ours), p_ref in zip(ours.named_parameters(), reference.parameters(),
                                     strict=True):
        torch.testing.assert_close(p_ours.grad, p_ref.grad, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("transpose", [False, True])
def test_input_linear_equals_dense_product(transpose):
    _, generator = _graph()
    x = _sparse_x(40, 60, generator)
    linear = torch.nn.Linear(40 if transpose else 60, 7)
    out = input_linear(x, linear.weight, linear.bias, transpose=transpose)
    out.sum().backward()
    grad = linear.weight.grad.clone()
    linear.weight.grad = None
    expected = linear(x.T if transpose else x)
    expected.sum().backward()
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad, linear.weight.grad, rtol=1e-5, atol=1e-5)
    dense = torch.ones(5, 60)
    assert sparse_attributes(dense) is None  # dense attributes take torch's linear
    assert sparse_attributes(x.clone().requires_grad_()) is None  # attributions: dense


def test_propagation_matrix_is_cached_per_edge_tensor():
    edge_index, _ = _graph()
    first = propagation_matrix(edge_index, 40, "gcn")
    assert propagation_matrix(edge_index, 40, "gcn") is first
    assert propagation_matrix(edge_index.clone(), 40, "gcn") is not first


def test_row_bce_structure_error_equals_dense_bce():
    edge_index, generator = _graph()
    z = 0.5 * torch.randn(40, 5, generator=generator)  # no pair saturates in float32
    adjacency = torch.zeros(40, 40)
    adjacency[edge_index[0], edge_index[1]] = 1
    dense = torch.nn.functional.binary_cross_entropy(
        torch.sigmoid(z @ z.T), adjacency, reduction="none").sum(1).sqrt()
    torch.testing.assert_close(row_bce_structure_error(z, edge_index, block_entries=90), dense,
                               rtol=1e-4, atol=1e-4)
    # saturated pairs are clamped at 100 each, as binary_cross_entropy clamps its logs
    far = row_bce_structure_error(z * 1e3, edge_index)
    assert torch.isfinite(far).all()
    assert float(far.max()) <= (100 * 40) ** 0.5 + 1e-3


def test_row_bce_structure_error_sampled_columns():
    edge_index, generator = _graph(n=400, m=2000)
    z = 0.5 * torch.randn(400, 5, generator=generator)
    exact = row_bce_structure_error(z, edge_index)
    # as many columns as nodes (or more): the exact sum
    torch.testing.assert_close(row_bce_structure_error(z, edge_index, n_columns=400), exact)

    def sampled(seed):
        return row_bce_structure_error(z, edge_index, n_columns=200,
                                       generator=torch.Generator().manual_seed(seed))

    first = sampled(0)
    torch.testing.assert_close(sampled(0), first)  # the same generator, the same columns
    assert not torch.equal(sampled(1), first)
    # an unbiased estimate of the whole row from half of its columns: close to the exact value
    assert float(((first - exact).abs() / exact).max()) < 0.05
    # rows that differ (embeddings of different norms) keep their order
    wide = z * torch.linspace(0.2, 3.0, 400)[:, None]
    estimate = row_bce_structure_error(wide, edge_index, n_columns=200,
                                       generator=torch.Generator().manual_seed(0))
    exact = row_bce_structure_error(wide, edge_index)
    assert torch.corrcoef(torch.stack([estimate, exact]))[0, 1] > 0.99


def test_gaan_samples_the_structure_score_above_its_node_threshold(monkeypatch, tmp_path):
    import numpy as np

    import deepad
    from deepad.detectors.generic_normality import gaan

    edge_index, generator = _graph(n=300, m=1500)
    x = torch.randn(300, 4, generator=generator).numpy()
    graph = (x, edge_index.numpy())
    exact = deepad.GAAN(epochs=3, random_state=0).fit(graph)
    monkeypatch.setattr(gaan, "EXACT_STRUCTURE_NODES", 100)
    monkeypatch.setattr(gaan, "STRUCTURE_COLUMNS", 150)
    sampled = deepad.GAAN(epochs=3, random_state=0).fit(graph)
    assert np.isfinite(sampled.decision_scores_).all()
    assert not np.allclose(sampled.decision_scores_, exact.decision_scores_)
    # the same networks (training does not score): close to the exact scores, and ranked alike
    assert np.corrcoef(sampled.decision_scores_, exact.decision_scores_)[0, 1] > 0.95
    sampled.save(tmp_path / "gaan")
    np.testing.assert_allclose(deepad.load(tmp_path / "gaan").decision_function(graph),
                               sampled.decision_function(graph), rtol=1e-6)


def test_sgc_input_is_the_propagated_linear_map():
    edge_index, generator = _graph()
    adjacency = torch.eye(40)
    adjacency[edge_index[0], edge_index[1]] = 1
    d = adjacency.sum(1).rsqrt()
    s = d[:, None] * adjacency * d[None, :]
    x = torch.randn(40, 6, generator=generator)
    for width in (3, 16):  # projected first (narrowing) or propagated first (widening)
        layer = SGCInput(6, width)
        expected = s @ s @ x @ layer.lin.weight.T + layer.lin.bias
        torch.testing.assert_close(layer(x, edge_index), expected, rtol=1e-5, atol=1e-5)
    encoder = _conv("sgc", 16, 4, True, "relu", first=False)
    torch.testing.assert_close(encoder(x[:, :4].repeat(1, 4), edge_index),
                               torch.nn.functional.linear(x[:, :4].repeat(1, 4),
                                                          encoder.weight, encoder.bias))


def test_undirected_half_keeps_each_edge_once_and_the_mean_loss():
    edge_index, generator = _graph()
    half = undirected_half(edge_index)
    assert half.shape[1] * 2 == edge_index.shape[1]
    assert bool((half[0] < half[1]).all())
    z = torch.randn(40, 5, generator=generator)
    loss = torch.nn.functional.softplus(-(z[edge_index[0]] * z[edge_index[1]]).sum(1)).mean()
    on_half = torch.nn.functional.softplus(-(z[half[0]] * z[half[1]]).sum(1)).mean()
    torch.testing.assert_close(on_half, loss)
    directed = edge_index[:, :-1]  # one direction missing: not halved
    assert undirected_half(directed) is directed
