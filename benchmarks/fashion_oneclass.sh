#!/usr/bin/env bash
# One-class image benchmarks, each in its own resumable SQLite store, then its report
# in docs/results/<name>/ and docs/results/<name>.md:
#
#   PYTHONPATH=<folder with pyod> bash benchmarks/fashion_oneclass.sh         # fashion_oneclass:
#       Fashion-MNIST, Ruff et al. protocol, 10 classes x seeds 0-2 (configs/fashion_oneclass.toml)
#   ... bash benchmarks/fashion_oneclass.sh mnist   # mnist_oneclass: MNIST per digit, within-test
#   ... bash benchmarks/fashion_oneclass.sh mvtec   # mvtec_embeddings: the 15 MVTec-AD ResNet-18
#       embedding sets, ADBench protocol (tables), seeds 0-3 in the store; two pages: seeds 0-2
#       (mvtec_embeddings) and ADBench's own seeds 1-3 (mvtec_embeddings_adbench_seeds)
#   ... bash benchmarks/fashion_oneclass.sh smoke   # fashion_oneclass_smoke: class 0, seed 0,
#                                                   # one epoch each (checks the path)
#   ... bash benchmarks/fashion_oneclass.sh ssl --seeds 0   # GEOM (then --detectors GOAD) at their
#       image defaults, into the fashion_oneclass store and page (configs/fashion_oneclass_ssl.toml)
#   ... bash benchmarks/fashion_oneclass.sh mlp-ae --jobs 1   # AutoEncoder on z-scored flattened
#       pixels (PyOD's model family), into the fashion_oneclass store and page
#       (configs/fashion_oneclass_mlp_ae.toml)
#   ... bash benchmarks/fashion_oneclass.sh goad-release-batch --jobs 2   # GOAD with the release's
#       batch of 4 images x 72 views, into the fashion_oneclass store and page
#       (configs/fashion_oneclass_goad_release_batch.toml)
#   ... bash benchmarks/fashion_oneclass.sh geom-e3 --jobs 2 --seeds 0   # GEOM with the release's
#       three epochs, into the fashion_oneclass store and page (configs/fashion_oneclass_geom_e3.toml)
#   ... bash benchmarks/fashion_oneclass.sh ensemble --jobs 1   # OutlierEnsemble at its image
#       defaults, into the fashion_oneclass store and page (configs/fashion_oneclass_ensemble.toml)
#   ... bash benchmarks/fashion_oneclass.sh ensemble-ssl --jobs 2   # OutlierEnsemble of RND,
#       DeepSVDD and GOAD (z-score mean), into the fashion_oneclass store and page
#       (configs/fashion_oneclass_ensemble_ssl.toml)
#
# Data: DEEPAD_DATA_DIR, by default ../shared/datasets (images/fashion_mnist, images/mnist,
# adbench/cv_resnet18). pyod goes to a folder of its own (pip install --no-deps --target
# ../peers pyod numba llvmlite), never into the venv; without it, its jobs record why.
# Extra arguments go to deepad bench (--retry-failed, --rerun-stale, --jobs 1, ...). Re-running
# resumes: finished jobs are not run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEEPAD_DATA_DIR="${DEEPAD_DATA_DIR:-$(cd .. && pwd)/shared/datasets}"
config=""
report_seeds=""
case "${1:-}" in
    ssl) shift; name=fashion_oneclass; config=fashion_oneclass_ssl
        title="Fashion-MNIST one-class (Ruff et al. protocol), 10 normal classes, seeds 0-2" ;;
    mlp-ae) shift; name=fashion_oneclass; config=fashion_oneclass_mlp_ae
        title="Fashion-MNIST one-class (Ruff et al. protocol), 10 normal classes, seeds 0-2" ;;
    ensemble) shift; name=fashion_oneclass; config=fashion_oneclass_ensemble
        title="Fashion-MNIST one-class (Ruff et al. protocol), 10 normal classes, seeds 0-2" ;;
    ensemble-ssl) shift; name=fashion_oneclass; config=fashion_oneclass_ensemble_ssl
        title="Fashion-MNIST one-class (Ruff et al. protocol), 10 normal classes, seeds 0-2" ;;
    goad-release-batch) shift; name=fashion_oneclass; config=fashion_oneclass_goad_release_batch
        title="Fashion-MNIST one-class (Ruff et al. protocol), 10 normal classes, seeds 0-2" ;;
    geom-e3) shift; name=fashion_oneclass; config=fashion_oneclass_geom_e3
        title="Fashion-MNIST one-class (Ruff et al. protocol), 10 normal classes, seeds 0-2" ;;
    mnist) shift; name=mnist_oneclass
        title="MNIST one-class per digit, within the test set (70 / 30 per seed), seeds 0-2" ;;
    mvtec) shift; name=mvtec_embeddings; report_seeds=0,1,2
        title="MVTec-AD ResNet-18 embeddings (ADBench), 15 categories, ADBench protocol, seeds 0-2" ;;
    smoke) shift; name=fashion_oneclass_smoke
        title="Fashion-MNIST one-class, smoke run: class 0, seed 0, one epoch per detector (not a result)" ;;
    *) name=fashion_oneclass
        title="Fashion-MNIST one-class (Ruff et al. protocol), 10 normal classes, seeds 0-2" ;;
esac
nice -n 10 deepad bench --config "benchmarks/configs/${config:-$name}.toml" "$@"
# page NAME TITLE [SEEDS]: docs/results/NAME/ (report.md, .html, figures) and docs/results/NAME.md
# (the same report, its figure links pointing into NAME/), from the runs of SEEDS (default all)
page() {
    deepad report "benchmarks/results/$name.db" --out "docs/results/$1" --title "$2" \
        ${3:+--seeds "$3"}
    sed -E "s#\\]\\(([^)/]+\\.png)\\)#](${1}/\\1)#g" "docs/results/$1/report.md" \
        > "docs/results/$1.md"
}
page "$name" "$title" "$report_seeds"
if [ "$name" = mvtec_embeddings ]; then
    page mvtec_embeddings_adbench_seeds \
        "MVTec-AD ResNet-18 embeddings (ADBench), 15 categories, ADBench protocol, ADBench's seeds 1-3" \
        1,2,3
fi
