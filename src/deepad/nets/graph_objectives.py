"""Reconstruction errors, edge losses and samplers shared by the graph-native detectors
(DOMINANT, AnomalyDAE, CONAD, GAAN, CoLA), in plain torch on an ``edge_index``.

The adjacency matrix ``S`` of a graph of ``n`` nodes is never materialised as a dense
``n x n`` tensor. The methods' per-node errors are sums over a whole row of ``S``; each is
rewritten as a sum over the node's edges plus a term over all nodes that needs no ``S``:

- :func:`gram_structure_error` (DOMINANT, CONAD: ``Ŝ = H Hᵀ``, no sigmoid):
  ``Σ_j (s_ij - h_i·h_j)² = Σ_j s_ij² - 2 h_i·Σ_j s_ij h_j + h_iᵀ (HᵀH) h_i``, exact, in
  ``O(|E| d + n d²)`` time and ``O(n d)`` memory instead of ``O(n² d)`` and ``O(n²)``;
- :func:`sigmoid_structure_error` (AnomalyDAE: ``Ŝ = σ(Z Zᵀ)``): the all-pairs term
  ``Σ_j σ(z_i·z_j)²`` has no closed form, so it is computed in blocks of rows, each block
  recomputed in the backward pass (activation checkpointing): ``O(n² d)`` time as the
  dense form, ``O(block · n)`` memory;
- :func:`edge_bce_error` (cross-entropy on the node's real edges only): a sum over edges;
- :func:`row_bce_structure_error` (GAAN's structure score, cross-entropy over the whole row):
  the all-pairs term in blocks of rows, ``O(n² d)``, or estimated from a uniform sample of
  columns, ``O(n m d)``.

Every function takes the graph's ``edge_index`` (2, |E|) as given: each listed pair is one
entry ``s_ij = 1`` (a pair listed twice counts twice, as in a dense matrix built by adding
entries); the detectors pass the validated, symmetrised and coalesced graph.
"""

from __future__ import annotations

import weakref

import torch
from torch.utils.checkpoint import checkpoint

SIGMOID_BLOCK_ENTRIES = 2**23
"""Entries of ``σ(Z Zᵀ)`` held at once by :func:`sigmoid_structure_error` (8M floats, 32 MB);
a graph whose pairs fit in one block (up to 2,896 nodes) is computed in one piece, without
recomputation."""


def row_norm(squared: torch.Tensor) -> torch.Tensor:
    """``sqrt`` of a per-row sum of squares, clamped at a tiny positive value so that a
    zero error has a finite gradient (the square root's derivative is infinite at 0)."""
    return squared.clamp_min(1e-12).sqrt()


def attribute_error(x: torch.Tensor, x_hat: torch.Tensor, pos_weight: float = 0.5) -> torch.Tensor:
    """Per-node attribute reconstruction error ``‖(x_i - x̂_i) ⊙ η_i‖₂`` (shape (n,)).

    ``pos_weight`` η weights the squared errors of the non-zero attributes, ``1 - η`` those of
    the zero ones (AnomalyDAE's penalty on non-zero elements, normalised to sum to 1); 0.5
    weighs all equally and is the plain Euclidean error (DOMINANT, CONAD).
    """
    squared = (x - x_hat).pow(2)
    if pos_weight != 0.5:
        squared = torch.where(x > 0, squared * pos_weight, squared * (1 - pos_weight))
    return row_norm(squared.sum(dim=1))


