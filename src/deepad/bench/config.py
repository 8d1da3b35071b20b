"""Benchmark configuration: the command-line flags or a TOML file with the same keys.

.. code-block:: toml

    suite = "quick"                  # or: datasets = ["6_cardio", "38_thyroid", "mine.csv"]
    label_column = "label"           # the 0/1 label column of CSV / Parquet datasets
    detectors = ["DeepSVDD", "AutoEncoder", "pyod:IForest"]
    seeds = [0, 1, 2]
    setting = "unsupervised"         # "weak", or both: ["unsupervised", "weak"]
    labeled_ratio = 0.1
    params = ["DeepSVDD.epochs=5"]   # or a table: [params.DeepSVDD] epochs = 5
    db = "deepad-bench.db"
    jobs = 2
    timeout = 600                    # seconds per job; 0 = no limit
    memory_limit = 4                 # GB per job
    dask = "local"                   # or "tcp://host:8786"

Keys may be spelt with ``-`` or ``_``. Lists may also be comma-separated strings, as on the
command line; flags given on the command line override the file.
"""

from __future__ import annotations

import ast
import difflib
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from deepad.bench.jobs import SETTINGS

DEFAULT_DB = "deepad-bench.db"
DEFAULT_TIMEOUT = 3600.0


@dataclass
class BenchConfig:
    """What to run and how.

    Attributes
    ----------
    detectors : list of str
        Detector specs (see :mod:`deepad.bench.detectors`).
    datasets : list of str
        Dataset names, ``.npz`` paths, or CSV / Parquet tables with a label column
        (:mod:`deepad.bench.tables`); empty when ``suite`` names them.
    label_column : str
        The label column (1 = anomaly, 0 = normal) of CSV / Parquet datasets.
    suite : str or None
        A named suite (:data:`deepad.bench.suites.SUITES`).
    seeds : list of int
    settings : list of str
        ``unsupervised`` and / or ``weak``.
    labeled_ratio : float
        Ratio of training anomalies labelled in the weak setting, in (0, 1].
    params : dict
        ``{detector spec as written: {parameter: value}}``.
    db : Path
    jobs : int
        Jobs at a time (worker processes, or Dask workers of a local cluster).
    timeout : float or None
        Seconds per job; None for no limit.
    memory_limit : float or None
        GB of resident memory per job; None for no guard.
    dask : str or None
        ``"local"`` or a scheduler address; None runs local worker processes.
    retry_failed : bool
        Run failed jobs again (replacing their rows).
    rerun_stale : bool
        Run stale jobs again: rows made by other detector code than the current one, or
        before code identities were recorded (:mod:`deepad.bench.identity`).
    """

    detectors: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    label_column: str = "label"
    suite: str | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    settings: list[str] = field(default_factory=lambda: ["unsupervised"])
    labeled_ratio: float = 0.1
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    db: Path = Path(DEFAULT_DB)
    jobs: int = 1
    timeout: float | None = DEFAULT_TIMEOUT
    memory_limit: float | None = None
    dask: str | None = None
    retry_failed: bool = False
    rerun_stale: bool = False


ALIASES = {"setting": "settings", "seed": "seeds", "detector": "detectors",
           "dataset": "datasets"}
KEYS = sorted({f.name for f in fields(BenchConfig)} | set(ALIASES))


def _items(value: Any, key: str) -> list[Any]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return list(value)
    msg = f"{key} must be a list or a comma-separated string; got {value!r}."
    raise ValueError(msg)


def _number(value: Any, key: str, kind: type, *, none_at_zero: bool = False) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        msg = f"{key} must be a number; got {value!r}."
        raise ValueError(msg) from None
    if number < 0:
        msg = f"{key} must not be negative; got {value!r}."
        raise ValueError(msg)
    return None if none_at_zero and number == 0 else number


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def parse_param(item: str) -> tuple[str, str, Any]:
    """``"DeepSVDD.epochs=5"`` → ``("DeepSVDD", "epochs", 5)``; values are Python literals,
    else strings. The detector is everything before the last ``.`` of the left side, so
    ``python:pkg.mod:Class.alpha=1`` works.

    >>> parse_param("python:pkg.mod:Fake.hidden=(32, 8)")
    ('python:pkg.mod:Fake', 'hidden', (32, 8))
    """
    left, sep, raw = item.partition("=")
    detector, dot, key = left.strip().rpartition(".")
    if not sep or not dot or not detector.strip() or not key.strip().isidentifier():
        msg = (f"--params expects DETECTOR.KEY=VALUE (e.g. --params DeepSVDD.epochs=5); "
               f"got {item!r}.")
        raise ValueError(msg)
    return detector.strip(), key.strip(), _literal(raw.strip())


def _params(value: Any) -> dict[str, dict[str, Any]]:
    params: dict[str, dict[str, Any]] = {}
    if isinstance(value, dict):
        for detector, table in value.items():
            if not isinstance(table, dict):
                msg = (f"params.{detector} must be a table of parameters; got {table!r}.")
                raise ValueError(msg)
            params.setdefault(str(detector), {}).update(table)
        return params
    items = [value] if isinstance(value, str) else _items(value, "params")
    for item in items:
        detector, key, parsed = parse_param(str(item))
        params.setdefault(detector, {})[key] = parsed
    return params


