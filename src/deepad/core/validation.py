"""Input validation: what a detector accepts, and the clear error for what it does not.

Nothing is silently coerced: a DataFrame with a text column, NaN / inf values, a 1-D array,
a label other than 0/1 or a feature count that differs from ``fit`` raise ``TypeError`` or
``ValueError`` saying what was wrong and what was expected.

Numeric input (:func:`check_array`) is read from its shape: 2-D ``(n_samples, n_features)`` is
tabular rows, 3-D ``(n_windows, window, n_features)`` is sequence windows, and 4-D
``(n_images, channels, height, width)`` is images, accepted only for detectors that declare
the ``"image"`` modality (any other detector refuses 4-D input with the number-of-dimensions
error, as before images existed).

Images (issue 23, ``docs/decisions.md``): channels first, ``(n, C, H, W)``; a channels-last
array ``(n, H, W, 1 | 3 | 4)`` is refused with the transpose to apply. ``uint8`` images are
read as ``float32 / 255``, in [0, 1]; float images are taken as given (other integer types
are cast, not rescaled). A 3-D array is sequence windows unless the detector reads it as
grayscale images ``(n, H, W)`` (a channel axis is added), which it does when (see
:func:`reads_3d_as_images`)

- it takes images and not sequence windows (GEOM), or
- it takes images and the array is ``uint8`` (pixels; windows are measurements), or
- at scoring, it was fitted on images.

Pass 4-D ``(n, 1, H, W)`` to make grayscale images unambiguous for every detector.

Two modalities are not float arrays, and are read only for detectors that declare them
(:func:`check_input`):

- ``"categorical"``: a 2-D table of categories (strings, ints or bools; numpy or pandas),
  validated by :func:`check_categorical` into an object array;
- ``"event"``: sessions of integer event keys (a list of sequences of varying length, an
  object array of them, or a 2-D int array of equal-length sessions), validated by
  :func:`check_sessions` into :class:`~deepad.data.spec.Sessions`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from deepad.data.graph import Graph, check_graph, is_graph_input
from deepad.data.spec import InputSpec, Sessions

MODALITY_BY_NDIM = {2: "tabular", 3: "sequence", 4: "image"}
NUMERIC_MODALITIES = ("tabular", "sequence")

CHANNEL_COUNTS = (1, 3, 4)
"""Channel counts of common images (grey, RGB, RGBA): a 4-D array whose last axis has one of
these and whose second axis does not is read as channels-last and refused with a hint."""

__all__ = ["Graph", "InputSpec", "Sessions", "check_array", "check_categorical",
           "check_class_labels",
           "check_input", "check_labels", "check_matches_spec", "check_sessions", "describe_input",
           "reads_3d_as_images"]


def _frame_to_array(X: pd.DataFrame) -> np.ndarray:
    bad = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])
           or pd.api.types.is_complex_dtype(X[c])]
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5]) + (" ..." if len(bad) > 5 else "")
        msg = (f"X has non-numeric columns {shown}; deepad detectors take numeric features only. "
               "Encode categorical columns first (e.g. sklearn OneHotEncoder or OrdinalEncoder).")
        raise TypeError(msg)
    return X.to_numpy(dtype=np.float64, na_value=np.nan)


def reads_3d_as_images(dtype: np.dtype, modalities: tuple[str, ...],
                       fitted: str | None = None) -> bool:
    """Whether a 3-D array of ``dtype`` given to a detector of ``modalities`` is grayscale
    images ``(n, H, W)`` (True) or sequence windows (False).

    Images when the detector takes images and: it was fitted on images (``fitted``, at
    scoring); or, in ``fit`` (``fitted`` None), it takes no windows or the array is ``uint8``.
    A detector fitted on windows reads 3-D input as windows.

    >>> import numpy as np
    >>> f, u = np.dtype("float32"), np.dtype("uint8")
    >>> reads_3d_as_images(f, ("image",)), reads_3d_as_images(f, ("sequence", "image"))
    (True, False)
    >>> reads_3d_as_images(u, ("sequence", "image")), reads_3d_as_images(u, ("sequence",))
    (True, False)
    >>> reads_3d_as_images(f, ("sequence", "image"), fitted="image")
    True
    """
    if "image" not in modalities:
        return False
    if fitted is not None:
        return fitted == "image"
    return "sequence" not in modalities or dtype == np.uint8


def _check_channels_first(array: np.ndarray, name: str) -> None:
    shape = array.shape
    if shape[-1] in CHANNEL_COUNTS and shape[1] not in CHANNEL_COUNTS and min(shape[1:3]) > 4:
        msg = (f"{name} has shape {shape}, which looks like channels-last images (n_images, "
               f"height, width, channels); deepad takes images channels first (n_images, "
               f"channels, height, width), as PyTorch: pass {name}.transpose(0, 3, 1, 2).")
        raise ValueError(msg)


def check_array(X: Any, *, min_samples: int = 1, name: str = "X",
                images: bool = False, grayscale: bool = False,
                videos: bool = False) -> np.ndarray:
    """Validate ``X`` and return it as a C-contiguous float32 array of 2 or 3 dimensions (or
    4, images ``(n_images, channels, height, width)``, when ``images`` is True).

    With ``images``, a ``uint8`` array of images becomes ``float32 / 255`` and a channels-last
    array ``(n, H, W, 1 | 3 | 4)`` is refused; with ``grayscale`` too, a 3-D array is read as
    grayscale images ``(n, H, W)`` and returned as ``(n, 1, H, W)`` (see
    :func:`reads_3d_as_images`). With ``videos``, a 5-D array is video clips ``(n_clips,
    frames, channels, height, width)``, ``uint8`` read as ``float32 / 255`` as images.

    Raises
    ------
    TypeError
        Non-numeric data (strings, objects, complex numbers, sparse matrices).
    ValueError
        Wrong number of dimensions, empty input, NaN / inf, or fewer than ``min_samples`` rows.
    """
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        msg = f"{name} is a sparse matrix; deepad needs a dense array (call X.toarray())."
        raise TypeError(msg)
    if isinstance(X, pd.Series):
        msg = (f"{name} is a pandas Series (1-D); expected a 2-D table (n_samples, n_features) "
               "or 3-D windows (n_windows, window, n_features). Use X.to_frame().")
        raise ValueError(msg)
    if isinstance(X, pd.DataFrame):
        array = _frame_to_array(X)
    else:
        try:
            array = np.asarray(X)
        except (ValueError, TypeError) as error:
            msg = f"{name} could not be read as an array: {error}"
            raise ValueError(msg) from error
    if array.dtype.kind not in "biuf":
        msg = (f"{name} has dtype {array.dtype}; expected numeric data (bool, int or float). "
               "Encode text or categorical features first.")
        raise TypeError(msg)
    if images and grayscale and array.ndim == 3:
        array = array[:, None]  # (n, H, W) → (n, 1, H, W)
    if images and array.ndim == 4:
        _check_channels_first(array, name)
    if array.ndim not in (2, 3, 4, 5) or (array.ndim == 4 and not images) or (
            array.ndim == 5 and not videos):
        expected = ("2-D rows (n_samples, n_features) or 3-D sequence windows (n_windows, window, "
                    "n_features)")
        if images:
            expected = ("2-D rows (n_samples, n_features), 3-D sequence windows (n_windows, "
                        "window, n_features) or 4-D images (n_images, channels, height, width)")
        if images and grayscale:
            expected = ("4-D images (n_images, channels, height, width) or 3-D grayscale "
                        "images (n_images, height, width)")
        if videos:
            expected += " or 5-D video clips (n_clips, frames, channels, height, width)"
        hint = ""
        if array.ndim == 1:
            hint = " Reshape a single feature with X.reshape(-1, 1)."
        elif array.ndim == 4:
            hint = (" 4-D images (n_images, channels, height, width) are taken by detectors of "
                    "the image modality only (deepad.list_detectors(modalities='image')).")
        msg = (f"{name} has {array.ndim} dimension(s) with shape {array.shape}; expected "
               f"{expected}.{hint}")
        raise ValueError(msg)
    if array.size == 0:
        msg = (f"{name} is empty (shape {array.shape}); at least one sample with one feature "
               "is needed.")
        raise ValueError(msg)
    if array.shape[0] < min_samples:
        msg = f"{name} has {array.shape[0]} sample(s); at least {min_samples} are needed."
        raise ValueError(msg)
    finite = np.isfinite(array)
    if not finite.all():
        bad = np.argwhere(~finite)
        msg = (f"{name} contains {len(bad)} NaN or infinite value(s), the first at index "
               f"{tuple(int(i) for i in bad[0])}; impute or drop them before fitting.")
        raise ValueError(msg)
    if array.dtype.kind == "f" and np.abs(array).max() >= np.finfo(np.float32).max:
        msg = f"{name} has values too large for float32 (max |x| = {np.abs(array).max():.3g}); "\
              "scale the features first."
        raise ValueError(msg)
    if array.ndim >= 4 and array.dtype == np.uint8:  # pixels 0..255 → [0, 1]
        return np.ascontiguousarray(array, dtype=np.float32) / np.float32(255.0)
    return np.ascontiguousarray(array, dtype=np.float32)


def describe_input(X: np.ndarray | Sessions | Graph) -> str:
    """``"with shape (n, d)"`` for arrays, ``"of n sessions"`` for event sessions, ``"of a
    graph of n nodes and e edges with d attributes"`` for graphs."""
    if isinstance(X, Graph):
        return (f"of a graph of {X.n_nodes} nodes and {X.n_edges} edges with {X.n_features} "
                "attribute(s) per node")
    if isinstance(X, Sessions):
        return f"of {len(X)} sessions"
    return f"with shape {X.shape}"


