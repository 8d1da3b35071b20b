"""Time-series benchmark jobs: the ``series`` suite, its protocol, detectors and metrics.

Datasets
--------
A series is named with its source: ``smap_msl/<channel>`` (NASA SMAP / MSL telemetry,
:func:`deepad.data.load_smap_msl`), ``ucr/<file stem>`` (UCR 2021 anomaly archive,
:func:`deepad.data.load_ucr`; ``ucr/135`` finds the series by its id) and
``nab/<category>/<series>`` (Numenta Anomaly Benchmark, :func:`deepad.data.load_nab`). They
are found in the data folders (``DEEPAD_DATA_DIR``, e.g. ``/work/shared/datasets/timeseries``).
The ``series`` suite is every series of the three sources found there. Reports group them as
``SMAP/MSL``, ``UCR`` and ``NAB/<category>`` (:func:`series_group`).

Protocol
--------
Each job trains on the series' training part (no labels: NAB's probationary-period labels
and every other label are ignored) and scores every timestamp of its test part. Both parts are
min-max scaled per channel with the training part's minimum and range (a channel constant in
training is only shifted), the same input for every detector. A series whose test part holds
no anomaly (NAB's ``artificialNoAnomaly`` folder, ``realAWSCloudwatch/ec2_cpu_utilization_c6585a``)
is planned as ``skipped``: no metric is defined there.

Detectors
---------
- deepad registry detectors (``AutoEncoder``) run on sliding windows through
  :class:`deepad.series.SeriesDetector` (window → timestamp scores). Its parameters
  (``window``, ``stride``, ``reduce``, ...) are given like the detector's own,
  ``--params AutoEncoder.window=32``; the suite sets ``window=64`` and ``stride=1``
  (:data:`DEFAULT_WINDOW`, :data:`DEFAULT_STRIDE`; ``stride`` is the training stride,
  scoring uses ``score_stride``, 1 by default).
- DeepOD time-series detectors (``deepod:USAD``, ``deepod:TimesNet`` ...; classes of
  ``deepod.models.time_series``) run as published on the series, with their defaults, the
  seed, ``device="cpu"`` and ``seq_len`` = the protocol's ``window`` (give ``window``, not
  ``seq_len``). Their ``stride`` is their own training stride (scoring uses stride 1 in
  DeepOD), left at its default.
- ``python:package.module:Class``: a class whose ``fit(series)`` takes the (T, C) training
  series and whose ``decision_function(series)`` returns one score per timestamp; it gets
  ``window`` / ``stride`` only when its constructor takes them.

PyOD detectors and DeepOD's tabular detectors take rows, not series: a series plan refuses
them. Weakly supervised detectors are planned as skipped (series jobs give no labels).

Metrics
-------
See :func:`series_metrics`: point-wise AUC-ROC, AUC-PR and precision@n; the best point-wise
F1 over thresholds; the range-based F1 of Tatbul et al. (NeurIPS 2018) at that same threshold;
and the best point-adjusted F1, which is optimistic.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from typing import Any

import numpy as np

from deepad.bench import detectors

SOURCES = ("smap_msl", "ucr", "nab")
"""Prefixes of series names, in the order the suite lists them."""

GROUP_ORDER = ("SMAP/MSL", "UCR", "NAB")
DEFAULT_WINDOW = 64
DEFAULT_STRIDE = 1
WINDOW_KEYS = ("window", "stride")
"""Protocol parameters stored in every deepad series job (``window`` only for DeepOD)."""
SERIES_SUITES = ("series",)
"""Suites of the time-series protocol (:class:`deepad.bench.series_protocol.SeriesProtocol`)."""


# ---------------------------------------------------------------------------- names
def is_series_name(name: str) -> bool:
    """Whether ``name`` names a series (``smap_msl/A-1``, ``ucr/135``, ``nab/...``)."""
    source, sep, rest = str(name).strip().partition("/")
    return bool(sep) and bool(rest) and source.lower() in SOURCES


def _split(name: str) -> tuple[str, str]:
    source, sep, rest = str(name).strip().partition("/")
    if not sep or not rest or source.lower() not in SOURCES:
        msg = (f"{name!r} is not a series name: expected smap_msl/<channel>, ucr/<id or file "
               "stem> or nab/<category>/<series>.")
        raise ValueError(msg)
    return source.lower(), rest.strip()


def _listing(source: str) -> list[str]:
    from deepad.data import timeseries

    listers = {"smap_msl": timeseries.smap_msl_channels, "ucr": timeseries.ucr_series,
               "nab": timeseries.nab_series}
    return listers[source]()


def series_names() -> list[str]:
    """Every series of the ``series`` suite found in the data folders.

    Raises ``FileNotFoundError`` (saying which source and where it was looked for) when one
    of SMAP/MSL, UCR or NAB is missing: a suite run on part of its data would not be the suite.
    """
    return [f"{source}/{name}" for source in SOURCES for name in _listing(source)]


@functools.lru_cache(maxsize=2)
def load_series(name: str) -> Any:
    """The :class:`deepad.data.SeriesDataset` of a series name (cached: a worker process
    reuses it for the next job on the same series)."""
    from deepad.data import load_nab, load_smap_msl, load_ucr

    source, rest = _split(name)
    loader = {"smap_msl": load_smap_msl, "ucr": load_ucr, "nab": load_nab}[source]
    try:
        data = loader(rest)
    except FileNotFoundError as error:
        close = []
        try:
            close = difflib.get_close_matches(rest, _listing(source), n=3, cutoff=0.5)
        except FileNotFoundError:
            pass
        hint = f" Did you mean {', '.join(f'{source}/{c}' for c in close)}?" if close else ""
        msg = f"unknown series {name!r}.{hint} {error}"
        raise FileNotFoundError(msg) from error
    for part in (data.train, data.y_train, data.test, data.y_test):
        part.setflags(write=False)
    return data


def canonical_name(name: str) -> str:
    """The name a series is stored under: ``ucr/135`` → ``ucr/135_UCR_Anomaly_...``,
    ``nab/nyc_taxi`` → ``nab/realKnownCause/nyc_taxi``."""
    source, _ = _split(name)
    return f"{source}/{load_series(name).name}"


def series_group(name: str) -> str:
    """Report group of a series: ``SMAP/MSL``, ``UCR`` or ``NAB/<category>``.

    >>> series_group("nab/realTweets/Twitter_volume_AAPL"), series_group("smap_msl/A-1")
    ('NAB/realTweets', 'SMAP/MSL')
    """
    source, rest = _split(name)
    if source == "nab":
        category, sep, _ = rest.partition("/")
        return f"NAB/{category}" if sep else "NAB"
    return {"smap_msl": "SMAP/MSL", "ucr": "UCR"}[source]


def group_key(group: str) -> tuple[int, str]:
    """Sort key of report groups: SMAP/MSL, UCR, then NAB categories alphabetically."""
    head = group.split("/")[0] if group.startswith("NAB") else group
    position = GROUP_ORDER.index(head) if head in GROUP_ORDER else len(GROUP_ORDER)
    return position, group.lower()


# ---------------------------------------------------------------------------- protocol
def scale_series(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min-max scale both parts per channel with the training part's minimum and range.

    A channel (nearly) constant in training (range at most ``1e-8`` times its largest
    magnitude) is only shifted, so its test values keep their scale.

    >>> train, test = scale_series(np.array([[0.0, 5.0], [2.0, 5.0]]), np.array([[4.0, 6.0]]))
    >>> train.tolist(), test.tolist()
    ([[0.0, 0.0], [1.0, 0.0]], [[2.0, 1.0]])
    """
    low = train.min(axis=0)
    span = train.max(axis=0) - low
    constant = span <= 1e-8 * np.maximum(1.0, np.abs(train).max(axis=0))
    span = np.where(constant, 1.0, span)
    return (train - low) / span, (test - low) / span


