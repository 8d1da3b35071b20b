"""The UCSD Ped2 video benchmark: ``deepad bench --suite ped2``.

Runs the video detectors on UCSD Ped2 (:func:`deepad.data.video.load_ucsd_ped2`) with their
Ped2 settings (:data:`JOBS`) and writes a report of the frame-level AUC-ROC::

    deepad bench --suite ped2                      # every missing default job, then the report
    deepad bench --suite ped2 --detectors ffp_long # named jobs only
    deepad bench --suite ped2 --db ped2-results    # the folder of job files and report.md

Each job runs in its own process (one torch thread) and writes one JSON file to the result
folder, so a killed run resumes where it stopped (a job whose file exists is not rerun; delete
the file to rerun it). The report (``report.md`` in the folder) is made from the job files.

Behind the bench's protocol interface it is :class:`deepad.bench.video_protocol.VideoProtocol`
(suite ``ped2``), a protocol that runs its own jobs: the generic job (``fit(train)``, then
``decision_function(test)``, then ``metrics(y_test, scores)``) does not carry what the Ped2
protocol needs: per-video min-max normalisation and the dropped unscorable frames (both need
each frame's video and scored mask), two folds by video whose training set holds half of the
test videos (MIL ranking), pixel-level AUC against the masks, and one detector's maps feeding
another detector (MIL on prediction-error features).

Protocol (as the authors' evaluation code, Liu et al. 2018 ``evaluate.py``): every test frame
gets a score; the frame-level AUC-ROC is computed over all test frames concatenated
("micro"), (a) on the raw scores and (b) after min-max normalising the scores within each test
video; frames a method cannot score (a predictor's first ``T - 1`` frames per video) are
dropped and counted. No model selection looks at the test labels: every detector trains for
fixed epochs written here before its run, or (``heldout`` jobs) keeps the epoch with the
lowest training loss on training videos held out of its fit.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

FRAME_SIZE = (48, 72)  # the stored 120 x 180 frames resized by 0.4 (bilinear, antialiased)
SEED = 0
JOB_SEEDS = {"ffp_s1": 1, "ffp_s2": 2, "ffp_flow_s1": 1, "ffp_flow_s2": 2, "ffp_rel_s1": 1,
             "ffp_rel_s2": 2}
"""Jobs run with another seed than :data:`SEED` (the spread between seeds of one setting)."""
MIL_FEATURE_NET = {"mil_ffp": "ffp", "mil_ffp_val": "ffp_val", "mil_ffp_enc": "ffp",
                   "mil_ffp_flow": "ffp_flow", "mil_ffp_b60": "ffp", "mil_ffp_rel": "ffp_rel",
                   "mil_ffp_rel_l2": "ffp_rel"}
"""The job whose future frame predictor gives a MIL job its segment features."""
MIL_FEATURE_KIND = {"mil_ffp_enc": "error+encoder"}
"""MIL jobs whose segment features add the predictor's encoder features
(:func:`encoder_features`) to its prediction-error features; the others: error only."""
MIL_FEATURE_SCALING = {"mil_ffp_rel_l2": "l2"}
"""MIL jobs whose segment features are each divided by their L2 norm (Sultani et al.'s
release, ``Save_C3DFeatures_32Segments.m``); the others: standardised per feature with the
fold's training rows."""
SAVED_MODELS = ("ffp_val", "ffp_flow", "ffp_w16", "ffp_w32", "ffp_rel")
"""Jobs whose fitted VideoDetector is saved to ``<out>/models/<job>.deepad`` (MIL features
reuse it; rebuilt by the job when missing)."""
HELD_OUT = (4, 8, 12, 16)  # training videos held out to choose the epoch ("heldout" jobs)
N_SEGMENTS = 32  # Sultani et al.: 32 temporal segments per video

# unet_layout "batch_norm": the U-Net every future-frame-prediction job before the fifth round
# ran with (then the only layout; their stored parameters do not name it)
FFP_PARAMS = {"hidden_dims": (8, 16, 32), "epochs": 5, "batch_size": 8, "lr": 1e-3,
              "unet_layout": "batch_norm"}
# the ffp_rel job's settings (the release's U-Net and gradient loss); the mil_xfit predictors
FFP_REL_PARAMS = {**FFP_PARAMS, "unet_layout": "release"}
# MIL ranking head on segment features (Sultani et al.: 512-32-1, dropout 0.6, λ1 = λ2 = 8e-5,
# Adagrad lr 0.01); batch of 6 anomalous + 6 normal bags (6 positive videos per fold)
MIL_HEAD_PARAMS = {"bag_size": N_SEGMENTS, "hidden_dims": (512, 32), "dropout": 0.6,
                   "smoothness": 8e-5, "sparsity": 8e-5, "epochs": 50, "n_batches": 20,
                   "batch_size": 12, "lr": 0.01}