def _describe_spec(spec: InputSpec) -> str:
    if spec.modality == "event":
        return "sessions of integer event keys"
    return f"samples of shape {spec.sample_shape}"


def check_matches_spec(X: np.ndarray | Sessions, spec: InputSpec, *, name: str = "X") -> None:
    """Raise ``ValueError`` if ``X`` does not have the modality / width seen in ``fit``."""
    seen = InputSpec.of(X)
    if seen.modality != spec.modality:
        msg = (f"{name} is {seen.modality} data {describe_input(X)}, but the detector was fitted "
               f"on {spec.modality} data with {_describe_spec(spec)}.")
        raise ValueError(msg)
    if seen.n_features != spec.n_features and spec.modality in ("image", "video"):
        what = "images" if spec.modality == "image" else "video frames"
        msg = (f"{name} has {what} of {seen.n_features} channel(s), but the detector was "
               f"fitted on {what} of {spec.n_features} channel(s).")
        raise ValueError(msg)
    if seen.n_features != spec.n_features:
        msg = (f"{name} has {seen.n_features} features, but the detector was fitted with "
               f"{spec.n_features} features.")
        raise ValueError(msg)
    if seen.window != spec.window and spec.modality == "video":
        msg = (f"{name} has clips of {seen.window} frames, but the detector was fitted on "
               f"clips of {spec.window} frames.")
        raise ValueError(msg)
    if seen.window != spec.window:
        msg = (f"{name} has windows of length {seen.window}, but the detector was fitted on "
               f"windows of length {spec.window}.")
        raise ValueError(msg)
    if (seen.height, seen.width) != (spec.height, spec.width):
        msg = (f"{name} has images of {seen.height} x {seen.width} pixels, but the detector was "
               f"fitted on images of {spec.height} x {spec.width} pixels; resize or crop them "
               "to that size.")
        raise ValueError(msg)