def evaluation_problem(data: Any) -> str | None:
    """Why no metric is defined on a series' test part, or None."""
    n_anomalies = int(data.y_test.sum())
    if n_anomalies == 0:
        return "the test part holds no anomaly: AUC and F1 are undefined"
    if n_anomalies == len(data.y_test):
        return "every test timestamp is an anomaly: AUC is undefined"
    return None


def series_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    r"""Every metric of a series job, from the test labels and one score per timestamp.

    - ``auc_roc``, ``auc_pr``, ``precision_at_n``: point-wise, threshold-free.
    - ``best_f1``: point-wise F1 at the threshold :math:`\tau^*` that maximises it
      (:func:`deepad.metrics.best_f1`; chosen with the test labels, so an upper bound on what
      a threshold set without them reaches).
    - ``range_f1``: range-based F1 of Tatbul et al. (NeurIPS 2018) of the predictions
      :math:`s_t \ge \tau^*` (:func:`deepad.metrics.range_f1` with its defaults:
      :math:`\alpha = 0`, flat positional bias, cardinality "one"). Same operating point as
      ``best_f1``; not maximised on its own.
    - ``pa_f1``: the best point-adjusted F1 over thresholds
      (:func:`deepad.metrics.point_adjusted_f1`): one detected timestamp credits its whole
      anomaly segment. **Optimistic** (Kim et al., AAAI 2022): reported, never ranked alone.

    Returns
    -------
    dict
        The six metrics above and, JSON-ready, ``threshold``, ``precision``, ``recall`` (at
        :math:`\tau^*`), ``range_precision``, ``range_recall``, ``pa_threshold``,
        ``pa_precision``, ``pa_recall``, ``n_test``, ``n_anomalies`` and ``n_ranges``
        (anomalous segments of the test labels). All but the three ranking metrics are
        stored in the row's JSON ``metrics`` column.
    """
    from deepad.metrics import (
        auc_pr,
        auc_roc,
        best_f1,
        point_adjusted_f1,
        precision_at_n,
        range_precision_recall,
    )
    best = best_f1(y_true, scores)
    predicted = (scores >= best.threshold).astype(np.int64)
    ranged = range_precision_recall(y_true, predicted)
    adjusted = point_adjusted_f1(y_true, scores)
    n_ranges = int(np.count_nonzero(np.diff(np.concatenate(([0], y_true))) == 1))
    details = {"threshold": best.threshold, "precision": best.precision,
               "recall": best.recall, "range_precision": ranged.precision,
               "range_recall": ranged.recall, "pa_threshold": adjusted.threshold,
               "pa_precision": adjusted.precision, "pa_recall": adjusted.recall,
               "n_test": len(y_true), "n_anomalies": int(np.sum(y_true)),
               "n_ranges": n_ranges}
    values = {"auc_roc": auc_roc(y_true, scores), "auc_pr": auc_pr(y_true, scores),
              "precision_at_n": precision_at_n(y_true, scores), "best_f1": best.f1,
              "range_f1": ranged.f1, "pa_f1": adjusted.f1, **details}
    return {k: float(v) if isinstance(v, float | np.floating) else v for k, v in values.items()}


