#!/usr/bin/env bash
# The time-series suite: SMAP/MSL channels, UCR 2021 series and NAB series, deepad
# detectors on windows next to DeepOD's time-series detectors, in one SQLite store; then the
# report (per group: SMAP/MSL, UCR, NAB per category) in docs/results/<name>/ and
# docs/results/<name>.md (<name>: series, series_main, series_nab or series_smoke).
#
#   DEEPAD_DATA_DIR=/work/shared/datasets/timeseries PYTHONPATH=/tmp/peerlib \
#       bash benchmarks/series.sh            # the full suite (benchmarks/configs/series.toml)
#   ... bash benchmarks/series.sh main       # the main run: SMAP/MSL + UCR against every
#                                            # DeepOD peer (benchmarks/configs/series_main.toml)
#   ... bash benchmarks/series.sh nab        # NAB per category (benchmarks/configs/series_nab.toml)
#   ... bash benchmarks/series.sh smoke      # the smoke run (benchmarks/configs/series_smoke.toml)
#
# Extra arguments go to deepad bench (e.g. --retry-failed, --rerun-stale, --jobs 4).
# Re-running resumes:
# finished jobs are not run again. Without deepod on PYTHONPATH its jobs are recorded as errors.
set -euo pipefail
cd "$(dirname "$0")/.."
name=series
title="Time-series suite: deepad detectors on windows and DeepOD time-series peers (SMAP/MSL, UCR, NAB)"
if [[ "${1:-}" == smoke ]]; then
    shift
    name=series_smoke
    title="Time-series suite, smoke run: 2 MSL channels, 1 UCR series, AutoEncoder and DeepSVDD (2 epochs, 1,000 training windows), deepod:TcnED (defaults), seed 0"
elif [[ "${1:-}" == nab ]]; then
    shift
    name=series_nab
    title="NAB by category: deepad sequence detectors on windows of 64, trained on each series' first 15 %, seed 0"
elif [[ "${1:-}" == main ]]; then
    shift
    name=series_main
    title="Time-series comparison: SMAP/MSL and UCR, deepad sequence detectors against DeepOD's time-series detectors (defaults), seed 0, 1,200 s limit"
fi
if [[ "$name" == series_main ]]; then  # the variants first: they are cheap
    nice -n 10 deepad bench --config "benchmarks/configs/$name.toml" "$@" \
        --detectors Forecaster,LSTMAutoEncoder \
        --params "Forecaster.target_channels=[0]" --params LSTMAutoEncoder.teacher_forcing=always
fi
nice -n 10 deepad bench --config "benchmarks/configs/$name.toml" "$@"
deepad report "benchmarks/results/$name.db" --out "docs/results/$name" --title "$title"
# docs/results/<name>.md: the same report, with its figure links pointing into <name>/
sed -E "s#\\]\\(([^)/]+\\.png)\\)#](${name}/\\1)#g" "docs/results/$name/report.md" > "docs/results/$name.md"