# name -> (detector class, hyperparameters, VideoDetector options, protocol)
JOBS: dict[str, tuple[str, dict, dict, str]] = {
    "ffp": ("FuturePrediction", FFP_PARAMS, {"clip_length": 5, "stride": 1}, "normal"),
    "ffp_long": ("FuturePrediction", {**FFP_PARAMS, "epochs": 10},
                 {"clip_length": 5, "stride": 1}, "normal"),
    # frames at 96 x 144 (0.4 of Ped2's 240 x 360, twice the side of 48 x 72): the largest
    # size whose scoring stays above 50 frames/s of CPU (271 / 4 measured at 48 x 72); defined
    # after the 5- and 10-epoch 48 x 72 results were seen; one job, reported whatever it gives
    "ffp_hr": ("FuturePrediction", FFP_PARAMS,
               {"clip_length": 5, "stride": 1, "frame_size": (96, 144)}, "normal"),
    "convae": ("AutoEncoder", {"hidden_dims": (16, 32, 32, 8), "dropout": 0.0, "epochs": 5,
                               "batch_size": 16, "lr": 1e-3},
               {"clip_length": 10, "stride": 3}, "normal"),
    "convae_long": ("AutoEncoder", {"hidden_dims": (16, 32, 32, 8), "dropout": 0.0,
                                    "epochs": 20, "batch_size": 16, "lr": 1e-3},
                    {"clip_length": 10, "stride": 3}, "normal"),
    "mil_fold0": ("MILRanking", {"hidden_dims": (8, 16, 32), "bag_size": 8, "batch_size": 6,
                                 "epochs": 5, "n_batches": 10},
                  {"clip_length": 6}, "mil0"),
    "mil_fold1": ("MILRanking", {"hidden_dims": (8, 16, 32), "bag_size": 8, "batch_size": 6,
                                 "epochs": 5, "n_batches": 10},
                  {"clip_length": 6}, "mil1"),
    "mil_ffp": ("MILRanking", MIL_HEAD_PARAMS, {"clip_length": 5, "stride": 1}, "mil_features"),
    # the same head and segment features, on the prediction error of the ffp_val predictor
    # (defined before the ffp_val result was known; one job, reported whatever it gives)
    "mil_ffp_val": ("MILRanking", MIL_HEAD_PARAMS, {"clip_length": 5, "stride": 1},
                    "mil_features"),
    # the mil_ffp head and predictor (the ffp job's settings), the segment features extended
    # by the predictor's encoder: the U-Net's deepest map pooled over space (mean and max),
    # averaged over the segment, the analogue of Sultani et al.'s averaged C3D activations
    # (defined after the ffp_val result was seen; one job, reported whatever it gives)
    "mil_ffp_enc": ("MILRanking", MIL_HEAD_PARAMS, {"clip_length": 5, "stride": 1},
                    "mil_features"),
    # the stored 120 x 180 frames, closer to the paper's 227 x 227 (defined after the 48 x 72
    # Conv-AE results were seen; one job, reported whatever its result)
    "convae_hr": ("AutoEncoder", {"hidden_dims": (16, 32, 32, 8), "dropout": 0.0, "epochs": 5,
                                  "batch_size": 16, "lr": 1e-3},
                  {"clip_length": 10, "stride": 3, "frame_size": (120, 180)}, "normal"),
    # Liu et al.'s release settings for Ped2 where the CPU allows (generator lr 1e-4, batch 4,
    # adversarial term on with λ_adv 0.05 and discriminator lr 1e-5), wider U-Net (16-32-64);
    # the epoch is chosen on training videos only: fitted on 12 training videos, the weights
    # of the epoch with the lowest generator loss (intensity + gradient) on the 4 held-out
    # training videos (HELD_OUT) are kept (at most 10 epochs). Defined after the rows above
    # were seen; one job, reported whatever it gives.
    "ffp_val": ("FuturePrediction", {"hidden_dims": (16, 32, 64), "epochs": 10,
                                     "batch_size": 4, "lr": 1e-4, "adversarial": True,
                                     "lambda_adv": 0.05, "discriminator_lr": 1e-5,
                                     "unet_layout": "batch_norm"},
                {"clip_length": 5, "stride": 1}, "heldout"),
    # Hasan et al.'s layer layout (backbone "hasan": 11 x 11 stride 4, pool, 5 x 5, pool,
    # 3 x 3 code, mirror) at a quarter of its widths (128 / 64 / 32 for 512 / 256 / 128, so
    # that scoring stays above 50 frames per CPU second), cuboids of T = 10 at 120 x 180,
    # training clips every 2 frames, per-video min-max as their regularity score; the epoch
    # is chosen on the 4 held-out training videos (at most 10). Defined after the rows above
    # were seen; one job, reported whatever it gives.
    "convae_hasan": ("AutoEncoder", {"hidden_dims": (128, 64, 32), "backbone": "hasan",
                                     "dropout": 0.0, "epochs": 10, "batch_size": 16,
                                     "lr": 1e-3},
                     {"clip_length": 10, "stride": 2, "frame_size": (120, 180)}, "heldout"),
    # Fourth round (defined after every row above was seen, all before any of them ran; each
    # reported whatever it gives): the ffp job's settings with seeds 1 and 2 (the spread
    # between seeds); wider U-Nets at 48 x 72 (16-32-64, and 32-64-128, the detector's
    # default widths), otherwise the ffp settings; the ffp settings plus Liu et al.'s optical
    # flow constraint with λ_op = 2 (the release's Ped2 value), the flow computed by a
    # differentiable Lucas-Kanade estimator (no FlowNet can be downloaded); the convae_hasan
    # settings with Hasan et al.'s per-frame error e(t) (anchor "frame": each frame its own
    # reconstruction error, averaged over the cuboids covering it) instead of the cuboid's
    # mean error spread over its frames (the same model's clip-mean scores are kept in the
    # job file and reported as the next row: the aggregation measured alone).
    "ffp_s1": ("FuturePrediction", FFP_PARAMS, {"clip_length": 5, "stride": 1}, "normal"),
    "ffp_s2": ("FuturePrediction", FFP_PARAMS, {"clip_length": 5, "stride": 1}, "normal"),
    "ffp_w16": ("FuturePrediction", {**FFP_PARAMS, "hidden_dims": (16, 32, 64)},
                {"clip_length": 5, "stride": 1}, "normal"),
    "ffp_w32": ("FuturePrediction", {**FFP_PARAMS, "hidden_dims": (32, 64, 128)},
                {"clip_length": 5, "stride": 1}, "normal"),
    "ffp_flow": ("FuturePrediction", {**FFP_PARAMS, "lambda_op": 2.0},
                 {"clip_length": 5, "stride": 1}, "normal"),
    # the mil_ffp head and segment features on the prediction error of the ffp_flow predictor
    # (the predictor trained with the flow constraint; defined before the ffp_flow result was
    # known, reported whatever it gives)
    "mil_ffp_flow": ("MILRanking", MIL_HEAD_PARAMS, {"clip_length": 5, "stride": 1},
                     "mil_features"),
    # the ffp_flow settings with seeds 1 and 2, for a three-seed comparison with the ffp
    # settings' seeds 0-2 (defined after the ffp_flow and ffp_w16 results were seen, before
    # the ffp_w32 result; reported whatever they give)
    "ffp_flow_s1": ("FuturePrediction", {**FFP_PARAMS, "lambda_op": 2.0},
                    {"clip_length": 5, "stride": 1}, "normal"),
    "ffp_flow_s2": ("FuturePrediction", {**FFP_PARAMS, "lambda_op": 2.0},
                    {"clip_length": 5, "stride": 1}, "normal"),
    # the mil_ffp job with Sultani et al.'s batch: 30 anomalous + 30 normal bags per
    # iteration (drawn with replacement from the fold's 6 + 16), instead of 6 + 6; defined
    # after the convae_frame and ffp_flow results were seen, before the mil_ffp_flow result;
    # reported whatever it gives
    "mil_ffp_b60": ("MILRanking", {**MIL_HEAD_PARAMS, "batch_size": 60},
                    {"clip_length": 5, "stride": 1}, "mil_features"),
    "convae_frame": ("AutoEncoder", {"hidden_dims": (128, 64, 32), "backbone": "hasan",
                                     "dropout": 0.0, "epochs": 10, "batch_size": 16,
                                     "lr": 1e-3},
                     {"clip_length": 10, "stride": 2, "frame_size": (120, 180),
                      "anchor": "frame"}, "heldout"),
    # Fifth round (defined after every row above was seen, before any of these ran; each
    # reported whatever it gives): faithfulness fixes, not new settings.
    # - ffp_rel (seeds 0, 1, 2): the ffp job's settings with the release's U-Net (no batch
    #   normalisation, a ReLU after each transposed convolution: unet_layout "release") and
    #   the release's gradient loss (zero padding after the last row and column, mean over
    #   all pixels); everything else as ffp.
    # - convae_paper: the convae_frame job (Hasan et al.'s layers at a quarter of the widths,
    #   120 x 180, T = 10, per-frame error e(t), epoch chosen on the 4 held-out training
    #   videos) plus the paper's input normalisation (every frame minus the mean training
    #   frame) and its temporal augmentation (training cuboids with frame skips 1, 2 and 3);
    #   the training clips start every 6 frames per skip instead of every 2, so an epoch holds
    #   about as many clips (and CPU) as convae_frame's.
    "ffp_rel": ("FuturePrediction", {**FFP_PARAMS, "unet_layout": "release"},
                {"clip_length": 5, "stride": 1}, "normal"),
    "ffp_rel_s1": ("FuturePrediction", {**FFP_PARAMS, "unet_layout": "release"},
                   {"clip_length": 5, "stride": 1}, "normal"),
    "ffp_rel_s2": ("FuturePrediction", {**FFP_PARAMS, "unet_layout": "release"},
                   {"clip_length": 5, "stride": 1}, "normal"),
    # - mil_ffp_rel: the mil_ffp head and segment features on the prediction error of the
    #   ffp_rel predictor (seed 0), run whatever ffp_rel gives, if CPU time remains.
    "mil_ffp_rel": ("MILRanking", MIL_HEAD_PARAMS, {"clip_length": 5, "stride": 1},
                    "mil_features"),
    "convae_paper": ("AutoEncoder", {"hidden_dims": (128, 64, 32), "backbone": "hasan",
                                     "dropout": 0.0, "epochs": 10, "batch_size": 16,
                                     "lr": 1e-3},
                     {"clip_length": 10, "stride": 6, "frame_size": (120, 180),
                      "anchor": "frame", "normalize": "mean_frame", "frame_skips": (1, 2, 3)},
                     "heldout"),
    # Sixth round (defined after every row above was seen, before it ran; reported whatever it
    # gives): convae_paper did not train because AutoEncoder's default L2 penalty (Adam's
    # weight_decay 3e-4) is weighed against a per-pixel *mean* squared error, where Hasan et
    # al.'s objective (Sec. 3.2) weighs its L2 term against the per-cuboid *sum* (T x H x W =
    # 216,000 pixels here): on mean-subtracted frames the data gradient is too small to hold
    # the weights against the decay. convae_paper_fix is convae_paper with weight_decay 0, the
    # limit of the paper's relative weighting at this size; nothing else changes.
    "convae_paper_fix": ("AutoEncoder", {"hidden_dims": (128, 64, 32), "backbone": "hasan",
                                         "dropout": 0.0, "epochs": 10, "batch_size": 16,
                                         "lr": 1e-3, "weight_decay": 0.0},
                         {"clip_length": 10, "stride": 6, "frame_size": (120, 180),
                          "anchor": "frame", "normalize": "mean_frame",
                          "frame_skips": (1, 2, 3)}, "heldout"),
    # mil_ffp_rel_l2: the mil_ffp_rel job (the ffp_rel predictor's segment features, the same
    # head and folds) with each segment feature divided by its L2 norm, as Sultani et al.'s
    # release normalises its averaged C3D segment features, instead of standardising each
    # feature over the fold's training rows; nothing else changes. Defined before the
    # convae_paper_fix result was known; reported whatever it gives.
    "mil_ffp_rel_l2": ("MILRanking", MIL_HEAD_PARAMS, {"clip_length": 5, "stride": 1},
                       "mil_features"),
    # Seventh round (defined after every row above was seen, before it ran; reported whatever
    # it gives): in the mil_features protocol the feature predictor was trained on all 16
    # training videos, which are also the negative bags, so the negatives' features are
    # in-sample and every positive or scored video's are not; Sultani et al.'s C3D saw none
    # of the videos it extracts features for. mil_xfit cross-fits: predictor A (the ffp_rel
    # settings) is trained on the odd-numbered training videos only and extracts the features
    # of the even-numbered ones (negative bags of MIL head A) and of the test videos;
    # predictor B the reverse. Segment features as mil_ffp_rel_l2 (L2-normalised rows), the
    # mil_ffp head; per test fold the two heads' segment scores are each z-scored with the
    # mean and standard deviation of that head's scores on its own training segments, then
    # averaged (mil_crossfit).
    "mil_xfit": ("MILRanking", MIL_HEAD_PARAMS, {"clip_length": 5, "stride": 1}, "mil_xfit"),
    "sdor": ("SDOR", {"hidden_dims": (16, 32, 32), "epochs": 5, "n_iterations": 5,
                      "batch_size": 32, "n_batches": 10},
             {"clip_length": 5, "stride": 1}, "transductive"),
    "deepsvdd": ("DeepSVDD", {"hidden_dims": (16, 32, 32), "rep_dim": 8, "epochs": 3,
                              "batch_size": 32},
                 {"clip_length": 5, "stride": 3}, "normal"),
}
ORDER = ("ffp", "convae", "mil_fold0", "mil_fold1", "sdor", "mil_ffp", "ffp_long",
         "convae_hr", "ffp_hr", "convae_long", "ffp_val", "mil_ffp_val", "convae_hasan",
         "mil_ffp_enc", "deepsvdd", "ffp_s1", "ffp_s2", "ffp_w16", "ffp_w32", "ffp_flow",
         "convae_frame", "mil_ffp_flow", "mil_ffp_b60", "ffp_flow_s1", "ffp_flow_s2",
         "ffp_rel", "ffp_rel_s1", "ffp_rel_s2", "convae_paper", "mil_ffp_rel",
         "convae_paper_fix", "mil_ffp_rel_l2", "mil_xfit")
