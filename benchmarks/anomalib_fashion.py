"""anomalib's GANomaly beside deepad's GANomaly on Fashion-MNIST, one-class (Ruff et al.'s
protocol: train on one class's 6,000 training images, test on all 10,000 test images, anomaly =
any other class) → docs/results/anomalib_fashion.md.

anomalib imports torchvision, which does not import with deepad's CPU torch build, so its side
runs in its own environment, without deepad (a virtual environment with torch 2.14.1,
torchvision 0.29.1 and anomalib from the registry; its Python is ANOMALIB_PYTHON below). Four
steps, each resumable (a finished class / seed is skipped)::

    python benchmarks/anomalib_fashion.py export              # deepad's environment
    $ANOMALIB_PYTHON benchmarks/anomalib_fashion.py anomalib --classes 0 1 2 --threads 1
    python benchmarks/anomalib_fashion.py deepad --classes 0 1 2 --threads 1
    python benchmarks/anomalib_fashion.py report

``export`` writes the images as PNG folders (``png/train/<class>/``, ``png/test/<class>/``,
git-ignored) under benchmarks/results/anomalib_fashion/, which anomalib's ``Folder`` datamodule
reads. ``anomalib`` and ``deepad`` write one JSON file per side, class and seed there
(AUC-ROC, AUC-PR with the anomalies positive, CPU and wall seconds of fit and of scoring the
10,000 test images, versions, settings); ``report`` reads them.

Both sides use the paper's settings (Akcay et al., ACCV 2018, and its release): DCGAN
encoders of widths 64, 128, 256 for ``G_E``, ``E`` and the discriminator, a code of 100,
Adam lr 2e-4, β1 0.5, loss weights w_adv 1, w_con 50, w_enc 1, batches of 32, the same fixed
number of epochs (EPOCHS, the paper trains 15; what the shared CPU allows), no early stopping
and no validation data (anomalib's example configuration stops early on the test AUROC, which
would select on the test set). Where the two implementations differ by design, each keeps its
own: anomalib reads the PNGs as RGB, resizes them to 32 x 32 and normalises them with ImageNet
statistics (its default pre-processor), its decoder ends in tanh, its adversarial loss compares
the discriminator's outputs and its encoding loss is smooth L1; deepad reads the 28 x 28 grey
images in [0, 1] with a linear decoder output and compares the discriminator's features
(the paper's Eq. 2-4).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "anomalib_fashion"
PNG = OUT / "png"
PAGE = ROOT / "docs" / "results" / "anomalib_fashion.md"
EPOCHS = 1
BATCH = 32
LATENT = 100
WIDTHS = (64, 128, 256)
LR, BETA1 = 2e-4, 0.5
W_ADV, W_CON, W_ENC = 1, 50, 1
CLASSES = tuple(range(10))
SIDES = ("anomalib", "deepad")


def _result_path(side: str, normal: int, seed: int) -> Path:
    return OUT / f"{side}_class{normal}_seed{seed}.json"


def _metrics(labels: np.ndarray, scores: np.ndarray) -> dict:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if not np.isfinite(scores).all():
        msg = "non-finite scores"
        raise FloatingPointError(msg)
    return {"auc_roc": float(roc_auc_score(labels, scores)),
            "auc_pr": float(average_precision_score(labels, scores))}


def _write(side: str, normal: int, seed: int, record: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    record = {"side": side, "normal_class": normal, "seed": seed, "epochs": EPOCHS,
              "batch_size": BATCH, "latent_dim": LATENT, "widths": list(WIDTHS), "lr": LR,
              "beta1": BETA1, "weights": [W_ADV, W_CON, W_ENC], **record,
              "python": platform.python_version(), "machine": platform.machine()}
    path = _result_path(side, normal, seed)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"{side} class {normal} seed {seed}: AUC-ROC {record['auc_roc']:.4f}, "
          f"fit {record['fit_cpu_s']:.0f} CPU s, score {record['score_cpu_s']:.0f} CPU s")


# ---------------------------------------------------------------------------- export (deepad)
def export() -> None:
    """The Fashion-MNIST images as PNG folders by part and class (deepad's loader, Pillow)."""
    from PIL import Image

    from deepad.data import load_fashion_mnist

    for part in ("train", "test"):
        data = load_fashion_mnist(part)
        for label in CLASSES:
            folder = PNG / part / str(label)
            index = np.flatnonzero(data.labels == label)
            if folder.is_dir() and len(list(folder.glob("*.png"))) == len(index):
                continue
            folder.mkdir(parents=True, exist_ok=True)
            for i in index:
                Image.fromarray(data.images[i]).save(folder / f"{i:05d}.png")
        print(f"{part}: {len(data.labels)} images under {PNG / part}")


# ---------------------------------------------------------------------------- anomalib side
def run_anomalib(normal: int, seed: int) -> None:
    """anomalib's Engine + Folder datamodule: fit for EPOCHS epochs, then raw scores of the
    test images from ``predict`` (no post-processor: no min-max scaling, no threshold)."""
    import warnings

    import torch

    warnings.filterwarnings("ignore")
    from anomalib.data import Folder
    from anomalib.engine import Engine
    from anomalib.models import Ganomaly
    from lightning.pytorch import seed_everything

    seed_everything(seed, workers=True)
    datamodule = Folder(name=f"fashion{normal}", root=PNG, normal_dir=f"train/{normal}",
                        abnormal_dir=[f"test/{k}" for k in CLASSES if k != normal],
                        normal_test_dir=f"test/{normal}", train_batch_size=BATCH,
                        eval_batch_size=256, num_workers=0, val_split_mode="same_as_test",
                        seed=seed)
    model = Ganomaly(batch_size=BATCH, n_features=WIDTHS[0], latent_vec_size=LATENT,
                     wadv=W_ADV, wcon=W_CON, wenc=W_ENC, lr=LR, beta1=BETA1,
                     pre_processor=Ganomaly.configure_pre_processor(image_size=(32, 32)),
                     evaluator=False, visualizer=False, post_processor=False)
    work = OUT / "anomalib_work"
    engine = Engine(max_epochs=EPOCHS, accelerator="cpu", devices=1, logger=False,
                    default_root_dir=str(work), enable_progress_bar=False,
                    limit_val_batches=0)
    cpu, wall = time.process_time(), time.time()
    engine.fit(model=model, datamodule=datamodule)
    fit_cpu, fit_wall = time.process_time() - cpu, time.time() - wall
    cpu, wall = time.process_time(), time.time()
    predictions = engine.predict(model=model, datamodule=datamodule, return_predictions=True)
    score_cpu, score_wall = time.process_time() - cpu, time.time() - wall
    scores = torch.cat([p.pred_score.flatten() for p in predictions]).double().numpy()
    labels = torch.cat([p.gt_label.flatten() for p in predictions]).numpy().astype(int)
    n_train = len(datamodule.train_data)
    if len(scores) != 10000 or n_train != 6000:
        msg = f"expected 6,000 training and 10,000 test images; got {n_train} and {len(scores)}"
        raise RuntimeError(msg)
    _write("anomalib", normal, seed, {
        **_metrics(labels, scores), "fit_cpu_s": fit_cpu, "fit_wall_s": fit_wall,
        "score_cpu_s": score_cpu, "score_wall_s": score_wall, "n_train": n_train,
        "n_test": len(scores), "n_anomalies": int(labels.sum()),
        "torch_threads": torch.get_num_threads(),
        "versions": {p: version(p) for p in ("anomalib", "torch", "torchvision", "lightning")},
        "input": "PNG read as RGB, resized to 32 x 32, ImageNet-normalised",
    })


# ---------------------------------------------------------------------------- deepad side
def run_deepad(normal: int, seed: int) -> None:
    """deepad's GANomaly at the same settings, on the same images (deepad's loader)."""
    import torch

    from deepad import GANomaly
    from deepad.data import load_fashion_mnist, one_class_split

    split = one_class_split(load_fashion_mnist("all"), normal, flatten=False,
                            protocol="ruff")
    det = GANomaly(hidden_dims=WIDTHS, disc_hidden_dims=WIDTHS, latent_dim=LATENT,
                   w_adv=W_ADV, w_con=W_CON, w_enc=W_ENC, lr=LR, beta1=BETA1,
                   batch_size=BATCH, epochs=EPOCHS, n_batches=None, random_state=seed)
    cpu, wall = time.process_time(), time.time()
    det.fit(split.X_train)
    fit_cpu, fit_wall = time.process_time() - cpu, time.time() - wall
    cpu, wall = time.process_time(), time.time()
    scores = det.decision_function(split.X_test)
    score_cpu, score_wall = time.process_time() - cpu, time.time() - wall
    labels = np.asarray(split.y_test).astype(int)
    _write("deepad", normal, seed, {
        **_metrics(labels, scores), "fit_cpu_s": fit_cpu, "fit_wall_s": fit_wall,
        "score_cpu_s": score_cpu, "score_wall_s": score_wall, "n_train": len(split.X_train),
        "n_test": len(scores), "n_anomalies": int(labels.sum()),
        "torch_threads": torch.get_num_threads(),
        "versions": {p: version(p) for p in ("deepad", "torch")},
        "input": "28 x 28 grey, [0, 1]",
        "params": {k: (list(v) if isinstance(v, tuple) else v)
                   for k, v in det.get_params().items()},
    })


# ---------------------------------------------------------------------------- report
def _load() -> dict[tuple[str, int, int], dict]:
    rows = {}
    for path in sorted(OUT.glob("*_class*_seed*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        rows[record["side"], record["normal_class"], record["seed"]] = record
    return rows


def report() -> str:
    rows = _load()
    seeds = sorted({s for _, _, s in rows})
    both = [(c, s) for c in CLASSES for s in seeds
            if all((side, c, s) in rows for side in SIDES)]
    if not both:
        msg = f"no class with both sides' results under {OUT}"
        raise SystemExit(msg)
    from deepad.data.images import FASHION_MNIST_CLASSES as names

    a0, d0 = rows[("anomalib", *both[0])], rows[("deepad", *both[0])]
    done = sorted({c for c, _ in both})
    missing = [c for c in CLASSES if c not in done]
    lines = [
        "# anomalib's GANomaly and deepad's GANomaly on Fashion-MNIST (one-class)", "",
        "Generated by `python benchmarks/anomalib_fashion.py report` from the JSON files that "
        "its `anomalib` step (anomalib's own environment) and `deepad` step wrote under "
        "benchmarks/results/anomalib_fashion/ (the module docstring gives the commands).", "",
        "Protocol (Ruff et al., 2018): the normal class's 6,000 training images for fitting, "
        "all 10,000 test images for scoring, anomaly = any other class (9,000). Both sides at "
        f"the GANomaly paper's settings: DCGAN networks of widths {', '.join(map(str, WIDTHS))}, "
        f"a code of {LATENT}, Adam lr {LR:g}, β1 {BETA1}, loss weights w_adv {W_ADV}, "
        f"w_con {W_CON}, w_enc {W_ENC}, batches of {BATCH}, **{EPOCHS} "
        f"epoch{'s' if EPOCHS > 1 else ''}** for both "
        "(the paper trains 15; the shared CPU allowed this many), no early stopping, no "
        f"validation data; seed(s) {', '.join(map(str, seeds))}. anomalib "
        f"{a0['versions']['anomalib']} (torch {a0['versions']['torch']}, torchvision "
        f"{a0['versions']['torchvision']}): {a0['input']}, its Engine and Folder datamodule, "
        "raw scores from `predict` (no post-processor). deepad "
        f"{d0['versions']['deepad']} (torch {d0['versions']['torch']}): {d0['input']}, "
        "`GANomaly(hidden_dims=disc_hidden_dims=(64, 128, 256), latent_dim=100, lr=2e-4, "
        f"batch_size=32, epochs={EPOCHS}, n_batches=None)`.", "",
        "AUC-ROC and AUC-PR (anomalies positive; 90 % of the test images are anomalies, the "
        "AUC-PR of a random score) in %. Seconds: CPU seconds of the process "
        "(one torch thread), fit = training, score = scoring the 10,000 test images "
        "(anomalib's includes reading and resizing the PNGs). The machine (2 cores) was "
        "shared with other processes, which inflates CPU seconds too.", "",
    ]
    if missing:
        lines += [f"Classes run on both sides: {', '.join(map(str, done))}; not run (CPU "
                  f"budget): {', '.join(map(str, missing))}.", ""]
    lines += ["| class | anomalib AUC-ROC | deepad AUC-ROC | anomalib AUC-PR | deepad AUC-PR "
              "| anomalib fit s | deepad fit s | anomalib score s | deepad score s |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    keys = ("auc_roc", "auc_pr", "fit_cpu_s", "score_cpu_s")
    table = {side: {k: [] for k in keys} for side in SIDES}
    for c, s in both:
        a, d = rows["anomalib", c, s], rows["deepad", c, s]
        for side, r in (("anomalib", a), ("deepad", d)):
            for k in keys:
                table[side][k].append(r[k])
        label = f"{c} {names[c]}" + (f" (seed {s})" if len(seeds) > 1 else "")
        lines.append(f"| {label} | {100 * a['auc_roc']:.1f} | {100 * d['auc_roc']:.1f} "
                     f"| {100 * a['auc_pr']:.1f} | {100 * d['auc_pr']:.1f} "
                     f"| {a['fit_cpu_s']:.0f} | {d['fit_cpu_s']:.0f} "
                     f"| {a['score_cpu_s']:.0f} | {d['score_cpu_s']:.0f} |")
    a, d = table["anomalib"], table["deepad"]
    lines.append(f"| **mean** ({len(both)}) | {100 * np.mean(a['auc_roc']):.1f} "
                 f"| {100 * np.mean(d['auc_roc']):.1f} | {100 * np.mean(a['auc_pr']):.1f} "
                 f"| {100 * np.mean(d['auc_pr']):.1f} | {np.mean(a['fit_cpu_s']):.0f} "
                 f"| {np.mean(d['fit_cpu_s']):.0f} | {np.mean(a['score_cpu_s']):.0f} "
                 f"| {np.mean(d['score_cpu_s']):.0f} |")
    total = sum(np.sum(t["fit_cpu_s"]) + np.sum(t["score_cpu_s"]) for t in (a, d))
    lines += ["", f"CPU time of all runs in the table: {total / 60:.1f} minutes.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("export", "anomalib", "deepad", "report"))
    parser.add_argument("--classes", type=int, nargs="*", default=list(CLASSES))
    parser.add_argument("--seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.step == "export":
        export()
        return
    if args.step == "report":
        PAGE.write_text(report(), encoding="utf-8")
        print(f"wrote {PAGE}")
        return
    import torch

    torch.set_num_threads(args.threads)
    run = run_anomalib if args.step == "anomalib" else run_deepad
    for normal in args.classes:
        for seed in args.seeds:
            if _result_path(args.step, normal, seed).exists():
                continue
            run(normal, seed)


if __name__ == "__main__":
    main()