# ---------------------------------------------------------------------------- non-numeric input
def check_input(X: Any, modalities: tuple[str, ...], *, min_samples: int = 1,
                name: str = "X", fitted: str | None = None) -> np.ndarray | Sessions:
    """Validate ``X`` for a detector that declares ``modalities``.

    Sessions (lists or object arrays of sequences, 1-D or 2-D int arrays) go to
    :func:`check_sessions` when ``"event"`` is declared; 2-D tables to :func:`check_categorical`
    when ``"categorical"`` is declared (unless the detector also takes numeric rows and the
    table is numeric); everything else to :func:`check_array`, so a float array given to a
    categorical or event detector is read as rows or windows and refused by its modality.
    4-D arrays are read as images only when ``"image"`` is declared; 3-D arrays as grayscale
    images by the rule of :func:`reads_3d_as_images` (``fitted``: the modality the detector
    was fitted on, at scoring). Graphs (a ``torch_geometric.data.Data``, ``(X, adjacency)``
    or a :class:`~deepad.data.graph.Graph`) go to :func:`deepad.data.graph.check_graph` when
    ``"graph"`` is declared and are refused (``TypeError``) otherwise.
    """
    if is_graph_input(X):
        if "graph" in modalities:
            return check_graph(X, min_nodes=min_samples, name=name)
        msg = (f"{name} is a graph; this detector takes {list(modalities)} input. Graph "
               "detectors: deepad.list_detectors(modalities='graph'); or pass the node "
               "attributes as rows.")
        raise TypeError(msg)
    if "event" in modalities and _reads_as_sessions(X):
        return check_sessions(X, min_samples=min_samples, name=name)
    if "categorical" in modalities and _reads_as_categorical(X, modalities):
        return check_categorical(X, min_samples=min_samples, name=name)
    grayscale = False  # a 3-D array is grayscale images (other ranks: only the error's words)
    if "image" in modalities and isinstance(X, np.ndarray):
        grayscale = reads_3d_as_images(X.dtype, modalities, fitted)
    elif "image" in modalities and not isinstance(X, pd.DataFrame | pd.Series):
        try:
            grayscale = reads_3d_as_images(np.asarray(X).dtype, modalities, fitted)
        except (ValueError, TypeError):
            pass  # check_array says why
    return check_array(X, min_samples=min_samples, name=name, images="image" in modalities,
                       grayscale=grayscale, videos="video" in modalities)


