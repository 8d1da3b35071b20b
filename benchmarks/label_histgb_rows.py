"""Name the booster of the DeepXGBOD rows stored before DeepXGBOD had a ``booster`` parameter.

Those rows of ``benchmarks/results/adbench_shared.db`` (the first weakly supervised checking
run) were made with scikit-learn's booster, which was then the only one; their given
parameters were ``{}``. Since ``booster="catboost"`` became the default, ``{}`` would read as
CatBoost. This script rewrites them as the job ``DeepXGBOD`` with ``booster="histgb"`` would
be stored now (given and resolved parameters, slot and run key); the metrics, times, code
identity and everything else stay as they were (the rows stay marked stale: the detector's
source changed since). Idempotent.

    python benchmarks/label_histgb_rows.py [benchmarks/results/adbench_shared.db]
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


def main(argv: list[str]) -> None:
    db = Path(argv[0]) if argv else ROOT / "benchmarks/results/adbench_shared.db"
    config = BenchConfig(suite="adbench-shared", detectors=["DeepXGBOD"],
                         params={"DeepXGBOD": {"booster": "histgb"}}, settings=["weak"])
    (entry,) = plan_detectors(config)
    connection = sqlite3.connect(db)
    rows = connection.execute(
        "SELECT run_key, dataset, seed, setting, labeled_ratio, resolved_params FROM results "
        "WHERE detector = 'DeepXGBOD' AND params = '{}'").fetchall()
    for run_key, dataset, seed, setting, ratio, resolved_text in rows:
        resolved = json.loads(resolved_text)
        if "booster" in resolved or {**resolved, "booster": "histgb"} != entry.resolved:
            msg = f"{run_key}: resolved parameters {resolved} are not the histgb DeepXGBOD's"
            raise SystemExit(msg)
        job = Job("DeepXGBOD", dict(entry.params), dataset, seed, setting, ratio,
                  resolved=entry.resolved)
        connection.execute(
            "UPDATE results SET run_key = ?, slot = ?, params = ?, resolved_params = ? "
            "WHERE run_key = ?", (job.key, job.slot, job.params_json, job.resolved_json, run_key))
    connection.commit()
    connection.close()
    print(f"{len(rows)} DeepXGBOD rows labelled booster=histgb in {db}")


if __name__ == "__main__":
    main(sys.argv[1:])