DEFAULT_JOBS = ORDER[:9]
"""Run by ``deepad bench --suite ped2``; the others only when named."""
TITLES = {"ffp": "Future frame prediction (Liu et al. 2018), 5 epochs",
          "ffp_long": "Future frame prediction (Liu et al. 2018), 10 epochs (run after the "
                      "5-epoch result was seen)",
          "ffp_hr": "Future frame prediction, 5 epochs, frames at 96 x 144 (run after the "
                    "48 x 72 results were seen)",
          "ffp_val": "Future frame prediction, release settings (lr 1e-4, batch 4, adversarial "
                     "term), U-Net 16-32-64, epoch chosen on 4 held-out training videos (run "
                     "after the rows above were seen)",
          "convae": "Conv-AE (Hasan et al. 2016): AutoEncoder on stacked frames, 5 epochs",
          "convae_long": "Conv-AE, 20 epochs (run after the 5-epoch result was seen)",
          "convae_hr": "Conv-AE, 5 epochs, frames at 120 x 180 (run after the 48 x 72 results "
                       "were seen)",
          "convae_hasan": "Conv-AE with Hasan et al.'s layers (11 x 11 stride 4, 5 x 5, 3 x 3; "
                          "widths 128-64-32), 120 x 180, epoch chosen on 4 held-out "
                          "training videos (run after the rows above were seen)",
          "mil": "MIL ranking (Sultani et al. 2018) end to end on clips (3-D CNN), two folds "
                 "by video",
          "mil_ffp": "MIL ranking (Sultani et al. 2018) on 32 segment features of the "
                     "future-frame-prediction error, two folds by video (run after the "
                     "end-to-end result was seen)",
          "mil_ffp_val": "MIL ranking on the same segment features of the prediction error of "
                         "the held-out-selected predictor (ffp_val row), two folds by video "
                         "(run after the rows above were seen)",
          "mil_ffp_enc": "MIL ranking on the prediction-error segment features plus the "
                         "predictor's pooled encoder features, two folds by video (run after "
                         "the rows above were seen)",
          "sdor": "SDOR (Pang et al. 2020), transductive on the test videos",
          "deepsvdd": "Deep SVDD on clips (Ruff et al. 2018)"}
TITLES.update({
    "ffp_s1": "Future frame prediction, the 5-epoch row's settings, seed 1 (run after the rows "
              "above were seen)",
    "ffp_s2": "Future frame prediction, the 5-epoch row's settings, seed 2 (run after the rows "
              "above were seen)",
    "ffp_w16": "Future frame prediction, 5 epochs, U-Net 16-32-64 (run after the rows above "
               "were seen)",
    "ffp_w32": "Future frame prediction, 5 epochs, U-Net 32-64-128 (run after the rows above "
               "were seen)",
    "ffp_flow": "Future frame prediction, 5 epochs, with the optical-flow constraint (λ_op = 2, "
                "Lucas-Kanade flow) (run after the rows above were seen)",
    "convae_frame": "Conv-AE with Hasan et al.'s layers as above, each frame scored by its own "
                    "reconstruction error e(t) (run after the rows above were seen)",
    "ffp_flow_s1": "Future frame prediction with the optical-flow constraint as above, seed 1 "
                   "(run after the rows above were seen)",
    "ffp_flow_s2": "Future frame prediction with the optical-flow constraint as above, seed 2 "
                   "(run after the rows above were seen)",
    "mil_ffp_flow": "MIL ranking on the same segment features of the prediction error of the "
                    "predictor trained with the flow constraint (ffp_flow row), two folds by "
                    "video (run after the rows above were seen)",
    "mil_ffp_b60": "MIL ranking on the first MIL-on-features row's segment features, with "
                   "the paper's batch of 30 anomalous + 30 normal videos (run after the rows "
                   "above were seen)",
    "convae_frame_all": "the same Conv-AE model, each frame scored by the mean error of the "
                        "cuboids covering it (the aggregation of the rows above)",
    "ffp_rel": "Future frame prediction, 5 epochs, the release's U-Net (no batch "
               "normalisation) and gradient loss (run after the rows above were seen)",
    "ffp_rel_s1": "Future frame prediction with the release's U-Net and gradient loss as "
                  "above, seed 1 (run after the rows above were seen)",
    "ffp_rel_s2": "Future frame prediction with the release's U-Net and gradient loss as "
                  "above, seed 2 (run after the rows above were seen)",
    "convae_paper": "Conv-AE with Hasan et al.'s layers and per-frame error as above, plus "
                    "their mean-frame normalisation and temporal augmentation (frame skips "
                    "1, 2, 3) (run after the rows above were seen)",
    "mil_ffp_rel": "MIL ranking on the same segment features of the prediction error of "
                   "the predictor with the release's U-Net (ffp_rel row), two folds by video "
                   "(run after the rows above were seen)",
    "convae_paper_all": "the same Conv-AE model (mean frame, skips), each frame scored by the "
                        "mean error of the cuboids covering it",
    "convae_paper_fix": "Conv-AE with Hasan et al.'s layers, per-frame error, mean frame and "
                        "frame skips as above, without the L2 weight decay that held it at "
                        "the zero output (run after the rows above were seen)",
    "mil_ffp_rel_l2": "MIL ranking on the ffp_rel predictor's segment features as above, each "
                      "segment's feature divided by its L2 norm as in Sultani et al.'s release "
                      "(run after the rows above were seen)",
    "mil_xfit": "MIL ranking on cross-fitted segment features: two predictors (the ffp_rel "
                "settings), each trained on half of the training videos, each giving the "
                "features of the other half (its head's normal bags) and of the test videos; "
                "L2-normalised features as above, the two heads' z-scored scores averaged "
                "(run after the rows above were seen)",
})
DERIVED = {"convae_frame_all": ("convae_frame", "scores_anchor_all"),
           "convae_paper_all": ("convae_paper", "scores_anchor_all")}
