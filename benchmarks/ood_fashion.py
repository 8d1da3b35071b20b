"""Out-of-distribution detection on Fashion-MNIST → docs/results/ood_fashion.md.

In-distribution: the Fashion-MNIST classifier of benchmarks/fashion_classifier.py (deepad's
CNN for images: two 3 x 3 convolutional blocks of 32 and 64 channels, batch-normalised, a
128-unit ReLU feature layer, dropout 0.5, a linear head; trained by ``KDBU`` on 54,000 of the
60,000 training images, its epoch chosen by accuracy on the other 6,000), the network of the
adversarial benchmark too, so both pages name one classifier; its 10,000 test images are the
in-distribution test set. Out of distribution, 10,000 each: the MNIST test images, Gaussian
noise (per pixel N(0, 1)) and uniform noise (per pixel U[0, 1]), the noise of Hendrycks &
Gimpel's release (2017), clipped to [0, 1], and crops of the UCSD Ped2 video frames (natural
grey-scale scenes). Every OOD detector scores with the same trained classifier; DeepSVDD,
AutoEncoder and RND are label-free baselines trained on training images.

Metrics (deepad.metrics): AUROC, AUPR-in, AUPR-out, and FPR at 95 % TPR with the
in-distribution images as the positives (the OOD papers' "FPR95"; lower is better).

Sanity anchor: Hendrycks & Gimpel's MNIST MLP (784-256-256-256-10, GELU, Adam, 100 epochs)
trained on 70 % of the MNIST test set (the only MNIST here), MSP AUROC on the other 30 %
against uniform and Gaussian noise, beside their 97.89 / 88.29.

Every stage is cached under benchmarks/results/ood_fashion/ (scores as .npz, timings as JSON,
each OOD detector's scores marked with the classifier's checksum, so scores of another network
are recomputed, not reused), so a rerun resumes; --peer-export writes the data and a
TorchScript trace of the classifier for the pytorch-ood peer (benchmarks/ood_peer.py, run in
its own environment).

    python benchmarks/fashion_classifier.py select   # the classifier, once
    python benchmarks/ood_fashion.py --threads 1

Speed against the peer (``--speed-check PEER_PYTHON``): one-thread CPU seconds of scoring the
first 5,000 in-distribution test images, deepad's detector and pytorch-ood's same method in turn
(the peer in a subprocess of its own environment), ``--speed-repeats`` rounds; the report
gives the median of each. Alternating the two keeps them under the same load on a shared
machine, where one long run after the other does not.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import deepad
from deepad.data import load_fashion_mnist, load_mnist
from deepad.metrics import auc_roc, aupr_in, aupr_out, fpr_at_tpr

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "images"
PED2 = ROOT.parent / "shared" / "datasets" / "video" / "ucsd_ped2"
CACHE = ROOT / "benchmarks" / "results" / "ood_fashion"
OUT = ROOT / "docs" / "results" / "ood_fashion.md"
SEED = 0
N_NOISE = 10_000
CLASSIFIER_DIR = ROOT / "benchmarks" / "results" / "fashion_classifier" / "classifier"
"""The classifier (a ``KDBU`` model directory; its dropout before the head is inactive in eval
mode, where every OOD detector scores) that ``python benchmarks/fashion_classifier.py select``
chooses by held-out validation accuracy and benchmarks/adversarial_fashion.py uses
(``--classifier-dir``): one network for both pages."""
# (label, registered name, parameters, fitted on FEATURE_FIT_ROWS images): every OOD detector
# on the one classifier. The scores of MSP, ODIN and energy do not depend on the data they are
# fitted on (only their threshold_ does), so they are fitted on LOGIT_FIT_ROWS images (time);
# Mahalanobis (class means, covariance) and DeepKNN (the bank) on FEATURE_FIT_ROWS.
OOD_DETECTORS = [
    ("MSP", "MSP", {}, False),
    ("ODIN (T 1000, ε 0.0014)", "ODIN", {}, False),
    ("Energy (T 1)", "Energy", {}, False),
    ("Mahalanobis (ε 0)", "Mahalanobis", {"epsilon": 0.0}, True),
    ("Mahalanobis (ε 0.0014)", "Mahalanobis", {}, True),
    ("DeepKNN (k 50)", "DeepKNN", {}, True),
    ("ODIN (T 1000, ε auto)", "ODIN", {"epsilon": "auto"}, False),
]
LOGIT_FIT_ROWS = 10_000
FEATURE_FIT_ROWS: int | None = 10_000
"""Training images (the seeded subsample of LOGIT_FIT_ROWS) Mahalanobis and DeepKNN are fitted
on (None: all 60,000): 1,000 per class estimate the class means and the 128 x 128 covariance,
and a bank of 10,000 is the subsampled bank Sun et al. also evaluate; chosen for the shared
machine's CPU time (each fit also scores its fit data). The pytorch-ood peer gets the same."""
LABEL_FREE = [("DeepSVDD", "DeepSVDD", {}), ("AutoEncoder", "AutoEncoder", {}),
              ("RND", "RND", {})]
LABEL_FREE_ROWS = 10_000
"""Training images (a seeded subsample) the label-free baselines are fitted on (time)."""
PAPER_ANCHOR = {"uniform": 97.89, "gaussian": 88.29}


def noise(kind: str, n: int, seed: int, clip: bool = True) -> np.ndarray:
    """Hendrycks & Gimpel's noise images (their release, Vision/MNIST_Softmax_Stats.ipynb):
    per pixel N(0, 1) ("gaussian") or U[0, 1] ("uniform"); clipped to the images' [0, 1]
    for the Fashion-MNIST sets (``clip``), as the release does not."""
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        x = rng.normal(0.0, 1.0, size=(n, 1, 28, 28))
    else:
        x = rng.uniform(0.0, 1.0, size=(n, 1, 28, 28))
    return (np.clip(x, 0.0, 1.0) if clip else x).astype(np.float32)


