"""The pytorch-ood peer of benchmarks/ood_fashion.py: its MSP, ODIN, energy, Mahalanobis (with
and without its input pre-processing) and KNN on the same trained classifier and data.

pytorch-ood imports torchvision, which does not import with deepad's CPU torch build, so this
runs in its own environment, without deepad (for example a virtual environment with
torch 2.14.1, torchvision 0.29.1 and pytorch-ood from the registry)::

    python benchmarks/ood_fashion.py --peer-export        # deepad's environment
    /work/ood-peer-venv/bin/python benchmarks/ood_peer.py --threads 1
    python benchmarks/ood_fashion.py                       # the report, with the peer table

It reads benchmarks/results/ood_fashion/peer/ (the data as .npy and the classifier as
TorchScript: ``forward`` gives logits, ``features`` the head's input) and writes
``peer_scores.npz`` and ``peer.json`` (versions, CPU seconds) there.
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
    data = {name: torch.from_numpy(np.load(peer / f"{name}.npy")) for name in names}
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
    np.savez_compressed(peer / "peer_scores.npz", **scores)
    info = {"versions": {p: version(p) for p in ("pytorch-ood", "torch", "torchvision")},
            "threads": args.threads, "batch": BATCH, "timing": timing}
    (peer / "peer.json").write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