# ---------------------------------------------------------------------------- detectors
def wrapper_parameters() -> set[str]:
    """Parameters of :class:`deepad.series.SeriesDetector` a job may set: all but
    ``detector`` and ``random_state`` (left None, so the wrapper draws its training-window
    subsample from the detector's ``random_state``, the job's seed)."""
    from deepad.series import SeriesDetector

    names = set(inspect.signature(SeriesDetector.__init__).parameters)
    return names - {"self", "detector", "random_state"}


def _is_series_peer(cls: type) -> bool:
    return cls.__module__.startswith("deepod.models.time_series")


def _accepts(cls: type, name: str) -> bool:
    parameters = inspect.signature(cls.__init__).parameters
    return name in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD
                                     for p in parameters.values())


def protocol_defaults(ref: detectors.DetectorRef, cls: type | None) -> dict[str, Any]:
    if ref.kind == "deepad":
        return {"window": DEFAULT_WINDOW, "stride": DEFAULT_STRIDE}
    if ref.kind == "deepod":
        return {"window": DEFAULT_WINDOW}
    return {key: value for key, value in
            (("window", DEFAULT_WINDOW), ("stride", DEFAULT_STRIDE))
            if cls is not None and _accepts(cls, key)}


def _split_params(ref: detectors.DetectorRef, params: dict[str, Any]
                  ) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(detector parameters, SeriesDetector parameters)`` of a deepad series job."""
    wrapper = wrapper_parameters()
    return ({k: v for k, v in params.items() if k not in wrapper},
            {k: v for k, v in params.items() if k in wrapper})


def peer_params(ref: detectors.DetectorRef, params: dict[str, Any]) -> dict[str, Any]:
    if "seq_len" in params:
        msg = (f"{ref.spec}: set the window of a series job with {ref.spec}.window=..., which "
               "becomes its seq_len (and is the same protocol parameter as for deepad "
               "detectors); not with seq_len.")
        raise ValueError(msg)
    given = dict(params)
    window = given.pop("window", DEFAULT_WINDOW)
    return {**given, "seq_len": window}


def check_series_detector(ref: detectors.DetectorRef, cls: type,
                          params: dict[str, Any]) -> None:
    """Raise ``ValueError`` for a detector a series job cannot run or a parameter it does not
    take (see the module doc for which detectors run and how)."""
    if ref.kind == "pyod" or (ref.kind == "deepod" and not _is_series_peer(cls)):
        msg = (f"{ref.spec} takes rows, not series: a time-series benchmark runs deepad "
               "registry detectors (on windows), DeepOD time-series detectors (deepod:USAD, "
               "deepod:TimesNet, deepod:DeepSVDDTS, ...) or python:module:Class series "
               "detectors.")
        raise ValueError(msg)
    if ref.kind == "deepad":
        if "sequence" not in getattr(cls, "modalities", ()):
            msg = (f"{ref.spec} takes {list(cls.modalities)} input, not sequence windows: "
                   "deepad.series.SeriesDetector cannot run it on a series.")
            raise ValueError(msg)
        inner, outer = _split_params(ref, params)
        valid = detectors.parameter_names(ref, cls) | wrapper_parameters()
        for key in inner:
            if key not in valid:
                close = difflib.get_close_matches(key, sorted(valid), n=3)
                hint = f" Did you mean {', '.join(close)}?" if close else ""
                msg = (f"{ref.spec} has no parameter {key!r} in a series job.{hint} Window "
                       f"parameters (deepad.series.SeriesDetector): "
                       f"{', '.join(sorted(wrapper_parameters()))}; detector parameters: "
                       f"{', '.join(sorted(valid - wrapper_parameters()))}.")
                raise ValueError(msg)
        detectors.check_params(ref, cls, inner)
        from deepad.core.params import validate_parameters
        from deepad.series import SeriesDetector

        wrapper = SeriesDetector(cls(), **outer)
        try:
            validate_parameters(wrapper)
        except (ValueError, TypeError) as error:
            msg = f"{ref.spec}: {error}"
            raise ValueError(msg) from error
        for name in ("stride", "train_stride", "score_stride"):
            value = getattr(wrapper, name)
            if value is not None and value > wrapper.window:
                msg = (f"{ref.spec}: {name}={value} is larger than "
                       f"window={wrapper.window}; use {name} <= window.")
                raise ValueError(msg)
        return
    if ref.kind == "deepod":
        detectors.check_params(ref, cls, peer_params(ref, params))
        return
    detectors.check_params(ref, cls, params)


def build_series(ref: detectors.DetectorRef, params: dict[str, Any], seed: int) -> Any:
    """A fresh series estimator: ``fit(train (T, C))``, ``decision_function(test (T, C))``
    → one score per timestamp."""
    if ref.kind == "deepad":
        from deepad.series import SeriesDetector

        inner, outer = _split_params(ref, params)
        detector, _ = detectors.build(ref, inner, seed)
        return SeriesDetector(detector, **outer)
    if ref.kind == "deepod":
        estimator, _ = detectors.build(ref, peer_params(ref, params), seed)
        return estimator
    estimator, _ = detectors.build(ref, params, seed)
    return estimator


