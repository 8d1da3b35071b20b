"""Name the parameters of DeepXGBOD rows stored before a parameter existed, as the job with
that parameter set to what the code then did would be stored now.

Rows of ``benchmarks/results/adbench_shared.db`` (the weakly supervised checking runs):

1. stored before DeepXGBOD had a ``booster`` parameter (given parameters ``{}``) were made with
   scikit-learn's booster, then the only one: they become ``booster="histgb"``;
2. stored before it had a ``booster_weight`` parameter (no ``booster_weight`` among their
   resolved parameters) averaged their members with equal weights: they get
   ``booster_weight="equal"``.

Given and resolved parameters, slot and run key are rewritten; the metrics, times, code
identity and everything else stay as they were (the rows stay marked stale: the detector's
source changed since). Idempotent.

    python benchmarks/label_xgbod_rows.py [benchmarks/results/adbench_shared.db]
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

from deepad.bench.config import BenchConfig
from deepad.bench.jobs import Job
from deepad.bench.plan import plan_detectors

ROOT = Path(__file__).resolve().parent.parent


def planned(params: dict) -> tuple[dict, dict]:
    """The given and resolved parameters of the job DeepXGBOD with ``params``, as planned now."""
    config = BenchConfig(suite="adbench-shared", detectors=["DeepXGBOD"],
                         params={"DeepXGBOD": params}, settings=["weak"])
    (entry,) = plan_detectors(config)
    return dict(entry.params), entry.resolved


def relabel(connection: sqlite3.Connection, where: str, added: dict) -> int:
    """Give the DeepXGBOD rows selected by ``where`` the parameters ``added``."""
    rows = connection.execute(
        "SELECT run_key, dataset, seed, setting, labeled_ratio, params, resolved_params "
        f"FROM results WHERE detector = 'DeepXGBOD' AND {where}").fetchall()
    for run_key, dataset, seed, setting, ratio, params_text, resolved_text in rows:
        given, resolved = json.loads(params_text), json.loads(resolved_text)
        params, expected = planned({**given, **added})
        if {**resolved, **added} != expected:
            msg = f"{run_key}: resolved parameters {resolved} are not those of {params}"
            raise SystemExit(msg)
        job = Job("DeepXGBOD", params, dataset, seed, setting, ratio, resolved=expected)
        connection.execute(
            "UPDATE results SET run_key = ?, slot = ?, params = ?, resolved_params = ? "
            "WHERE run_key = ?", (job.key, job.slot, job.params_json, job.resolved_json, run_key))
    return len(rows)


def main(argv: list[str]) -> None:
    db = Path(argv[0]) if argv else ROOT / "benchmarks/results/adbench_shared.db"
    connection = sqlite3.connect(db)
    booster = relabel(connection, "params = '{}'", {"booster": "histgb"})
    weight = relabel(connection, "resolved_params NOT LIKE '%booster_weight%'",
                     {"booster_weight": "equal"})
    connection.commit()
    connection.close()
    print(f"{db}: {booster} DeepXGBOD rows labelled booster=histgb, {weight} labelled "
          "booster_weight=equal")


if __name__ == "__main__":
    main(sys.argv[1:])
