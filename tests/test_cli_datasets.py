"""``deepad datasets`` lists what the data folders hold, with sizes and anomaly ratios."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from deepad.cli import app

runner = CliRunner()


@pytest.mark.needs_shared
def test_lists_every_local_source(shared_datasets, monkeypatch):
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(shared_datasets))
    result = runner.invoke(app, ["datasets", "--json"])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.output)
    by_source: dict[str, list[dict]] = {}
    for entry in entries:
        by_source.setdefault(entry["source"], []).append(entry)
    assert len(by_source["adbench"]) == 49 and len(by_source["nab"]) == 58
    assert len(by_source["smap_msl"]) == 6 and len(by_source["ucr"]) == 4
    cardio = next(e for e in by_source["adbench"] if e["name"] == "6_cardio")
    assert (cardio["rows"], cardio["features"], cardio["anomalies"]) == (1831, 21, 176)
    assert cardio["anomaly_ratio"] == pytest.approx(176 / 1831)
    a1 = next(e for e in by_source["smap_msl"] if e["name"] == "A-1")
    assert (a1["rows"], a1["features"], a1["anomalies"]) == (2880 + 8640, 25, 4774 - 4690 + 1)


@pytest.mark.needs_shared
def test_table_output(shared_datasets, monkeypatch):
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(shared_datasets / "adbench" / "classical"))
    result = runner.invoke(app, ["datasets", "--source", "adbench"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if " 6_cardio " in x)
    assert "1,831" in line and "9.61 %" in line
    assert result.output.strip().endswith("33 datasets")


def test_nothing_found_and_bad_source(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPAD_DATA_DIR", str(tmp_path))
    result = runner.invoke(app, ["datasets"])
    assert result.exit_code == 0 and "No datasets found" in result.output
    result = runner.invoke(app, ["datasets", "--source", "nope"])
    assert result.exit_code == 2 and "unknown source" in result.output
