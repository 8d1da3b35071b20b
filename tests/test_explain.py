"""deepad.explain: completeness of integrated gradients on every differentiable detector,
attribution shapes per modality, planted features recovered, exact decompositions, the
actionable lines, the TableDetector / SeriesDetector paths and the errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError

pytest.importorskip("captum")
pytest.importorskip("shap")

from deepad import AutoEncoder, DeepSVDD, IsolationForest, SeriesDetector, TableDetector  # noqa: E402
from deepad.data import make_planted_feature_anomalies  # noqa: E402
from deepad.explain import explain  # noqa: E402
from deepad.explain.methods import gradient_adds_up, is_differentiable  # noqa: E402

IG_STEPS = 256  # completeness is exact in the limit; 256 Gauss-Legendre steps get close


def correlated_rows(n: int = 600, seed: int = 0) -> np.ndarray:
    """6 features from 2 latent factors (pairs of strongly correlated features), in [0, 1]."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    X = np.column_stack([z[:, 0], z[:, 0] * 0.9, z[:, 1], -z[:, 1], z[:, 0] + z[:, 1],
                         z[:, 0] - z[:, 1]]) + 0.05 * rng.normal(size=(n, 6))
    return ((X - X.min(0)) / (X.max(0) - X.min(0))).astype(np.float32)


@pytest.fixture(scope="module")
def rows():
    return correlated_rows()


@pytest.fixture(scope="module")
def autoencoder(rows):
    return AutoEncoder(epochs=60, hidden_dims=(16, 2), dropout=0.0, random_state=0).fit(rows)


@pytest.fixture(scope="module")
def svdd(rows):
    return DeepSVDD(epochs=20, random_state=0).fit(rows)


# ---------------------------------------------------------------------------- completeness
def test_integrated_gradients_completeness_every_differentiable_detector(case, fitted,
                                                                         planted_rows):
    """Σ attributions = s(x) − s(baseline) (Sundararajan et al. 2017, completeness) for every
    registered detector whose score is differentiable in its input, on rows."""
    if case.modality != "tabular":
        pytest.skip("completeness is checked on rows")
    detector = fitted(case.cls, "tabular")
    X = planted_rows[0].astype(np.float32)
    if not is_differentiable(detector, X[:2]):
        with pytest.raises(TypeError, match="no gradient"):
            explain(detector, X[-3:], method="integrated_gradients", reference=X[:200])
        assert explain(detector, X[-2:], reference=X[:100]).method == "shap"
        return
    baseline = np.median(X[:300], axis=0)
    if not gradient_adds_up(detector, X[-4:], baseline):
        # part of the score outside autograd (RND's target network) or too steep to
        # integrate (ICL's normalised embeddings near norm 0): auto does not use gradients
        # on these rows, and asking for them warns
        assert explain(detector, X[-4:], reference=X[:300]).method == "shap", case.cls.name
        with pytest.warns(UserWarning, match="misses part of its score"):
            explain(detector, X[-4:], method="saliency", reference=X[:300])
        return
    result = explain(detector, X[-4:], method="integrated_gradients", reference=X[:300],
                     n_steps=IG_STEPS)
    assert result.attributions.shape == (4, X.shape[1])
    gap = result.scores - result.baseline_score
    total = result.attributions.sum(axis=1)
    scale = np.abs(result.scores).max() + abs(result.baseline_score) + 1e-6
    assert np.abs(total - gap).max() <= 0.02 * scale, (case.cls.name, total, gap)


# ---------------------------------------------------------------------------- exact splits
def test_exact_split_sums_to_the_score_and_auto_picks_it(autoencoder, rows):
    result = explain(autoencoder, rows[:20], reference=rows)
    assert result.method == "exact"
    np.testing.assert_allclose(result.attributions.sum(axis=1), result.scores, rtol=1e-4,
                               atol=1e-7)
    assert (result.attributions >= 0).all()  # squared errors


def test_deep_svdd_representation_terms_sum_to_the_distance(svdd, rows):
    result = explain(svdd, rows[:10], reference=rows)
    assert result.method == "integrated_gradients"
    assert result.representation_terms.shape == (10, svdd.rep_dim)
    np.testing.assert_allclose(result.representation_terms.sum(axis=1), result.scores,
                               rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="method='exact' needs"):
        explain(svdd, rows[:3], method="exact", reference=rows)


# ---------------------------------------------------------------------------- ground truth
@pytest.mark.parametrize("kind", ["shift", "scale", "dependency"])
def test_planted_features_ranked_first(autoencoder, rows, kind):
    """One planted feature per row: the exact split puts it first for most rows, also for
    the dependency break (value of another row, within the normal range), because the
    features come in correlated pairs, which the autoencoder learned (random: 1 in 6)."""
    X, labels, mask = make_planted_feature_anomalies(rows, k=1, kind=kind, seed=1,
                                                     n_anomalies=30)
    planted = X[labels == 1].astype(np.float32)
    result = explain(autoencoder, planted, reference=rows[labels == 0])
    top = result.attributions.argmax(axis=1)
    hit = mask[labels == 1][np.arange(len(top)), top].mean()
    print(kind, hit)
    assert hit >= {"shift": 0.9, "scale": 0.7, "dependency": 0.5}[kind], hit


def test_integrated_gradients_find_a_shifted_feature(svdd, rows):
    X, labels, mask = make_planted_feature_anomalies(rows, k=1, kind="shift", seed=2,
                                                     n_anomalies=20)
    result = explain(svdd, X[labels == 1], reference=rows[labels == 0])
    top = result.attributions.argmax(axis=1)
    assert mask[labels == 1][np.arange(len(top)), top].mean() >= 0.9