def ped2_scenes(n: int, seed: int) -> np.ndarray:
    """Natural grey-scale scenes: ``n`` random 28 x 28 crops of the UCSD Ped2 frames (all 4,560
    training and test frames, 120 x 180, a walkway filmed by a fixed camera) after a 4 x 4
    average pooling (30 x 45), in [0, 1]; a seeded frame and offset per crop. The stand-in,
    from the data here, for the photographs (CIFAR-10 in grey) of Hendrycks & Gimpel."""
    frames = np.concatenate([np.load(PED2 / f"ped2_{part}.npz")["frames"]
                             for part in ("train", "test")]).astype(np.float32) / 255.0
    pooled = frames.reshape(len(frames), 30, 4, 45, 4).mean(axis=(2, 4))
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(pooled), n)
    top, left = rng.integers(0, 30 - 28 + 1, n), rng.integers(0, 45 - 28 + 1, n)
    crops = np.stack([pooled[f, t:t + 28, c:c + 28] for f, t, c in zip(which, top, left,
                                                                       strict=True)])
    return crops[:, None].astype(np.float32)


def load_sets() -> dict[str, np.ndarray]:
    train = load_fashion_mnist("train", root=DATA)
    test = load_fashion_mnist("test", root=DATA)
    mnist, _ = load_mnist(root=DATA, split="test")
    as_float = lambda a: (a[:, None].astype(np.float32) / 255.0)  # noqa: E731
    return {"train": as_float(train.images), "train_labels": train.labels.astype(np.int64),
            "in": as_float(test.images), "in_labels": test.labels.astype(np.int64),
            "MNIST": as_float(mnist), "Gaussian noise": noise("gaussian", N_NOISE, SEED + 1),
            "uniform noise": noise("uniform", N_NOISE, SEED + 2),
            "Ped2 scenes": ped2_scenes(N_NOISE, SEED + 4)}


OOD_SETS = ("MNIST", "Gaussian noise", "uniform noise", "Ped2 scenes")
N_TEST = "50,000"
"""The images every detector scores: the 10,000 in-distribution test images and the OOD sets."""


def timed(call):
    wall, cpu = time.perf_counter(), time.process_time()
    out = call()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def metrics(s_in: np.ndarray, s_out: np.ndarray) -> dict[str, float]:
    y = np.r_[np.zeros(len(s_in), int), np.ones(len(s_out), int)]
    s = np.r_[s_in, s_out]
    return {"auroc": auc_roc(y, s), "aupr_in": aupr_in(y, s), "aupr_out": aupr_out(y, s),
            "fpr95": fpr_at_tpr(y, s, 0.95, in_positive=True)}


def classifier(sets, path: Path = CLASSIFIER_DIR):
    """The saved classifier of benchmarks/fashion_classifier.py and what its choice recorded
    (classifier.json beside it), with its test accuracy measured here and ``tag``, a checksum
    of its weights that marks every cached score of this network."""
    import hashlib

    if not (path / "config.json").is_file():
        msg = (f"no classifier at {path}: run `python benchmarks/fashion_classifier.py select` "
               "first (it trains and caches the network both Fashion-MNIST pages use).")
        raise SystemExit(msg)
    det = deepad.load(path, device="cpu")
    chosen = json.loads((path.parent / "classifier.json").read_text())
    with torch.no_grad():
        logits = torch.cat([det.classifier_.eval()(torch.from_numpy(sets["in"][i:i + 1000]))
                            for i in range(0, len(sets["in"]), 1000)])
    accuracy = float((logits.argmax(1).numpy() == sets["in_labels"]).mean())
    config = json.loads((path / "config.json").read_text())
    tag = hashlib.sha256((path / "weights.safetensors").read_bytes()).hexdigest()[:16]
    info = {"tag": tag, "test_accuracy": accuracy, "epochs": chosen["epochs"],
            "max_epochs": chosen["candidates"][chosen["chosen"]]["epochs"],
            "n_train": chosen["n_train"], "val_accuracy": chosen["val_accuracy"],
            "fit_cpu_s": chosen["fit_cpu_s"], "hidden_dims": chosen["hidden_dims"],
            "config": config.get("params", config)}
    return det, info


def cached_all(key: str) -> bool:
    """Whether the cache holds scores of every set for ``key``."""
    path = CACHE / f"scores_{key}.npz"
    if not (path.is_file() and (CACHE / f"scores_{key}.json").is_file()):
        return False
    with np.load(path) as data:
        return all(name in data.files for name in ("in", *OOD_SETS))


def score_detector(key: str, make, fit_X, fit_y, sets, tag: str | None = None) -> dict:
    """Fit and score one detector, or read its cached scores; ``tag`` (the classifier's
    checksum, None for the label-free baselines) must match the cached one, or the cache is
    recomputed."""
    path = CACHE / f"scores_{key}.npz"
    meta = CACHE / f"scores_{key}.json"
    scores, info = {}, {}
    if path.is_file() and meta.is_file():
        data = np.load(path)
        scores, info = {k: data[k] for k in data.files}, json.loads(meta.read_text())
        if info.get("classifier") != tag:  # scores of another network
            scores, info = {}, {}
        if all(name in scores for name in ("in", *OOD_SETS)):
            return {"scores": scores, **info}
    # a set added since the cached run: refit (same seed) and score only what is missing;
    # the fit seconds stay those of the first fit, the score seconds add up
    det = make()
    _, fit_wall, fit_cpu = timed(lambda: det.fit(fit_X, fit_y))
    walls, cpus = info.get("score_wall_s", 0.0), info.get("score_cpu_s", 0.0)
    for name in ("in", *OOD_SETS):
        if name in scores:
            continue
        s, wall, cpu = timed(lambda name=name: det.decision_function(sets[name]))
        scores[name] = s
        walls, cpus = walls + wall, cpus + cpu
    extra = {k: float(getattr(det, k)) for k in ("epsilon_",) if hasattr(det, k)}
    info = {"fit_wall_s": info.get("fit_wall_s", fit_wall),
            "fit_cpu_s": info.get("fit_cpu_s", fit_cpu), "score_wall_s": walls,
            "score_cpu_s": cpus, **extra, **({"classifier": tag} if tag else {})}
    np.savez_compressed(path, **scores)
    meta.write_text(json.dumps(info, indent=1))
    return {"scores": scores, **info}


