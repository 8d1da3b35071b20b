"""The registry of evaluation protocols (:class:`deepad.bench.protocol.Protocol`), by name.

``adbench`` (:class:`~deepad.bench.tabular.TabularProtocol`, settings ``unsupervised`` and
``weak``), ``series`` (:class:`~deepad.bench.series_protocol.SeriesProtocol`, setting
``series``), ``images`` (:class:`~deepad.bench.image_protocol.ImageProtocol`, setting
``oneclass``) and ``graphs`` (:class:`~deepad.bench.graph_protocol.GraphProtocol`, settings
``graph`` and ``graph-weak``) are built in; :func:`register` adds another without touching
the planner, the worker, the store or the report. ``video``
(:class:`~deepad.bench.video_protocol.VideoProtocol`, suite ``ped2``) runs its own jobs
(:attr:`~deepad.bench.protocol.Protocol.runs_own_jobs`): ``deepad bench`` hands it the whole
benchmark (:func:`own_protocol`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deepad.bench.graph_protocol import GraphProtocol
from deepad.bench.image_protocol import ImageProtocol
from deepad.bench.protocol import Protocol, unknown_choice
from deepad.bench.series_protocol import SeriesProtocol
from deepad.bench.tabular import TabularProtocol
from deepad.bench.video_protocol import VideoProtocol

if TYPE_CHECKING:
    from deepad.bench.config import BenchConfig

PROTOCOLS: dict[str, Protocol] = {}
"""Registered protocols by name; the last one registered is asked first which configuration
it claims, ``adbench`` (which claims any list of datasets) last."""

FALLBACK = "adbench"


def register(protocol: Protocol) -> Protocol:
    """Add ``protocol`` to :data:`PROTOCOLS` (``ValueError`` when its name, a setting or a
    suite is taken by another protocol)."""
    for other in PROTOCOLS.values():
        if other.name == protocol.name:
            continue
        shared = (set(other.settings) & set(protocol.settings)) | (
            set(other.suites) & set(protocol.suites))
        if shared:
            msg = (f"protocol {protocol.name!r} shares {sorted(shared)} with protocol "
                   f"{other.name!r}; settings and suites name one protocol each.")
            raise ValueError(msg)
    PROTOCOLS[protocol.name] = protocol
    return protocol


register(TabularProtocol())
register(SeriesProtocol())
register(ImageProtocol())
register(GraphProtocol())
register(VideoProtocol())


def get_protocol(name: str) -> Protocol:
    """The protocol registered as ``name`` (``KeyError`` with close matches otherwise)."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise KeyError(unknown_choice("protocol", name, PROTOCOLS)) from None


def protocol_of_setting(setting: str) -> Protocol:
    """The protocol whose jobs carry ``setting`` (``ValueError`` when none does)."""
    for protocol in PROTOCOLS.values():
        if setting in protocol.settings:
            return protocol
    settings = [s for p in PROTOCOLS.values() for s in p.settings]
    raise ValueError(unknown_choice("setting", str(setting), settings))


def suite_names() -> list[str]:
    """Every suite of every registered protocol."""
    return [suite for protocol in PROTOCOLS.values() for suite in protocol.suites]


def own_protocol(suite: str | None) -> Protocol | None:
    """The protocol of suite ``suite`` when it runs its own jobs
    (:attr:`~deepad.bench.protocol.Protocol.runs_own_jobs`), else None (no suite, an unknown
    one, or one of the generic runner)."""
    key = str(suite or "").strip().lower()
    for protocol in PROTOCOLS.values():
        if key and key in protocol.suites and protocol.runs_own_jobs:
            return protocol
    return None


def protocol_for(config: BenchConfig) -> Protocol:
    """The protocol of a configuration: the one owning its suite, or the first (from the last
    registered) that claims its datasets, else ``adbench``."""
    if config.suite:
        key = config.suite.strip().lower()
        for protocol in PROTOCOLS.values():
            if key in protocol.suites:
                return protocol
        raise ValueError(unknown_choice("suite", config.suite, suite_names()))
    for name in reversed(PROTOCOLS):
        if name != FALLBACK and PROTOCOLS[name].claims(config):
            return PROTOCOLS[name]
    return PROTOCOLS[FALLBACK]