def _reads_as_sessions(X: Any) -> bool:
    if isinstance(X, Sessions | list | tuple):
        return True
    if isinstance(X, pd.Series):
        return X.dtype == object
    if isinstance(X, np.ndarray):
        return (X.dtype == object and X.ndim == 1) or (X.dtype.kind in "iu" and X.ndim in (1, 2))
    return False


def _reads_as_categorical(X: Any, modalities: tuple[str, ...]) -> bool:
    numeric_too = any(m in modalities for m in NUMERIC_MODALITIES)
    if isinstance(X, pd.DataFrame):
        return not numeric_too or not all(pd.api.types.is_numeric_dtype(X[c]) for c in X.columns)
    if isinstance(X, pd.Series) or (hasattr(X, "toarray") and hasattr(X, "nnz")):
        return False  # check_array's errors
    try:
        array = np.asarray(X)
    except (ValueError, TypeError):
        return True  # ragged: check_categorical says so
    if array.ndim != 2:
        return False
    return not numeric_too or array.dtype.kind not in "biuf"


def check_categorical(X: Any, *, min_samples: int = 1, name: str = "X") -> np.ndarray:
    """Validate a table of categories; return it as a 2-D object array (n_samples, n_columns).

    Each column holds one kind of value: strings, ints, bools, or floats with integral values
    (a continuous feature must be binned first). Missing values (None, NaN) are refused: a
    missing category is a value of its own (e.g. ``"missing"``) or the row is dropped.

    Raises
    ------
    TypeError
        A column mixing strings and numbers, non-integral floats, complex numbers.
    ValueError
        Not 2-D, empty, missing values, or fewer than ``min_samples`` rows.
    """
    if isinstance(X, pd.DataFrame):
        array = X.to_numpy(dtype=object)
        columns = [str(c) for c in X.columns]
    else:
        try:
            array = np.asarray(X, dtype=object)
        except (ValueError, TypeError) as error:
            msg = f"{name} could not be read as a table: {error}"
            raise ValueError(msg) from error
        columns = [str(j) for j in range(array.shape[1])] if array.ndim == 2 else []
    if array.ndim != 2:
        msg = (f"{name} has {array.ndim} dimension(s) with shape {array.shape}; expected a 2-D "
               "table of categories (n_samples, n_columns).")
        raise ValueError(msg)
    if array.size == 0:
        msg = f"{name} is empty (shape {array.shape}); at least one row with one column is needed."
        raise ValueError(msg)
    if array.shape[0] < min_samples:
        msg = f"{name} has {array.shape[0]} sample(s); at least {min_samples} are needed."
        raise ValueError(msg)
    missing = pd.isna(array)
    if missing.any():
        first = tuple(int(i) for i in np.argwhere(missing)[0])
        msg = (f"{name} contains {int(missing.sum())} missing value(s) (None / NaN), the first at "
               f"index {first}; make a missing value a category of its own (e.g. 'missing') or "
               "drop the rows.")
        raise ValueError(msg)
    for j, column in enumerate(columns):
        kind = pd.api.types.infer_dtype(array[:, j], skipna=False)
        if kind in ("mixed", "mixed-integer", "complex"):
            msg = (f"{name} column {column!r} holds {kind} values; each column of categories must "
                   "hold one kind of value (strings, ints or bools).")
            raise TypeError(msg)
        if kind in ("floating", "mixed-integer-float", "decimal"):
            values = array[:, j].astype(np.float64)
            if not (np.isfinite(values).all() and (values == np.round(values)).all()):
                msg = (f"{name} column {column!r} holds non-integral floats; categorical detectors "
                       "take categories (strings or ints): bin continuous features first (e.g. "
                       "sklearn KBinsDiscretizer).")
                raise TypeError(msg)
    return array


