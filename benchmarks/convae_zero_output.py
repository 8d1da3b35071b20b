"""Why Hasan et al.'s Conv-AE on mean-subtracted Ped2 frames stays at the zero output: the
network and training cuboids of the ``convae_paper`` job, on training videos 1-3 only (no test
video, no label), trained for a few epochs with one thing changed at a time (weight decay,
initialisation). Prints a markdown table; docs/decisions.md ("Video: Ped2, sixth round")
quotes it.

    DEEPAD_DATA_DIR=<datasets> python benchmarks/convae_zero_output.py

One torch thread; about two CPU minutes.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import torch
from torch import nn

from deepad import AutoEncoder, VideoDetector
from deepad.bench import video_suite
from deepad.data.video import load_ucsd_ped2

VIDEOS = (1, 2, 3)
EPOCHS = 3


def training_clips() -> tuple[torch.Tensor, VideoDetector]:
    """The job's training cuboids of ``VIDEOS`` as ``VideoDetector`` builds them, and a fitted
    wrapper (one step) whose ``spec_`` builds the job's network."""
    _, params, options, _ = video_suite.JOBS["convae_paper"]
    train = load_ucsd_ped2("train")
    videos = [train.frames[train.video_ids == i] for i in VIDEOS]
    captured = {}

    class Capture(AutoEncoder):
        def fit(self, X, y=None):
            captured["X"] = np.array(X)
            return super().fit(X[:2], y)

    with warnings.catch_warnings():  # one epoch on two clips: "did not learn" is expected
        warnings.simplefilter("ignore", UserWarning)
        wrapper = VideoDetector(Capture(**{**params, "epochs": 1}), **options).fit(videos)
    return torch.from_numpy(captured["X"]), wrapper


def xavier(model: nn.Module) -> None:
    """Caffe's "xavier" filler (uniform, variance 1 / fan_in) and zero biases."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
            w = module.weight
            fan_in = w[0].numel() if isinstance(module, nn.Conv2d) else w.shape[0] * w[0, 0].numel()
            bound = math.sqrt(3.0 / fan_in)
            nn.init.uniform_(w, -bound, bound)
            nn.init.zeros_(module.bias)


def train(X: torch.Tensor, spec, *, weight_decay: float, init=None, epochs: int = EPOCHS):
    _, params, _, _ = video_suite.JOBS["convae_paper"]
    torch.manual_seed(0)
    model = AutoEncoder(**params).build(spec)
    if init is not None:
        init(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=params["lr"], weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        total = 0.0
        for low in range(0, len(X), params["batch_size"]):
            x = X[order[low:low + params["batch_size"]]]
            loss = (model(x) - x).pow(2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(x)
        losses.append(total / len(X))
    with torch.no_grad():
        out_std = float(model(X[:32]).std())
    return losses, out_std


def main() -> None:
    torch.set_num_threads(1)
    X, wrapper = training_clips()
    spec = wrapper.detector_.spec_
    raw = load_ucsd_ped2("train")
    frames = np.concatenate([raw.frames[raw.video_ids == i] for i in VIDEOS])
    print(f"{len(X)} training cuboids of videos {VIDEOS}; zero-output loss (mean-subtracted) "
          f"{float(X.pow(2).mean()):.6f}; input std {float(X.std()):.4f}; mean square of the "
          f"frames without the subtraction {float(np.mean((frames / 255.0) ** 2)):.4f}\n")
    print("| variant | training loss per epoch | output std | CPU s |")
    print("|---|---|---|---|")
    variants = [("the job's (PyTorch's initialisation, weight decay 3e-4)", 3e-4, None, EPOCHS),
                ("weight decay 0", 0.0, None, EPOCHS),
                ("weight decay 0, 8 epochs", 0.0, None, 8),
                ("Xavier, zero biases, weight decay 3e-4", 3e-4, xavier, EPOCHS),
                ("Xavier, zero biases, weight decay 0", 0.0, xavier, EPOCHS)]
    for label, decay, init, epochs in variants:
        cpu = time.process_time()
        losses, out_std = train(X, spec, weight_decay=decay, init=init, epochs=epochs)
        print(f"| {label} | {', '.join(f'{v:.6f}' for v in losses)} | {out_std:.4g} | "
              f"{time.process_time() - cpu:.0f} |", flush=True)


if __name__ == "__main__":
    main()