"""Report rows read from another job's file: (job, key of its other frame scores)."""
REPORT_ROWS = ("ffp", "ffp_s1", "ffp_s2", "ffp_long", "ffp_hr", "ffp_w16", "ffp_w32",
               "ffp_flow", "ffp_flow_s1", "ffp_flow_s2", "ffp_val", "ffp_rel", "ffp_rel_s1",
               "ffp_rel_s2", "convae", "convae_long", "convae_hr", "convae_hasan",
               "convae_frame", "convae_frame_all", "convae_paper", "convae_paper_all",
               "convae_paper_fix", "mil",
               "mil_ffp", "mil_ffp_val", "mil_ffp_enc", "mil_ffp_flow", "mil_ffp_b60",
               "mil_ffp_rel", "mil_ffp_rel_l2", "mil_xfit", "sdor",
               "deepsvdd")


def seed_of(name: str) -> int:
    """The seed of job ``name``: :data:`SEED` unless :data:`JOB_SEEDS` names another."""
    return JOB_SEEDS.get(name, SEED)


def deepad_detector(cls_name: str, params: dict, seed: int = SEED):
    """A fresh ``cls_name`` of the registry with ``params`` and ``seed``."""
    import deepad

    return deepad.get_detector(cls_name)(random_state=seed, **params)


def halves() -> tuple[list[int], list[int]]:
    """Test videos 1..12 split in two halves by video: odd ids, even ids."""
    return [1, 3, 5, 7, 9, 11], [2, 4, 6, 8, 10, 12]


def training_halves(n_videos: int) -> tuple[list[int], list[int]]:
    """Training videos ``1..n_videos`` split in two halves by video number: odd ids, even ids
    (the ``mil_xfit`` job's cross-fitting: a predictor trained on one half extracts the
    features of the other)."""
    if n_videos < 2:
        msg = f"cross-fitting needs at least 2 training videos; got {n_videos}."
        raise ValueError(msg)
    ids = list(range(1, n_videos + 1))
    return ids[0::2], ids[1::2]


def _plain(params: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


# ---------------------------------------------------------------------------- jobs
def run_job(name: str, root: str | Path | None = None, out: str | Path | None = None) -> dict:
    """Run job ``name`` of :data:`JOBS` in this process and return its result (scores of
    every test frame, timings, peak memory)."""
    import torch

    import deepad
    from deepad.data.video import load_ucsd_ped2

    torch.set_num_threads(1)
    cls_name, params, options, protocol = JOBS[name]
    train = load_ucsd_ped2("train", root=root)
    test = load_ucsd_ped2("test", root=root, masks=name.startswith("ffp"))
    if protocol == "mil_xfit":
        result = _run_mil_xfit(train, test, options, FFP_REL_PARAMS, params)
    elif protocol == "mil_features":
        result = _run_mil_features(train, test, options, MIL_FEATURE_NET[name], out,
                                   MIL_FEATURE_KIND.get(name, "error"), head=params,
                                   scaling=MIL_FEATURE_SCALING.get(name, "standardise"))
    else:
        result = _run_clips(name, train, test)
    result.update({
        "name": name, "detector": cls_name, "params": _plain(params),
        "video_options": _plain(options),
        "frame_size": list(options.get("frame_size", FRAME_SIZE)), "protocol": protocol,
        "seed": seed_of(name), "deepad": deepad.__version__, "torch": torch.__version__})
    if name.startswith("ffp"):
        result["pixel_auc"] = _pixel_auc(result["_wrapper"], test.videos(), test)
    wrapper = result.pop("_wrapper", None)
    if out is not None and name in SAVED_MODELS and wrapper is not None:
        wrapper.save(Path(out) / "models" / f"{name}.deepad")
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _run_clips(name: str, train, test) -> dict:
    """A detector of clips through :class:`deepad.VideoDetector` (normal, transductive or
    one MIL fold)."""
    from deepad.video import VideoDetector

    cls_name, params, options, protocol = JOBS[name]
    test_videos = test.videos()
    ids = np.unique(test.video_ids)
    detector = deepad_detector(cls_name, params, seed_of(name))
    wrapper = VideoDetector(detector, **{"frame_size": FRAME_SIZE, **options})
    y = None
    selection = None
    if protocol == "normal":
        fit_videos, scored = train.videos(), list(ids)
    elif protocol == "heldout":  # the epoch is chosen on held-out training videos
        videos = train.videos()
        fit_videos = [v for i, v in enumerate(videos, 1) if i not in HELD_OUT]
        selection = [videos[i - 1] for i in HELD_OUT]
        scored = list(ids)
    elif protocol == "transductive":  # SDOR: fitted on the unlabelled test videos
        fit_videos, scored = test_videos, list(ids)
    else:  # MIL: normal training videos (label 0) + one half of the test videos (label 1)
        positives, scored = halves() if protocol == "mil0" else halves()[::-1]
        fit_videos = train.videos() + [test_videos[int(v) - 1] for v in positives]
        y = [0] * len(train.videos()) + [1] * len(positives)
    wall, cpu = time.perf_counter(), time.process_time()
    chosen = None
    if selection is None:
        wrapper.fit(fit_videos, y)
    else:
        chosen = _fit_heldout(wrapper, fit_videos, selection)
    fit_wall, fit_cpu = time.perf_counter() - wall, time.process_time() - cpu
    scores, scored_mask, video_of = [], [], []
    wall, cpu = time.perf_counter(), time.process_time()
    for v in scored:
        s, ok = wrapper.frame_scores(test_videos[int(v) - 1])
        scores.append(s)
        scored_mask.append(ok)
        video_of.append(np.full(len(s), int(v)))
    score_wall, score_cpu = time.perf_counter() - wall, time.process_time() - cpu
    extra = {}
    if wrapper.anchor_ == "frame":  # the same model's clip-mean scores (anchor "all")
        wrapper.anchor_ = "all"
        extra["scores_anchor_all"] = np.concatenate(
            [wrapper.frame_scores(test_videos[int(v) - 1])[0] for v in scored]).tolist()
        wrapper.anchor_ = "frame"
    return {
        **extra,
        "n_train_clips": int(wrapper.n_train_clips_),
        "fit_wall_s": fit_wall, "fit_cpu_s": fit_cpu, "score_wall_s": score_wall,
        "score_cpu_s": score_cpu, "frames_scored": int(sum(len(s) for s in scores)),
        "scores": np.concatenate(scores).tolist(),
        "scored": np.concatenate(scored_mask).astype(int).tolist(),
        "video": np.concatenate(video_of).tolist(),
        "epochs_loss": [float(h.get("loss", float("nan"))) for h in
                        getattr(wrapper.detector_, "history_", [])],
        **({} if chosen is None else chosen),
        "_wrapper": wrapper,
    }


def _fit_heldout(wrapper, fit_videos: list, held_out: list) -> dict:
    """Fit ``wrapper`` on ``fit_videos`` and keep the weights of the epoch whose training loss
    (:meth:`loss` of the detector, without any adversarial term) is lowest on the clips of
    the ``held_out`` training videos; no test video is looked at. Returns the held-out loss
    per epoch and the chosen epoch. (The wrapper's training scores and threshold are those
    of the last epoch; the benchmark uses neither.)"""
    import copy

    import torch

    from deepad.core.trainer import Batch
    from deepad.data.video import frame_clips

    cls = type(wrapper.detector)
    T = wrapper.clip_length
    best = {"loss": float("inf"), "epoch": 0, "state": None, "curve": []}
    original = cls.on_epoch_end
    held: list[np.ndarray] = []

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        original(self, epoch, logs)
        if not held:  # after fit set the wrapper's normalisation (mean_frame_), if any
            held.append(np.concatenate([frame_clips(wrapper._prepare(v, "held-out video"),
                                                    None, T, 1) for v in held_out]))
        clips = held[0]
        self.model_.eval()
        total = 0.0
        with torch.no_grad():
            for low in range(0, len(clips), 64):
                x = torch.from_numpy(clips[low:low + 64])
                total += float(self.loss(Batch(x, None, torch.arange(len(x)))).sum())
        self.model_.train()
        loss = total / len(clips)
        logs["heldout_loss"] = loss
        best["curve"].append(loss)
        if loss < best["loss"]:
            best.update(loss=loss, epoch=epoch + 1,
                        state=copy.deepcopy(self.model_.state_dict()))

    cls.on_epoch_end = on_epoch_end
    try:
        wrapper.fit(fit_videos)
    finally:
        cls.on_epoch_end = original
    wrapper.detector_.model_.load_state_dict(best["state"])
    wrapper.detector_.model_.eval()
    return {"heldout_loss": best["curve"], "chosen_epoch": best["epoch"],
            "held_out_videos": list(HELD_OUT)}


def mil_features(maps: np.ndarray, encoder: np.ndarray | None = None) -> np.ndarray:
    """The MIL instances of one video: its :data:`N_SEGMENTS` segment features
    (:func:`deepad.data.video.segment_features` of the prediction-error maps; with
    ``encoder``, per-frame encoder features ``(n_frames, k)`` averaged over each segment
    appended), each followed by its difference from the video's median segment feature (the
    segment against its own video, as Liu et al.'s per-video normalisation compares a frame
    with its video): ``(32, 112)``, or ``(32, 112 + 2k)`` with ``encoder``."""
    from deepad.data.video import segment_bounds, segment_features

    feats = segment_features(maps, n_segments=N_SEGMENTS)
    if encoder is not None:
        means = np.stack([encoder[a:b].mean(axis=0)
                          for a, b in segment_bounds(len(encoder), N_SEGMENTS)])
        feats = np.concatenate([feats, means.astype(feats.dtype)], axis=1)
    return np.concatenate([feats, feats - np.median(feats, axis=0)], axis=1)


def l2_rows(features: np.ndarray) -> np.ndarray:
    """Every row (segment feature) divided by its L2 norm, float64 (a zero row stays zero):
    Sultani et al.'s release normalises each averaged C3D segment feature so."""
    f = np.asarray(features, dtype=np.float64)
    return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)