ANCHOR_SEEDS = (0, 1, 2)


def anchor(epochs: int = 100) -> dict:
    """Hendrycks & Gimpel's MNIST MLP (their release, Vision/MNIST_Softmax_Stats.ipynb:
    784-256-256-256-10, GELU, Adam lr 1e-3, L2 1e-5, batches of 128, 30 epochs over 60,000
    images, lr 1e-4 from epoch 20) on 70 % of the MNIST test set, MSP on the other 30 %
    against their unclipped noise; one split, one network per seed of ``ANCHOR_SEEDS``.

    Deviations: 100 epochs over the 7,000 images (5,500 steps; their ~14,000 steps cannot be
    matched with their lr drop, which the Trainer does not make; 30 epochs here, 1,650 steps,
    left the network under-confident on MNIST: MSP AUROC 85.3 / 81.5), PyTorch's default
    initialisation (theirs: unit-norm columns scaled by 1/sqrt(1.425)), and the L2 on every
    parameter (theirs: the three hidden weight matrices)."""
    path = CACHE / "anchor.json"
    if path.is_file():
        return json.loads(path.read_text())
    images, labels = load_mnist(root=DATA, split="test")
    X = images.reshape(len(images), -1).astype(np.float32) / 255.0
    order = np.random.default_rng(SEED).permutation(len(X))
    cut = int(0.7 * len(X))
    train, test = order[:cut], order[cut:]
    out = {"epochs": epochs, "n_train": len(train), "n_test": len(test), "seeds": []}
    for seed in ANCHOR_SEEDS:
        det = deepad.get_detector("MSP")(hidden_dims=(256, 256), feature_dim=256,
                                         activation="gelu", epochs=epochs, batch_size=128,
                                         lr=1e-3, weight_decay=1e-5, random_state=seed)
        _, wall, cpu = timed(lambda det=det: det.fit(X[train], labels[train]))
        with torch.no_grad():
            pred = det.classifier_(torch.from_numpy(X[test])).argmax(1).numpy()
        s_in = det.decision_function(X[test])
        run = {"seed": seed, "fit_cpu_s": cpu,
               "test_accuracy": float((pred == labels[test]).mean())}
        for kind, noise_seed in (("uniform", SEED + 2), ("gaussian", SEED + 1)):
            s_out = det.decision_function(
                noise(kind, N_NOISE, noise_seed, clip=False).reshape(N_NOISE, -1))
            run[kind] = metrics(s_in, s_out)
        out["seeds"].append(run)
    path.write_text(json.dumps(out, indent=1))
    return out


RELEASE_EPOCH_STEPS = 469
"""Adam steps in one of the release's epochs (60,000 images in batches of 128)."""
RELEASE_VARIANTS = {"": (5500, False), "_14070": (14070, False), "_early_stop": (14070, True)}
"""The release-recipe anchors (cache-file suffix → steps, early stopping): the Trainer
anchor's 5,500 steps; the release's own ~14,000 (30 of its epochs); and its 14,000 with the
checkpoint of lowest held-out in-distribution NLL, checked once per release epoch."""


def release_mlp(X: np.ndarray, y: np.ndarray, seed: int, steps: int,
                validation: tuple[np.ndarray, np.ndarray] | None = None) -> torch.nn.Module:
    """Hendrycks & Gimpel's MNIST network trained by their release's recipe, in plain torch
    (Vision/MNIST_Softmax_Stats.ipynb): 784-256-256-256-10 with the tanh form of GELU; each
    weight matrix's columns drawn N(0, 1), scaled to unit norm and divided by
    sqrt(1 + 0.425), sqrt(0.425 + 0.425) (the two hidden-to-hidden layers), sqrt(0.425 + 1)
    (the logits), biases zero; cross-entropy plus 1e-5 · ½‖W‖² on the three hidden weight
    matrices only; Adam lr 1e-3, full batches of 128, lr 1e-4 for the last third of the steps
    (theirs: epochs 20-29 of 30). ``steps`` Adam steps (theirs: about 14,000). With
    ``validation`` (images, labels: held-out in-distribution data, no OOD data), the network
    returned is the checkpoint of lowest validation cross-entropy, checked every
    :data:`RELEASE_EPOCH_STEPS` steps."""
    import copy

    from torch import nn

    gen = torch.Generator().manual_seed(seed)

    def layer(n_in: int, n_out: int, fan: float) -> nn.Linear:
        lin = nn.Linear(n_in, n_out)
        with torch.no_grad():
            w = torch.randn(n_in, n_out, generator=gen)
            lin.weight.copy_((w / w.norm(dim=0, keepdim=True) / np.sqrt(fan)).T)
            lin.bias.zero_()
        return lin

    class GELUTanh(nn.Module):
        def forward(self, x):
            return torch.nn.functional.gelu(x, approximate="tanh")

    hidden = [layer(784, 256, 1.425), layer(256, 256, 0.85), layer(256, 256, 0.85)]
    net = nn.Sequential(hidden[0], GELUTanh(), hidden[1], GELUTanh(), hidden[2], GELUTanh(),
                        layer(256, 10, 1.425))
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    step, best = 0, (float("inf"), net, 0)
    while step < steps:
        order = torch.randperm(len(X_t), generator=gen)
        for start in range(0, len(X_t) - 127, 128):
            if step >= steps:
                break
            for group in opt.param_groups:
                group["lr"] = 1e-3 if step < 2 * steps // 3 else 1e-4
            b = order[start:start + 128]
            loss = (torch.nn.functional.cross_entropy(net(X_t[b]), y_t[b])
                    + 1e-5 * 0.5 * sum((h.weight ** 2).sum() for h in hidden))
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if validation is not None and step % RELEASE_EPOCH_STEPS == 0:
                with torch.no_grad():
                    nll = float(torch.nn.functional.cross_entropy(
                        net(torch.from_numpy(validation[0])),
                        torch.from_numpy(validation[1].astype(np.int64))))
                if nll < best[0]:
                    best = (nll, copy.deepcopy(net), step)
    if validation is not None:
        net = best[1]
        net.best_step = best[2]
    return net.eval()