def _edge_counts(edge_index: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    ones = torch.ones(edge_index.shape[1], dtype=dtype, device=edge_index.device)
    return torch.zeros(n, dtype=dtype, device=edge_index.device).index_add_(0, edge_index[0], ones)


def gram_structure_error(h: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
    """``‖s_i - ŝ_i‖₂`` with ``Ŝ = H Hᵀ`` for every node (shape (n,)), without forming ``Ŝ``.

    ``Σ_j (s_ij - h_i·h_j)² = Σ_j s_ij² - 2 h_i·(Σ_j s_ij h_j) + h_iᵀ (HᵀH) h_i``; with binary
    entries ``Σ_j s_ij² = Σ_j s_ij`` (the number of listed edges leaving i). Exact up to float
    rounding (tested against the dense form).
    """
    n = h.shape[0]
    src, dst = edge_index
    counts = _edge_counts(edge_index, n, h.dtype)  # Σ_j s_ij² for 0/1 entries listed once
    neighbour_sum = torch.zeros_like(h).index_add_(0, src, h[dst])  # Σ_j s_ij h_j
    gram = h.T @ h  # (d, d)
    squared = counts - 2 * (h * neighbour_sum).sum(1) + ((h @ gram) * h).sum(1)
    return row_norm(squared)


def _sigmoid_square_rows(block: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(block @ z.T).pow(2).sum(dim=1)


def sigmoid_structure_error(z: torch.Tensor, edge_index: torch.Tensor,
                            pos_weight: float = 0.5, rows: torch.Tensor | None = None,
                            block_entries: int = SIGMOID_BLOCK_ENTRIES) -> torch.Tensor:
    """``‖(s_i - ŝ_i) ⊙ θ_i‖₂`` with ``Ŝ = σ(Z Zᵀ)`` for the nodes ``rows`` (all by default),
    shape ``(len(rows),)``.

    ``pos_weight`` θ weights the squared errors of the entries ``s_ij = 1``, ``1 - θ`` those of
    the zero entries. Written as ``(1-θ) Σ_j p_ij² + Σ_{j: s_ij=1} [θ (1 - p_ij)² - (1-θ) p_ij²]``
    with ``p_ij = σ(z_i·z_j)``: the first sum runs over all pairs in blocks of rows (each block
    recomputed in the backward pass, so memory stays ``O(block_entries)``), the second over
    the edges.
    """
    n = z.shape[0]
    picked = z if rows is None else z[rows]
    step = max(1, block_entries // max(n, 1))
    parts = []
    for start in range(0, picked.shape[0], step):
        block = picked[start:start + step]
        if torch.is_grad_enabled() and z.requires_grad and step < picked.shape[0]:
            parts.append(checkpoint(_sigmoid_square_rows, block, z, use_reentrant=False))
        else:
            parts.append(_sigmoid_square_rows(block, z))
    all_pairs = torch.cat(parts) if parts else z.new_zeros(0)
    w_pos, w_neg = (pos_weight, 1 - pos_weight) if pos_weight != 0.5 else (1.0, 1.0)
    src, dst = edge_index
    p = torch.sigmoid((z[src] * z[dst]).sum(1))
    correction = w_pos * (1 - p).pow(2) - w_neg * p.pow(2)
    on_edges = torch.zeros(n, dtype=z.dtype, device=z.device).index_add_(0, src, correction)
    if rows is not None:
        on_edges = on_edges[rows]
    return row_norm(w_neg * all_pairs + on_edges)


def edge_bce_error(z: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
    """GAAN's structure error of every node: ``sqrt(Σ_{j: s_ij = 1} -log σ(z_i·z_j))``, the
    discriminator's cross-entropy on the node's real edges (shape (n,)); 0 for a node
    without edges."""
    src, dst = edge_index
    loss = torch.nn.functional.softplus(-(z[src] * z[dst]).sum(1))  # -log σ(·), stable
    per_node = torch.zeros(z.shape[0], dtype=z.dtype, device=z.device).index_add_(0, src, loss)
    return row_norm(per_node)


BCE_LOG_FLOOR = 100.0
"""``torch.nn.functional.binary_cross_entropy`` clamps its logs at -100, so one pair's term is
at most 100; :func:`row_bce_structure_error` clamps the same way (PyGOD's GAAN score)."""


def _bce_rows(block: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    # -log(1 - σ(l)) = softplus(l) for every pair, as if no pair were an edge
    return torch.nn.functional.softplus(block @ z.T).clamp(max=BCE_LOG_FLOOR).sum(dim=1)


def row_bce_structure_error(z: torch.Tensor, edge_index: torch.Tensor,
                            block_entries: int = SIGMOID_BLOCK_ENTRIES, *,
                            n_columns: int | None = None,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """``sqrt(Σ_j BCE(σ(z_i·z_j), s_ij))`` over the whole row ``j = 1..n`` (the node itself
    included, ``s_ii = 0``) of every node, each pair's term clamped at 100 as
    ``binary_cross_entropy`` does: the discriminator's confidence that the node's real
    adjacency row is real, PyGOD's GAAN structure score (``double_recon_loss`` with
    ``bce_s=True``). Computed as ``Σ_j -log(1 - p_ij)`` in blocks of rows plus, on the edges,
    ``-log p_ij + log(1 - p_ij)``: ``O(n² d)`` time, ``O(block_entries)`` memory, no gradient
    kept through the blocks (a score, not a loss).

    ``n_columns`` (None: every column): when smaller than ``n``, the all-pairs sum
    ``Σ_j -log(1 - p_ij)`` is estimated as ``n / m · Σ_{j ∈ C} -log(1 - p_ij)`` over ``m =
    n_columns`` columns ``C`` drawn uniformly without replacement from ``generator`` (the same
    columns for every row; an unbiased estimate), while the edge terms stay exact: ``O(n m d)``
    time instead of ``O(n² d)``."""
    n = z.shape[0]
    with torch.no_grad():
        columns = z
        scale = 1.0
        if n_columns is not None and 0 < n_columns < n:
            pick = torch.randperm(n, generator=generator)[:n_columns].to(z.device)
            columns, scale = z[pick], n / n_columns
        step = max(1, block_entries // max(columns.shape[0], 1))
        all_pairs = torch.cat([_bce_rows(z[start:start + step], columns)
                               for start in range(0, n, step)]) if n else z.new_zeros(0)
        src, dst = edge_index
        logit = (z[src] * z[dst]).sum(1)
        softplus = torch.nn.functional.softplus
        correction = (softplus(-logit).clamp(max=BCE_LOG_FLOOR)
                      - softplus(logit).clamp(max=BCE_LOG_FLOOR))
        on_edges = torch.zeros(n, dtype=z.dtype, device=z.device).index_add_(0, src, correction)
    return row_norm(scale * all_pairs + on_edges)


_HALVES: dict[int, tuple[weakref.ref, torch.Tensor]] = {}


def undirected_half(edge_index: torch.Tensor) -> torch.Tensor:
    """The pairs ``(u, v)`` with ``u < v`` of an edge list that lists every edge in both
    directions and has no self-loops (a validated graph), else ``edge_index`` itself.

    A loss that averages a symmetric function of an edge's two ends (GAAN's ``σ(z_u·z_v)``)
    has the same mean over either list, at half the cost. Cached per tensor (weakly)."""
    entry = _HALVES.get(id(edge_index))
    if entry is not None and entry[0]() is edge_index:
        return entry[1]
    src, dst = edge_index
    half = edge_index
    upper = src < dst
    if edge_index.shape[1] and int(upper.sum()) * 2 == edge_index.shape[1]:
        n = int(edge_index.max()) + 1
        forward = torch.sort(src * n + dst).values
        backward = torch.sort(dst * n + src).values
        if torch.equal(forward, backward):
            half = edge_index[:, upper]
    _HALVES[id(edge_index)] = (weakref.ref(edge_index), half)
    weakref.finalize(edge_index, _HALVES.pop, id(edge_index), None)
    return half


def csr(edge_index: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(rowptr, col)``: the edges sorted by source node, and where each node's run starts."""
    src, dst = edge_index
    order = torch.argsort(src * n + dst)
    counts = torch.bincount(src, minlength=n)
    rowptr = torch.zeros(n + 1, dtype=torch.long, device=src.device)
    rowptr[1:] = torch.cumsum(counts, 0)
    return rowptr, dst[order]


def sample_neighbours(rowptr: torch.Tensor, col: torch.Tensor, nodes: torch.Tensor, k: int,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """``k`` context nodes per node of ``nodes`` (shape (len(nodes), k)), for CoLA's local
    subgraphs.

    Distinct first-order neighbours, each equally likely (``k`` drawn at random from a
    window of at most ``8k`` consecutive neighbours starting at a random one); a node with fewer
    than ``k`` neighbours is completed with second-order nodes (a random neighbour of a
    random neighbour, which may repeat), and a node without neighbours with itself (its
    context is then the anonymised target alone). All draws come from ``generator``.
    """
    m = len(nodes)
    start = rowptr[nodes]
    degree = rowptr[nodes + 1] - start
    # k distinct neighbours: rank each neighbour by a random key, keep the k smallest
    out = nodes.unsqueeze(1).repeat(1, k)
    if col.numel() and m:
        max_degree = int(degree.max())
        width = min(max_degree, max(k, 1) * 8) if max_degree > 0 else 0
        if width:
            # a random window of `width` consecutive neighbours (cyclic), then k random of it
            spread = degree.clamp_min(1)
            offset = (torch.rand(m, generator=generator) * spread).long()
            pos = (offset.unsqueeze(1) + torch.arange(width).unsqueeze(0)) % spread.unsqueeze(1)
            keys = torch.rand(m, width, generator=generator)
            valid = torch.arange(width).unsqueeze(0) < degree.unsqueeze(1)
            keys = torch.where(valid, keys, torch.full_like(keys, 2.0))
            take = torch.argsort(keys, dim=1)[:, :k]
            chosen = col[(start.unsqueeze(1) + pos.gather(1, take)).clamp_max(len(col) - 1)]
            have = valid.gather(1, take)
            out = torch.where(have, chosen, out)
            # fill the missing slots of nodes with 0 < degree < k from their second order
            missing = ~have & (degree > 0).unsqueeze(1)
            if missing.any():
                rows, slots = missing.nonzero(as_tuple=True)
                owner = nodes[rows]
                first = col[rowptr[owner] + (torch.rand(len(owner), generator=generator)
                                             * degree[rows]).long()]
                first_degree = rowptr[first + 1] - rowptr[first]
                second = col[(rowptr[first] + (torch.rand(len(first), generator=generator)
                                               * first_degree).long()).clamp_max(len(col) - 1)]
                out[rows, slots] = torch.where(first_degree > 0, second, first)
    return out