def encoder_features(wrapper, video) -> np.ndarray:
    """Per-frame features of a fitted future frame predictor's encoder: the U-Net's deepest
    feature map for the clip that predicts the frame, averaged and max-pooled over space
    (``2 · hidden_dims[-1]`` numbers); a video's first ``T − 1`` frames (never predicted)
    take the first predicted frame's. Float64 ``(n_frames, 2 · hidden_dims[-1])``."""
    import torch

    frames = wrapper._check_video(video)
    net = wrapper.detector_.model_
    pooled: list[torch.Tensor] = []

    def keep(module, inputs, output) -> None:
        pooled.append(torch.cat([output.mean(dim=(2, 3)), output.amax(dim=(2, 3))], dim=1))

    hook = net.generator.down[-1].register_forward_hook(keep)
    net.eval()
    try:
        with torch.no_grad():
            for _, clips in wrapper._clips(frames):
                net(torch.from_numpy(clips))
    finally:
        hook.remove()
    per_clip = torch.cat(pooled).double().numpy()
    return np.concatenate([np.repeat(per_clip[:1], wrapper.clip_length - 1, axis=0), per_clip])


def _run_mil_features(train, test, options: dict, net: str = "ffp",
                      out: str | Path | None = None, kind: str = "error",
                      head: dict | None = None, scaling: str = "standardise") -> dict:
    """MIL ranking (Sultani et al. 2018) on segment features of an unsupervised network.

    Sultani et al. train their MIL head on features of a pretrained video network (C3D, 32
    segments per video). Nothing can be downloaded here, so the feature network is future
    frame prediction (:class:`deepad.FuturePrediction`, the ``ffp`` job's settings) trained
    without labels on the 16 normal training videos; a segment's feature is
    :func:`mil_features` of its prediction-error maps. The MIL head
    (:class:`deepad.MILRanking` on rows, ``bag_size=32``: one bag per video) is trained per
    fold on the training videos (normal bags) and one half of the test videos (anomalous
    bags, video labels only) and scores the other half; features are standardised with the
    mean and standard deviation of the fold's training rows (``scaling="standardise"``), or
    each segment's feature divided by its L2 norm (``scaling="l2"``, the release's
    normalisation of its averaged C3D segment features). A frame takes its segment's
    score; a video's first ``T - 1`` frames (no prediction of their own: their maps are
    copies of the first predicted frame's) are dropped as in the ``ffp`` job.
    """
    from deepad import FuturePrediction, MILRanking
    from deepad.data.video import segment_scores_to_frames
    from deepad.video import VideoDetector

    T = int(options["clip_length"])
    wall, cpu = time.perf_counter(), time.process_time()
    feature_fit = None
    if net == "ffp":
        ffp = VideoDetector(FuturePrediction(random_state=SEED, **FFP_PARAMS),
                            frame_size=FRAME_SIZE, **options).fit(train.videos())
    else:  # the predictor of a heldout job (trained without labels on training videos only)
        saved = None if out is None else Path(out) / "models" / f"{net}.deepad"
        ffp = None
        if saved is not None and saved.exists():  # saved by that job: its fit time counts
            try:
                ffp = VideoDetector.load(saved)
            except (ValueError, RuntimeError):  # saved before its layout was a parameter
                ffp = None
        if ffp is not None:
            done = json.loads((Path(out) / f"{net}.json").read_text())
            feature_fit = (done["fit_wall_s"], done["fit_cpu_s"])
        else:  # refitted here with that job's settings and rule (timed in this job's fit)
            cls_name, params, net_options, net_protocol = JOBS[net]
            ffp = VideoDetector(deepad_detector(cls_name, params, seed_of(net)),
                                **{"frame_size": FRAME_SIZE, **net_options})
            if net_protocol == "heldout":
                fit_videos = [v for i, v in enumerate(train.videos(), 1) if i not in HELD_OUT]
                _fit_heldout(ffp, fit_videos, [train.videos()[i - 1] for i in HELD_OUT])
            else:
                ffp.fit(train.videos())
            if saved is not None:
                ffp.save(saved)
    def features(video) -> np.ndarray:
        encoder = encoder_features(ffp, video) if kind == "error+encoder" else None
        return mil_features(ffp.anomaly_map(video), encoder)

    if scaling == "l2":  # the release: every segment feature divided by its L2 norm
        plain = features

        def features(video) -> np.ndarray:
            return l2_rows(plain(video))

    train_feats = [features(v) for v in train.videos()]
    fit_wall, fit_cpu = time.perf_counter() - wall, time.process_time() - cpu
    if feature_fit is not None:  # the predictor's own training counts in the fit
        fit_wall, fit_cpu = fit_wall + feature_fit[0], fit_cpu + feature_fit[1]
    test_videos = test.videos()
    wall, cpu = time.perf_counter(), time.process_time()
    test_feats = [features(v) for v in test_videos]
    score_wall, score_cpu = time.perf_counter() - wall, time.process_time() - cpu
    scores, scored_mask, video_of, per_fold = [], [], [], []
    for positives, scored in (halves(), halves()[::-1]):
        wall, cpu = time.perf_counter(), time.process_time()
        X = np.concatenate(train_feats + [test_feats[v - 1] for v in positives])
        y = np.concatenate([np.zeros(len(train_feats) * N_SEGMENTS, np.int64),
                            np.ones(len(positives) * N_SEGMENTS, np.int64)])
        if scaling == "l2":  # already scaled per segment
            mean, std = np.zeros(X.shape[1]), np.ones(X.shape[1])
        else:
            mean, std = X.mean(axis=0), X.std(axis=0) + 1e-6
        ranker = MILRanking(random_state=SEED, **(head or MIL_HEAD_PARAMS))
        ranker.fit((X - mean) / std, y)
        fold_wall, fold_cpu = time.perf_counter() - wall, time.process_time() - cpu
        fit_wall, fit_cpu = fit_wall + fold_wall, fit_cpu + fold_cpu
        per_fold.append(fold_cpu)
        wall, cpu = time.perf_counter(), time.process_time()
        for v in scored:
            seg = ranker.decision_function((test_feats[v - 1] - mean) / std)
            s = segment_scores_to_frames(seg, len(test_videos[v - 1]))
            ok = np.ones(len(s), bool)
            ok[:T - 1] = False
            scores.append(s)
            scored_mask.append(ok)
            video_of.append(np.full(len(s), v))
        score_wall += time.perf_counter() - wall
        score_cpu += time.process_time() - cpu
    return {
        "n_train_clips": int(ffp.n_train_clips_),
        "fit_wall_s": fit_wall, "fit_cpu_s": fit_cpu, "score_wall_s": score_wall,
        "score_cpu_s": score_cpu, "frames_scored": int(sum(len(s) for s in scores)),
        "mil_fit_cpu_s_per_fold": per_fold,
        "feature_params": {"network": "FuturePrediction", "job": net, "kind": kind,
                           "scaling": scaling,
                           **_plain(JOBS[net][1]), "n_segments": N_SEGMENTS, "grid": [6, 9]},
        "scores": np.concatenate(scores).tolist(),
        "scored": np.concatenate(scored_mask).astype(int).tolist(),
        "video": np.concatenate(video_of).tolist(),
    }