def test_planted_generator_contract(rows):
    X, labels, mask = make_planted_feature_anomalies(rows, k=2, kind="dependency", seed=0)
    assert labels.sum() == round(0.1 * len(rows)) and mask.sum() == 2 * labels.sum()
    assert (mask.sum(axis=1) == 2 * labels).all()
    np.testing.assert_array_equal(X[~mask], rows.astype(np.float64)[~mask])
    # a dependency break takes values another row holds: the marginals are kept
    for j in range(rows.shape[1]):
        assert np.isin(X[mask[:, j], j], rows[:, j].astype(np.float64)).all()
    again = make_planted_feature_anomalies(rows, k=2, kind="dependency", seed=0)
    np.testing.assert_array_equal(again[0], X)
    with pytest.raises(ValueError, match="kind must be one of"):
        make_planted_feature_anomalies(rows, k=1, kind="swap")
    with pytest.raises(ValueError, match="k must be an integer from 1 to 6"):
        make_planted_feature_anomalies(rows, k=7)


# ---------------------------------------------------------------------------- modalities
def test_every_method_gives_the_input_shape(svdd, rows):
    for method in ("integrated_gradients", "saliency", "gradient_x_input", "deeplift", "shap"):
        result = explain(svdd, rows[:3], method=method, reference=rows)
        assert result.attributions.shape == (3, 6), method
        assert np.isfinite(result.attributions).all(), method


def test_windows_per_step_and_channel_and_the_span():
    rng = np.random.default_rng(0)
    t = np.arange(1500)
    series = np.column_stack([np.sin(t / 8), np.cos(t / 5), 0.1 * rng.normal(size=1500)])
    series = series.astype(np.float32)
    test = series.copy()
    test[900:904, 1] += 4.0  # a spike in channel 1
    model = SeriesDetector(AutoEncoder(epochs=3, random_state=0), window=32,
                           train_stride=4).fit(series[:800])
    result = explain(model, test, windows=[880, 100], reference=series[:800])
    assert result.attributions.shape == (2, 32, 3)
    start, stop, _ = result.span(0)
    assert start <= 900 - 880 and 903 - 880 < stop  # the span covers the spike
    assert 880 + result.attributions[0].sum(axis=1).argmax() in range(900, 904)
    assert result.attributions[0].sum(axis=0).argmax() == 1
    assert "timestamps" in result.lines(0)[0]
    tiles = explain(model, test, reference=series[:800])
    assert tiles.window_starts[0] == 0 and tiles.window_starts[-1] == len(test) - 32


def test_images_per_pixel_and_the_map_matches_anomaly_map():
    rng = np.random.default_rng(0)
    X = (0.2 * rng.random((120, 1, 12, 12))).astype(np.float32)
    patch = X[:2].copy()
    patch[:, 0, 3:6, 3:6] = 1.0
    detector = AutoEncoder(epochs=2, random_state=0).fit(X)
    result = explain(detector, patch, reference=X)
    assert result.method == "exact" and result.attributions.shape == (2, 1, 12, 12)
    np.testing.assert_allclose(result.maps() * 144, detector.anomaly_map(patch), rtol=1e-4,
                               atol=1e-7)
    occlusion = explain(detector, patch, method="occlusion", reference=X)
    assert occlusion.attributions.shape == (2, 1, 12, 12)
    with pytest.raises(ValueError, match="for images use 'occlusion'"):
        explain(detector, patch, method="shap", reference=X)


# ---------------------------------------------------------------------------- tables
def test_table_detector_explains_in_the_users_columns():
    rng = np.random.default_rng(0)
    n = 400
    amount = rng.gamma(2.0, 50.0, n)
    frame = pd.DataFrame({"amount": amount, "fee": amount * 0.02 + rng.normal(0, 0.1, n),
                          "kind": rng.choice(["card", "cash", "wire"], n),
                          "hour": rng.integers(8, 18, n).astype(float)})
    model = TableDetector(AutoEncoder(epochs=40, random_state=0),
                          categorical="onehot").fit(frame)
    odd = frame.iloc[:3].copy()
    odd["hour"] = 3.0  # far below the 8-17 range
    result = explain(model, odd, reference=frame)
    assert result.feature_names == ["amount", "fee", "kind", "hour"]
    assert result.attributions.shape == (3, 4)
    # the one-hot indicators of "kind" are summed into one column: the split still adds up
    np.testing.assert_allclose(result.attributions.sum(axis=1), result.scores, rtol=1e-4)
    top = result.top_features(0, 2)
    assert top["feature"].iloc[0] == "hour" and top["direction"].iloc[0] == "lower than normal"
    assert top["value"].iloc[0] == 3.0 and top["normal_low"].iloc[0] >= 8.0
    assert result.lines(0)[1].strip().startswith("hour = 3, normal range [")


# ---------------------------------------------------------------------------- errors
def test_clear_errors(rows, svdd):
    with pytest.raises(NotFittedError):
        explain(AutoEncoder(), rows[:2])
    with pytest.raises(NotFittedError):
        explain(TableDetector(AutoEncoder()), rows[:2])
    with pytest.raises(ValueError, match="method must be 'auto' or one of"):
        explain(svdd, rows[:2], method="lime")
    with pytest.raises(ValueError, match="features"):
        explain(svdd, rows[:2, :4], reference=rows)
    with pytest.raises(ValueError, match="baseline must have the shape of one sample"):
        explain(svdd, rows[:2], baseline=np.zeros(3), reference=rows)
    top = np.argsort(-svdd.decision_function(rows))[:1]
    with pytest.raises(ValueError, match="pass reference="):
        explain(svdd, rows[top])  # only anomalous rows and no reference
    forest = IsolationForest(random_state=0).fit(rows)
    with pytest.raises(TypeError, match="no gradient"):
        explain(forest, rows[:2], method="saliency", reference=rows)