def anchor_release(variant: str = "") -> dict:
    """The anchor with the release's network and recipe (:func:`release_mlp`, steps and early
    stopping by :data:`RELEASE_VARIANTS`, the same split and noise as :func:`anchor`), scored
    by deepad's ``MSP`` with the network given as ``classifier``. Early stopping holds out a
    seeded 10 % of the 7,000 training images and trains on the other 90 %."""
    steps, early_stop = RELEASE_VARIANTS[variant]
    path = CACHE / f"anchor_release{variant}.json"
    if path.is_file():
        return json.loads(path.read_text())
    images, labels = load_mnist(root=DATA, split="test")
    X = images.reshape(len(images), -1).astype(np.float32) / 255.0
    order = np.random.default_rng(SEED).permutation(len(X))
    cut = int(0.7 * len(X))
    train, test = order[:cut], order[cut:]
    out = {"steps": steps, "early_stop": early_stop, "n_train": len(train),
           "n_test": len(test), "seeds": []}
    for seed in ANCHOR_SEEDS:
        fit, validation = train, None
        if early_stop:
            shuffled = np.random.default_rng(100 + seed).permutation(train)
            held = len(shuffled) // 10
            fit, validation = shuffled[held:], (X[shuffled[:held]], labels[shuffled[:held]])
        torch.manual_seed(seed)
        net, wall, cpu = timed(lambda seed=seed, fit=fit, validation=validation: release_mlp(
            X[fit], labels[fit], seed, steps, validation))
        det = deepad.get_detector("MSP")(classifier=net).fit(X[fit],
                                                             labels[fit].astype(np.int64))
        with torch.no_grad():
            pred = net(torch.from_numpy(X[test])).argmax(1).numpy()
        s_in = det.decision_function(X[test])
        run = {"seed": seed, "fit_cpu_s": cpu,
               "test_accuracy": float((pred == labels[test]).mean()),
               "best_step": getattr(net, "best_step", steps)}
        for kind, noise_seed in (("uniform", SEED + 2), ("gaussian", SEED + 1)):
            s_out = det.decision_function(
                noise(kind, N_NOISE, noise_seed, clip=False).reshape(N_NOISE, -1))
            run[kind] = metrics(s_in, s_out)
        print({"seed": seed, "test_accuracy": round(run["test_accuracy"], 4),
               **{k: round(100 * run[k]["auroc"], 2) for k in ("uniform", "gaussian")}},
              flush=True)
        out["seeds"].append(run)
    path.write_text(json.dumps(out, indent=1))
    return out


def export_peer(sets, det, fit_rows, tag: str) -> None:
    """Data and the classifier (TorchScript: logits; features = the head's input) for the
    pytorch-ood peer, which runs in its own environment without deepad; ``export.json``
    holds the classifier's checksum, which the peer copies into its results."""
    peer = CACHE / "peer"
    peer.mkdir(parents=True, exist_ok=True)
    (peer / "export.json").write_text(json.dumps({"classifier": tag}))
    for name in ("train", "train_labels"):  # what Mahalanobis and KNN are fitted on
        np.save(peer / f"{name}.npy", sets[name][fit_rows])
    for name in ("in", *OOD_SETS):
        np.save(peer / f"{name.replace(' ', '_')}.npy", sets[name])
    (peer / "sets.json").write_text(json.dumps([n.replace(" ", "_") for n in ("in", *OOD_SETS)]))
    model = det.classifier_.eval()

    class Split(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x)

        @torch.jit.export
        def features(self, x):
            return self.net.act(self.net.body(x))

    torch.jit.script(Split(model)).save(str(peer / "classifier.pt"))


SPEED_SET, SPEED_ROWS = "in", 5000
"""The images the paired timing scores: the first 5,000 in-distribution test images."""


