#!/usr/bin/env bash
# RND beside RDP on the quick suite: one bench run, then the report.
#
#   DEEPAD_DATA_DIR=../shared/datasets/adbench/classical bash benchmarks/rnd_quick.sh
set -euo pipefail
cd "$(dirname "$0")/.."
deepad bench --config benchmarks/configs/rnd_quick.toml "$@"
deepad report benchmarks/results/rnd_quick.db --out docs/results/rnd_quick \
    --title "RND and RDP on the quick suite (ADBench protocol, unsupervised, seeds 0-2)"
sed -E 's#\]\(([^)/]+\.png)\)#](rnd_quick/\1)#g' docs/results/rnd_quick/report.md \
    > docs/results/rnd_quick.md
