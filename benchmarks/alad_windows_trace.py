"""ALAD on the conformance suite's planted windows: AUC-ROC every few iterations.

A diagnostic, not a results page: it fits ALAD at a test size (widths 16, latent 4, batch
32, ``epochs = iters / 10`` of 10 batches) on ``make_planted_windows(400, 20, 32, 2, 0)``
for each model seed and prints, every ``--every`` iterations, the AUC-ROC of the training
windows under each of the paper's scores computed from the current weights: ``feat`` (the
default ``score_method="features"``), ``logit``, ``l1``, and, with ``--ema``, the same from an
exponential moving average of the weights (the authors' release scores with one; not in
deepad). ``--step-features`` adds ``sfeat`` (D_xx's per-step features before pooling, by
wrapping ``deepad.nets.temporal.pool_steps``). Scoring reads the networks in eval mode and
draws no random numbers, so the training trajectory is the one of a plain fit.

    OMP_NUM_THREADS=1 python benchmarks/alad_windows_trace.py --seeds 0,1,2,3,4,5 --sn 1
    ... --sn 1 --disc-readout pool_last --ema 0.99
    ... --sn 1 --lr 1e-3 --ema 0.99

The measurements and what they show: ``docs/decisions.md``, the GAN window-ranking section.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

import deepad.nets.temporal as temporal
from deepad.data.synthetic import make_planted_windows
from deepad.detectors import ALAD
from deepad.detectors.generic_normality.gans import LEAK
from deepad.nets import build_backbone
from deepad.nets.adversarial import gan_generator_loss, set_leak

STEPS: dict[str, torch.Tensor] = {}
_pool_steps = temporal.pool_steps


def _keep_steps(steps: torch.Tensor, readout: str = "pool") -> torch.Tensor:
    STEPS["last"] = steps
    return _pool_steps(steps, readout)


def scores(net, x: torch.Tensor, y: np.ndarray, step_features: bool) -> dict[str, float]:
    """AUC-ROC of each score from the networks ``net`` on the windows ``x``."""
    with torch.no_grad():
        x_rec = net.generator(net.encoder(x))
        out = {"l1": (x - x_rec).abs().flatten(1).sum(1),
               "logit": gan_generator_loss(net.d_xx(torch.cat([x, x_rec], -1))[0])}
        pairs = torch.cat([torch.cat([x, x], -1), torch.cat([x, x_rec], -1)])
        f_real, f_rec = net.d_xx(pairs)[1].chunk(2)
        out["feat"] = (f_real - f_rec).abs().flatten(1).sum(1)
        if step_features:
            s_real, s_rec = STEPS["last"].chunk(2)
            out["sfeat"] = (s_real - s_rec).abs().flatten(1).sum(1)
    return {k: roc_auc_score(y, v.numpy().ravel()) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--sn", type=int, default=1, help="spectral_norm (1 = the paper's)")
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--beta1", type=float, default=0.5)
    parser.add_argument("--enc-readout", default="pool_last")
    parser.add_argument("--disc-readout", default="pool")
    parser.add_argument("--ema", type=float, default=0.0, help="decay; 0: no average")
    parser.add_argument("--step-features", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.step_features:
        temporal.pool_steps = _keep_steps
    X, y = make_planted_windows(n_normal=400, n_anomalies=20, window=32, n_features=2,
                                random_state=0)
    x = torch.from_numpy(X.astype(np.float32))

    class Traced(ALAD):
        def _encoder(self, spec):
            return set_leak(build_backbone(spec, hidden_dims=tuple(self.hidden_dims),
                                           out_dim=self.latent_dim, kind=self.backbone,
                                           activation="leaky_relu",
                                           readout=args.enc_readout), LEAK)

        def _features(self, spec):
            return set_leak(build_backbone(spec, hidden_dims=tuple(self.disc_hidden_dims),
                                           out_dim=None, kind=self.backbone,
                                           activation="leaky_relu",
                                           readout=args.disc_readout), LEAK)

        def training_step(self, batch, optimizers):
            out = super().training_step(batch, optimizers)
            self.iteration += 1
            if args.ema:
                if self.average is None:
                    self.average = copy.deepcopy(self.model_)
                with torch.no_grad():
                    for avg, p in zip(self.average.parameters(), self.model_.parameters(),
                                      strict=True):
                        avg.lerp_(p, 1 - args.ema)
                    for avg, b in zip(self.average.buffers(), self.model_.buffers(),
                                      strict=True):
                        avg.copy_(b)
            if self.iteration % args.every == 0:
                self.model_.eval()
                record = scores(self.model_, x, y, args.step_features)
                if args.ema:
                    self.average.eval()
                    record |= {f"ema_{k}": v for k, v in
                               scores(self.average, x, y, args.step_features).items()}
                self.model_.train()
                self.trace.append((self.iteration, record))
            return out

    traces = {}
    for seed in map(int, args.seeds.split(",")):
        detector = Traced(hidden_dims=(16,), disc_hidden_dims=(16,), latent_dim=4,
                          batch_size=32, epochs=args.iters // 10, n_batches=10, lr=args.lr,
                          beta1=args.beta1, spectral_norm=bool(args.sn), random_state=seed)
        detector.trace, detector.iteration, detector.average = [], 0, None
        start = time.process_time()
        detector.fit(X)
        print(f"seed {seed}: {time.process_time() - start:.1f} s CPU", flush=True)
        traces[seed] = detector.trace
    print(vars(args))
    first = next(iter(traces.values()))
    for score in first[0][1]:
        print(f"-- {score}: AUC-ROC on seeds {args.seeds} | min")
        for i, (iteration, _) in enumerate(first):
            row = [trace[i][1][score] for trace in traces.values()]
            print(f"{iteration:5d} " + " ".join(f"{v:.2f}" for v in row) + f" | {min(row):.2f}")


if __name__ == "__main__":
    main()