def speed_check(det, sets, fit_rows, peer_python: str, repeats: int, threads: int,
                tag: str) -> dict:
    """Paired timing against pytorch-ood (``--speed-check``): for each detector of
    ``PEER_OF``, ``repeats`` rounds of [deepad scores ``SPEED_SET``, then the peer does in its
    own process]; CPU seconds of the scoring only (fits are not timed). Resumes from
    ``speed.json``."""
    path = CACHE / "speed.json"
    done = json.loads(path.read_text()) if path.is_file() else {}
    if done.get("classifier") != tag:  # timings of another network: start again
        done = {"classifier": tag}
    params = {label: (name, p) for label, name, p, _ in OOD_DETECTORS}
    fitted = {}
    script = ROOT / "benchmarks" / "ood_peer.py"
    for label, peer_name in PEER_OF.items():
        entry = done.setdefault(label, {"peer_name": peer_name, "deepad": [], "peer": []})
        while len(entry["deepad"]) < repeats or len(entry["peer"]) < repeats:
            if label not in fitted:
                name, p = params[label]
                # DeepKNN's bank (the fit rows) sets its scoring cost; the others' scoring cost
                # does not depend on the fit rows, so 1,000 of them save fitting time
                rows = fit_rows if name == "DeepKNN" else fit_rows[:1000]
                fitted[label] = deepad.get_detector(name)(classifier=det.classifier_, **p).fit(
                    sets["train"][rows], sets["train_labels"][rows])
            _, _, cpu = timed(lambda label=label: fitted[label].decision_function(
                sets[SPEED_SET][:SPEED_ROWS]))
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "timing.json"
                subprocess.run([peer_python, str(script), "--threads", str(threads), "--only",
                                peer_name, "--sets", SPEED_SET, "--rows", str(SPEED_ROWS),
                                "--dir", str(CACHE / "peer"),
                                "--timing-out", str(out)],
                               check=True, capture_output=True)
                peer = json.loads(out.read_text())["timing"][peer_name]["score_cpu_s"]
            entry["deepad"].append(cpu)
            entry["peer"].append(peer)
            done["threads"] = threads
            path.write_text(json.dumps(done, indent=1))
            print(f"speed {label}: deepad {cpu:.2f} / pytorch-ood {peer:.2f} CPU s", flush=True)
    return done


def fmt(v: float, pct: bool = True) -> str:
    return f"{100 * v:.2f}" if pct else f"{v:.1f}"


