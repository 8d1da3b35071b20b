"""The committed benchmark configurations compare like with like (issue 16, defect 6): every
configuration writing the same store and setting gives its detectors, deepad's and the peers',
the same time limit and the same seeds; and every one of them plans."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from deepad.bench import make_config, read_toml

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "benchmarks" / "configs")
                 .glob("*.toml"))


def _groups() -> dict[tuple[str, str], list[tuple[str, object]]]:
    groups = defaultdict(list)
    for path in CONFIGS:
        config = make_config(read_toml(path))
        for setting in config.settings:
            groups[(str(config.db), setting)].append((path.name, config))
    return groups


def test_there_are_committed_configs():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize("key", sorted(_groups()), ids=lambda key: f"{key[0]}:{key[1]}")
def test_same_store_and_setting_means_same_limit_and_seeds(key):
    configs = _groups()[key]
    limits = {name: config.timeout for name, config in configs}
    seeds = {name: tuple(config.seeds) for name, config in configs}
    assert len(set(limits.values())) == 1, f"time limits differ in {key}: {limits}"
    assert len(set(seeds.values())) == 1, f"seeds differ in {key}: {seeds}"