def mil_crossfit(train_videos: Sequence, test_videos: Sequence,
                 make_predictor: Callable[[], object],
                 folds: Sequence[tuple[Sequence[int], Sequence[int]]],
                 head: dict | None = None, seed: int = SEED) -> dict:
    """MIL ranking on cross-fitted segment features: no predictor extracts the features of a
    video it was trained on.

    The training videos are split by :func:`training_halves` (odd / even numbers). Predictor
    ``k`` (``make_predictor()``, an unfitted :class:`deepad.VideoDetector`) is fitted on
    half ``k`` and gives the segment features (:func:`l2_rows` of :func:`mil_features` of its
    prediction-error maps) of the *other* training half and of every test video. For each
    fold ``(positives, scored)`` (1-based test video ids), MIL head ``k``
    (:class:`deepad.MILRanking` with ``head``) is trained on predictor ``k``'s features of
    the other training half (normal bags, label 0) and of the ``positives`` (anomalous
    bags, video labels only); each scored video's segment score is the mean over the two
    heads of the head's score z-scored with the mean and standard deviation of that head's
    scores on its own training segments.

    Returns ``segment_scores`` (test id → ``(N_SEGMENTS,)``), ``fit_videos`` and
    ``feature_videos`` (per predictor: training ids it was fitted on; training ids whose
    features it extracted), the fitted ``predictors``, and CPU / wall seconds of fitting
    (predictors, training features, heads) and of scoring (test features, head scores).
    """
    from deepad import MILRanking

    halves_ = training_halves(len(train_videos))
    fit_wall = fit_cpu = score_wall = score_cpu = 0.0
    predictors, train_feats, test_feats, feature_ids = [], [], [], []
    for k, half in enumerate(halves_):
        other = halves_[1 - k]
        wall, cpu = time.perf_counter(), time.process_time()
        predictor = make_predictor().fit([train_videos[i - 1] for i in half])
        train_feats.append({i: l2_rows(mil_features(predictor.anomaly_map(train_videos[i - 1])))
                            for i in other})
        fit_wall += time.perf_counter() - wall
        fit_cpu += time.process_time() - cpu
        wall, cpu = time.perf_counter(), time.process_time()
        test_feats.append({v: l2_rows(mil_features(predictor.anomaly_map(video)))
                           for v, video in enumerate(test_videos, 1)})
        score_wall += time.perf_counter() - wall
        score_cpu += time.process_time() - cpu
        predictors.append(predictor)
        feature_ids.append(list(other))
    segment_scores: dict[int, np.ndarray] = {}
    head_fit_cpu = []
    for positives, scored in folds:
        z = {v: [] for v in scored}
        for k in range(2):
            wall, cpu = time.perf_counter(), time.process_time()
            normal = [train_feats[k][i] for i in feature_ids[k]]
            anomalous = [test_feats[k][v] for v in positives]
            X = np.concatenate(normal + anomalous)
            y = np.concatenate([np.zeros(len(normal) * N_SEGMENTS, np.int64),
                                np.ones(len(anomalous) * N_SEGMENTS, np.int64)])
            ranker = MILRanking(random_state=seed, **(head or MIL_HEAD_PARAMS)).fit(X, y)
            own = ranker.decision_function(X)
            mean, std = float(own.mean()), float(own.std()) + 1e-12
            fit_wall += time.perf_counter() - wall
            head_fit_cpu.append(time.process_time() - cpu)
            fit_cpu += head_fit_cpu[-1]
            wall, cpu = time.perf_counter(), time.process_time()
            for v in scored:
                z[v].append((ranker.decision_function(test_feats[k][v]) - mean) / std)
            score_wall += time.perf_counter() - wall
            score_cpu += time.process_time() - cpu
        for v in scored:
            segment_scores[v] = np.mean(z[v], axis=0)
    return {"segment_scores": segment_scores, "fit_videos": [list(h) for h in halves_],
            "feature_videos": feature_ids, "predictors": predictors,
            "fit_wall_s": fit_wall, "fit_cpu_s": fit_cpu, "score_wall_s": score_wall,
            "score_cpu_s": score_cpu, "mil_fit_cpu_s_per_head": head_fit_cpu}


def _run_mil_xfit(train, test, options: dict, predictor_params: dict,
                  head: dict | None = None) -> dict:
    """The ``mil_xfit`` job: :func:`mil_crossfit` on Ped2 with predictors of
    ``predictor_params`` (:class:`deepad.FuturePrediction`, seed :data:`SEED`) and the two
    test folds of :func:`halves`; a frame takes its segment's score, a video's first
    ``T - 1`` frames are dropped as in the ``ffp`` job."""
    from deepad import FuturePrediction
    from deepad.data.video import segment_scores_to_frames
    from deepad.video import VideoDetector

    T = int(options["clip_length"])

    def make_predictor():
        return VideoDetector(FuturePrediction(random_state=SEED, **predictor_params),
                             frame_size=FRAME_SIZE, **options)

    test_videos = test.videos()
    done = mil_crossfit(train.videos(), test_videos, make_predictor,
                        [halves(), halves()[::-1]], head=head)
    scores, scored_mask, video_of = [], [], []
    for _, scored in (halves(), halves()[::-1]):
        for v in scored:
            s = segment_scores_to_frames(done["segment_scores"][v], len(test_videos[v - 1]))
            ok = np.ones(len(s), bool)
            ok[:T - 1] = False
            scores.append(s)
            scored_mask.append(ok)
            video_of.append(np.full(len(s), v))
    return {
        "n_train_clips": int(sum(p.n_train_clips_ for p in done["predictors"])),
        "fit_wall_s": done["fit_wall_s"], "fit_cpu_s": done["fit_cpu_s"],
        "score_wall_s": done["score_wall_s"], "score_cpu_s": done["score_cpu_s"],
        "frames_scored": int(sum(len(s) for s in scores)),
        "mil_fit_cpu_s_per_head": done["mil_fit_cpu_s_per_head"],
        "predictor_fit_videos": done["fit_videos"],
        "predictor_feature_videos": done["feature_videos"],
        "predictor_epochs_loss": [[float(h.get("loss", float("nan")))
                                   for h in getattr(p.detector_, "history_", [])]
                                  for p in done["predictors"]],
        "feature_params": {"network": "FuturePrediction", "kind": "error", "scaling": "l2",
                           "cross_fitted": True, "combine": "mean of z-scores",
                           **_plain(predictor_params), "n_segments": N_SEGMENTS,
                           "grid": [6, 9]},
        "scores": np.concatenate(scores).tolist(),
        "scored": np.concatenate(scored_mask).astype(int).tolist(),
        "video": np.concatenate(video_of).tolist(),
    }