def report(info, results, anchor_result, peer) -> str:
    cfg = info.get("config", {})
    bn = ", each convolution batch-normalised" if cfg.get("batch_norm") else ""
    l2 = f", L2 {cfg['weight_decay']:g}" if cfg.get("weight_decay") else ""
    lines = ["# Out-of-distribution detection: Fashion-MNIST against MNIST, noise and scenes", "",
             "Generated by `python benchmarks/ood_fashion.py --threads 1` after `python "
             "benchmarks/fashion_classifier.py select`, which trains and caches the classifier. "
             "In-distribution: Fashion-MNIST; the classifier of the adversarial page "
             "(docs/results/adversarial_fashion.md), a CNN (two 3 x 3 convolutional blocks "
             f"of {' and '.join(map(str, info['hidden_dims']))} channels{bn}, a 128-unit ReLU "
             "feature layer, dropout 0.5 before a linear head, inactive when scoring; "
             "deepad's classifier for images, `batch_norm=True`) trained by `KDBU` on "
             f"{info['n_train']:,} of the 60,000 training images (Adam, lr 1e-3{l2}, "
             "batches of 128, seed 0, no augmentation), the epoch of highest accuracy on the "
             f"other 6,000 ({100 * info['val_accuracy']:.2f} %) kept: epoch {info['epochs']} "
             f"of {info['max_epochs']} ({info['fit_cpu_s']:.0f} CPU s for all epochs on one "
             "thread; neither test nor OOD data took part in the choice): test accuracy "
             f"{100 * info['test_accuracy']:.2f} %. In-distribution test set: the 10,000 test "
             "images. Out of distribution, "
             "10,000 each: the MNIST test images; Gaussian noise, per pixel N(0, 1), and uniform "
             "noise, per pixel U[0, 1], as in Hendrycks & Gimpel's release, clipped to the "
             "images' range [0, 1] (the release does not clip); natural grey-scale scenes, "
             "random 28 x 28 crops of the UCSD Ped2 video frames (a walkway, 4,560 frames "
             "pooled 4 x 4 to 30 x 45), the stand-in from the data here for Hendrycks & "
             "Gimpel's grey CIFAR-10. Every OOD detector scores "
             "with this one classifier; none is tuned on OOD data (ODIN and Mahalanobis ε: "
             "fixed, or `\"auto\"` = chosen on training images only, the "
             "Generalized-ODIN criterion). DeepSVDD, AutoEncoder and RND "
             f"are label-free baselines (default parameters) fitted on {LABEL_FREE_ROWS:,} "
             "training images (seeded subsample).", "",
             "Metrics in %: AUROC, AUPR-in (in-distribution positive), AUPR-out (OOD "
             "positive), FPR95 = FPR at 95 % TPR with the in-distribution images positive "
             "(lower is better). Seconds: CPU seconds on one thread (fit = the detector's "
             "fit with the trained classifier: its statistics and scoring its fit data, "
             + (f"a seeded subsample of {FEATURE_FIT_ROWS:,} training images for Mahalanobis "
                "(class means, tied covariance) and DeepKNN (the bank), " if FEATURE_FIT_ROWS
                else "all 60,000 training images for Mahalanobis and DeepKNN, ")
             + f"the same {LOGIT_FIT_ROWS:,} for MSP, ODIN and energy, whose scores do not "
             "depend on it; "
             f"score = scoring the {N_TEST} test images). The machine (2 cores) was shared "
             "with other processes, which inflates CPU seconds too.", ""]
    for ood in OOD_SETS:
        lines += [f"## {ood}", "",
                  "| detector | AUROC | AUPR-in | AUPR-out | FPR95 | fit s | score s |",
                  "|---|---|---|---|---|---|---|"]
        for label, r in results.items():
            m = metrics(r["scores"]["in"], r["scores"][ood])
            eps = f" (ε = {r['epsilon_']:g})" if "auto" in label and "epsilon_" in r else ""
            lines.append(f"| {label}{eps} | {fmt(m['auroc'])} | {fmt(m['aupr_in'])} | "
                         f"{fmt(m['aupr_out'])} | {fmt(m['fpr95'])} | "
                         f"{r['fit_cpu_s']:.1f} | {r['score_cpu_s']:.1f} |")
        lines.append("")
    # the papers' claim: energy, ODIN and Mahalanobis at or above MSP
    lines += ["## Against MSP", "",
              "AUROC minus MSP's, in points, per OOD set (the papers claim ≥ 0):", "",
              "| detector | " + " | ".join(OOD_SETS) + " | at or above MSP |",
              "|---|" + "---|" * (len(OOD_SETS) + 1)]
    base = results.get("MSP")
    for label, r in results.items():
        if base is None or label == "MSP" or label in {x[0] for x in LABEL_FREE}:
            continue
        diffs = [100 * (metrics(r["scores"]["in"], r["scores"][o])["auroc"]
                        - metrics(base["scores"]["in"], base["scores"][o])["auroc"])
                 for o in OOD_SETS]
        at_or_above = sum(d >= 0 for d in diffs)
        verdict = "holds" if 2 * at_or_above > len(diffs) else "does not hold"
        lines.append(f"| {label} | " + " | ".join(f"{d:+.2f}" for d in diffs)
                     + f" | {at_or_above} of {len(diffs)}: the claim {verdict} |")
    lines.append("")
    if base is not None:
        lines += ["The claim is the papers' own (ODIN, energy and Mahalanobis at or above MSP on "
                  "the majority of pairs); the table shows where it holds on this classifier "
                  "and where not, by how many points. The logit-based scores (MSP, ODIN, "
                  "energy) rate an input by the classifier's confidence, and a CNN is often "
                  "confident on inputs far from its training images, such as the noise sets; "
                  "the feature-space scores (Mahalanobis, DeepKNN) measure that distance "
                  "directly.", ""]
    if anchor_result:
        a = anchor_result
        runs = a["seeds"]
        acc = ", ".join(f"{100 * r['test_accuracy']:.2f}" for r in runs)
        lines += ["## Sanity anchor: Hendrycks & Gimpel's MNIST MLP", "",
                  "Their release's network and training (784-256-256-256-10 MLP, GELU, Adam lr "
                  f"1e-3, L2 1e-5, batches of 128; {a['epochs']} epochs over the "
                  f"{a['n_train']:,} images, "
                  f"{a['epochs'] * -(-a['n_train'] // 128):,} Adam steps: their 30 epochs over "
                  "60,000 images are about 14,000 steps, the last third at lr 1e-4, a drop "
                  "deepad's Trainer does not make; with 30 epochs here, 1,650 steps, the mean "
                  "MSP AUROC was 85.3 / 81.5, uniform / Gaussian) trained on "
                  f"{a['n_train']:,} MNIST test images (70 %, one seeded split; the paper "
                  f"trains on the 60,000 training images, not available here), seeds "
                  f"{', '.join(str(r['seed']) for r in runs)}: accuracy {acc} % on the other "
                  f"{a['n_test']:,} (the paper: 98.52 %). MSP on those against 10,000 noise "
                  "images of the release: per pixel N(0, 1) and U[0, 1], not clipped.", "",
                  "| OOD set | MSP AUROC per seed | mean | Hendrycks & Gimpel | AUPR-in | "
                  "AUPR-out | FPR95 (mean) |", "|---|---|---|---|---|---|---|"]
        for kind, name in (("uniform", "uniform noise"), ("gaussian", "Gaussian noise")):
            values = [r[kind] for r in runs]
            mean = {k: float(np.mean([v[k] for v in values])) for k in values[0]}
            lines.append(f"| {name} | {', '.join(fmt(v['auroc']) for v in values)} | "
                         f"{fmt(mean['auroc'])} | {PAPER_ANCHOR[kind]:.2f} | "
                         f"{fmt(mean['aupr_in'])} | {fmt(mean['aupr_out'])} | "
                         f"{fmt(mean['fpr95'])} |")
        lines.append("")
    for variant, (_, early_stop) in RELEASE_VARIANTS.items():
        release_path = CACHE / f"anchor_release{variant}.json"
        if not (anchor_result and release_path.is_file()):
            continue
        rel = json.loads(release_path.read_text())
        runs = rel["seeds"]
        acc = ", ".join(f"{100 * r['test_accuracy']:.2f}" for r in runs)
        if not variant:
            lines += ["The same anchor with the release's own recipe, the network trained in "
                      "plain torch (`python benchmarks/ood_fashion.py --anchor-release`) and "
                      "given to deepad's `MSP` as `classifier=`: their initialisation (each "
                      "weight column of unit norm divided by sqrt(1.425) or sqrt(0.85)), the "
                      "tanh form of GELU, L2 1e-5 on the three hidden weight matrices only, "
                      "Adam lr 1e-3 on full batches of 128 for "
                      f"{rel['steps']:,} steps (the Trainer anchor's), the last third at lr "
                      f"1e-4. Same split, noise and seeds; accuracy {acc} %.", ""]
        elif not early_stop:
            lines += [f"The release's recipe for its own step count, {rel['steps']:,} steps "
                      "(30 of its epochs of 469 batches; 256 passes over the 7,000 images "
                      f"here), the last third at lr 1e-4; accuracy {acc} %.", ""]
        else:
            best = ", ".join(f"{r['best_step']:,}" for r in runs)
            lines += [f"The release's recipe for {rel['steps']:,} steps, the network kept at "
                      "the checkpoint of lowest cross-entropy on a held-out 10 % of the 7,000 "
                      "training images (checked every 469 steps; trained on the other 90 %; "
                      f"no OOD data involved): steps kept {best}; accuracy {acc} %.", ""]
        lines += ["| OOD set | MSP AUROC per seed | mean | Hendrycks & Gimpel | AUPR-in | "
                  "AUPR-out | FPR95 (mean) |", "|---|---|---|---|---|---|---|"]
        for kind, name in (("uniform", "uniform noise"), ("gaussian", "Gaussian noise")):
            values = [r[kind] for r in runs]
            mean = {k: float(np.mean([v[k] for v in values])) for k in values[0]}
            lines.append(f"| {name} | {', '.join(fmt(v['auroc']) for v in values)} | "
                         f"{fmt(mean['auroc'])} | {PAPER_ANCHOR[kind]:.2f} | "
                         f"{fmt(mean['aupr_in'])} | {fmt(mean['aupr_out'])} | "
                         f"{fmt(mean['fpr95'])} |")
        lines.append("")
    if anchor_result:
        lines += ["What differs from Hendrycks & Gimpel's setup (their release, "
                  "`Vision/MNIST_Softmax_Stats.ipynb`): not the input scaling (pixels / 255 in "
                  "[0, 1], theirs from TensorFlow's `read_data_sets`) nor the noise (N(0, 1) and "
                  "U[0, 1] per pixel, 10,000 each, unclipped); the training set (their 55,000 "
                  "training and 5,000 validation images, 30 passes; here 7,000 test images, so "
                  "14,070 steps are 256 passes), the in-distribution side (their 10,000 test "
                  "images; here the other 3,000) and one run against the mean of three seeds. "
                  "No recipe here is chosen on the noise sets; the seeds of one recipe spread "
                  "over up to 15 points.", ""]
    lines += ["## Peer: pytorch-ood", ""]
    if peer:
        lines += peer
    else:
        lines += ["Not run: pytorch-ood needs torchvision, which does not import with this "
                  "machine's CPU torch build; `--peer-export` writes the data and the "
                  "classifier for `benchmarks/ood_peer.py`, run in its own environment.", ""]
    return "\n".join(lines)


