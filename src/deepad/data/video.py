"""Video: cut frames into clips, map clip scores back to frames, and load UCSD Ped2.

numpy only. A video is a sequence of frames ``(n_frames, H, W)`` or ``(n_frames, C, H, W)``;
several videos are stored one after the other with a ``video_ids`` array (one id per frame).
A clip is ``length`` consecutive frames of one video, ``(length, C, H, W)``; clips never cross
a video boundary (:func:`frame_clips`).

Clip ``i`` of a video covers frames ``starts[i] .. starts[i] + length - 1`` with the starts of
:func:`deepad.data.windows.window_starts` (a regular grid every ``stride`` frames, plus a last
clip ending at the video's last frame), so clips, their labels and the clip → frame mapping
(:func:`clip_scores_to_frames`) always agree.

Which frame a clip's score belongs to depends on the method (``anchor``):

- ``"last"``: a predictor (future frame prediction) reads frames ``t − T + 1 … t − 1`` and
  predicts frame ``t``, the clip's last frame: the score is frame ``t``'s. The first
  ``length − 1`` frames of a video are then never predicted; they take the score of the
  nearest scored frame (the first predicted one) and are reported as *unscorable*.
- ``"all"``: a method that scores the clip as a whole (Conv-AE reconstruction error of the
  stacked frames, Deep SVDD, SDOR, MIL ranking) gives its score to every frame of the clip;
  a frame covered by several clips takes the ``reduce`` (mean by default) of their scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepad.data.adbench import data_dirs
from deepad.data.windows import _as_int, window_starts

__all__ = ["VideoDataset", "clip_labels", "clip_scores_to_frames", "clip_starts", "frame_clips",
           "irregularity_per_video", "load_ucsd_ped2", "minmax_per_video", "segment_bounds",
           "segment_features", "segment_scores_to_frames", "video_bounds"]

ANCHORS = ("last", "all")
CLIP_REDUCTIONS = ("mean", "max")
PED2_FILES = {"train": "ped2_train.npz", "test": "ped2_test.npz"}
PED2_MASK_SHAPE = (240, 360)
_SEARCH_DEPTH = 4


def video_bounds(video_ids: np.ndarray) -> list[tuple[int, int]]:
    """``(start, end)`` index ranges of the runs of equal ids in ``video_ids`` (in order).

    A video is a run of consecutive equal ids; the same id appearing again after another
    video is a separate video (ids need not be sorted, only contiguous).

    >>> video_bounds(np.array([3, 3, 1, 1, 1, 3]))
    [(0, 2), (2, 5), (5, 6)]
    """
    ids = np.asarray(video_ids)
    if ids.ndim != 1 or len(ids) == 0:
        msg = f"video_ids must be a non-empty 1-D array (one id per frame); got shape {ids.shape}."
        raise ValueError(msg)
    cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    edges = [0, *cuts.tolist(), len(ids)]
    return list(zip(edges[:-1], edges[1:], strict=True))


def clip_starts(video_ids: np.ndarray, length: int, stride: int = 1) -> np.ndarray:
    """Global frame index of the first frame of every clip, video after video.

    Each video of at least ``length`` frames gives the starts of
    :func:`~deepad.data.windows.window_starts` (offset by the video's first frame); a video
    shorter than ``length`` gives no clip.
    """
    length, stride = _as_int("length", length), _as_int("stride", stride)
    if length < 1 or stride < 1:
        msg = f"length and stride must be at least 1; got length={length}, stride={stride}."
        raise ValueError(msg)
    starts = [low + window_starts(high - low, length, stride)
              for low, high in video_bounds(video_ids) if high - low >= length]
    return np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, np.int64)


def _as_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[:, None]
    if frames.ndim != 4:
        msg = (f"frames has shape {frames.shape}; expected (n_frames, height, width) or "
               "(n_frames, channels, height, width).")
        raise ValueError(msg)
    return frames


def frame_clips(frames: np.ndarray, video_ids: np.ndarray | None, length: int,
                stride: int = 1) -> np.ndarray:
    """Clips of ``length`` consecutive frames, ``(n_clips, length, C, H, W)``, never crossing a
    video boundary.

    Parameters
    ----------
    frames : ndarray, shape (n_frames, H, W) or (n_frames, C, H, W)
        Frames of one or several videos, in temporal order within each video (any dtype; the
        clips keep it).
    video_ids : array-like of shape (n_frames,) or None
        The video of each frame (runs of equal ids, :func:`video_bounds`); None → one video.
    length : int
        Frames per clip ``T``.
    stride : int, default 1
        Frames between the starts of consecutive clips of a video.

    Returns
    -------
    clips : ndarray, shape (n_clips, length, C, H, W)
        Clip ``i`` is ``frames[s_i : s_i + length]`` with ``s = clip_starts(video_ids, length,
        stride)``.

    >>> f = np.arange(10).reshape(10, 1, 1)
    >>> frame_clips(f, [0] * 6 + [1] * 4, length=3, stride=2)[:, :, 0, 0, 0]
    array([[0, 1, 2],
           [2, 3, 4],
           [3, 4, 5],
           [6, 7, 8],
           [7, 8, 9]])
    """
    frames = _as_frames(frames)
    ids = np.zeros(len(frames), np.int64) if video_ids is None else np.asarray(video_ids)
    if len(ids) != len(frames):
        msg = f"video_ids has {len(ids)} entries for {len(frames)} frames; give one per frame."
        raise ValueError(msg)
    starts = clip_starts(ids, length, stride)
    if len(starts) == 0:
        msg = f"No video has {length} frames or more: no clip of length={length}."
        raise ValueError(msg)
    return frames[starts[:, None] + np.arange(length)[None, :]]


def clip_labels(labels: np.ndarray, video_ids: np.ndarray | None, length: int,
                stride: int = 1, anchor: str = "all") -> np.ndarray:
    """0/1 label of every clip of :func:`frame_clips`: with ``anchor="all"`` a clip is
    anomalous when any of its frames is; with ``"last"`` when its last frame is."""
    labels = np.asarray(labels)
    ids = np.zeros(len(labels), np.int64) if video_ids is None else np.asarray(video_ids)
    index = clip_starts(ids, length, stride)[:, None] + np.arange(length)[None, :]
    if anchor == "last":
        return (labels[index[:, -1]] > 0).astype(np.int64)
    return (labels[index] > 0).any(axis=1).astype(np.int64)


def clip_scores_to_frames(scores: np.ndarray, video_ids: np.ndarray, length: int,
                          stride: int = 1, anchor: str = "all",
                          reduce: str = "mean") -> tuple[np.ndarray, np.ndarray]:
    """One score per frame from the scores of the clips of :func:`frame_clips`.

    Parameters
    ----------
    scores : array-like of shape (n_clips,)
        Clip scores, in the order of ``clip_starts(video_ids, length, stride)``.
    video_ids, length, stride
        As given to :func:`frame_clips`.
    anchor : {"all", "last"}, default "all"
        Which frames a clip's score belongs to (module docstring): every frame of the clip,
        or its last frame only (a predictor's predicted frame).
    reduce : {"mean", "max"}, default "mean"
        How the scores of several clips meeting on a frame are combined.

    Returns
    -------
    frame_scores : ndarray of float64, shape (n_frames,)
        Every frame has a finite score: a frame that no clip's score belongs to (a predictor's
        first ``length − 1`` frames, the frames between sparse clips, a video shorter than
        ``length``) takes the score of the nearest scored frame of its video (the earlier one
        on a tie); a video with no clip at all takes the median of all clip scores.
    scored : ndarray of bool, shape (n_frames,)
        True where the frame got a score of its own (False: filled in from a neighbour).
        Evaluations that drop unscorable frames (the Ped2 protocol of prediction methods)
        use it.

    >>> ids = np.zeros(6, dtype=int)
    >>> s, ok = clip_scores_to_frames([1.0, 2.0, 3.0], ids, length=4, anchor="last")
    >>> s.tolist(), ok.tolist()
    ([1.0, 1.0, 1.0, 1.0, 2.0, 3.0], [False, False, False, True, True, True])
    """
    if anchor not in ANCHORS:
        msg = f"anchor must be one of {ANCHORS}; got {anchor!r}."
        raise ValueError(msg)
    if reduce not in CLIP_REDUCTIONS:
        msg = f"reduce must be one of {CLIP_REDUCTIONS}; got {reduce!r}."
        raise ValueError(msg)
    scores = np.asarray(scores, dtype=np.float64).ravel()
    ids = np.asarray(video_ids)
    starts = clip_starts(ids, length, stride)
    if len(scores) != len(starts):
        msg = (f"Got {len(scores)} clip scores; the videos hold {len(starts)} clips of "
               f"length={length} at stride={stride}.")
        raise ValueError(msg)
    n = len(ids)
    total = np.zeros(n)
    count = np.zeros(n)
    best = np.full(n, -np.inf)
    if anchor == "last":
        frames = starts + length - 1
        np.add.at(total, frames, scores)
        np.add.at(count, frames, 1)
        np.maximum.at(best, frames, scores)
    else:
        for offset in range(length):
            np.add.at(total, starts + offset, scores)
            np.add.at(count, starts + offset, 1)
            np.maximum.at(best, starts + offset, scores)
    scored = count > 0
    out = np.where(scored, best if reduce == "max" else total / np.maximum(count, 1), np.nan)
    fallback = float(np.median(scores)) if len(scores) else 0.0
    for low, high in video_bounds(ids):
        have = np.flatnonzero(scored[low:high])
        if len(have) == 0:
            out[low:high] = fallback
            continue
        if len(have) == high - low:
            continue
        positions = np.arange(high - low)
        right = np.clip(np.searchsorted(have, positions), 0, len(have) - 1)
        left = np.clip(right - 1, 0, len(have) - 1)
        use_left = np.abs(have[left] - positions) <= np.abs(have[right] - positions)
        nearest = np.where(use_left, have[left], have[right])
        out[low:high] = out[low:high][nearest]
    return out, scored


def minmax_per_video(scores: np.ndarray, video_ids: np.ndarray) -> np.ndarray:
    """Scores min-max normalised to [0, 1] within each video (Liu et al. 2018, Eq. 13: the
    regularity score ``(s − min_v) / (max_v − min_v)``; here on anomaly scores, so higher
    stays more anomalous). A video whose scores are all equal gets 0.

    An evaluation step of the published Ped2 protocol: it uses the range of each whole test
    video, which a detector scoring frames as they arrive does not know.

    >>> minmax_per_video(np.array([1.0, 3.0, 10.0, 20.0]), np.array([0, 0, 1, 1])).tolist()
    [0.0, 1.0, 0.0, 1.0]
    """
    scores = np.asarray(scores, dtype=np.float64)
    out = np.zeros_like(scores)
    for low, high in video_bounds(video_ids):
        part = scores[low:high]
        span = part.max() - part.min()
        if span > 0:
            out[low:high] = (part - part.min()) / span
    return out


def irregularity_per_video(errors: np.ndarray, video_ids: np.ndarray) -> np.ndarray:
    """``1 − s(t)`` within each video, with Hasan et al.'s regularity score (CVPR 2016)
    ``s(t) = 1 − (e(t) − min_t e(t)) / max_t e(t)`` of the reconstruction errors ``e(t) ≥ 0``
    of a video, so the result is ``(e(t) − min_t e(t)) / max_t e(t)`` (higher = more
    anomalous). It differs from :func:`minmax_per_video` (Liu et al.'s) by the divisor:
    ``max e`` instead of ``max e − min e``, which keeps each video's contrast between its
    lowest and highest error. A video whose errors are all 0 gets 0.

    >>> irregularity_per_video(np.array([1.0, 3.0, 2.0, 4.0]), np.array([0, 0, 1, 1])).tolist()
    [0.0, 0.6666666666666666, 0.0, 0.5]
    """
    errors = np.asarray(errors, dtype=np.float64)
    if errors.size and errors.min() < 0:
        msg = ("irregularity_per_video takes reconstruction errors e(t) >= 0 (Hasan et al.'s "
               f"regularity score); got a minimum of {errors.min():g}.")
        raise ValueError(msg)
    out = np.zeros_like(errors)
    for low, high in video_bounds(video_ids):
        part = errors[low:high]
        if part.max() > 0:
            out[low:high] = (part - part.min()) / part.max()
    return out


# ---------------------------------------------------------------------------- segments
def segment_bounds(n_frames: int, n_segments: int = 32) -> list[tuple[int, int]]:
    """``(start, end)`` frame ranges of ``n_segments`` consecutive, non-overlapping temporal
    segments covering a video of ``n_frames`` frames (Sultani et al. 2018 split every video
    into 32 segments). Lengths differ by at most one frame (``numpy.array_split``); a video
    with fewer frames than segments gets one segment per frame.

    >>> segment_bounds(10, 3)
    [(0, 4), (4, 7), (7, 10)]
    """
    n_frames, n_segments = int(n_frames), int(n_segments)
    if n_frames < 1 or n_segments < 1:
        msg = f"n_frames and n_segments must be positive; got {n_frames} and {n_segments}."
        raise ValueError(msg)
    edges = np.cumsum([0] + [len(p) for p in np.array_split(np.arange(n_frames),
                                                            min(n_segments, n_frames))])
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def segment_features(maps: np.ndarray, n_segments: int = 32,
                     grid: tuple[int, int] = (6, 9)) -> np.ndarray:
    """Segment features of one video from per-frame anomaly maps (a feature for MIL ranking).

    Each frame's map ``(H, W)`` (e.g. future frame prediction's squared error,
    :meth:`deepad.VideoDetector.anomaly_map`) becomes ``grid[0] · grid[1] + 2`` numbers: the
    mean of the map over each cell of a ``grid`` (area averaging), the mean over the whole
    map and the largest cell, each as ``log(1e-6 + value)``. A segment's feature is the mean
    over its frames (:func:`segment_bounds`), as Sultani et al. average the C3D features of
    the clips in a segment. Returns float32 ``(n_segments, grid[0] · grid[1] + 2)``.
    """
    maps = np.asarray(maps, dtype=np.float64)
    if maps.ndim != 3:
        msg = f"maps has shape {maps.shape}; expected (n_frames, height, width)."
        raise ValueError(msg)
    n, h, w = maps.shape
    gh, gw = int(grid[0]), int(grid[1])
    if not (1 <= gh <= h and 1 <= gw <= w):
        msg = f"grid {grid} does not fit maps of {h} x {w}."
        raise ValueError(msg)
    rows = np.array_split(np.arange(h), gh)
    cols = np.array_split(np.arange(w), gw)
    cells = np.stack([maps[:, r[0]:r[-1] + 1, c[0]:c[-1] + 1].mean(axis=(1, 2))
                      for r in rows for c in cols], axis=1)
    per_frame = np.log(1e-6 + np.concatenate(
        [cells, maps.mean(axis=(1, 2))[:, None], cells.max(axis=1, keepdims=True)], axis=1))
    return np.stack([per_frame[a:b].mean(axis=0) for a, b in
                     segment_bounds(n, n_segments)]).astype(np.float32)


def segment_scores_to_frames(scores: np.ndarray, n_frames: int) -> np.ndarray:
    """One score per frame from the scores of the :func:`segment_bounds` segments of a video
    of ``n_frames`` frames: every frame takes its segment's score (Sultani et al.)."""
    scores = np.asarray(scores, dtype=np.float64)
    bounds = segment_bounds(n_frames, len(scores))
    if len(bounds) != len(scores):
        msg = f"{len(scores)} segment scores for a video of {n_frames} frames."
        raise ValueError(msg)
    return np.concatenate([np.full(b - a, s) for (a, b), s in zip(bounds, scores, strict=True)])


# ---------------------------------------------------------------------------- UCSD Ped2
@dataclass
class VideoDataset:
    """Frames of several videos with their frame labels and pixel masks.

    Attributes
    ----------
    frames : ndarray of uint8, shape (n_frames, H, W)
    labels : ndarray of int64, shape (n_frames,) or None
        1 = anomalous frame (None for normal-only training sets).
    video_ids : ndarray of int64, shape (n_frames,)
        The video (clip) of each frame; frames of a video are consecutive and in order.
    masks : ndarray of bool, shape (n_frames, H_mask, W_mask) or None
        Pixel-level ground truth (Ped2: at the original 240 x 360).
    name : str
    """

    frames: np.ndarray
    labels: np.ndarray | None
    video_ids: np.ndarray
    masks: np.ndarray | None
    name: str

    def videos(self) -> list[np.ndarray]:
        """The frames of each video, a list of ``(n_frames_v, H, W)`` views."""
        return [self.frames[low:high] for low, high in video_bounds(self.video_ids)]

    def video_labels(self) -> list[np.ndarray]:
        """The frame labels of each video (``labels`` must be set)."""
        if self.labels is None:
            msg = f"{self.name} has no frame labels."
            raise ValueError(msg)
        return [self.labels[low:high] for low, high in video_bounds(self.video_ids)]


def find_ucsd_ped2(root: str | Path | None = None) -> Path:
    """The folder holding ``ped2_train.npz`` and ``ped2_test.npz``: ``root`` itself, or the
    first folder up to four levels below ``root`` / the data folders
    (:func:`deepad.data.adbench.data_dirs`, i.e. ``$DEEPAD_DATA_DIR`` then the cache) that
    holds both."""
    tops = [Path(root)] if root is not None else data_dirs()
    for top in tops:
        if not top.is_dir():
            continue
        for depth in range(_SEARCH_DEPTH + 1):
            pattern = "/".join(["*"] * depth + [PED2_FILES["test"]])
            for candidate in sorted(top.glob(pattern)):
                if (candidate.parent / PED2_FILES["train"]).is_file():
                    return candidate.parent
    searched = ", ".join(str(t) for t in tops)
    msg = (f"UCSD Ped2 files ({PED2_FILES['train']}, {PED2_FILES['test']}) not found in "
           f"{searched} or up to {_SEARCH_DEPTH} levels below. They are the Ped2 frames packed "
           "at 120 x 180 (see the datasets README); set DEEPAD_DATA_DIR to their folder or "
           "pass root=.")
    raise FileNotFoundError(msg)


def load_ucsd_ped2(split: str = "test", root: str | Path | None = None,
                   masks: bool = False) -> VideoDataset:
    """UCSD Ped2 (Mahadevan et al., CVPR 2010) from the packed ``.npz`` files.

    Parameters
    ----------
    split : {"train", "test"}
        ``"train"``: the 16 normal training videos (2,550 frames, no labels); ``"test"``: the
        12 test videos (2,010 frames, 1,648 labelled anomalous, as ``UCSDped2.m``).
    root : str or Path, optional
        The folder of the files (default: searched by :func:`find_ucsd_ped2`).
    masks : bool, default False
        Also unpack the pixel masks of the test frames (packed bits → bool at the original
        240 x 360, about 174 MB); the frames themselves are stored at 120 x 180.

    Returns
    -------
    VideoDataset
        ``frames`` uint8 ``(n, 120, 180)``, ``labels`` (test only), ``video_ids`` (1..16 or
        1..12), ``masks`` (test, when asked).
    """
    if split not in PED2_FILES:
        msg = f"split must be 'train' or 'test'; got {split!r}."
        raise ValueError(msg)
    folder = find_ucsd_ped2(root)
    with np.load(folder / PED2_FILES[split], allow_pickle=False) as data:
        frames = np.asarray(data["frames"], dtype=np.uint8)
        video_ids = np.asarray(data["clip"], dtype=np.int64)
        labels = np.asarray(data["label"], dtype=np.int64) if "label" in data else None
        mask_array = None
        if masks and "mask_bits" in data:
            bits = data["mask_bits"]
            mask_array = np.unpackbits(bits, axis=-1)[..., :PED2_MASK_SHAPE[1]].astype(bool)
    if frames.ndim != 3 or len(video_ids) != len(frames):
        msg = f"{folder / PED2_FILES[split]}: frames {frames.shape} do not match clip ids."
        raise ValueError(msg)
    return VideoDataset(frames=frames, labels=labels, video_ids=video_ids, masks=mask_array,
                        name=f"ucsd_ped2_{split}")