def _pixel_auc(wrapper, videos, test) -> float:
    """Pooled pixel-level AUC-ROC of the prediction-error maps against the masks, at the
    maps' size (masks reduced by area averaging: a cell is anomalous when at least half its
    area is), over the frames a map was predicted for."""
    import torch
    import torch.nn.functional as F
    from sklearn.metrics import roc_auc_score

    T = wrapper.clip_length
    maps, truth = [], []
    low = 0
    for video in videos:
        m = wrapper.anomaly_map(video)[T - 1:].astype(np.float32)
        masks = torch.from_numpy(test.masks[low + T - 1: low + len(video)]).float()[:, None]
        cells = F.interpolate(masks, size=m.shape[1:], mode="area")[:, 0].numpy()
        truth.append(cells >= 0.5)
        maps.append(m)
        low += len(video)
    return float(roc_auc_score(np.concatenate(truth).ravel(), np.concatenate(maps).ravel()))


# ---------------------------------------------------------------------------- running
def run_suite(out: str | Path, only: Sequence[str] | None = None,
              timeout: float | None = None, root: str | Path | None = None,
              echo: Callable[[str], None] = print) -> str:
    """Run the jobs (``only``, default :data:`DEFAULT_JOBS`) whose file is missing in
    ``out``, each in a child process with one torch thread, then write ``out/report.md``
    and return its text. ``timeout``: seconds per job (None: no limit)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(only or DEFAULT_JOBS)
    unknown = [n for n in names if n not in JOBS]
    if unknown:
        msg = f"unknown Ped2 job(s) {unknown}; jobs: {', '.join(ORDER)}."
        raise ValueError(msg)
    for name in names:
        if (out / f"{name}.json").exists():
            echo(f"{name}: stored in {out / (name + '.json')}")
            continue
        echo(f"{name}: running ({JOBS[name][0]})")
        command = [sys.executable, "-m", "deepad.bench.video_suite", "run", name,
                   "--out", str(out)] + (["--root", str(root)] if root else [])
        env = dict(os.environ, OMP_NUM_THREADS="1")
        try:
            done = subprocess.run(command, check=False, env=env, timeout=timeout)
            if done.returncode:
                echo(f"{name}: failed (exit code {done.returncode}); not stored")
        except subprocess.TimeoutExpired:
            echo(f"{name}: stopped after {timeout:.0f} s; not stored")
    return write_report(out, root=root)


def run_one(name: str, out: str | Path, root: str | Path | None = None) -> Path:
    """Run job ``name`` here and write ``out/<name>.json`` (atomically)."""
    path = Path(out) / f"{name}.json"
    result = run_job(name, root=root, out=out)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)
    return path


# ---------------------------------------------------------------------------- report
def _aucs(result: dict, labels_by_video: dict[int, np.ndarray]) -> dict:
    from sklearn.metrics import roc_auc_score

    from deepad.data.video import irregularity_per_video, minmax_per_video

    scores = np.asarray(result["scores"])
    scored = np.asarray(result["scored"], bool)
    video = np.asarray(result["video"])
    y = np.concatenate([labels_by_video[int(v)] for v in dict.fromkeys(video.tolist())])
    norm = minmax_per_video(scores, video)
    out = {"raw_all": roc_auc_score(y, scores),
           "raw_dropped": roc_auc_score(y[scored], scores[scored]),
           "minmax_dropped": roc_auc_score(y[scored], norm[scored]),
           "dropped": int((~scored).sum()), "frames": len(y)}
    if result.get("detector") == "AutoEncoder" and scores.min() >= 0:  # Hasan et al.'s s(t)
        hasan = irregularity_per_video(scores, video)
        out["hasan_dropped"] = roc_auc_score(y[scored], hasan[scored])
    return out


def _merge_mil(results: dict) -> dict | None:
    folds = [results.get(f"mil_fold{k}") for k in (0, 1)]
    if any(f is None for f in folds):
        return None
    merged = dict(folds[0])
    for key in ("scores", "scored", "video"):
        merged[key] = folds[0][key] + folds[1][key]
    for key in ("fit_wall_s", "fit_cpu_s", "score_wall_s", "score_cpu_s", "frames_scored"):
        merged[key] = folds[0][key] + folds[1][key]
    merged["peak_rss_mb"] = max(f["peak_rss_mb"] for f in folds)
    return merged


def report_text(out: str | Path, root: str | Path | None = None,
                command: str = "deepad bench --suite ped2") -> str:
    """The markdown report of the job files in ``out``."""
    from deepad.data.video import load_ucsd_ped2, video_bounds

    out = Path(out)
    test = load_ucsd_ped2("test", root=root)
    labels = {int(test.video_ids[low]): test.labels[low:high]
              for low, high in video_bounds(test.video_ids)}
    results = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
    rows = []
    for key in REPORT_ROWS:
        if key == "mil":
            result = _merge_mil(results)
        elif key in DERIVED:
            job, field = DERIVED[key]
            result = results.get(job)
            if result is not None:
                result = {**result, "scores": result[field]}
        else:
            result = results.get(key)
        if result is None:
            rows.append(f"| {TITLES[key]} | not run | | | | | | | | |")
            continue
        a = _aucs(result, labels)
        fit = f"{result['fit_wall_s'] / 60:.1f} / {result['fit_cpu_s'] / 60:.1f}"
        if key.startswith("mil"):
            fit += " (two folds)"
        pixel = f"{result['pixel_auc']:.3f}" if "pixel_auc" in result else "not computed"
        fps_wall = result["frames_scored"] / result["score_wall_s"]
        fps_cpu = result["frames_scored"] / result["score_cpu_s"]
        hasan = f"{a['hasan_dropped']:.3f}" if "hasan_dropped" in a else "—"
        rows.append(f"| {TITLES[key]} | {a['raw_all']:.3f} | {a['raw_dropped']:.3f} | "
                    f"{a['minmax_dropped']:.3f} | {hasan} | {a['dropped']} of {a['frames']} | "
                    f"{fit} | "
                    f"{fps_wall:.0f} / {fps_cpu:.0f} | {result['peak_rss_mb']:.0f} | "
                    f"{pixel} |")
    setup = []
    for name in ORDER:
        if name in results:
            r = results[name]
            chosen = r.get("chosen_epoch")
            curve = ", ".join(f"{v:.4g}" for v in r.get("heldout_loss", []))
            epoch = f"{chosen} (held-out loss by epoch: {curve})" if chosen else "fixed"
            setup.append(f"| {name} | {r['detector']} | `{json.dumps(r['params'])}` | "
                         f"`{json.dumps(r['video_options'])}` | {r['n_train_clips']} | "
                         f"{r['protocol']} | {r.get('seed', SEED)} | {epoch} |")
    h, w = FRAME_SIZE
    lines = [
        "# UCSD Ped2: frame-level AUC-ROC of the video detectors",
        "",
        f"Generated by `{command}` from the job files in `{out.name}/` (one per job; "
        "a job whose file exists is not rerun). Seed 0 unless a row says otherwise, one run "
        "per row.",
        "",
        "Data: UCSD Ped2 (Mahadevan et al., CVPR 2010) as stored in the shared datasets: "
        "grey frames area-averaged to 120 x 180, here resized again to "
        f"{h} x {w} (bilinear, antialiased) unless a row says otherwise; 16 "
        "normal training videos (2,550 frames), 12 test videos (2,010 frames, 1,648 "
        "anomalous). Published numbers use 256 x 256 or 227 x 227 frames.",
        "",
        "Protocol: frame-level AUC-ROC over all test frames concatenated (micro). *raw, all "
        "frames*: every frame, unscorable frames filled with the nearest scored frame's score; "
        "*raw, dropped*: the frames a method cannot score (the predictor's first 4 frames of "
        "each video) dropped, as Liu et al.'s evaluation does; *min-max per video*: scores "
        "min-max normalised within each test video before concatenating (Liu et al. Eq. 13; "
        "needs each whole test video), same dropped frames. No model selection on test "
        "labels: fixed epochs written down before each run, or, for the rows that say so, "
        "the epoch whose training loss is lowest on 4 training videos held out of the fit "
        "(videos 4, 8, 12, 16; the model is fitted on the other 12) (the published results "
        "select their checkpoint on the test set; these do not). Rows marked *run after ... was "
        "seen* were defined after an earlier row's test AUC was known: their settings were "
        "not chosen by their own test result, but the choice to try them was not blind.",
        "",
        "| detector | raw, all frames | raw, dropped | min-max per video | Hasan s(t) per "
        "video | frames dropped | fit min (wall / CPU) | scoring frames/s (wall / CPU) | peak "
        "memory MB | pixel AUC |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Timings: one torch thread, on a 2-core machine **shared with other jobs** while "
        "these ran (load average often above 10), so wall times are several times the CPU "
        "times; the CPU (process) time is what the job itself used. Scoring speed includes "
        "resizing the frames. Peak memory: the job process's maximum resident set size.",
        "",
        "MIL ranking uses video labels only: fold 0 trains on the 16 normal training videos "
        "(label 0) and test videos 1, 3, 5, 7, 9, 11 (label 1: every test video holds "
        "anomalies) and scores test videos 2, 4, 6, 8, 10, 12; fold 1 the reverse. The AUC is "
        "over the 2,010 frames of both scored halves concatenated, each frame scored by the "
        "model that never saw its video. *End to end*: each video is one bag of evenly "
        "spaced 6-frame clips scored by a small 3-D CNN trained by the ranking loss. *On "
        "segment features*: the paper's design, a ranking head (512-32-1, dropout 0.6, "
        "λ1 = λ2 = 8e-5) on features of a network trained beforehand; Sultani et al. use a "
        "pretrained C3D, which cannot be downloaded here, so the feature network is the "
        "future frame predictor of the first row's settings, trained without labels on the "
        "normal training videos, and a segment's feature is its log prediction error on a "
        "6 x 9 grid (plus mean and max), averaged over the segment's frames and also taken "
        "relative to the video's median segment (second MIL row: the same features from the "
        "predictor of the held-out-selected future-frame-prediction row); 32 segments per "
        "video, a frame takes its segment's score; its fit time includes the predictor's "
        "training, and its scoring speed the predictor's maps. Those predictors were "
        "trained on all 16 training videos, which are also the normal bags, so the normal "
        "bags' features are errors on frames the predictor was fitted to while every "
        "anomalous or scored video is new to it (Sultani et al.'s C3D saw none of the videos "
        "it gives features for). *Cross-fitted* (the row that says so): two predictors of "
        "the release-U-Net row's settings, one trained on the odd-numbered training videos "
        "only, one on the even-numbered; each gives the features of the other half, which "
        "are its MIL head's 8 normal bags, and of the test videos, so no predictor gives "
        "features of a video it was trained on; features L2-normalised per segment; per "
        "fold the two heads' segment scores are each z-scored with the mean and standard "
        "deviation of that head's scores on its own training segments and averaged; the "
        "predictors see half the frames for the same 5 epochs (half the steps). "
        "SDOR is transductive as in "
        "its paper: fitted without labels on the 12 test videos it then scores.",
        "",
        "Pixel AUC (future frame prediction only): pooled pixel-level AUC-ROC of the squared "
        "prediction error maps at the frame size against the masks reduced to that size by "
        "area (a cell is anomalous when at least half its area is), over the predicted frames. "
        "Not the "
        "40 %-overlap pixel criterion of Mahadevan et al.",
        "",
        "Optical flow (the row that says so): Liu et al.'s constraint ||f(Î_t, I_t−1) − "
        "f(I_t, I_t−1)||₁ with weight 2 (their release's Ped2 value), where f is a dense "
        "Lucas-Kanade flow (5 x 5 windows, single scale) written in differentiable tensor "
        "operations, not their pretrained FlowNet (not downloadable here); the score stays the "
        "PSNR. Conv-AE per-frame error (the row that says so): each frame's own squared "
        "reconstruction error within a cuboid (Hasan et al.'s e(t)), averaged over the 10 "
        "cuboids covering it, where the other Conv-AE rows give every frame of a cuboid the "
        "cuboid's mean error; the row after it scores the same model that way.",
        "",
        "The release's U-Net and gradient loss (the rows that say so): Liu et al.'s released "
        "generator has no batch normalisation and a ReLU after each transposed convolution, "
        "and its gradient loss takes the differences with a zero after the last row and "
        "column (TensorFlow's 'SAME' padding), averaged over all pixels; the future frame "
        "prediction rows above them used batch normalisation after each 3 x 3 convolution, "
        "linear transposed convolutions and the interior differences only. Conv-AE with "
        "mean-frame normalisation and frame skips: every frame minus the mean of the "
        "training frames, and training cuboids of every frame, every 2nd and every 3rd frame "
        "(Hasan et al.'s input normalisation and temporal augmentation). *Hasan s(t) per "
        "video* (Conv-AE rows): the AUC of 1 − s(t), Hasan et al.'s regularity score s(t) = "
        "1 − (e(t) − min e) / max e within each test video, which divides by max e where "
        "the min-max column divides by max e − min e. The Conv-AE row with mean-frame "
        "normalisation did not train: its training and held-out losses stayed at the loss of "
        "a network that outputs zeros (the mean frame itself) from the first epoch on, so its "
        "scores are each frame's squared difference from the mean training frame; the row "
        "measures that difference, not a learned reconstruction. The cause was the L2 "
        "weight decay (3e-4, AutoEncoder's default) weighed against a per-pixel mean "
        "squared error, where Hasan et al.'s objective weighs its L2 term against the "
        "per-cuboid sum: on mean-subtracted frames the reconstruction gradient could not hold "
        "the weights against it. The row that says so is the same job without weight decay. "
        "L2-normalised MIL features (the row that says so): each segment's feature vector "
        "divided by its L2 norm, as Sultani et al.'s release does with its averaged C3D "
        "segment features; the other MIL-on-features rows standardise each feature with the "
        "fold's training rows.",
        "",
        "Reference points (not comparable setups): future frame prediction 95.4 (Liu et al. "
        "2018, with optical flow, 256 x 256, test-set model selection), MemAE 94.1, Conv-AE "
        "90.0 (Hasan et al. 2016, as reported by Liu et al.; 85.0 as rerun in the MemAE "
        "paper), MIL ranking and SDOR report no "
        "Ped2 frame AUC in their papers.",
        "",
        "## Settings",
        "",
        "| job | detector | hyperparameters | VideoDetector | training clips | protocol | seed | "
        "epoch kept |",
        "|---|---|---|---|---|---|---|---|",
        *setup,
        "",
    ]
    return "\n".join(lines)


def write_report(out: str | Path, page: str | Path | None = None,
                 root: str | Path | None = None,
                 command: str = "deepad bench --suite ped2") -> str:
    """Write the report of ``out``'s job files to ``page`` (default ``out/report.md``)."""
    text = report_text(out, root=root, command=command)
    Path(page or Path(out) / "report.md").write_text(text)
    return text


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="UCSD Ped2 video benchmark jobs.")
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run", help="run one job here")
    one.add_argument("name", choices=ORDER)
    one.add_argument("--out", required=True)
    one.add_argument("--root", default=None)
    args = parser.parse_args(argv)
    path = Path(args.out) / f"{args.name}.json"
    if path.exists():
        print(f"{path} exists; delete it to rerun")
        return
    run_one(args.name, args.out, root=args.root)
    print(f"{args.name} -> {path}")


if __name__ == "__main__":
    main()
