"""``deepad run --video``: per-frame anomaly scores of a video, a plot of the score over time
and the most anomalous frame with its anomaly map.

DATA is one of

- ``ucsd_ped2`` (or ``ped2``): the UCSD Ped2 dataset of the data folders
  (:func:`deepad.data.load_ucsd_ped2`); the detector is fitted on the 16 normal training
  videos and scores the 12 test videos, whose labelled anomalous frames are shaded;
- an ``.npz`` with ``frames`` ``(n, H, W)`` or ``(n, C, H, W)`` and optionally ``label`` (0/1
  per frame) and ``clip`` / ``video`` (video id per frame): fitted and scored whole;
- a folder of frame images (PNG / JPEG / BMP / TIFF, sorted by name): one video, fitted and
  scored whole;
- a video file (``.mp4``, ``.avi``, ...), read with imageio (``pip install deepad[video]``).

Writes the scores CSV (video, frame, score, is_anomaly, label), the score plot (``--plot``)
and, beside it, ``<plot>-overlay.png``: the most anomalous frame, its anomaly map, and the
map overlaid on the frame (detectors with maps: FuturePrediction, AutoEncoder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

VIDEO_AUTOENCODER = {"hidden_dims": (16, 32, 32, 8), "dropout": 0.0}
"""What ``deepad run --video`` gives AutoEncoder (the command's default detector) unless
``--param`` says otherwise: Conv-AE widths for frames (3 x 3 blocks of 16, 32, 32 channels, a
spatial code of 8 channels), no dropout. The library defaults (128, 64) are sized for rows."""
PED2_NAMES = ("ucsd_ped2", "ped2", "ucsdped2")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".gif")


def _frames_of_folder(folder: Path) -> np.ndarray:
    from PIL import Image

    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES)
    if not files:
        msg = f"{folder} holds no frame images ({', '.join(FRAME_SUFFIXES)})."
        raise ValueError(msg)
    frames = []
    for path in files:
        with Image.open(path) as image:
            array = np.asarray(image.convert("L") if image.mode not in ("RGB", "L")
                               else image)
        frames.append(array if array.ndim == 2 else array.transpose(2, 0, 1))
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        msg = f"The frames in {folder} have different shapes {sorted(shapes)[:3]}."
        raise ValueError(msg)
    return np.stack(frames)


def _frames_of_file(path: Path) -> np.ndarray:
    try:
        import imageio.v3 as iio
    except ImportError as error:
        msg = (f"Reading the video file {path.name} needs imageio with a video plugin: pip "
               "install 'deepad[video]' (or save its frames as images in a folder).")
        raise ImportError(msg) from error
    frames = np.asarray(iio.imread(path, index=None))
    if frames.ndim == 4:  # (n, H, W, C) → (n, C, H, W)
        frames = frames.transpose(0, 3, 1, 2)
    return frames


def read_video_input(data: Path, root: Any = None) -> dict[str, Any]:
    """``{"fit": [videos], "score": [videos], "labels": [arrays] or None, "ids": [ids],
    "name": str}`` for DATA (see the module docstring)."""
    if str(data).lower() in PED2_NAMES and not data.exists():
        from deepad.data.video import load_ucsd_ped2

        train, test = load_ucsd_ped2("train", root=root), load_ucsd_ped2("test", root=root)
        ids = [int(test.video_ids[v[0]]) for v in _bounds(test.video_ids)]
        return {"fit": train.videos(), "score": test.videos(), "labels": test.video_labels(),
                "ids": ids, "name": "UCSD Ped2 test videos"}
    if not data.exists():
        msg = f"{data} does not exist (a video .npz, a folder of frames, a video file or ped2)."
        raise FileNotFoundError(msg)
    labels = None
    if data.is_dir():
        frames, video_ids = _frames_of_folder(data), None
    elif data.suffix.lower() == ".npz":
        with np.load(data, allow_pickle=False) as archive:
            if "frames" not in archive:
                msg = f"{data} has no array 'frames' (found {sorted(archive.files)})."
                raise ValueError(msg)
            frames = archive["frames"]
            labels = archive["label"] if "label" in archive else None
            key = next((k for k in ("clip", "video", "video_ids") if k in archive), None)
            video_ids = archive[key] if key else None
    elif data.suffix.lower() in VIDEO_SUFFIXES:
        frames, video_ids = _frames_of_file(data), None
    else:
        msg = (f"{data.name}: --video reads an .npz of frames, a folder of frame images or a "
               f"video file ({', '.join(VIDEO_SUFFIXES)}).")
        raise ValueError(msg)
    if video_ids is None:
        video_ids = np.zeros(len(frames), np.int64)
    bounds = _bounds(np.asarray(video_ids))
    videos = [frames[a:b] for a, b in bounds]
    label_list = None if labels is None else [np.asarray(labels)[a:b] for a, b in bounds]
    return {"fit": videos, "score": videos, "labels": label_list,
            "ids": [int(np.asarray(video_ids)[a]) for a, _ in bounds], "name": data.name}


def _bounds(video_ids: np.ndarray) -> list[tuple[int, int]]:
    from deepad.data.video import video_bounds

    return video_bounds(video_ids)


def _intervals(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` runs of True in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def run_video(data: Path, *, detector: str, params: dict[str, Any], clip_length: int,
              frame_size: tuple[int, int] | None, output: str | None, plot: str | None,
              save_model: Path | None, top: int, echo=print) -> dict[str, Any]:
    """Fit a :class:`deepad.VideoDetector` on DATA's training videos, score its videos,
    write the CSV, the score plot and the overlay; returns what was written and scored."""
    import time

    import pandas as pd

    from deepad.core.registry import get_detector
    from deepad.metrics import auc_roc
    from deepad.video import VideoDetector

    source = read_video_input(data)
    cls = get_detector(detector)
    if "video" not in cls.modalities:
        msg = (f"{cls.name} does not take video clips; use one of FuturePrediction, "
               "AutoEncoder, DeepSVDD, SDOR (-d NAME).")
        raise ValueError(msg)
    if "unsupervised" not in cls.supervision:
        msg = f"{cls.name} needs labelled videos; deepad run --video fits unsupervised detectors."
        raise ValueError(msg)
    wrapper = VideoDetector(cls(**params), clip_length=clip_length, frame_size=frame_size)
    start = time.perf_counter()
    wrapper.fit(source["fit"])
    fit_seconds = time.perf_counter() - start
    rows, per_video = [], []
    for k, (video, vid) in enumerate(zip(source["score"], source["ids"], strict=True)):
        scores, scored = wrapper.frame_scores(video)
        label = None if source["labels"] is None else np.asarray(source["labels"][k])
        per_video.append((vid, scores, scored, label))
        for i, s in enumerate(scores):
            rows.append({"video": vid, "frame": i, "score": float(s),
                         "is_anomaly": int(s > wrapper.threshold_), "scored": bool(scored[i]),
                         "label": None if label is None else int(label[i])})
    table = pd.DataFrame(rows)
    if source["labels"] is None:
        table = table.drop(columns="label")
    echo(f"Fitted {cls.name} on {sum(len(v) for v in source['fit'])} frames of "
         f"{len(source['fit'])} video(s) in {fit_seconds:.1f} s; scored "
         f"{len(table)} frames of {source['name']}.")
    if source["labels"] is not None:
        auc = auc_roc(table["label"].to_numpy(), table["score"].to_numpy())
        echo(f"Frame-level AUC-ROC over all scored frames (micro, raw scores): {auc:.3f}")
    for _, row in table.sort_values("score", ascending=False).head(top).iterrows():
        echo(f"  video {row['video']} frame {row['frame']}: score {row['score']:.4g}")
    written = {}
    if output:
        table.to_csv(output, index=False)
        written["csv"] = output
    if plot:
        written["plot"] = _plot_scores(per_video, wrapper.threshold_, plot, source["name"],
                                       cls.name)
        best = int(table["score"].idxmax())
        k = next(i for i, (vid, *_rest) in enumerate(per_video)
                 if vid == table.loc[best, "video"])
        written["overlay"] = _plot_overlay(wrapper, source["score"][k],
                                           int(table.loc[best, "frame"]),
                                           per_video[k][0], plot)
    if save_model is not None:
        wrapper.save(save_model)
        written["model"] = str(save_model)
    for kind, path in written.items():
        echo(f"Wrote {kind}: {path}")
    return {"table": table, "written": written, "detector": wrapper}


def _plot_scores(per_video, threshold: float, path: str, name: str, detector: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 3.5))
    offset, shaded = 0, False
    for i, (vid, scores, scored, label) in enumerate(per_video):
        x = np.arange(offset, offset + len(scores))
        if label is not None:
            for a, b in _intervals(np.asarray(label) > 0):
                ax.axvspan(offset + a - 0.5, offset + b - 0.5, color="tab:red", alpha=0.18,
                           lw=0, label=None if shaded else "labelled anomalous")
                shaded = True
        ax.plot(x[scored], scores[scored], color="tab:blue", lw=0.9)
        if (~scored).any():
            ax.plot(x[~scored], scores[~scored], ".", color="0.6", ms=2)
        if i:
            ax.axvline(offset - 0.5, color="0.5", lw=0.6, ls=":")
        if len(per_video) > 1:
            ax.text(offset + len(scores) / 2, 1.0, str(vid), transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize=7, color="0.3")
        offset += len(scores)
    ax.axhline(threshold, color="tab:orange", lw=0.8, ls="--", label="threshold")
    ax.set_xlim(-0.5, offset - 0.5)
    ax.set_xlabel("frame (videos one after the other; dotted lines: video boundaries)"
                  if len(per_video) > 1 else "frame")
    ax.set_ylabel("anomaly score")
    ax.set_title(f"{detector} on {name}: score per frame (shaded: labelled anomalous frames)",
                 fontsize=10, pad=14)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _plot_overlay(wrapper, video: np.ndarray, frame: int, vid: Any, plot: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = str(Path(plot).with_name(Path(plot).stem + "-overlay.png"))
    frames = wrapper._as_video(video, "video")
    image = frames[frame].mean(axis=0) if frames.shape[1] != 3 else frames[frame].transpose(
        1, 2, 0)
    T = wrapper.clip_length
    high = min(len(video), frame + T)
    low = max(0, min(frame - T + 1, high - T))
    try:  # the maps of a short stretch around the frame (maps need whole clips)
        heat = wrapper.anomaly_map(video[low:high])[frame - low]
    except TypeError:  # the detector gives no maps: the frame alone
        heat = None
    panels = 3 if heat is not None else 1
    fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 3.2))
    axes = np.atleast_1d(axes)
    axes[0].imshow(image, cmap="gray" if image.ndim == 2 else None)
    axes[0].set_title(f"video {vid}, frame {frame}: most anomalous", fontsize=9)
    if heat is not None:
        axes[1].imshow(heat, cmap="inferno")
        axes[1].set_title("anomaly map", fontsize=9)
        axes[2].imshow(image, cmap="gray" if image.ndim == 2 else None)
        axes[2].imshow(heat, cmap="inferno", alpha=0.55)
        axes[2].set_title("map over the frame", fontsize=9)
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
