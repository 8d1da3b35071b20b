"""Future frame prediction (Liu, Luo, Lian & Gao, CVPR 2018): a U-Net predicts the next frame
of a clip from the frames before it; a frame it predicts badly is anomalous.

Predictability modelling of video: normal motion is predictable, an unusual object or
movement is not. The score of a clip is the negative PSNR of its predicted last frame.
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_is_fitted
from torch import nn

from deepad.core.chunks import chunk_rows
from deepad.core.deep import DeepDetector, make_optimizer
from deepad.core.params import BOOLEAN, Interval, Options, PositiveInts
from deepad.core.registry import register
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets.video import UNet


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """Pixels in [0, 1] → [−1, 1], the range of Liu et al.'s frames (tanh output)."""
    return x * 2.0 - 1.0


def intensity_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``L_int = ||Î − I||²₂`` (Liu et al. 2018, Eq. 1), as the release: the mean squared
    difference per sample, shape (batch,)."""
    return (pred - target).pow(2).flatten(1).mean(dim=1)


def gradient_loss(pred: torch.Tensor, target: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """``L_gd = Σ_ij || |Î_ij − Î_i−1,j| − |I_ij − I_i−1,j| ||_α + (same along j)`` (Eq. 2),
    as the authors' release computes it (``Codes/loss_functions.py``): the differences are
    convolutions with ``[−1, 1]`` and ``[[1], [−1]]`` under TensorFlow's ``"SAME"`` padding,
    which pads one zero after the last column / row, so the last column and row hold
    ``|0 − x|``; ``mean(|Δ_x|^α + |Δ_y|^α)`` over channels and all ``H x W`` positions, per
    sample: shape (batch,)."""
    def diffs(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        padded = F.pad(x, (0, 1, 0, 1))  # one zero column on the right, one zero row below
        dx = padded[..., :-1, 1:] - padded[..., :-1, :-1]
        dy = padded[..., :-1, :-1] - padded[..., 1:, :-1]
        return dy.abs(), dx.abs()

    (py, px), (ty, tx) = diffs(pred), diffs(target)
    return ((py - ty).abs().pow(alpha) + (px - tx).abs().pow(alpha)).flatten(1).mean(dim=1)


FLOW_WINDOW = 5  # Lucas-Kanade window (pixels per side)
FLOW_EPS = 1e-3  # Tikhonov term of the Lucas-Kanade normal equations


def lucas_kanade_flow(previous: torch.Tensor, current: torch.Tensor,
                      window: int = FLOW_WINDOW, eps: float = FLOW_EPS) -> torch.Tensor:
    """Dense optical flow from ``previous`` to ``current`` (both ``(n, C, H, W)``) by
    Lucas-Kanade (1981): per pixel, the least-squares solution of the brightness-constancy
    equations ``I_x u + I_y v + I_t = 0`` over a ``window x window`` neighbourhood (all
    channels), regularised by ``eps`` (textureless regions get flow near 0)::

        [Σ I_x² + ε, Σ I_x I_y; Σ I_x I_y, Σ I_y² + ε] (u, v)ᵀ = −(Σ I_x I_t, Σ I_y I_t)ᵀ

    with central spatial differences of the two frames' mean and ``I_t = current −
    previous``. Built of differentiable tensor operations, so a loss on the flow of a
    generated ``current`` trains the generator (Liu et al.'s FlowNet plays that role there).
    Single scale: for the small displacements of consecutive frames. Returns ``(n, 2, H, W)``
    (u along the width, v along the height).
    """
    mean = 0.5 * (previous + current)
    padded = F.pad(mean, (1, 1, 1, 1), mode="replicate")
    ix = 0.5 * (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2])
    iy = 0.5 * (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1])
    it = current - previous

    def box(x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x.sum(dim=1, keepdim=True), window, stride=1,
                            padding=window // 2, count_include_pad=False)

    ixx, iyy, ixy = box(ix * ix) + eps, box(iy * iy) + eps, box(ix * iy)
    ixt, iyt = box(ix * it), box(iy * it)
    det = ixx * iyy - ixy * ixy
    u = (-iyy * ixt + ixy * iyt) / det
    v = (ixy * ixt - ixx * iyt) / det
    return torch.cat([u, v], dim=1)


def flow_loss(pred: torch.Tensor, target: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
    """``L_op = ||f(Î_t, I_t−1) − f(I_t, I_t−1)||₁`` (Liu et al. 2018, Eq. 4), averaged over
    pixels per sample as the release's ``reduce_mean``, with ``f`` the Lucas-Kanade flow
    (:func:`lucas_kanade_flow`) instead of FlowNet: shape (batch,)."""
    with torch.no_grad():
        true_flow = lucas_kanade_flow(previous, target)
    return (lucas_kanade_flow(previous, pred) - true_flow).abs().flatten(1).mean(dim=1)


def psnr(pred: torch.Tensor, target: torch.Tensor, peak: float = 2.0) -> torch.Tensor:
    """``PSNR = 10 log10(peak² / MSE)`` per sample (Eq. 12), frames in [−1, 1] (peak 2)."""
    mse = (pred - target).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(peak ** 2 / mse.clamp_min(1e-10))


class PatchDiscriminator(nn.Module):
    """Liu et al.'s discriminator (after pix2pix's PatchGAN): strided 4 x 4 convolutions,
    LeakyReLU, one logit per patch; CPU-sized widths."""

    def __init__(self, in_channels: int, widths=(16, 32, 64)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = in_channels
        for width in widths:
            layers += [nn.Conv2d(previous, width, 4, stride=2, padding=1),
                       nn.LeakyReLU(0.2, inplace=True)]
            previous = width
        layers.append(nn.Conv2d(previous, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FramePredictor(nn.Module):
    """The generator (U-Net over the ``T − 1`` stacked past frames → next frame, in [−1, 1])
    and, with the adversarial term, the discriminator."""

    def __init__(self, frames: int, channels: int, widths, adversarial: bool,
                 unet_layout: str = "release") -> None:
        super().__init__()
        self.generator = UNet((frames - 1) * channels, channels, widths,
                              batch_norm=unet_layout == "batch_norm",
                              up_activation=unet_layout == "release")
        self.discriminator = PatchDiscriminator(channels) if adversarial else None

    def forward(self, clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``clip`` (n, T, C, H, W) in [0, 1] → (prediction, target), both (n, C, H, W) in
        [−1, 1]."""
        x = to_signed(clip)
        return self.generator(x[:, :-1].flatten(1, 2)), x[:, -1]