def _settings(value: Any) -> list[str]:
    settings = [str(s).lower() for s in _items(value, "setting")]
    for setting in settings:
        if setting not in SETTINGS:
            msg = f"setting must be one of {list(SETTINGS)}; got {setting!r}."
            raise ValueError(msg)
    return list(dict.fromkeys(settings))


def parse_seeds(value: Any) -> list[int]:
    """Seeds from an int, a list or a comma-separated string ("0,1,2"), without repeats.

    Raises
    ------
    ValueError
        No seed, or one that is not an integer.
    """
    items = [value] if isinstance(value, int) else _items(value, "seeds")
    seeds = [_number(s, "seeds", int) for s in items]
    if not seeds:
        msg = "seeds must name at least one seed."
        raise ValueError(msg)
    return list(dict.fromkeys(seeds))


def _label_column(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        msg = f"label_column must be a column name; got {value!r}."
        raise ValueError(msg)
    return value.strip()


def _flag(value: Any, key: str = "retry_failed") -> bool:
    if not isinstance(value, bool):
        msg = f"{key} must be true or false; got {value!r}."
        raise ValueError(msg)
    return value


def _coerce(key: str, value: Any) -> Any:
    if key in ("detectors", "datasets"):
        return [str(v).strip() for v in _items(value, key)]
    converters = {
        "suite": lambda v: str(v) if v else None,
        "label_column": _label_column,
        "seeds": parse_seeds,
        "settings": _settings,
        "db": Path,
        "jobs": lambda v: max(1, _number(v, "jobs", int)),
        "timeout": lambda v: _number(v, "timeout", float, none_at_zero=True),
        "memory_limit": lambda v: _number(v, "memory_limit", float, none_at_zero=True),
        "dask": lambda v: str(v) if v else None,
        "retry_failed": _flag,
        "rerun_stale": lambda v: _flag(v, "rerun_stale"),
    }
    if key == "labeled_ratio":
        ratio = _number(value, key, float)
        if not 0 < ratio <= 1:
            msg = f"labeled_ratio must be in (0, 1]; got {value!r}."
            raise ValueError(msg)
        return ratio
    return converters[key](value)


def _normalise_key(key: str) -> str:
    key = str(key).replace("-", "_")
    if key not in KEYS:
        close = difflib.get_close_matches(key, KEYS, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        msg = f"unknown benchmark setting {key!r}.{hint} Valid keys: {', '.join(KEYS)}."
        raise ValueError(msg)
    return ALIASES.get(key, key)


def make_config(*layers: dict[str, Any]) -> BenchConfig:
    """A :class:`BenchConfig` from layers of raw values (a TOML file, then the flags given);
    later layers override earlier ones (``params`` one parameter at a time), None means "not
    given"."""
    values: dict[str, Any] = {}
    params: dict[str, dict[str, Any]] = {}
    params_layer: dict[str, int] = {}  # the last layer that gave each detector's parameters
    detectors_layer = -1
    for index, layer in enumerate(layers):
        for key, value in layer.items():
            if value is None:
                continue
            key = _normalise_key(key)
            if key == "params":  # merged: a flag overrides the file's value of one parameter
                for detector, table in _params(value).items():
                    params.setdefault(detector, {}).update(table)
                    params_layer[detector] = index
            else:
                values[key] = _coerce(key, value)
                if key == "detectors":
                    detectors_layer = index
    # a later layer's detector list (--detectors over a file) leaves out the earlier layers'
    # parameters of the detectors it drops; parameters given with the list (or after it)
    # must still name one of its detectors (check_config / given_params: typos are errors)
    if detectors_layer > 0:
        from deepad.bench.detectors import parse_detector

        kept = {parse_detector(d).spec for d in values.get("detectors", [])}
        params = {d: t for d, t in params.items()
                  if params_layer[d] >= detectors_layer or parse_detector(d).spec in kept}
    config = BenchConfig(**values, params=params)
    check_config(config)
    return config


def check_config(config: BenchConfig) -> None:
    """Raise ``ValueError`` when ``config`` cannot describe a benchmark (also for a
    :class:`BenchConfig` built by hand rather than by :func:`make_config`)."""
    if not config.detectors:
        msg = "no detectors: give --detectors A,B (or detectors = [...] in the config file)."
        raise ValueError(msg)
    if bool(config.suite) == bool(config.datasets):
        msg = "give exactly one of --suite NAME and --datasets a,b."
        raise ValueError(msg)
    if not config.seeds:
        msg = "seeds must name at least one seed."
        raise ValueError(msg)
    _settings(config.settings)
    _coerce("labeled_ratio", config.labeled_ratio)
    if config.jobs < 1:
        msg = f"jobs must be at least 1; got {config.jobs}."
        raise ValueError(msg)


def read_toml(path: str | Path) -> dict[str, Any]:
    """The raw values of a TOML config file (``tomllib``; ``tomli`` on Python 3.10)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        try:
            import tomli as tomllib
        except ImportError as error:
            msg = "reading a TOML config on Python 3.10 needs tomli: pip install tomli"
            raise ImportError(msg) from error
    path = Path(path)
    try:
        with path.open("rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        msg = f"{path} is not valid TOML: {error}"
        raise ValueError(msg) from error
