"""``explain(detector, X)``: attributions of anomaly scores for rows, windows and images."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from deepad.explain import methods as m
from deepad.explain.explanation import NORMAL_QUANTILES, Explanation

logger = logging.getLogger(__name__)

BASELINES = ("median", "zeros")


def explain(detector: Any, X: Any, method: str = "auto", baseline: Any = "median",
            reference: Any = None, *, windows: Any = None, n_steps: int = m.IG_STEPS,
            seed: int = 0) -> Explanation:
    """Attribute the anomaly scores of ``X`` to its features, time steps or pixels.

    Parameters
    ----------
    detector : fitted detector, :class:`~deepad.TableDetector` or :class:`~deepad.SeriesDetector`
        The model whose scores are explained. A ``TableDetector`` is explained in the user's
        own columns (raw values, one-hot indicators summed back into their column); a
        ``SeriesDetector`` on windows of the series.
    X : array-like or DataFrame
        What to explain: rows ``(n, d)``, windows ``(n, T, d)`` or images ``(n, C, H, W)``
        for a detector; a raw table for a ``TableDetector``; a series ``(t, d)`` for a
        ``SeriesDetector`` (see ``windows``).
    method : str, default "auto"
        ``"exact"`` (the score's own split into one term per input value: the per-value
        reconstruction error of AutoEncoder, RobustAutoEncoder, VAE), ``"integrated_gradients"``,
        ``"saliency"``, ``"gradient_x_input"``, ``"deeplift"`` (Captum, on the score),
        ``"shap"`` (SHAP's permutation explainer, any detector, rows), ``"occlusion"`` (any
        detector, windows and images). ``"auto"``: ``"exact"`` where the score has the
        split, else integrated gradients where the score is differentiable in its input, else
        ``"shap"`` for rows and ``"occlusion"`` for windows and images; the choice and why is
        in ``Explanation.method`` / ``.reason``.
    baseline : "median", "zeros" or array, default "median"
        The reference input of integrated gradients, DeepLIFT, gradient × input and occlusion:
        ``"median"`` is the per-value median of the reference (normal) data — a typical
        normal sample, so attributions say what differs from normal (``"zeros"``, the
        usual choice for images, is an all-zero input, which for scaled tables is an
        extreme corner rather than a normal row). An array: one sample (a raw row for a
        ``TableDetector``).
    reference : array-like or DataFrame, optional
        Normal data (best: the training data) for the baseline, the normal ranges (5 % and
        95 % quantiles) and SHAP's background. Default: the samples of ``X`` the detector
        itself scores at or below its ``threshold_`` (those it calls normal).
    windows : array of int, optional
        ``SeriesDetector`` only: the start timestamps of the windows to explain. Default:
        consecutive non-overlapping windows covering the series (the last one ending at
        the series' end).
    n_steps : int, default 64
        Integration steps of integrated gradients.
    seed : int, default 0
        Seed of SHAP's permutations and background sample.

    Returns
    -------
    Explanation
        ``attributions`` shaped like the explained input, ``scores``, the method and the
        actionable summaries (``lines(i)``, ``top_features(i)``, ``span(i)``, ``maps()``).

    Raises
    ------
    sklearn.exceptions.NotFittedError
        The detector is not fitted.
    ValueError
        Unknown method or baseline, a method the detector has no use for (``"exact"``
        without a decomposition, ``"shap"`` on images), data of another shape than fitted,
        event / categorical detectors, or no normal reference sample.
    TypeError
        A gradient method on a detector whose score has no gradient (use ``"shap"`` /
        ``"occlusion"`` or ``"auto"``).
    ImportError
        captum or shap is missing (``pip install 'deepad[explain]'``).

    Examples
    --------
    >>> import numpy as np
    >>> from deepad import AutoEncoder
    >>> from deepad.explain import explain
    >>> X = np.random.default_rng(0).normal(size=(300, 5)).astype("float32")
    >>> det = AutoEncoder(epochs=3, random_state=0).fit(X)
    >>> row = X[:1].copy(); row[0, 2] = 12.0
    >>> result = explain(det, row, reference=X)
    >>> result.method, result.attributions.shape, int(result.attributions[0].argmax())
    ('exact', (1, 5), 2)
    """
    if method != "auto" and method not in m.METHODS:
        msg = f"method must be 'auto' or one of {list(m.METHODS)}; got {method!r}."
        raise ValueError(msg)
    if hasattr(detector, "preprocessor_") or _is_wrapper(detector, "preprocessor_"):
        return _explain_table(detector, X, method, baseline, reference, n_steps, seed)
    if _is_wrapper(detector, "n_channels_"):
        return _explain_series(detector, X, method, baseline, reference, windows, n_steps,
                               seed)
    if windows is not None:
        msg = "windows= applies to a SeriesDetector; pass windows (n, T, d) as X instead."
        raise ValueError(msg)
    check_is_fitted(detector, "spec_")
    names = getattr(detector, "feature_names_in_", None)
    Xv = _validated(detector, X)
    ref = None if reference is None else _validated(detector, reference)
    result = _explain_array(detector, Xv, method, baseline, ref, n_steps, seed)
    modality = result["modality"]
    if names is not None:
        feature_names = [str(c) for c in names]
    elif modality == "image":
        feature_names = [f"channel {c}" for c in range(Xv.shape[1])]
    else:
        feature_names = [f"x{j}" for j in range(Xv.shape[-1])]
    low, high = _ranges(result["reference"], modality)
    return Explanation(
        attributions=result["attributions"], scores=result["scores"], method=result["method"],
        reason=result["reason"], modality=modality, values=Xv, feature_names=feature_names,
        baseline=result["baseline"], baseline_score=result["baseline_score"], normal_low=low,
        normal_high=high, representation_terms=result["representation_terms"])


# ---------------------------------------------------------------------------- core
def _is_wrapper(detector: Any, attribute: str) -> bool:
    """A TableDetector (``preprocessor_``) / SeriesDetector (``n_channels_``), fitted or not:
    told apart by class attributes so an unfitted one gets the NotFittedError."""
    from deepad.series import SeriesDetector
    from deepad.tabular import TableDetector

    kind = TableDetector if attribute == "preprocessor_" else SeriesDetector
    if isinstance(detector, kind):
        check_is_fitted(detector, "detector_")
        return True
    return False


def _validated(detector: Any, X: Any) -> np.ndarray:
    if detector.spec_.modality in ("event", "categorical", "video"):
        msg = (f"explain takes rows, windows or images; {type(detector).__name__} was fitted "
               f"on {detector.spec_.modality} data.")
        raise ValueError(msg)
    with warnings.catch_warnings():  # feature names: explain passes arrays on purpose
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return np.ascontiguousarray(detector._check_input(X))


def _resolve_method(detector: Any, Xv: np.ndarray, method: str, modality: str,
                    baseline: np.ndarray) -> tuple[str, str]:
    name = type(detector).__name__
    exact = hasattr(detector, "model_") and m.has_exact_terms(detector, Xv)
    differentiable = m.is_differentiable(detector, Xv)
    complete = differentiable and (exact or m.gradient_adds_up(detector, Xv, baseline))
    if method == "auto":
        if exact:
            return m.EXACT, (f"{name}'s score is a sum of one term per input value "
                             "(reconstruction error): its exact decomposition")
        if complete:
            return "integrated_gradients", (f"{name}'s score is differentiable in its input: "
                                            "integrated gradients (Captum)")
        why = ("has no gradient in its input" if not differentiable else
               "has a gradient whose integral does not add up to the score on these samples "
               "(part of it outside autograd, or too steep to integrate)")
        if modality == "tabular":
            return "shap", (f"{name}'s score {why}: SHAP's permutation explainer "
                            "(model-agnostic)")
        return "occlusion", f"{name}'s score {why}: occlusion (model-agnostic)"
    if method in m.GRADIENT_METHODS and differentiable and not complete:
        warnings.warn(f"{name}'s gradient misses part of its score on these samples "
                      f"(integrated gradients do not add up to it); method={method!r} may "
                      "explain only part of it. method='auto' uses SHAP / occlusion instead.",
                      UserWarning, stacklevel=4)
    if method == m.EXACT and not exact:
        msg = (f"method='exact' needs a score that splits into one term per input value "
               f"(the autoencoders'); {name}'s does not. Use method='auto'.")
        raise ValueError(msg)
    if method in m.GRADIENT_METHODS and not differentiable:
        msg = (f"{name}'s score has no gradient with respect to its input, so "
               f"method={method!r} cannot explain it; use method='shap' (rows), "
               "'occlusion' (windows, images) or 'auto'.")
        raise TypeError(msg)
    if method == "shap" and modality == "image":
        msg = "method='shap' explains rows and windows; for images use 'occlusion' or 'auto'."
        raise ValueError(msg)
    return method, f"{method} (asked for)"


def _explain_array(detector: Any, Xv: np.ndarray, method: str, baseline: Any,
                   reference: np.ndarray | None, n_steps: int, seed: int) -> dict[str, Any]:
    """Attributions of the validated samples ``Xv`` by the (inner) detector."""
    with warnings.catch_warnings():  # arrays on purpose, to a detector fitted on a frame
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        return _explain_validated(detector, Xv, method, baseline, reference, n_steps, seed)


def _explain_validated(detector: Any, Xv: np.ndarray, method: str, baseline: Any,
                       reference: np.ndarray | None, n_steps: int, seed: int) -> dict[str, Any]:
    modality = detector.spec_.modality
    scores = np.asarray(detector.decision_function(Xv), dtype=np.float64)
    if reference is None:
        reference = Xv[scores <= detector.threshold_]
        if len(reference) == 0:
            msg = ("No sample of X scores at or below the detector's threshold_, so there is "
                   "no normal data to compare with: pass reference= (normal training data).")
            raise ValueError(msg)
    base = _baseline(baseline, reference, Xv)
    resolved, reason = _resolve_method(detector, Xv, method, modality, base)
    base_score = float(detector.decision_function(base[None])[0])
    if resolved == m.EXACT:
        attributions = m.exact_terms(detector, Xv)
    elif resolved in m.GRADIENT_METHODS:
        attributions = m.gradient_attributions(detector, Xv, resolved, base, n_steps)
    elif resolved == "shap":
        attributions = m.shap_attributions(detector, Xv, reference, seed)
    else:
        attributions = m.occlusion_attributions(detector, Xv, base)
    terms = m.representation_terms(detector, Xv)
    logger.info("explain: %s (%s)", resolved, reason)
    return {"attributions": attributions, "scores": scores, "method": resolved,
            "reason": reason, "baseline": base, "baseline_score": base_score,
            "modality": modality, "reference": reference, "representation_terms": terms}


def _baseline(baseline: Any, reference: np.ndarray, Xv: np.ndarray) -> np.ndarray:
    if isinstance(baseline, str):
        if baseline == "median":
            return np.median(reference, axis=0).astype(Xv.dtype)
        if baseline == "zeros":
            return np.zeros(Xv.shape[1:], dtype=Xv.dtype)
        msg = f"baseline must be one of {BASELINES} or an array; got {baseline!r}."
        raise ValueError(msg)
    base = np.asarray(baseline, dtype=Xv.dtype)
    if base.shape == (1, *Xv.shape[1:]):
        base = base[0]
    if base.shape != Xv.shape[1:]:
        msg = f"baseline must have the shape of one sample, {Xv.shape[1:]}; got {base.shape}."
        raise ValueError(msg)
    return base


def _ranges(reference: np.ndarray, modality: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    if modality == "image":
        return None, None
    flat = reference.reshape(-1, reference.shape[-1]).astype(np.float64)
    low, high = np.quantile(flat, NORMAL_QUANTILES, axis=0)
    return low, high


# ---------------------------------------------------------------------------- tables
def _raw_frame(model: Any, X: Any) -> pd.DataFrame:
    columns = list(model.preprocessor_.columns_)
    if isinstance(X, pd.DataFrame):
        frame = X.set_axis([str(c) for c in X.columns], axis=1)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            msg = f"The table lacks the feature column(s) {missing[:10]}."
            raise ValueError(msg)
        return frame[columns].reset_index(drop=True)
    values = np.asarray(X)
    if values.ndim != 2 or values.shape[1] != len(columns):
        msg = (f"X must be a table with the columns {columns[:10]}; got an array of shape "
               f"{values.shape}.")
        raise ValueError(msg)
    return pd.DataFrame(values, columns=columns)


def _column_groups(model: Any) -> list[tuple[str, int, int]]:
    """Each raw column with its slice of the encoded columns."""
    pre = model.preprocessor_
    encoding = pre.encoding_
    groups, start = [], 0
    for column in pre.columns_:
        width = (len(encoding.categories[column])
                 if column in encoding.columns and encoding.how == "onehot" else 1)
        groups.append((column, start, start + width))
        start += width
    return groups


def _explain_table(model: Any, X: Any, method: str, baseline: Any, reference: Any,
                   n_steps: int, seed: int) -> Explanation:
    inner = model.detector_
    raw = _raw_frame(model, X)
    Z = _validated(inner, model.transform(raw).to_numpy(dtype=np.float32))
    raw_ref = None if reference is None else _raw_frame(model, reference)
    ref = None if raw_ref is None else _validated(
        inner, model.transform(raw_ref).to_numpy(dtype=np.float32))
    if not isinstance(baseline, str):
        row = baseline if isinstance(baseline, pd.DataFrame) else pd.DataFrame(
            np.asarray(baseline, dtype=object).reshape(1, -1),
            columns=list(model.preprocessor_.columns_))
        baseline = model.transform(_raw_frame(model, row)).to_numpy(dtype=np.float32)[0]
    result = _explain_array(inner, Z, method, baseline, ref, n_steps, seed)
    groups = _column_groups(model)
    attributions = np.stack([result["attributions"][:, a:b].sum(axis=1)
                             for _, a, b in groups], axis=1)
    if raw_ref is None:  # the rows of X the detector calls normal
        raw_ref = raw[result["scores"] <= inner.threshold_]
    low = np.full(len(groups), np.nan)
    high = np.full(len(groups), np.nan)
    encoded = set(model.preprocessor_.encoding_.columns)
    for j, (column, _, _) in enumerate(groups):
        if column not in encoded:
            values = pd.to_numeric(raw_ref[column], errors="coerce").to_numpy(np.float64)
            values = values[np.isfinite(values)]
            if len(values):
                low[j], high[j] = np.quantile(values, NORMAL_QUANTILES)
    return Explanation(
        attributions=attributions, scores=result["scores"], method=result["method"],
        reason=result["reason"], modality="tabular", values=raw,
        feature_names=[g[0] for g in groups], baseline=result["baseline"],
        baseline_score=result["baseline_score"], normal_low=low, normal_high=high,
        representation_terms=result["representation_terms"],
        extra={"encoded_attributions": result["attributions"]})


# ---------------------------------------------------------------------------- series
def _tiles(length: int, window: int) -> np.ndarray:
    if length < window:
        msg = f"The series has {length} timestamps, fewer than the window ({window})."
        raise ValueError(msg)
    starts = np.arange(0, length - window + 1, window)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def _explain_series(model: Any, series: Any, method: str, baseline: Any, reference: Any,
                    windows: Any, n_steps: int, seed: int) -> Explanation:
    from numpy.lib.stride_tricks import sliding_window_view

    array = model._check_series(series)
    if windows is None:
        starts = _tiles(len(array), model.window)
    else:
        starts = np.asarray(windows, dtype=np.int64).reshape(-1)
        if len(starts) == 0 or starts.min() < 0 or starts.max() > len(array) - model.window:
            msg = (f"windows must be start timestamps from 0 to {len(array) - model.window} "
                   f"(series of {len(array)}, window {model.window}); got {starts[:10]}.")
            raise ValueError(msg)
    ref = None
    if reference is not None:
        ref_array = model._check_series(reference)
        ref_view = sliding_window_view(ref_array, model.window, axis=0).transpose(0, 2, 1)
        ref = np.ascontiguousarray(ref_view[_tiles(len(ref_array), model.window)],
                                   dtype=np.float32)
    return _explain_series_windows(model, array, starts, method, ref, baseline, n_steps, seed)


def _explain_series_windows(model: Any, series: Any, starts: np.ndarray, method: str,
                            reference_windows: np.ndarray | None, baseline: Any = "median",
                            n_steps: int = m.IG_STEPS, seed: int = 0) -> Explanation:
    """The windows of ``series`` starting at ``starts``, explained against reference
    windows ``(n, T, d)`` (None: the explained windows the detector calls normal)."""
    from numpy.lib.stride_tricks import sliding_window_view

    inner = model.detector_
    array = model._check_series(series)
    view = sliding_window_view(array, model.window, axis=0).transpose(0, 2, 1)
    W = np.ascontiguousarray(view[starts], dtype=np.float32)
    ref = None if reference_windows is None else _validated(inner, reference_windows)
    result = _explain_array(inner, _validated(inner, W), method, baseline, ref, n_steps, seed)
    names = getattr(model, "feature_names_in_", None)
    feature_names = ([str(c) for c in names] if names is not None
                     else [f"channel {c}" for c in range(array.shape[1])])
    low, high = _ranges(result["reference"], "sequence")
    return Explanation(
        attributions=result["attributions"], scores=result["scores"], method=result["method"],
        reason=result["reason"], modality="sequence", values=W, feature_names=feature_names,
        baseline=result["baseline"], baseline_score=result["baseline_score"], normal_low=low,
        normal_high=high, representation_terms=result["representation_terms"],
        window_starts=starts)
