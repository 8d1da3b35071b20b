#!/usr/bin/env bash
# The quick-suite comparison: every registered detector family with its PyOD / DeepOD
# counterparts, ADBench protocol, seeds 0-2, in one SQLite store; then the report.
#
#   DEEPAD_DATA_DIR=../shared/datasets/adbench/classical PYTHONPATH=<folder with pyod and deepod> \
#       bash benchmarks/quick.sh
#
# Peers are optional: without pyod / deepod their jobs are recorded as errors ("not installed").
# Re-running resumes: finished jobs are skipped; --retry-failed (passed through) reruns failures,
# --rerun-stale the rows made by other detector code than the checkout's (marked in the report).
set -euo pipefail
cd "$(dirname "$0")/.."
for config in benchmarks/configs/quick_*.toml; do
    deepad bench --config "$config" "$@"
done
deepad report benchmarks/results/quick.db --out docs/results/quick \
    --title "Quick suite: deepad and its PyOD / DeepOD counterparts (ADBench protocol, seeds 0-2)"
# docs/results/quick.md: the same report, with its figure links pointing into quick/
sed -E 's#\]\(([^)/]+\.png)\)#](quick/\1)#g' docs/results/quick/report.md > docs/results/quick.md
# the documentation page built on both stores
python benchmarks/which_detector.py