PEER_OF = {"MSP": "MSP", "ODIN (T 1000, ε 0.0014)": "ODIN", "Energy (T 1)": "Energy",
           "Mahalanobis (ε 0)": "Mahalanobis", "Mahalanobis (ε 0.0014)": "MahalanobisODIN",
           "DeepKNN (k 50)": "KNN"}
"""deepad's detector (label) → the same method in pytorch-ood (benchmarks/ood_peer.py)."""


def peer_lines(results, tag: str) -> list[str]:
    """The deepad-vs-pytorch-ood table, when benchmarks/ood_peer.py has run (with the paired
    timings of ``--speed-check`` when it has run too)."""
    scores_path, info_path = CACHE / "peer" / "peer_scores.npz", CACHE / "peer" / "peer.json"
    if not (scores_path.is_file() and info_path.is_file()):
        return []
    peer, info = np.load(scores_path), json.loads(info_path.read_text())
    if info.get("classifier") != tag:  # the peer ran on another network
        return []
    speed_path = CACHE / "speed.json"
    speed = json.loads(speed_path.read_text()) if speed_path.is_file() else {}
    if speed.get("classifier") != tag:
        speed = {}
    v = info["versions"]
    lines = [f"pytorch-ood {v['pytorch-ood']} (torch {v['torch']}, torchvision "
             f"{v['torchvision']}, in its own environment: `benchmarks/ood_peer.py`) on the "
             "same classifier (exported as TorchScript) and the same images, batches of "
             f"{info['batch']}, {info['threads']} thread(s). Its detectors: MaxSoftmax, ODIN "
             "(T 1000, ε 0.0014), EnergyBased (T 1), Mahalanobis (no pre-processing), "
             "MahalanobisODIN (ε 0.0014), KNN (k 50), on the head's input as features. AUROC "
             f"in %; score s = CPU seconds to score the {N_TEST} test images, each side in one "
             "run of its script (deepad: chunks of its scoring pass; pytorch-ood: its "
             "`predict` per batch), at different times on the shared machine.", ""]
    if speed:
        rounds = min(len(e["deepad"]) for k, e in speed.items() if k in PEER_OF)
        threads = speed.get("threads", 1)
        lines[-2] += (
            f" Paired s: `python benchmarks/ood_fashion.py --speed-check "
            f"PEER_PYTHON --speed-repeats {rounds}` (PEER_PYTHON: the Python of the peer's "
            "environment, see `benchmarks/ood_peer.py`), CPU seconds to score "
            f"the first {SPEED_ROWS:,} in-distribution test images, deepad and pytorch-ood "
            f"in turn (the peer in a subprocess), {rounds} rounds, "
            f"{threads} thread{'s' if threads > 1 else ''} each, the median of each side: the "
            "like-for-like speed comparison (the two one-off runs are minutes apart under "
            "another load). The machine was shared (other "
            "processes running), which inflates CPU seconds too.")
    header = ("| detector | " + " | ".join(f"{o}: deepad / peer" for o in OOD_SETS)
              + " | max abs diff | score s deepad / peer |")
    rule = "|---|" + "---|" * (len(OOD_SETS) + 2)
    if speed:
        header += " paired s deepad / peer | ratio |"
        rule += "---|---|"
    lines += [header, rule]
    key = {name: name.replace(" ", "_") for name in ("in", *OOD_SETS)}
    for label, name in PEER_OF.items():
        if label not in results or f"{name}/in" not in peer.files:
            continue
        r = results[label]
        ours = [metrics(r["scores"]["in"], r["scores"][o])["auroc"] for o in OOD_SETS]
        theirs = [metrics(peer[f"{name}/in"], peer[f"{name}/{key[o]}"])["auroc"]
                  for o in OOD_SETS]
        diff = max(abs(a - b) for a, b in zip(ours, theirs, strict=True))
        cells = " | ".join(f"{fmt(a)} / {fmt(b)}" for a, b in zip(ours, theirs, strict=True))
        row = (f"| {label} | {cells} | {100 * diff:.2f} | {r['score_cpu_s']:.1f} / "
               f"{info['timing'][name]['score_cpu_s']:.1f} |")
        if speed:
            entry = speed.get(label)
            if entry and entry["deepad"] and entry["peer"]:
                ours_s, theirs_s = np.median(entry["deepad"]), np.median(entry["peer"])
                row += f" {ours_s:.2f} / {theirs_s:.2f} | {ours_s / theirs_s:.2f} |"
            else:
                row += " – | – |"
        lines.append(row)
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--classifier-dir", type=Path, default=CLASSIFIER_DIR,
                        help="the saved classifier (default: benchmarks/fashion_classifier.py's)")
    parser.add_argument("--anchor-epochs", type=int, default=100)
    parser.add_argument("--skip-label-free", action="store_true")
    parser.add_argument("--anchor-only", action="store_true",
                        help="only train (or read the cached) anchor MLPs and print their AUROCs")
    parser.add_argument("--label-free-only", action="store_true",
                        help="only fit and score the label-free baselines (cached; no report)")
    parser.add_argument("--anchor-release", action="store_true",
                        help="only train (or read the cached) anchor MLPs of the release's "
                             "recipe in plain torch (anchor_release*.json: 5,500 steps, the "
                             "release's 14,070, and 14,070 with early stopping on held-out "
                             "MNIST) and print them")
    parser.add_argument("--skip-anchor", action="store_true",
                        help="train no anchor MLP (a cached anchor is still reported)")
    parser.add_argument("--peer-export", action="store_true")
    parser.add_argument("--cached-only", action="store_true",
                        help="report the label-free baselines already scored on every set, "
                             "run none")
    parser.add_argument("--only", nargs="*", help="labels of the detectors to run")
    parser.add_argument("--speed-check", metavar="PEER_PYTHON", default=None,
                        help="paired timing against pytorch-ood, whose environment's python "
                             "this is (after --peer-export); then the report")
    parser.add_argument("--speed-repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="a dry run on 2,000 / 500 images into /tmp (no report written)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    global CACHE, OUT, LABEL_FREE_ROWS, LOGIT_FIT_ROWS
    sets = load_sets()
    if args.quick:
        CACHE, OUT = Path("/tmp/ood_fashion_quick"), Path("/tmp/ood.md")
        LABEL_FREE_ROWS = LOGIT_FIT_ROWS = 500
        sets = {k: v[:2000] if k.startswith("train") else v[:500] for k, v in sets.items()}
    CACHE.mkdir(parents=True, exist_ok=True)
    # the cache (a trained model, scores, the peer's export of 200 MB) is never committed
    (CACHE / ".gitignore").write_text("*\n")
    if args.anchor_release:
        for variant in RELEASE_VARIANTS:
            anchor_release(variant)
        return
    if args.anchor_only:
        for r in anchor(args.anchor_epochs)["seeds"]:
            print({"seed": r["seed"], "test_accuracy": round(r["test_accuracy"], 4),
                   **{k: round(100 * r[k]["auroc"], 2) for k in ("uniform", "gaussian")}})
        return
    if args.label_free_only:  # their scores do not need the classifier: a process of its own
        rows = np.random.default_rng(SEED).permutation(len(sets["train"]))[:LABEL_FREE_ROWS]
        for _label, name, params in LABEL_FREE:
            cls = deepad.get_detector(name)
            score_detector(f"free_{name}",
                           lambda cls=cls, params=params: cls(**params, random_state=SEED),
                           sets["train"][rows], None, sets)
            print(name, "scored", flush=True)
        return
    anchor_result = None
    if not args.skip_anchor or (CACHE / "anchor.json").is_file():
        anchor_result = anchor(args.anchor_epochs if not args.quick else 1)
        print("anchor", [{k: round(r[k]["auroc"], 4) for k in ("uniform", "gaussian")}
                         for r in anchor_result["seeds"]], flush=True)
    det, info = classifier(sets, args.classifier_dir)
    tag = info["tag"]
    print(f"classifier {tag}: accuracy {info['test_accuracy']:.4f}", flush=True)
    results = {}
    subsample = np.random.default_rng(SEED + 3).permutation(len(sets["train"]))[
        :LOGIT_FIT_ROWS]
    if args.peer_export:
        export_peer(sets, det, slice(None) if FEATURE_FIT_ROWS is None else subsample, tag)
    if args.speed_check:
        speed_check(det, sets, subsample, args.speed_check, args.speed_repeats, args.threads,
                    tag)
    for i, (label, name, params, all_rows) in enumerate(OOD_DETECTORS):
        if args.only and label not in args.only:
            continue
        rows = subsample if not all_rows or FEATURE_FIT_ROWS else slice(None)
        results[label] = score_detector(
            f"ood{i}", lambda name=name, params=params: deepad.get_detector(name)(
                classifier=det.classifier_, **params),
            sets["train"][rows], sets["train_labels"][rows], sets, tag)
        print(label, {o: round(metrics(results[label]["scores"]["in"],
                                       results[label]["scores"][o])["auroc"], 4)
                      for o in OOD_SETS}, flush=True)

    def write() -> None:  # after the OOD detectors, and again after each baseline
        OUT.write_text(report(info, results, anchor_result, peer_lines(results, tag)) + "\n")
        print(f"wrote {OUT}", flush=True)

    write()
    if not args.skip_label_free:
        rows = np.random.default_rng(SEED).permutation(len(sets["train"]))[:LABEL_FREE_ROWS]
        for label, name, params in LABEL_FREE:
            try:
                cls = deepad.get_detector(name)
            except KeyError:
                continue
            if args.cached_only and not cached_all(f"free_{name}"):
                continue
            results[label] = score_detector(
                f"free_{name}", lambda cls=cls, params=params: cls(**params, random_state=SEED),
                sets["train"][rows], None, sets)
            print(label, {o: round(metrics(results[label]["scores"]["in"],
                                           results[label]["scores"][o])["auroc"], 4)
                          for o in OOD_SETS}, flush=True)
            write()


if __name__ == "__main__":
    main()
