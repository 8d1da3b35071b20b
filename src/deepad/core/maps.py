"""Anomaly maps of images: where in each image its anomaly score comes from.

An anomaly map is one float per pixel, ``(n, H, W)``, higher = more anomalous there. Two
kinds, shared by every image detector (:meth:`deepad.core.deep.DeepDetector.anomaly_map`):

- **reconstruction maps** (autoencoders, GANomaly): the per-pixel reconstruction error,
  summed over channels, ``m(x)_hw = Σ_c (x_chw − x̂_chw)²`` (:func:`reconstruction_map`); a
  detector whose score is a sum (or mean) of per-pixel terms returns those terms, so the map
  adds up to the score (up to the mean's constant);
- **gradient maps** (every other differentiable score): the magnitude of the score's
  gradient with respect to the input, summed over channels,
  ``m(x)_hw = Σ_c |∂s(x) / ∂x_chw|`` (:func:`gradient_map`): the saliency map of Simonyan,
  Vedaldi & Zisserman ("Deep Inside Convolutional Networks", ICLR 2014 workshop, Sec. 3.1),
  with the anomaly score in place of a class score.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from deepad.data.spec import InputSpec

MAP_POSITIONS = 1 << 16
"""Pixels per chunk of a map computation (a backward pass holds several times the forward's
activations, so the chunks are a few dozen images of 28 x 28)."""


def check_image_spec(spec: InputSpec, detector: str) -> None:
    """``ValueError`` unless the detector was fitted on images."""
    if spec.modality != "image":
        msg = (f"anomaly_map needs a detector fitted on images (n_images, channels, height, "
               f"width); {detector} was fitted on {spec.modality} data. Use decision_function "
               "for per-sample scores.")
        raise ValueError(msg)


def reconstruction_map(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Per-pixel squared error summed over channels: ``(n, C, H, W)`` → ``(n, H, W)``."""
    return (x - x_hat).pow(2).sum(dim=1)


def gradient_map(score: Callable[[torch.Tensor], torch.Tensor],
                 x: torch.Tensor) -> torch.Tensor:
    """``Σ_c |∂ score(x)_i / ∂ x_i,c,h,w|``: ``(n, C, H, W)`` → ``(n, H, W)``.

    ``score`` maps a batch to one score per image, each depending on its own image only
    (networks in eval mode), so the gradient of the summed scores holds every image's own
    gradient.

    Raises
    ------
    TypeError
        The score does not depend differentiably on the input.
    """
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        scores = score(x)
        if not scores.requires_grad:
            msg = ("the anomaly score is not differentiable with respect to the input, so it "
                   "has no gradient map.")
            raise TypeError(msg)
        (grad,) = torch.autograd.grad(scores.sum(), x, allow_unused=True)
    if grad is None:
        msg = "the anomaly score does not depend on the input pixels; no gradient map."
        raise TypeError(msg)
    return grad.abs().sum(dim=1)


def maps_in_chunks(function: Callable[[torch.Tensor], torch.Tensor], X: np.ndarray,
                   device: torch.device) -> np.ndarray:
    """``function`` over the images ``X`` (n, C, H, W), a chunk of about ``MAP_POSITIONS``
    pixels at a time; float64 maps (n, H, W)."""
    rows = max(1, MAP_POSITIONS // (X.shape[2] * X.shape[3]))
    maps = [function(torch.from_numpy(X[start:start + rows]).to(device)).detach().double()
            .cpu().numpy() for start in range(0, len(X), rows)]
    return np.concatenate(maps)