def check_sessions(X: Any, *, min_samples: int = 1, name: str = "X") -> Sessions:
    """Validate event sessions: sequences of integer event keys (log keys) of varying length.

    ``X`` is a list (or tuple, pandas Series or 1-D object array) of sessions, each a 1-D
    sequence of ints, or a 2-D int array of equal-length sessions. Every session has at least
    one event.

    Raises
    ------
    TypeError
        Keys that are not integers (floats, strings, bools).
    ValueError
        A flat sequence of keys instead of sessions, an empty or nested session, no sessions,
        or fewer than ``min_samples`` sessions.
    """
    if isinstance(X, Sessions):
        keys, lengths = np.asarray(X.keys), np.asarray(X.lengths)
    elif isinstance(X, np.ndarray) and X.ndim == 2:
        keys, lengths = X.ravel(), np.full(X.shape[0], X.shape[1], dtype=np.int64)
    else:
        items = X.tolist() if isinstance(X, pd.Series) else list(X)
        if items and np.ndim(items[0]) == 0:
            msg = (f"{name} is a flat sequence of keys; expected a list of sessions, each a "
                   f"sequence of integer event keys (pass one session as [session]).")
            raise ValueError(msg)
        try:
            lengths = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
            keys = np.concatenate([np.asarray(item) for item in items]) if items else \
                np.empty(0, dtype=np.int64)
        except (TypeError, ValueError) as error:
            msg = (f"{name} could not be read as sessions (each a 1-D sequence of integer event "
                   f"keys): {error}")
            raise ValueError(msg) from error
        if keys.ndim != 1:
            msg = f"{name} has sessions of {keys.ndim} dimensions; each must be a 1-D sequence."
            raise ValueError(msg)
    if len(lengths) == 0:
        msg = f"{name} has no sessions; at least one session of one event is needed."
        raise ValueError(msg)
    if len(lengths) < min_samples:
        msg = f"{name} has {len(lengths)} session(s); at least {min_samples} are needed."
        raise ValueError(msg)
    empty = np.flatnonzero(lengths == 0)
    if len(empty):
        msg = (f"{name} has {len(empty)} empty session(s), the first at index {int(empty[0])}; "
               "every session needs at least one event.")
        raise ValueError(msg)
    if keys.dtype.kind not in "iu":
        msg = (f"{name} has event keys of dtype {keys.dtype}; expected integer keys (log-key "
               "ids). Map templates or strings to ints first.")
        raise TypeError(msg)
    if keys.dtype.kind == "u" and len(keys) and keys.max() > np.iinfo(np.int64).max:
        msg = f"{name} has event keys above {np.iinfo(np.int64).max}; they must fit in int64."
        raise ValueError(msg)
    return Sessions(keys=np.ascontiguousarray(keys, dtype=np.int64),
                    lengths=np.ascontiguousarray(lengths, dtype=np.int64))


