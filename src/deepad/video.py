"""``VideoDetector``: any video-capable deepad detector applied to whole videos.

Detectors score clips ``(n_clips, T, C, H, W)``; users have videos ``(n_frames, [C,] H, W)``
and want one score per frame. :class:`VideoDetector` is the adapter between the two, the
video counterpart of :class:`deepad.series.SeriesDetector`:

- ``fit(videos, y=None)`` resizes the frames (``frame_size``), cuts every training video into
  clips of ``clip_length`` frames that never cross a video boundary
  (:func:`deepad.data.video.frame_clips`) and fits a clone of the wrapped detector on them;
- ``decision_function(video)`` scores every clip of one video and maps the clip scores back to
  one score per frame (:func:`deepad.data.video.clip_scores_to_frames`).
"""

from __future__ import annotations

import json
import logging
import numbers
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from deepad._version import __version__
from deepad.core.params import NONE, Interval, Options, validate_parameters
from deepad.core.persistence import (
    _json_param,
    read_json,
    read_weights,
    register_format,
    write_weights,
)
from deepad.core.persistence import load as load_detector
from deepad.core.registry import list_detectors
from deepad.core.runtime import resolve_seed
from deepad.core.saved_state import read_field, read_tensor
from deepad.core.scoring import contamination_threshold
from deepad.core.validation import InputSpec
from deepad.data.video import CLIP_REDUCTIONS, clip_scores_to_frames, clip_starts

__all__ = ["VideoDetector"]

logger = logging.getLogger(__name__)

FORMAT = "deepad-video-detector"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
DETECTOR_DIR = "detector"
ANCHORS = ("auto", "last", "all", "frame")
NORMALIZATIONS = ("none", "mean_frame")
ZERO_OUTPUT_RATIO = 0.95
"""``normalize="mean_frame"``: a reconstruction detector whose last training loss is at least
this fraction of the zero-output loss gets a warning (it has not learned to reconstruct)."""


class _RandomState:
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None or isinstance(value, np.random.RandomState | np.random.Generator) or (
            isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0)

    def __str__(self) -> str:
        return "None, a non-negative int or a numpy random generator"


class _FrameSize:
    def is_satisfied_by(self, value: Any) -> bool:
        return value is None or (
            isinstance(value, list | tuple) and len(value) == 2
            and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
                    for v in value))

    def __str__(self) -> str:
        return "None or a (height, width) pair of positive ints"


class _FrameSkips:
    def is_satisfied_by(self, value: Any) -> bool:
        return (isinstance(value, list | tuple) and len(value) > 0
                and len(set(value)) == len(value)
                and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
                        for v in value))

    def __str__(self) -> str:
        return "a non-empty tuple of distinct positive ints"


def _is_video_list(videos: Any) -> bool:
    return isinstance(videos, list | tuple) and len(videos) > 0 and all(
        isinstance(v, np.ndarray) for v in videos)


