"""``deepad run`` on images: a folder of PNG / JPEG files, or an ``.npy`` / ``.npz`` array of
images.

The command fits a detector that accepts images (AutoEncoder by default: its anomaly map is
the per-pixel reconstruction error, the easiest map to read), scores the images, and writes

- the scores CSV: one row per image, with its file name, score, rank and flag;
- a PNG grid: the most anomalous images (highest scores) beside their anomaly maps, and, for
  reference, the most normal images (lowest scores) beside theirs, each titled with its rank,
  score and file name. Detectors without ``anomaly_map`` get the images alone.

A folder in the MVTec-AD layout (``train/good/``, ``test/<type>/``) is fitted on its training
part and its test part is scored; any other input is fitted and scored whole.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import typer

IMAGE_DEFAULT = "AutoEncoder"
"""The detector ``deepad run`` fits on images when none is named (the command's default)."""

ARRAY_KEYS = ("X", "images", "x")
GRID_COLUMNS = 8


@dataclass
class ImageInput:
    """Images to fit on and to score, with names and optional class labels."""

    fit: np.ndarray
    score: np.ndarray
    names: np.ndarray
    classes: np.ndarray | None
    description: str


def is_image_input(path: Path) -> bool:
    """Whether ``deepad run`` reads ``path`` as images: a folder, or an ``.npy`` / ``.npz``
    whose array (``X`` / ``images`` for ``.npz``) has 3 dimensions (n, H, W) or 4
    (n, C, H, W)."""
    path = Path(path)
    if path.is_dir():
        return True
    if not path.is_file() or path.suffix.lower() not in (".npy", ".npz"):
        return False
    try:
        return _array(path, check_only=True) is not None
    except (OSError, ValueError):
        return False


def _array(path: Path, check_only: bool = False) -> np.ndarray | None:
    if path.suffix.lower() == ".npy":
        array = np.load(path, mmap_mode="r", allow_pickle=False)
        return array if array.ndim in (3, 4) else None
    with np.load(path, allow_pickle=False) as archive:
        for key in ARRAY_KEYS:
            if key in archive.files:
                if check_only:
                    shape = archive[key].shape
                    return np.empty(0) if len(shape) in (3, 4) else None
                array = archive[key]
                return array if array.ndim in (3, 4) else None
    return None


def read_images(path: Path, size: tuple[int, int] | None = None) -> ImageInput:
    """The images of ``path`` (see the module doc)."""
    path = Path(path)
    if path.is_dir():
        from deepad.data import load_image_folder

        data = load_image_folder(path, size=size)
        shape = "x".join(map(str, data.images.shape[1:]))
        classes = (np.array([data.class_names[i] if i >= 0 else "" for i in data.labels])
                   if data.class_names else None)
        if data.split is not None and {"train", "test"} <= set(data.split.tolist()):
            train, test = data.split == "train", data.split == "test"
            return ImageInput(
                data.images[train], data.images[test], data.file_names[test],
                None if classes is None else classes[test],
                f"{path} (MVTec-AD layout): fitted on the {int(train.sum())} images of train/, "
                f"scored on the {int(test.sum())} of test/; {shape} uint8")
        return ImageInput(data.images, data.images, data.file_names, classes,
                          f"{path}: {len(data)} images, {shape} uint8")
    array = _array(path)
    if array is None:
        msg = (f"{path} holds no images: expected an .npy array of shape (n, H, W) or "
               f"(n, C, H, W), or an .npz with such an array named {' or '.join(ARRAY_KEYS)}.")
        raise ValueError(msg)
    array = np.ascontiguousarray(array)
    if size is not None:
        msg = "--image-size resizes image files; resize an array before saving it."
        raise ValueError(msg)
    width = max(5, len(str(len(array))))
    names = np.array([f"image-{i:0{width}d}" for i in range(len(array))])
    shape = "x".join(map(str, array.shape[1:]))
    return ImageInput(array, array, names, None,
                      f"{path}: {len(array)} images, {shape} {array.dtype}")


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"64x64"`` → ``(64, 64)`` (height x width); None stays None."""
    if text is None or not str(text).strip():
        return None
    parts = str(text).lower().replace(",", "x").split("x")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        msg = f"--image-size expects HEIGHTxWIDTH, e.g. 64x64; got {text!r}."
        raise ValueError(msg) from None
    if height < 1 or width < 1:
        msg = f"--image-size expects two positive sizes; got {text!r}."
        raise ValueError(msg)
    return height, width


def image_detector(name: str) -> type:
    """The registered detector ``name``, checked to accept images and to need no labels."""
    from deepad.core.registry import get_detector, list_detectors

    cls = get_detector(name)
    capable = [d["name"] for d in list_detectors() if "image" in d.get("modalities", ())
               and "unsupervised" in d.get("supervision", ())]
    if "image" not in cls.modalities:
        msg = (f"{cls.name} does not accept images (its modalities: "
               f"{', '.join(cls.modalities)}). Detectors for images: {', '.join(capable)}; "
               f"the default is {IMAGE_DEFAULT}.")
        raise ValueError(msg)
    if "unsupervised" not in cls.supervision:
        msg = (f"{cls.name} needs labelled anomalies; deepad run on images fits without "
               f"labels. Unsupervised detectors for images: {', '.join(capable)}.")
        raise ValueError(msg)
    return cls


def run_images(data: Path, *, detector: str, params: dict[str, Any], top: int, output: str,
               plot: str, save_model: Path | None, size: tuple[int, int] | None = None,
               skip=lambda value: value.strip().lower() in ("", "none")) -> None:
    """Fit, score, print the top images, write the CSV and the grid (see the module doc).

    ``params`` holds the detector's parameters (given ones, the seed, verbosity), already
    checked against its constructor by the caller.
    """
    cls = image_detector(detector)
    images = read_images(data, size)
    typer.echo(f"data: {images.description}")
    model = cls(**params)
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items() if k != "verbose")
    typer.echo(f"detector: {cls.name} ({cls.category} / {cls.subcategory}); {shown}")
    start = time.perf_counter()
    model.fit(images.fit)
    typer.echo(f"fit: {time.perf_counter() - start:.2f} s")
    scores = np.asarray(model.decision_function(images.score), dtype=np.float64)
    flagged = (scores > float(model.threshold_)).astype(np.int64)
    typer.echo(f"threshold_: {model.threshold_:.6g}; {int(flagged.sum())} of {len(scores)} "
               "images flagged as anomalies")
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    if top > 0:
        typer.echo(f"top {min(top, len(scores))} images by score:")
        for row in order[:top]:
            typer.echo(f"  {ranks[row]:>4}  {scores[row]:>12.6g}  {images.names[row]}")
    if not skip(output):
        table = pd.DataFrame({"file": images.names, "score": scores, "rank": ranks,
                              "is_anomaly": flagged})
        if images.classes is not None:
            table["class"] = images.classes
        table.to_csv(output, index=False)
        typer.echo(f"scores written to {output}")
    if not skip(plot):
        note = write_grid(plot, model, images.score, scores, images.names,
                          title=f"{cls.name} on {Path(data).name}")
        typer.echo(f"image grid written to {plot}{note}")
    if save_model is not None:
        model.save(save_model)
        typer.echo(f"model saved to {save_model} (load with deepad.load)")


def _maps(model: Any, X: np.ndarray) -> tuple[np.ndarray | None, str]:
    method = getattr(model, "anomaly_map", None)
    if not callable(method):
        return None, f" ({type(model).__name__} has no anomaly_map: images only)"
    try:
        return np.asarray(method(X), dtype=np.float64), ""
    except (NotImplementedError, TypeError, ValueError) as error:
        return None, f" (no anomaly maps: {error})"


def _shown(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """An image as matplotlib shows it: (H, W) grey or (H, W, 3) colour, in [0, 1]."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim == 3:
        image = np.moveaxis(image, 0, -1)[..., :3]
    top = 255.0 if image.max() > 1.0 else 1.0
    image = np.clip(image / top, 0.0, 1.0)
    return image, ("gray" if image.ndim == 2 else None)


def write_grid(path: str | Path, model: Any, X: np.ndarray, scores: np.ndarray,
               names: np.ndarray, title: str = "", n_show: int = GRID_COLUMNS) -> str:
    """Write the PNG grid: the ``n_show`` most anomalous images over their anomaly maps,
    then the ``n_show`` most normal ones over theirs. Returns a note for the console ("" or
    why there are no maps)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    order = np.argsort(-scores, kind="stable")
    n_show = max(1, min(n_show, len(scores) // 2 or 1))
    top, bottom = order[:n_show], order[::-1][:n_show]
    chosen = np.concatenate([top, bottom])
    maps, note = _maps(model, X[chosen])
    per_group = 2 if maps is not None else 1
    n_rows = 2 * per_group
    figure = Figure(figsize=(1.9 * n_show + 0.6, 2.2 * n_rows + 0.9), dpi=100,
                    layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(n_rows, n_show, squeeze=False)
    top_map = None
    if maps is not None:  # one colour scale for every map: maps compare with each other
        top_map = float(np.percentile(maps, 99.5)) or float(maps.max()) or 1.0
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(1, len(scores) + 1)
    groups = (("most anomalous", top, 0), ("most normal (reference)", bottom, n_show))
    for g, (label, rows, offset) in enumerate(groups):
        for c, row in enumerate(rows):
            ax = axes[g * per_group, c]
            image, cmap = _shown(X[row])
            ax.imshow(image, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
            name = str(names[row])
            name = name if len(name) <= 22 else "…" + name[-21:]
            ax.set_title(f"#{ranks[row]} score {scores[row]:.4g}\n{name}", fontsize=8,
                         color="tab:red" if g == 0 else "tab:blue")
            if maps is not None:
                ax_map = axes[g * per_group + 1, c]
                ax_map.imshow(maps[offset + c], cmap="inferno", vmin=0.0, vmax=top_map,
                              interpolation="nearest")
                ax_map.set_title("anomaly map", fontsize=7)
        axes[g * per_group, 0].set_ylabel(label, fontsize=9)
        if maps is not None:
            axes[g * per_group + 1, 0].set_ylabel("its map", fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    legend = ("red: highest scores (most anomalous); blue: lowest scores (most normal, for "
              "reference)")
    if maps is not None:
        legend += "; maps: brighter = more anomalous there, one colour scale for all"
    figure.suptitle(f"{title}\n{legend}" if title else legend, fontsize=10)
    figure.savefig(Path(path), format="png")
    return note
