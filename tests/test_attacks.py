"""The adversarial attacks (FGSM, BIM, PGD-L∞, CW-L2) on a small trained classifier: they stay
in their budget and the valid range, raise the loss and flip predictions, and refuse bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deepad.detectors.related.attacks import (
    attack_success_rate,
    bim,
    carlini_wagner_l2,
    fgsm,
    pgd,
    predict,
    run_attack,
)


@pytest.fixture(scope="module")
def trained():
    """A 20-32-3 MLP trained on three classes of points in [0, 1]^20; 300 test points."""
    gen = torch.Generator().manual_seed(0)
    means = torch.rand(3, 20, generator=gen) * 0.3 + 0.35
    y = torch.arange(900) % 3
    x = (means[y] + 0.08 * torch.randn(900, 20, generator=gen)).clamp(0, 1)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 3))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(x[:600]), y[:600]).backward()
        opt.step()
    model.zero_grad(set_to_none=True)
    x_test, y_test = x[600:], y[600:]
    assert float((predict(model, x_test) == y_test).double().mean()) > 0.97
    return model, x_test, y_test


def ce(model, x, y):
    with torch.no_grad():
        return float(F.cross_entropy(model(x), y))


def seeded_pgd(model, x, y, eps, **options):
    return pgd(model, x, y, eps, generator=torch.Generator().manual_seed(0), **options)


@pytest.mark.parametrize("attack", [fgsm, bim, seeded_pgd])
def test_linf_attacks_stay_in_budget_and_raise_the_loss(trained, attack):
    model, x, y = trained
    eps = 0.1
    adv = attack(model, x, y, eps)
    assert adv.shape == x.shape and adv.dtype == x.dtype
    assert float((adv - x).abs().max()) <= eps + 1e-6
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    assert ce(model, adv, y) > 10 * ce(model, x, y) + 0.2
    assert attack_success_rate(model, adv, y) > 0.3
    assert all(p.grad is None for p in model.parameters())


def test_iterative_attacks_beat_one_step(trained):
    model, x, y = trained
    one = attack_success_rate(model, fgsm(model, x, y, 0.08), y)
    many = attack_success_rate(model, seeded_pgd(model, x, y, 0.08, n_steps=20), y)
    assert many >= one
    assert many > 0.5


def test_pgd_random_start_is_seeded_and_bim_is_deterministic(trained):
    model, x, y = trained
    a = run_attack("pgd", model, x[:20], y[:20], eps=0.1, seed=3, n_steps=2)
    b = run_attack("pgd", model, x[:20], y[:20], eps=0.1, seed=3, n_steps=2)
    c = run_attack("pgd", model, x[:20], y[:20], eps=0.1, seed=4, n_steps=2)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    torch.testing.assert_close(bim(model, x[:20], y[:20], 0.1, n_steps=2),
                               bim(model, x[:20], y[:20], 0.1, n_steps=2))


def test_cw_l2_flips_predictions_with_small_perturbations(trained):
    model, x, y = trained
    x, y = x[:60], y[:60]
    adv = carlini_wagner_l2(model, x, y, binary_search_steps=4, max_iterations=100, lr=0.05)
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    flipped = predict(model, adv) != y
    assert float(flipped.double().mean()) > 0.9
    l2 = (adv - x).reshape(len(x), -1).norm(dim=1)
    # the smallest-L2 success: well inside the distance between class means (about 0.6)
    assert float(l2[flipped].median()) < 0.5
    # FGSM at the same median L∞ budget, for scale: CW's L2 is smaller than FGSM's
    linf = float((adv - x).abs().amax(dim=1)[flipped].median())
    l2_fgsm = (fgsm(model, x, y, linf) - x).reshape(len(x), -1).norm(dim=1)
    assert float(l2[flipped].median()) < float(l2_fgsm.median())
    # a sample no round flips comes back unchanged
    torch.testing.assert_close(adv[~flipped], x[~flipped])
    assert all(p.grad is None for p in model.parameters())


def test_attacks_restore_the_model_mode(trained):
    model, x, y = trained
    model.train()
    fgsm(model, x[:5], y[:5], 0.1)
    assert model.training
    model.eval()


@pytest.mark.parametrize(("call", "match"), [
    (lambda m, x, y: fgsm(m, x * 3, y, 0.1), r"\[0, 1\]"),
    (lambda m, x, y: fgsm(m, x, y, 0.0), "eps"),
    (lambda m, x, y: pgd(m, x, y, 0.1, n_steps=0), "n_steps"),
    (lambda m, x, y: fgsm(m, x, y[:3], 0.1), "one class label"),
    (lambda m, x, y: run_attack("deepfool", m, x, y), "attack must be one of"),
    (lambda m, x, y: run_attack("fgsm", m, x, y), "needs eps"),
    (lambda m, x, y: carlini_wagner_l2(m, x, y, max_iterations=0), "max_iterations")])
def test_bad_input_raises(trained, call, match):
    model, x, y = trained
    with pytest.raises(ValueError, match=match):
        call(model, x[:10], y[:10])


def test_integer_input_is_refused(trained):
    model, x, y = trained
    with pytest.raises(TypeError, match="float tensor"):
        fgsm(model, (x[:4] * 255).to(torch.uint8), y[:4], 0.1)


def test_as_tensor_scales_uint8():
    from deepad.detectors.related.attacks import as_tensor

    np.testing.assert_allclose(as_tensor(np.array([[0, 255]], dtype=np.uint8)).numpy(),
                               [[0.0, 1.0]])
