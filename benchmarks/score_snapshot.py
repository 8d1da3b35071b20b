"""Scores of the deep detectors under fixed seeds, to check that a refactoring changes no
result (after the shared building blocks moved to ``deepad.nets`` / ``deepad.core``).

Each detector that trains a network fits with its ``test_params`` (epochs capped at 2) and
``random_state=0`` on 9,000 rows of 6 features and on 1,200 windows of 16 steps: more than one
chunk of every whole-data forward pass (``deepad.core.chunks``), so a changed chunk size
would show. The fit scores and the scores of 3,000 reversed rows are saved; ``--compare``
reports, per detector and input, whether two snapshots are bit-identical.

    git archive BASE src | tar -x -C /tmp/base
    PYTHONPATH=/tmp/base/src OMP_NUM_THREADS=1 python benchmarks/score_snapshot.py before.npz
    OMP_NUM_THREADS=1 python benchmarks/score_snapshot.py after.npz
    python benchmarks/score_snapshot.py --compare before.npz after.npz
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

DETECTORS = ("AutoEncoder", "RandNet", "RobustAutoEncoder", "VAE", "DeepSVDD", "DeepSAD", "OCNN",
             "ALOCC", "OCAN", "DevNet", "PReNet", "SDOR", "DPLAN", "IRLAD", "MILRanking",
             "DeepFeatureDetector", "GOAD", "NeuTraL", "ICL", "DAGMM", "RDP", "REPEN",
             "Forecaster", "LSTMAutoEncoder", "AnoGAN", "ALAD", "GANomaly")
# phases the test parameters leave off: pre-training and the soft-boundary radius
EXTRA = {"DeepSVDD": {"pretrain_epochs": 1, "objective": "soft-boundary", "warm_up_epochs": 0},
         "DeepSAD": {"pretrain_epochs": 1}, "OCAN": {"pretrain_epochs": 2}}


def inputs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(9000, 6)).astype(np.float32)
    rows[:40] += 4
    rows = (rows - rows.min(0)) / (rows.max(0) - rows.min(0))
    y_rows = np.zeros(9000)
    y_rows[:20] = 1
    windows = rng.normal(size=(1200, 16, 3)).astype(np.float32)
    windows[:20] += 2
    y_windows = np.zeros(1200)
    y_windows[:10] = 1
    return {"tabular": (rows, y_rows), "sequence": (windows, y_windows)}


def snapshot(path: str, names: tuple[str, ...]) -> None:
    from deepad.core.registry import get_detector

    scores = {}
    for name in names:
        cls = get_detector(name)
        for modality, (X, y) in inputs().items():
            if modality not in cls.modalities:
                continue
            params = dict(cls.test_params)
            if "epochs" in params:
                params["epochs"] = min(params["epochs"], 2)
            params.update(EXTRA.get(name, {}))
            weak = "unsupervised" not in cls.supervision
            det = cls(**params, random_state=0).fit(X, y if weak else None)
            scores[f"{name}/{modality}/fit"] = det.decision_scores_
            scores[f"{name}/{modality}/new"] = det.decision_function(X[::-1][:3000].copy())
            print(f"{name} {modality}", flush=True)
    np.savez(path, **scores)


def compare(before: str, after: str) -> int:
    a, b = np.load(before), np.load(after)
    differ = 0
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            print(f"only in one snapshot: {key}")
            differ += 1
        elif not np.array_equal(a[key], b[key]):
            print(f"differs: {key} (max |diff| {np.max(np.abs(a[key] - b[key])):.3g})")
            differ += 1
    print(f"{len(set(a) | set(b)) - differ} of {len(set(a) | set(b))} score arrays identical")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="output .npz, or two with --compare")
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated detector names")
    args = parser.parse_args()
    if args.compare:
        return compare(*args.paths)
    warnings.filterwarnings("ignore")
    names = tuple(n for n in args.only.split(",") if n) or DETECTORS
    snapshot(args.paths[0], names)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