class VideoDetector(BaseEstimator):
    """Score every frame of a video with a detector of video clips.

    Parameters
    ----------
    detector : deepad detector
        Any detector whose ``modalities`` include ``"video"`` (``deepad.list_detectors(
        modalities="video")``: FuturePrediction, AutoEncoder (Hasan et al.'s Conv-AE over
        stacked frames), DeepSVDD, SDOR, MILRanking), unfitted; ``fit`` fits a clone of it
        (``detector_``). Its ``contamination`` sets ``threshold_``.
    clip_length : int, default 5
        Frames per clip ``T`` (FuturePrediction: ``T − 1`` past frames and the one predicted;
        Liu et al. use 4 + 1).
    stride : int, default 1
        Frames between the starts of the training clips of a video (scoring always uses
        every clip, stride 1).
    frame_skips : tuple of int, default (1,)
        Temporal augmentation of the training clips: for each skip ``k`` the training clips
        also take every ``k``-th frame, frames ``s, s + k, …, s + (T − 1) k`` (starts every
        ``stride`` frames, never crossing the video's end), so the detector also sees normal
        motion at ``k`` times its speed. Hasan et al. (CVPR 2016, Sec. 3.2, "data
        augmentation in the temporal dimension") train on skips ``(1, 2, 3)``. Scoring always
        uses consecutive frames. Not with a detector that has a ``bag_size`` (MIL ranking:
        one bag of clips per video).
    normalize : {"none", "mean_frame"}, default "none"
        ``"mean_frame"``: the mean of all training frames (after resizing; pixels in [0, 1]
        for uint8 frames), ``mean_frame_``, is subtracted from every frame before clipping,
        for fitting and scoring — Hasan et al.'s input normalisation ("every frame minus the
        global mean image", Sec. 3.2), which removes the static background from what the
        autoencoder must reconstruct. Meant for reconstruction models (AutoEncoder on clips);
        FuturePrediction expects frames in [0, 1]. What is left after the subtraction (the
        moving objects) is a small target: AutoEncoder's loss is the per-pixel *mean* squared
        error, where Hasan et al.'s objective weighs its L2 term against the per-cuboid *sum*, so
        with AutoEncoder's default ``weight_decay`` the penalty can hold the network at the
        zero output (the mean frame); pass ``AutoEncoder(weight_decay=0.0)`` for the paper's
        recipe. ``fit`` warns (``UserWarning``) when a reconstruction detector's last
        training loss is not below 95 % of the zero-output loss of its training clips.
    frame_size : (int, int) or None, default None
        Resize every frame to ``(height, width)`` (bilinear, antialiased) before clipping,
        for fitting and scoring; None keeps the frames' size.
    anchor : {"auto", "last", "all", "frame"}, default "auto"
        Which frames a clip's score belongs to (:func:`deepad.data.video.clip_scores_to_frames`):
        ``"last"`` the clip's last frame (a predictor's predicted frame), ``"all"`` every frame
        of the clip (the clip's one score given to each of its frames); ``"frame"`` each frame
        of the clip its own score within the clip, for detectors with ``clip_frame_scores``
        (AutoEncoder: the reconstruction error of that frame of the cuboid, Hasan et al.'s
        per-frame error ``e(t)``); ``"auto"`` → the detector's ``clip_anchor`` (``"last"`` for
        FuturePrediction, ``"all"`` for the others).
    reduce : {"mean", "max"}, default "mean"
        How the scores of overlapping clips meeting on a frame are combined (``anchor="all"``
        or ``"frame"``).
    batch_clips : int, default 256
        Clips built and passed to the detector per call when scoring (memory bound).
    max_train_clips : int or None, default None
        At most this many training clips, drawn uniformly without replacement (None: all).
    random_state : None, int or numpy generator, default None
        Seed of the training-clip subsample; None → the wrapped detector's ``random_state``.

    Attributes
    ----------
    detector_ : deepad detector
        The fitted clone of ``detector``.
    anchor_ : str
        The resolved anchor.
    frame_shape_ : tuple of int
        ``(C, H, W)`` of the frames the detector sees (after resizing).
    mean_frame_ : ndarray of float32, shape (C, H, W)
        The mean training frame (``normalize="mean_frame"`` only).
    n_train_clips_ : int
    decision_scores_ : ndarray of float64, shape (n_frames,)
        Frame scores of the training videos, concatenated in order.
    threshold_ : float
        The ``1 − contamination`` quantile of ``decision_scores_``.
    labels_ : ndarray of int64

    Notes
    -----
    *Unscorable frames.* Every frame gets a finite score. With ``anchor="last"`` the first
    ``clip_length − 1`` frames of a video are never predicted: they take the score of the
    nearest scored frame (the first predicted one). :meth:`frame_scores` also returns which
    frames were scored, so an evaluation can drop the others (the Ped2 protocol of
    prediction methods). A video shorter than ``clip_length`` has no clip: it cannot be
    scored (``ValueError``).

    *Labels* (weakly supervised detectors: MILRanking). ``y`` holds one entry per video: a
    0/1 video label, or an array of 0/1 frame labels. A clip is labelled 1 when its video is
    (video label) or any of its frames is (frame labels). MIL ranking (Sultani et al. 2018)
    makes each video one bag of ``bag_size`` segments: for a detector with a ``bag_size``
    hyperparameter, ``fit`` takes exactly ``bag_size`` clips per training video, evenly
    spaced over it (rounded ``linspace`` of the clip starts), instead of every ``stride``-th
    clip, so that the detector's consecutive bags are the videos.

    *Colour.* Frames ``(n, H, W)`` are grey (one channel); ``(n, C, H, W)`` keep their ``C``
    channels. uint8 frames are read as ``/ 255``; float frames as given.

    Examples
    --------
    >>> import numpy as np
    >>> from deepad import AutoEncoder, VideoDetector
    >>> videos = [np.random.default_rng(i).integers(0, 255, (20, 16, 16), dtype=np.uint8)
    ...           for i in range(2)]
    >>> det = VideoDetector(AutoEncoder(hidden_dims=(4, 4), epochs=1, random_state=0),
    ...                     clip_length=4, stride=2).fit(videos)
    >>> det.decision_function(videos[0]).shape
    (20,)
    """

    _parameter_constraints: ClassVar[dict[str, list]] = {
        "clip_length": [Interval(numbers.Integral, 1, None)],
        "stride": [Interval(numbers.Integral, 1, None)],
        "frame_skips": [_FrameSkips()],
        "normalize": [Options(NORMALIZATIONS)],
        "frame_size": [_FrameSize()],
        "anchor": [Options(ANCHORS)],
        "reduce": [Options(CLIP_REDUCTIONS)],
        "batch_clips": [Interval(numbers.Integral, 1, None)],
        "max_train_clips": [NONE, Interval(numbers.Integral, 1, None)],
        "random_state": [_RandomState()],
    }

    def __init__(self, detector: Any, clip_length: int = 5, stride: int = 1,
                 frame_size: tuple[int, int] | None = None, anchor: str = "auto",
                 reduce: str = "mean", batch_clips: int = 256,
                 max_train_clips: int | None = None,
                 random_state: int | np.random.Generator | None = None,
                 frame_skips: tuple[int, ...] = (1,), normalize: str = "none") -> None:
        self.detector = detector
        self.clip_length = clip_length
        self.stride = stride
        self.frame_skips = frame_skips
        self.normalize = normalize
        self.frame_size = frame_size
        self.anchor = anchor
        self.reduce = reduce
        self.batch_clips = batch_clips
        self.max_train_clips = max_train_clips
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _check_params(self) -> None:
        validate_parameters(self)
        detector = self.detector
        if isinstance(detector, type):
            msg = (f"detector must be a detector instance, not the class {detector.__name__}; "
                   f"pass {detector.__name__}().")
            raise TypeError(msg)
        if not (hasattr(detector, "fit") and hasattr(detector, "decision_function")
                and hasattr(detector, "modalities")):
            msg = (f"detector must be a deepad detector instance (e.g. deepad.AutoEncoder()); "
                   f"got {detector!r} ({type(detector).__name__}).")
            raise TypeError(msg)
        if "video" not in detector.modalities:
            names = [info["name"] for info in list_detectors(modalities="video")]
            msg = (f"{type(detector).__name__} takes {list(detector.modalities)} input, not "
                   f"video clips, so it cannot score a video. Detectors that take video: "
                   f"{', '.join(names)}.")
            raise ValueError(msg)
        self.anchor_ = (getattr(detector, "clip_anchor", "all") if self.anchor == "auto"
                        else self.anchor)
        bag_size = detector.get_params(deep=False).get("bag_size")
        if bag_size is not None and tuple(self.frame_skips) != (1,):
            msg = (f"frame_skips={tuple(self.frame_skips)} cannot be used with "
                   f"{type(detector).__name__}, which takes one bag of bag_size={bag_size} "
                   "clips per video; use frame_skips=(1,).")
            raise ValueError(msg)
        if self.anchor_ == "frame" and not hasattr(detector, "clip_frame_scores"):
            msg = (f"anchor='frame' needs a detector that scores each frame of a clip "
                   f"(clip_frame_scores: AutoEncoder); {type(detector).__name__} gives one "
                   "score per clip: use anchor='all' or 'last'.")
            raise ValueError(msg)

    def _as_video(self, video: Any, name: str) -> np.ndarray:
        """One video as float32 frames ``(n_frames, C, H', W')`` in the detector's range,
        resized to ``frame_size``."""
        try:
            array = np.asarray(video)
        except (ValueError, TypeError) as error:
            msg = f"{name} could not be read as an array: {error}"
            raise ValueError(msg) from error
        if array.dtype.kind not in "biuf":
            msg = f"{name} has dtype {array.dtype}; expected numeric frames (uint8 or float)."
            raise TypeError(msg)
        if array.ndim == 3:
            array = array[:, None]
        if array.ndim != 4:
            msg = (f"{name} has shape {array.shape}; expected one video of shape (n_frames, "
                   "height, width) or (n_frames, channels, height, width)"
                   + (" (fit also takes a list of videos)." if array.ndim == 5 else "."))
            raise ValueError(msg)
        if array.shape[-1] in (3, 4) and array.shape[1] not in (1, 3, 4):
            msg = (f"{name} has shape {array.shape}, which looks like channels-last frames; "
                   f"pass {name}.transpose(0, 3, 1, 2) (frames, channels, height, width).")
            raise ValueError(msg)
        if len(array) < self.clip_length:
            msg = (f"{name} has {len(array)} frames, fewer than clip_length={self.clip_length}; "
                   "it holds no clip.")
            raise ValueError(msg)
        if array.dtype == np.uint8:
            frames = array.astype(np.float32) / np.float32(255.0)
        else:
            frames = np.ascontiguousarray(array, dtype=np.float32)
        if not np.isfinite(frames).all():
            msg = f"{name} contains NaN or infinite values."
            raise ValueError(msg)
        if self.frame_size is not None and tuple(frames.shape[2:]) != tuple(self.frame_size):
            out = []
            size = tuple(int(v) for v in self.frame_size)
            for low in range(0, len(frames), 256):
                chunk = torch.from_numpy(frames[low:low + 256])
                out.append(F.interpolate(chunk, size=size, mode="bilinear", align_corners=False,
                                         antialias=True).numpy())
            frames = np.concatenate(out)
        return frames

    def _as_video_list(self, videos: Any) -> list[np.ndarray]:
        if isinstance(videos, list | tuple) and len(videos) == 0:
            msg = "videos is an empty list; pass one video or a list of videos."
            raise ValueError(msg)
        if not _is_video_list(videos):
            return [self._as_video(videos, "videos")]
        arrays = [self._as_video(v, f"videos[{i}]") for i, v in enumerate(videos)]
        shapes = {a.shape[1:] for a in arrays}
        if len(shapes) > 1:
            msg = (f"The training videos have different frame shapes {sorted(shapes)}; pass "
                   "frame_size=(height, width) to resize them to one size.")
            raise ValueError(msg)
        return arrays

    def _clip_labels(self, y: Any, arrays: list[np.ndarray]) -> list[np.ndarray] | None:
        """Per-frame 0/1 labels of each video from ``y`` (video labels or frame labels)."""
        if y is None:
            return None
        if not isinstance(y, list | tuple | np.ndarray) or len(y) != len(arrays):
            msg = (f"y must hold one entry per video ({len(arrays)}): a 0/1 video label or an "
                   "array of 0/1 frame labels.")
            raise ValueError(msg)
        out = []
        for i, (lab, array) in enumerate(zip(y, arrays, strict=True)):
            lab = np.asarray(lab)
            if lab.ndim == 0:
                lab = np.full(len(array), lab)
            if lab.ndim != 1 or len(lab) != len(array):
                msg = (f"y[{i}] has shape {lab.shape}; expected a 0/1 video label or one label "
                       f"per frame, shape ({len(array)},).")
                raise ValueError(msg)
            if not np.isin(lab, (0, 1)).all():
                msg = f"y[{i}] holds values other than 0 and 1."
                raise ValueError(msg)
            out.append(lab.astype(np.int64))
        return out

    def _normalise(self, frames: np.ndarray) -> np.ndarray:
        """``frames`` (float32, resized) minus the mean training frame when ``normalize`` is
        ``"mean_frame"`` (a new array: ``frames`` may be the caller's own); unchanged
        otherwise."""
        if self.normalize == "mean_frame":
            return frames - self.mean_frame_
        return frames

    def _prepare(self, video: Any, name: str) -> np.ndarray:
        """One video as the detector's frames: :meth:`_as_video` then the normalisation
        fitted by :meth:`fit` (``mean_frame_``)."""
        return self._normalise(self._as_video(video, name))

    # ------------------------------------------------------------------ fitting
    def _train_starts(self, n_frames: int) -> list[tuple[np.ndarray, int]]:
        """``(starts, skip)`` of the training clips of a video of ``n_frames`` frames: a
        clip with skip ``k`` holds frames ``s, s + k, …, s + (T − 1) k``."""
        ids = np.zeros(n_frames, np.int64)
        bag_size = self.detector.get_params(deep=False).get("bag_size")
        if bag_size is not None:  # one bag of bag_size clips per video (MIL ranking)
            every = clip_starts(ids, self.clip_length, 1)
            pick = np.round(np.linspace(0, len(every) - 1, int(bag_size))).astype(np.int64)
            return [(every[pick], 1)]
        out = []
        for skip in self.frame_skips:
            span = (self.clip_length - 1) * int(skip) + 1
            if span <= n_frames:
                out.append((clip_starts(ids[:n_frames], span, self.stride), int(skip)))
        return out

    def fit(self, videos: Any, y: Any = None) -> VideoDetector:
        """Fit the wrapped detector on the clips of the training videos.

        Parameters
        ----------
        videos : array of shape (n_frames, [C,] H, W), or a list of such arrays
            Training videos; clips never cross from one video to the next.
        y : list of 0/1 video labels or of per-frame 0/1 label arrays, optional
            Weakly supervised detectors (MILRanking) only.

        Returns
        -------
        self
        """
        self._check_params()
        arrays = self._as_video_list(videos)
        labels = self._clip_labels(y, arrays)
        supervision = getattr(self.detector, "supervision", ())
        if labels is None and "unsupervised" not in supervision:
            msg = (f"{type(self.detector).__name__} is weakly supervised: call fit(videos, y) "
                   "with y = one 0/1 label per video (or per frame).")
            raise ValueError(msg)
        self.frame_shape_ = tuple(int(v) for v in arrays[0].shape[1:])
        if self.normalize == "mean_frame":  # Hasan et al.: every frame minus the mean frame
            total = np.zeros(self.frame_shape_, np.float64)
            for a in arrays:
                total += a.sum(axis=0, dtype=np.float64)
            self.mean_frame_ = (total / sum(len(a) for a in arrays)).astype(np.float32)
            arrays = [self._normalise(a) for a in arrays]
        triples = [(i, start, skip) for i, a in enumerate(arrays)
                   for starts, skip in self._train_starts(len(a)) for start in starts.tolist()]
        index, flat, skips = (np.array(col, dtype=np.int64) for col in zip(*triples,
                                                                            strict=True))
        chosen = self._subsample(len(flat))
        T = self.clip_length
        X = np.empty((len(chosen), T, *self.frame_shape_), dtype=np.float32)
        for row, k in enumerate(chosen):
            X[row] = arrays[index[k]][flat[k]:flat[k] + (T - 1) * skips[k] + 1:skips[k]]
        y_clips = None
        if labels is not None:
            y_clips = np.array([int(labels[index[k]][flat[k]:flat[k] + (T - 1) * skips[k] + 1:
                                                     skips[k]].any())
                                for k in chosen], dtype=np.int64)
        self.detector_ = clone(self.detector).fit(X, y_clips)
        self.n_train_clips_ = len(X)
        if self.normalize == "mean_frame":
            self._warn_if_zero_output(float(np.mean(np.square(X, dtype=np.float64))))
        del X
        self.decision_scores_ = np.concatenate([self.frame_scores(a, checked=True)[0]
                                                for a in arrays])
        contamination = float(self.detector_.get_params(deep=False).get("contamination", 0.1))
        self.threshold_ = contamination_threshold(self.decision_scores_, contamination)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)
        return self

    def _warn_if_zero_output(self, zero_loss: float) -> None:
        """Warn when a reconstruction detector (one with ``clip_frame_scores``: AutoEncoder)
        fitted on mean-subtracted clips ends with a training loss of at least
        :data:`ZERO_OUTPUT_RATIO` times ``zero_loss``, the mean squared value of its training
        clips (the loss of a network that outputs zeros, i.e. the mean frame): it has not
        learned to reconstruct, and its scores are each frame's distance to the mean frame."""
        history = getattr(self.detector_, "history_", None)
        if not hasattr(self.detector_, "clip_frame_scores") or not history:
            return
        last = float(history[-1].get("loss", np.nan))
        if np.isfinite(last) and zero_loss > 0 and last >= ZERO_OUTPUT_RATIO * zero_loss:
            params = self.detector_.get_params(deep=False)
            msg = (f"{type(self.detector_).__name__} did not learn to reconstruct the "
                   f"mean-subtracted clips: its last training loss {last:.4g} is "
                   f"{last / zero_loss:.1%} of {zero_loss:.4g}, the loss of outputting zeros "
                   "(the mean frame), so its scores are distances to the mean frame. On "
                   "mean-subtracted frames the reconstruction term is small: an L2 penalty "
                   f"(weight_decay={params.get('weight_decay')}) can hold the weights at "
                   "zero. Try weight_decay=0 or more epochs.")
            warnings.warn(msg, UserWarning, stacklevel=3)

    def _subsample(self, n_clips: int) -> np.ndarray:
        budget = self.max_train_clips
        if budget is None or n_clips <= budget:
            return np.arange(n_clips)
        seed_from = self.random_state
        if seed_from is None:
            seed_from = self.detector.get_params(deep=False).get("random_state")
        rng = np.random.default_rng(resolve_seed(seed_from))
        logger.info("Fitting on %d of %d training clips.", budget, n_clips)
        return np.sort(rng.choice(n_clips, size=budget, replace=False))

    # ------------------------------------------------------------------ scoring
    def _check_video(self, video: Any) -> np.ndarray:
        check_is_fitted(self, "detector_")
        if _is_video_list(video):
            msg = "Scoring takes one video at a time; call decision_function once per video."
            raise ValueError(msg)
        frames = self._as_video(video, "video")
        if tuple(frames.shape[1:]) != self.frame_shape_:
            msg = (f"video has frames of shape {tuple(frames.shape[1:])} (channels, height, "
                   f"width), but the detector was fitted on {self.frame_shape_}; pass frames "
                   "of that size or fit with frame_size=(height, width).")
            raise ValueError(msg)
        return self._normalise(frames)

    def _clips(self, frames: np.ndarray):
        """Batches of the clips of ``frames`` (stride 1): (first clip index, clips)."""
        T = self.clip_length
        n_clips = len(frames) - T + 1
        for low in range(0, n_clips, self.batch_clips):
            high = min(n_clips, low + self.batch_clips)
            index = np.arange(low, high)[:, None] + np.arange(T)[None, :]
            yield low, frames[index]

    def score_clips(self, video: Any, checked: bool = False) -> np.ndarray:
        """Score of every clip of ``video`` (stride 1): clip ``i`` holds frames ``i .. i + T −
        1``; float64 of shape (n_frames − T + 1,)."""
        frames = video if checked else self._check_video(video)
        scores = np.empty(len(frames) - self.clip_length + 1, dtype=np.float64)
        for low, clips in self._clips(frames):
            scores[low:low + len(clips)] = self.detector_.decision_function(clips)
        return scores

    def frame_scores(self, video: Any, checked: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, scored)``: one finite score per frame, and a bool mask of the frames
        that got a score of their own (False: filled from the nearest scored frame; the
        first ``clip_length − 1`` frames with ``anchor="last"``)."""
        frames = video if checked else self._check_video(video)
        if self.anchor_ == "frame":
            return self._own_frame_scores(frames)
        clip = self.score_clips(frames, checked=True)
        ids = np.zeros(len(frames), np.int64)
        return clip_scores_to_frames(clip, ids, self.clip_length, 1, self.anchor_, self.reduce)

    def _own_frame_scores(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``anchor="frame"``: frame ``t``'s score within each clip covering it (the
        detector's ``clip_frame_scores``), combined over those clips by ``reduce``."""
        T = self.clip_length
        if len(frames) < T:
            msg = f"a video of {len(frames)} frames has no clip of {T} frames to score."
            raise ValueError(msg)
        total = np.zeros(len(frames)) if self.reduce == "mean" else np.full(len(frames),
                                                                            -np.inf)
        count = np.zeros(len(frames))
        for low, clips in self._clips(frames):
            per_frame = np.asarray(self.detector_.clip_frame_scores(clips), dtype=np.float64)
            for i, row in enumerate(per_frame, start=low):
                if self.reduce == "mean":
                    total[i:i + T] += row
                else:
                    total[i:i + T] = np.maximum(total[i:i + T], row)
                count[i:i + T] += 1
        scores = total / count if self.reduce == "mean" else total
        return scores, np.ones(len(frames), bool)

    def decision_function(self, video: Any) -> np.ndarray:
        """Anomaly score of every frame of ``video``, float64 of shape (n_frames,); higher =
        more anomalous (unscorable frames: the nearest scored frame's score)."""
        return self.frame_scores(video)[0]

    def predict(self, video: Any) -> np.ndarray:
        """1 for frames scoring above ``threshold_``, else 0; int64 (n_frames,)."""
        check_is_fitted(self, "threshold_")
        return (self.decision_function(video) > self.threshold_).astype(np.int64)

    def anomaly_map(self, video: Any) -> np.ndarray:
        """Per-pixel anomaly maps of every frame, float64 ``(n_frames, H, W)`` at the
        detector's frame size, for detectors that give clip maps (FuturePrediction: the
        squared prediction error of the predicted frame). With ``anchor="last"`` the map of
        clip ``i`` is frame ``i + T − 1``'s; the first ``T − 1`` frames take the first map.

        Raises
        ------
        TypeError
            The wrapped detector gives no maps.
        """
        check_is_fitted(self, "detector_")
        if not hasattr(self.detector_, "clip_maps"):
            msg = (f"{type(self.detector_).__name__} gives no per-pixel maps of video clips; "
                   "FuturePrediction does.")
            raise TypeError(msg)
        frames = self._check_video(video)
        T = self.clip_length
        maps = np.concatenate([self.detector_.clip_maps(clips) for _, clips in
                               self._clips(frames)])
        if self.anchor_ == "last":
            return np.concatenate([np.repeat(maps[:1], T - 1, axis=0), maps])
        out = np.zeros((len(frames), *maps.shape[1:]))
        count = np.zeros(len(frames))
        for i in range(len(maps)):
            out[i:i + T] += maps[i]
            count[i:i + T] += 1
        return out / count[:, None, None]

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save to the directory ``path``: ``config.json``, ``weights.safetensors`` (training
        frame scores) and ``detector/`` (the wrapped detector's own :meth:`save`). No pickle."""
        check_is_fitted(self, "detector_")
        path = Path(path)
        if path.exists() and not path.is_dir():
            msg = f"{path} exists and is not a directory; save writes a model directory."
            raise FileExistsError(msg)
        params = {k: _json_param(k, v) for k, v in self.get_params(deep=False).items()
                  if k != "detector"}
        state = {"frame_shape": list(self.frame_shape_), "threshold": self.threshold_,
                 "n_train_clips": self.n_train_clips_}
        config = {"format": FORMAT, "format_version": FORMAT_VERSION,
                  "versions": {"deepad": __version__, "torch": torch.__version__,
                               "numpy": np.__version__},
                  "estimator": type(self).__name__, "params": params, "state": state}
        path.mkdir(parents=True, exist_ok=True)
        self.detector_.save(path / DETECTOR_DIR)
        tensors = {"decision_scores": torch.from_numpy(self.decision_scores_.copy())}
        if self.normalize == "mean_frame":
            tensors["mean_frame"] = torch.from_numpy(self.mean_frame_.copy())
        write_weights(tensors, path / WEIGHTS_FILE, FORMAT)
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True))
        return path

    def _set_state(self, state: dict[str, Any], tensors: Any, fitted: Any) -> None:
        self.detector_ = fitted
        shape = read_field(state, "frame_shape", "list")
        if len(shape) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                      for v in shape):
            msg = f"{CONFIG_FILE}: state['frame_shape'] must be 3 positive ints; got {shape!r}."
            raise ValueError(msg)
        self.frame_shape_ = tuple(shape)
        self.n_train_clips_ = read_field(state, "n_train_clips", "int", low=1)
        C, H, W = self.frame_shape_
        expected = InputSpec("video", n_features=C, window=self.clip_length, height=H, width=W)
        if fitted.spec_ != expected:
            msg = (f"{DETECTOR_DIR}/ holds a detector fitted on {fitted.spec_}; {CONFIG_FILE} "
                   f"says clips of {expected}.")
            raise ValueError(msg)
        scores = read_tensor(tensors, "decision_scores", ndim=1, floating=True)
        self.decision_scores_ = scores.numpy().astype(np.float64)
        if self.normalize == "mean_frame":
            mean = read_tensor(tensors, "mean_frame", ndim=3, floating=True)
            if tuple(mean.shape) != self.frame_shape_:
                msg = (f"{WEIGHTS_FILE}: tensor 'mean_frame' has shape {tuple(mean.shape)}; "
                       f"expected the frame shape {self.frame_shape_}.")
                raise ValueError(msg)
            self.mean_frame_ = mean.numpy().astype(np.float32)
        self.threshold_ = read_field(state, "threshold", "float")
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(np.int64)

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device | None = None) -> VideoDetector:
        """Load a ``VideoDetector`` written by :meth:`save`; scores equal those before saving.
        JSON and safetensors only (the wrapped detector through :func:`deepad.load`)."""
        path = Path(path)
        config_path = path / CONFIG_FILE
        config = read_json(config_path)
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            found = config.get("format") if isinstance(config, dict) else None
            msg = f"{config_path} is not a VideoDetector (format {found!r} != {FORMAT!r})."
            raise ValueError(msg)
        if config.get("format_version") != FORMAT_VERSION:
            msg = (f"{config_path} has format version {config.get('format_version')!r}; this "
                   f"deepad reads version {FORMAT_VERSION}.")
            raise ValueError(msg)
        for key in ("params", "state"):
            if not isinstance(config.get(key), dict):
                msg = f"{config_path}: field {key!r} must be an object."
                raise ValueError(msg)
        versions = config.get("versions", {})
        saved = versions.get("deepad") if isinstance(versions, dict) else None
        if saved != __version__:
            warnings.warn(f"{path} was saved with deepad {saved}; loading with {__version__}.",
                          UserWarning, stacklevel=2)
        params = dict(config["params"])
        unknown = set(params) - set(cls._parameter_constraints) | ({"detector"} & set(params))
        if unknown:
            msg = (f"{config_path}: saved hyperparameters {sorted(unknown)} are not parameters "
                   f"of {cls.__name__}.")
            raise ValueError(msg)
        for key in ("frame_size", "frame_skips"):
            if isinstance(params.get(key), list):
                params[key] = tuple(params[key])
        tensors = read_weights(path / WEIGHTS_FILE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            fitted = load_detector(path / DETECTOR_DIR, device=device)
        wrapper = cls(detector=clone(fitted), **params)
        try:
            wrapper._check_params()
            wrapper._set_state(config["state"], tensors, fitted)
        except (ValueError, TypeError) as error:
            msg = f"Cannot load {path}: {error}"
            raise ValueError(msg) from error
        unused = sorted(tensors.unused())
        if unused:
            msg = f"Cannot load {path}: {WEIGHTS_FILE} holds unexpected tensors {unused[:5]}."
            raise ValueError(msg)
        return wrapper


register_format(FORMAT, VideoDetector.load)
