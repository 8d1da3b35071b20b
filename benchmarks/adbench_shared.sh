#!/usr/bin/env bash
# Defaults checked on data nobody tuned on: the 25 ADBench classical sets
# in shared/ outside the quick suite, ADBench protocol, seeds 0-2, every deepad row detector at
# its defaults and PyOD's shallow detectors in one SQLite store; then the report.
#
#   DEEPAD_DATA_DIR=../shared/datasets/adbench/classical PYTHONPATH=<folder with pyod> \
#       bash benchmarks/adbench_shared.sh
#
# pyod (and numba, which its IForest / ECOD import) go to a folder of their own, never into the
# venv, so no other torch or numpy is pulled in:
#   pip install --no-deps --target ../peers pyod numba llvmlite
# and the gradient-boosting peers of the weak configs (shared_weak_boost.toml at 10 % labels,
# shared_weak_1pct.toml at 1 %; CatBoost imports six):
#   pip install --no-deps --target ../peers catboost xgboost lightgbm six
# Re-running resumes; --retry-failed / --rerun-stale (passed through) redo failed / stale rows.
set -euo pipefail
cd "$(dirname "$0")/.."
for config in benchmarks/configs/shared_*.toml; do
    deepad bench --config "$config" "$@"
done
deepad report benchmarks/results/adbench_shared.db --out docs/results/adbench_shared \
    --title "Defaults on data nobody tuned on: the 25 ADBench sets outside the quick suite (ADBench protocol)"
sed -E 's#\]\(([^)/]+\.png)\)#](adbench_shared/\1)#g' docs/results/adbench_shared/report.md \
    > docs/results/adbench_shared.md
# the documentation page built on both stores
python benchmarks/which_detector.py