@register
class FuturePrediction(DeepDetector):
    """Future frame prediction: a U-Net predicts the last frame of each clip from the frames
    before it; the score is the negative PSNR of the prediction.

    A clip ``(T, C, H, W)`` holds ``T − 1`` past frames and the frame ``t`` to predict (Liu et
    al.: ``T − 1 = 4``, so ``T = 5``). Frames in [0, 1] are mapped to [−1, 1]. The generator
    ``G`` is a U-Net (:class:`~deepad.nets.video.UNet`) over the stacked past frames with a
    tanh output. Training minimises (Liu et al. 2018, Eq. 1, 2, 6, 7)::

        L_G = λ_int · ||Î − I||²₂ + λ_gd · L_gd(Î, I) + λ_op · L_op
              + λ_adv · ½ Σ_patches (D(Î) − 1)²

    with the gradient loss ``L_gd = Σ | |Î_ij − Î_i−1,j| − |I_ij − I_i−1,j| | + (same along
    j)`` (α = 1; with the release's zero padding after the last row and column,
    :func:`gradient_loss`) and the optical-flow constraint ``L_op = ||f(Î_t, I_t−1) − f(I_t,
    I_t−1)||₁`` (Eq. 4, on when ``lambda_op > 0``; the release's Ped2 value is 2), each term
    averaged over pixels as in the authors' release; with the
    adversarial term (``adversarial=True``) the patch discriminator ``D`` minimises the
    least-squares loss ``½ (D(I) − 1)² + ½ D(Î)²`` (Eq. 8), one step per generator step.
    The anomaly score of a clip is ``−PSNR(Î, I) = −10 log10(2² / MSE(Î, I))`` (Eq. 12,
    peak 2 for frames in [−1, 1]); the paper's regularity score normalises PSNR to [0, 1]
    within each test video, ``S = (PSNR − min) / (max − min)``, an evaluation step done
    outside the detector (:func:`deepad.data.video.minmax_per_video`), since it needs the
    whole video.

    Which frame a clip's score belongs to: the predicted one, the clip's last frame
    (:class:`deepad.video.VideoDetector` maps it with ``anchor="last"``; a video's first
    ``T − 1`` frames are never predicted and take the first predicted frame's score).

    Deviations from the paper, stated:

    - *Optical flow by Lucas-Kanade, off by default.* The paper's motion constraint uses a
      pretrained FlowNet, which cannot be downloaded here and must be differentiable (the
      loss trains the generator through it); OpenCV's Farnebäck flow gives no gradient.
      ``f`` here is a dense single-scale Lucas-Kanade flow written in tensor operations
      (:func:`lucas_kanade_flow`, 5 x 5 windows), differentiable. ``lambda_op = 0`` by
      default (the paper's ablation, Table 3, credits the flow term with about 1 point of
      frame-level AUC on Ped2; the Ped2 benchmark page measures the Lucas-Kanade version).
    - *Adversarial term off by default* (λ_adv = 0.05 when on, the paper's value) for the CPU
      budget; ``adversarial=True`` turns it on.
    - *Smaller network and frames*: U-Net widths ``hidden_dims = (32, 64, 128)`` instead of
      64 … 512, and the frames at the size given (the paper resizes to 256 x 256).
    - *U-Net layout*: ``unet_layout="release"`` (default) is the release's (``Codes/unet.py``:
      3 x 3 convolutions with bias and ReLU, no normalisation, a ReLU after each 2 x 2
      transposed convolution, a last 3 x 3 convolution and tanh), at 3 levels by default
      instead of its 4; ``"batch_norm"`` is the layout deepad used before (batch
      normalisation after each 3 x 3 convolution, linear transposed convolutions), kept to
      reproduce the Ped2 rows made with it.
    - Adam with lr 2e-4 for the generator and 2e-5 for the discriminator by default, the
      release's values for colour video (Avenue, ShanghaiTech); its values for the grey
      UCSD Ped1 / Ped2 are 1e-4 and 1e-5 (``training_hyper_params/hyper_params.ini``), with
      a tenfold decay after 7,000 steps on Ped2 that is not reproduced; fixed ``epochs`` (no
      model selection on test data).

    Parameters
    ----------
    lambda_int : float, default 1.0
        Weight of the intensity loss.
    lambda_gd : float, default 1.0
        Weight of the gradient loss.
    lambda_op : float, default 0.0
        Weight of the optical-flow constraint (0: off; Liu et al.'s release: 2 on Ped2).
    adversarial : bool, default False
        Add the least-squares adversarial term and train a patch discriminator.
    lambda_adv : float, default 0.05
        Weight of the adversarial term (when on).
    discriminator_lr : float, default 2e-5
        Learning rate of the discriminator.
    hidden_dims : tuple of int, default (32, 64, 128)
        U-Net channels per level (at least two levels).
    unet_layout : {"release", "batch_norm"}, default "release"
        The authors' release's U-Net (no normalisation, ReLU after the transposed
        convolutions) or deepad's earlier one with batch normalisation (see Deviations).
        A model saved before this parameter existed loads as ``"batch_norm"``, the layout
        it was trained with.
    backbone : {"auto", "unet"}, default "auto"
        The generator; only the U-Net of the paper.
    epochs, batch_size, lr, weight_decay, validation_size, patience, grad_clip,
    contamination, device, random_state, verbose
        See :class:`deepad.core.deep.DeepDetector`.

    Attributes
    ----------
    model_ : FramePredictor
    decision_scores_, threshold_, labels_, history_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad import FuturePrediction
    >>> clips = np.random.default_rng(0).random((16, 3, 1, 12, 12)).astype("float32")
    >>> det = FuturePrediction(epochs=1, hidden_dims=(4, 8), random_state=0).fit(clips)
    >>> det.decision_function(clips[:2]).shape
    (2,)

    References
    ----------
    Liu, Luo, Lian & Gao, "Future Frame Prediction for Anomaly Detection -- A New Baseline",
    CVPR 2018 (Eq. 1 intensity, Eq. 2 gradient, Eq. 6-8 adversarial, Eq. 12-13 PSNR and
    regularity score).

    See Also
    --------
    AutoEncoder : with video clips, Hasan et al.'s convolutional autoencoder (reconstruction
        instead of prediction).
    """

    name = "FuturePrediction"
    category = "generic_normality"
    subcategory = "predictability"
    supervision = ("unsupervised",)
    modalities = ("video",)
    reference = ("Liu, Luo, Lian & Gao, Future Frame Prediction for Anomaly Detection -- A New "
                 "Baseline, CVPR 2018")
    test_params: ClassVar[dict] = {"epochs": 2, "hidden_dims": (4, 8), "batch_size": 8}
    clip_anchor: ClassVar[str] = "last"  # a clip's score is its last (predicted) frame's

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **DeepDetector._parameter_constraints,
        "lambda_int": [Interval(numbers.Real, 0.0, None)],
        "lambda_gd": [Interval(numbers.Real, 0.0, None)],
        "lambda_op": [Interval(numbers.Real, 0.0, None)],
        "adversarial": [BOOLEAN],
        "lambda_adv": [Interval(numbers.Real, 0.0, None)],
        "discriminator_lr": [Interval(numbers.Real, 0.0, None, closed="neither")],
        "hidden_dims": [PositiveInts()],
        "backbone": [Options(("auto", "unet"))],
        "unet_layout": [Options(("release", "batch_norm"))],
    }
    # models saved before unet_layout existed were batch-normalised U-Nets
    params_added: ClassVar[dict] = {"unet_layout": "batch_norm"}

    def __init__(self, lambda_int=1.0, lambda_gd=1.0, lambda_op=0.0, adversarial=False,
                 lambda_adv=0.05, discriminator_lr=2e-5, hidden_dims=(32, 64, 128),
                 unet_layout="release", backbone="auto", epochs=10, batch_size=8, lr=2e-4,
                 weight_decay=0.0, validation_size=0.0, patience=None, grad_clip=None,
                 contamination=0.1, device=None, random_state=None, verbose=False):
        self.lambda_int = lambda_int
        self.lambda_gd = lambda_gd
        self.lambda_op = lambda_op
        self.adversarial = adversarial
        self.lambda_adv = lambda_adv
        self.discriminator_lr = discriminator_lr
        self.hidden_dims = hidden_dims
        self.unet_layout = unet_layout
        self.backbone = backbone
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_size = validation_size
        self.patience = patience
        self.grad_clip = grad_clip
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ hooks
    def build(self, spec: InputSpec) -> nn.Module:
        if len(tuple(self.hidden_dims)) < 2:
            msg = (f"hidden_dims must give at least two U-Net levels; got "
                   f"{tuple(self.hidden_dims)}.")
            raise ValueError(msg)
        if spec.window < 2:
            msg = (f"FuturePrediction needs clips of at least 2 frames (past frames and the "
                   f"frame to predict); got clips of {spec.window}.")
            raise ValueError(msg)
        return FramePredictor(spec.window, spec.n_features, tuple(self.hidden_dims),
                              self.adversarial, self.unet_layout)

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        optimizers = [make_optimizer("adam", self.model_.generator.parameters(), lr=self.lr,
                                     weight_decay=self.weight_decay)]
        if self.model_.discriminator is not None:
            optimizers.append(make_optimizer("adam", self.model_.discriminator.parameters(),
                                             lr=self.discriminator_lr))
        return optimizers

    def _generator_loss(self, pred: torch.Tensor, target: torch.Tensor,
                        clip: torch.Tensor) -> torch.Tensor:
        loss = self.lambda_int * intensity_loss(pred, target)
        if self.lambda_gd:
            loss = loss + self.lambda_gd * gradient_loss(pred, target)
        if self.lambda_op:  # flow from the last past frame to the predicted / true frame
            loss = loss + self.lambda_op * flow_loss(pred, target, to_signed(clip[:, -2]))
        return loss

    def loss(self, batch: Batch) -> torch.Tensor:
        pred, target = self.model_(batch.x)
        return self._generator_loss(pred, target, batch.x)

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        if self.model_.discriminator is None:
            return super().training_step(batch, optimizers)
        g_opt, d_opt = optimizers
        disc = self.model_.discriminator
        pred, target = self.model_(batch.x)
        # generator: intensity + gradient + λ_adv · ½ (D(Î) − 1)²
        g_opt.zero_grad(set_to_none=True)
        adv = 0.5 * (disc(pred) - 1.0).pow(2).flatten(1).mean(dim=1)
        g_loss = (self._generator_loss(pred, target, batch.x)
                  + self.lambda_adv * adv).mean()
        g_loss.backward()
        self.clip_gradients(self.model_.generator.parameters())
        g_opt.step()
        # discriminator: ½ (D(I) − 1)² + ½ D(Î)²
        d_opt.zero_grad(set_to_none=True)
        d_loss = (0.5 * (disc(target) - 1.0).pow(2).mean()
                  + 0.5 * disc(pred.detach()).pow(2).mean())
        d_loss.backward()
        d_opt.step()
        return {"loss": g_loss.detach(), "d_loss": d_loss.detach()}

    def score(self, batch: Batch) -> torch.Tensor:
        pred, target = self.model_(batch.x)
        return -psnr(pred, target)

    # ------------------------------------------------------------------ maps
    @torch.no_grad()
    def clip_maps(self, X: Any) -> np.ndarray:
        """Per-pixel anomaly maps of the predicted frames of clips ``X``: the squared
        prediction error ``(Î − I)²`` summed over channels (frames in [−1, 1]), float64 of
        shape ``(n_clips, H, W)``; the map of a clip belongs to its last frame."""
        check_is_fitted(self, "spec_")
        X = self._check_input(X)
        self.model_.eval()
        rows = chunk_rows(X.shape)
        maps = []
        for start in range(0, len(X), rows):
            x = torch.from_numpy(X[start:start + rows]).to(self.device_)
            pred, target = self.model_(x)
            maps.append((pred - target).pow(2).sum(dim=1).double().cpu().numpy())
        return np.concatenate(maps)