def check_labels(y: Any, n_samples: int, *, require_anomaly: bool = False,
                 require_unlabelled: bool = False) -> np.ndarray:
    """Validate weak-supervision labels: 1 = labelled anomaly, 0 = unlabelled / normal.

    ``require_anomaly``: at least one 1; ``require_unlabelled``: at least one 0 (a weakly
    supervised detector learns what is normal from the unlabelled rows).
    Returns an int64 array of shape ``(n_samples,)``.
    """
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            msg = f"y must be one column of labels; got a DataFrame with {y.shape[1]} columns."
            raise ValueError(msg)
        y = y.iloc[:, 0]
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        msg = f"y must be 1-D with one label per sample; got shape {array.shape}."
        raise ValueError(msg)
    if array.shape[0] != n_samples:
        msg = f"y has {array.shape[0]} labels but X has {n_samples} samples."
        raise ValueError(msg)
    if array.dtype.kind not in "biuf":
        msg = f"y has dtype {array.dtype}; expected numeric labels 0 (unlabelled) and 1 (anomaly)."
        raise TypeError(msg)
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        msg = "y contains NaN or infinite values; expected labels 0 and 1 only."
        raise ValueError(msg)
    values = set(np.unique(array).tolist())
    if not values <= {0, 1}:
        msg = (f"y must contain only 0 (unlabelled / normal) and 1 (labelled anomaly); got values "
               f"{sorted(values)[:10]}.")
        raise ValueError(msg)
    if require_anomaly and 1 not in values:
        msg = ("This detector is weakly supervised and needs at least one labelled anomaly "
               "(y == 1) in fit(X, y).")
        raise ValueError(msg)
    if require_unlabelled and 0 not in values:
        msg = (f"y labels all {n_samples} samples as anomalies (y == 1); a weakly supervised "
               "detector needs unlabelled rows (y == 0) too, from which it learns what is "
               "normal. Pass y = 0 for the rows not known to be anomalies.")
        raise ValueError(msg)
    return array.astype(np.int64)


def check_class_labels(y: Any, n_samples: int, *, n_classes: int | None = None) -> np.ndarray:
    """Validate in-distribution class labels (supervision ``"class-labels"``): one integer
    class per sample, at least two distinct classes.

    ``n_classes`` (a given classifier's number of outputs): every label must index an output,
    ``0 <= y < n_classes``. Returns an int64 array of shape ``(n_samples,)``.

    Raises
    ------
    ValueError
        y missing, not 1-D, of another length than X, or with fewer than two classes, or a
        label outside ``[0, n_classes)``.
    TypeError
        Labels that are not integers (floats, strings, booleans): encode them first.
    """
    if y is None:
        msg = ("This detector works on a classifier of the in-distribution classes: call "
               "fit(X, y) with y the integer class labels of X (at least two classes).")
        raise ValueError(msg)
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            msg = (f"y must be one column of class labels; got a DataFrame with {y.shape[1]} "
                   "columns.")
            raise ValueError(msg)
        y = y.iloc[:, 0]
    array = np.asarray(y)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        msg = f"y must be 1-D with one class label per sample; got shape {array.shape}."
        raise ValueError(msg)
    if array.shape[0] != n_samples:
        msg = f"y has {array.shape[0]} labels but X has {n_samples} samples."
        raise ValueError(msg)
    if array.dtype.kind not in "iu":
        msg = (f"y has dtype {array.dtype}; class labels must be integers (encode other labels "
               "first, e.g. with sklearn.preprocessing.LabelEncoder).")
        raise TypeError(msg)
    classes = np.unique(array)
    if len(classes) < 2:
        msg = (f"y holds {len(classes)} class(es) {classes.tolist()}; a classifier of the "
               "in-distribution data needs at least two classes.")
        raise ValueError(msg)
    if n_classes is not None and (classes[0] < 0 or classes[-1] >= n_classes):
        msg = (f"y holds labels from {int(classes[0])} to {int(classes[-1])}, but the classifier "
               f"has {n_classes} outputs: labels must be output indices 0 .. {n_classes - 1}.")
        raise ValueError(msg)
    return array.astype(np.int64)
