"""The pytorch-ood peer of benchmarks/ood_fashion.py: its MSP, ODIN, energy, Mahalanobis (with
and without its input pre-processing) and KNN on the same trained classifier and data.

pytorch-ood imports torchvision, which does not import with deepad's CPU torch build, so this
runs in its own environment, without deepad (for example a virtual environment with
torch 2.14.1, torchvision 0.29.1 and pytorch-ood from the registry, whose Python is
PEER_PYTHON below)::

    python -m venv ood-peer-venv && ood-peer-venv/bin/pip install torch==2.14.1 \
        torchvision==0.29.1 pytorch-ood                   # once; a large download
    python benchmarks/ood_fashion.py --peer-export        # deepad's environment
    PEER_PYTHON=ood-peer-venv/bin/python
    $PEER_PYTHON benchmarks/ood_peer.py --threads 1
    python benchmarks/ood_fashion.py                       # the report, with the peer table

It reads benchmarks/results/ood_fashion/peer/ (the data as .npy and the classifier as
TorchScript: ``forward`` gives logits, ``features`` the head's input) and writes
``peer_scores.npz`` and ``peer.json`` (versions, CPU seconds, the classifier's checksum from
the export, so the report pairs only scores of one network) there.

``--timing-out FILE`` (with ``--only``, ``--sets`` and ``--rows``) only times: the CPU seconds
of scoring the named sets go to FILE as JSON and nothing else is written;
``ood_fashion.py --speed-check`` calls it so, alternating with deepad's detectors, for the
paired timings of its report.
"""

from __future__ import annotations

import argparse
import json
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import torch

PEER = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "ood_fashion" / "peer"
SETS = ("in", "MNIST", "Gaussian_noise", "uniform_noise")
BATCH = 128


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=PEER, help="the exported folder")
    parser.add_argument("--only", nargs="*", help="the detectors to run (default: all)")
    parser.add_argument("--sets", nargs="*", help="the exported sets to score (default: all)")
    parser.add_argument("--rows", type=int, default=None,
                        help="score only the first ROWS images of each set (timing)")
    parser.add_argument("--timing-out", type=Path, default=None,
                        help="only time: write the timings to this JSON file, no scores")
    args = parser.parse_args()
    peer = args.dir
    torch.set_num_threads(args.threads)
    from pytorch_ood.detector import (
        KNN,
        ODIN,
        EnergyBased,
        Mahalanobis,
        MahalanobisODIN,
        MaxSoftmax,
    )

    model = torch.jit.load(str(peer / "classifier.pt")).eval()
    encoder = model.features
    names = (json.loads((peer / "sets.json").read_text()) if (peer / "sets.json").is_file()
             else SETS)  # sets.json: the sets of the export (ood_fashion.py --peer-export)
    names = [n for n in names if not args.sets or n in args.sets]
    data = {name: torch.from_numpy(np.load(peer / f"{name}.npy")[:args.rows]) for name in names}
    X, y = torch.from_numpy(np.load(peer / "train.npy")), torch.from_numpy(
        np.load(peer / "train_labels.npy"))

    def train_features() -> torch.Tensor:
        with torch.no_grad():
            return torch.cat([encoder(X[i:i + BATCH]) for i in range(0, len(X), BATCH)])

    detectors = {
        "MSP": lambda: MaxSoftmax(model),
        "ODIN": lambda: ODIN(model, eps=0.0014, temperature=1000.0),
        "Energy": lambda: EnergyBased(model, t=1.0),
        "Mahalanobis": lambda: Mahalanobis(encoder).fit_features(train_features(), y),
        "MahalanobisODIN": lambda: MahalanobisODIN(encoder, eps=0.0014).fit_features(
            train_features(), y),
        "KNN": lambda: KNN(encoder, k=50).fit_features(train_features(), y),
    }
    scores, timing = {}, {}
    for name, make in detectors.items():
        if args.only and name not in args.only:
            continue
        cpu = time.process_time()
        detector = make()
        fit = time.process_time() - cpu
        cpu = time.process_time()
        for part in names:
            x = data[part]
            gradient = name in ("ODIN", "MahalanobisODIN")
            with torch.set_grad_enabled(gradient):
                s = torch.cat([detector.predict(x[i:i + BATCH]).detach()
                               for i in range(0, len(x), BATCH)])
            scores[f"{name}/{part}"] = s.double().numpy()
        timing[name] = {"fit_cpu_s": fit, "score_cpu_s": time.process_time() - cpu}
        print(name, timing[name], flush=True)
    if args.timing_out is not None:
        args.timing_out.write_text(json.dumps({"threads": args.threads, "batch": BATCH,
                                               "sets": names, "timing": timing}))
        return
    np.savez_compressed(peer / "peer_scores.npz", **scores)
    export = peer / "export.json"  # the classifier's checksum, from ood_fashion.py's export
    info = {"versions": {p: version(p) for p in ("pytorch-ood", "torch", "torchvision")},
            "threads": args.threads, "batch": BATCH, "timing": timing,
            "classifier": json.loads(export.read_text())["classifier"] if export.is_file()
            else None}
    (peer / "peer.json").write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
