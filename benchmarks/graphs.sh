#!/usr/bin/env bash
# deepad's graph detectors beside PyGOD's on BOND's five graphs: one resumable bench run (the
# store keeps every finished job; rerunning continues), then the report. PyGOD 1.1.0 must be
# importable (pip install --no-deps --target <dir> pygod==1.1.0; PYTHONPATH=<dir>).
#
#   DEEPAD_DATA_DIR=../shared/datasets PYTHONPATH=../peers bash benchmarks/graphs.sh [--seeds 0]
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
deepad bench --config benchmarks/configs/graphs.toml "$@"
deepad report benchmarks/results/graphs.db --out docs/results/graphs \
    --title "Node outliers on BOND's graphs: deepad and PyGOD at their defaults"
sed -E 's#\]\(([^)/]+\.png)\)#](graphs/\1)#g' docs/results/graphs/report.md \
    > docs/results/graphs.md
