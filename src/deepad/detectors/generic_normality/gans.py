"""Generative adversarial networks: a GAN learns the distribution of the (mostly normal)
training data; a sample the generator cannot produce, or reproduces badly, is an anomaly.

Three methods of the taxonomy's GAN leaf (Pang et al. 2021, Sec. 4.2):

- :class:`AnoGAN` (Schlegl et al., IPMI 2017): a plain GAN; a test sample is mapped to the
  latent space by gradient descent on ``z`` and scored by how well ``G(z)`` matches it.
- :class:`ALAD` (Zenati et al., ICDM 2018): a bidirectional GAN whose encoder makes the
  mapping a single forward pass, with cycle-consistency discriminators ``D_xx`` and ``D_zz``.
- :class:`GANomaly` (Akcay et al., ACCV 2018): an encoder-decoder-encoder generator scored by
  the distance between the two latent codes.

Each is one ``nn.Module`` holding both players and a thin detector overriding
``configure_optimizers`` (one Adam per player) and ``training_step`` (one discriminator and
one generator update per mini-batch, the 1:1 ratio of all three papers); the loop is the
library's :class:`deepad.core.trainer.Trainer`. The logged ``loss`` is the generator's
objective, ``loss_d`` the discriminator's; ``loss(batch)`` (used for a validation split) is
the generator's objective per sample. Early stopping on a GAN's losses is rarely meaningful,
so ``patience`` is off by default.

The losses are module-level functions with per-sample outputs (``reduction="none"``), so they
can be checked by hand (``tests/test_gans.py``). Networks come from the modality's backbone
(:func:`deepad.nets.build_backbone` / :func:`deepad.nets.build_decoder`): MLPs for rows, a TCN
encoder, a GRU decoder and TCN discriminators for windows. The window encoders read out their
steps' mean, maximum and last step (``readout="pool_last"``): pooling alone keeps no phase, so
GANomaly's decoder could not rebuild the window from the code (it ranked planted windows
better with the last step, ``docs/decisions.md``). Discriminators and encoders use
leaky ReLU with slope 0.2 (Radford et al. 2016), decoders ReLU.

Training length is a number of iterations, ``epochs × n_batches`` mini-batches (each epoch
from a fresh permutation), as GAN releases count it: the fit time does not grow with the
number of rows. On sequence windows the GRU generator learns slowly against a convolutional
discriminator: the defaults are tuned for rows, and windows need about a thousand iterations
with widths of 32 (``docs/decisions.md``).
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from deepad.core.adversarial import AdversarialDetector
from deepad.core.params import BOOLEAN, Interval, Options
from deepad.core.registry import register
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import build_backbone, build_decoder
from deepad.nets.adversarial import (
    Discriminator,
    JointDiscriminator,
    gan_discriminator_loss,
    gan_generator_loss,
    real_and_fake,
    requires_grad,
    set_leak,
)
from deepad.nets.mlp import MLP

LEAK = 0.2  # negative slope of the discriminators' (and encoders') leaky ReLU
DCGAN = {"image": "dcgan"}  # backbone="auto" on images: DCGAN's networks (Radford et al. 2016)


# ---------------------------------------------------------------------------- losses
def anogan_loss(x: torch.Tensor, x_gen: torch.Tensor, f_x: torch.Tensor, f_gen: torch.Tensor,
                feature_weight: float = 0.1) -> torch.Tensor:
    """AnoGAN's mapping loss per sample (Schlegl et al. 2017, Eq. 3-5):
    ``(1 − λ) · Σ|x − G(z)| + λ · Σ|f(x) − f(G(z))|`` with ``x_gen = G(z)``, ``f`` the
    discriminator's intermediate features and ``λ = feature_weight``."""
    residual = (x - x_gen).abs().flatten(1).sum(dim=1)
    discrimination = (f_x - f_gen).abs().flatten(1).sum(dim=1)
    return (1.0 - feature_weight) * residual + feature_weight * discrimination


def alad_discriminator_loss(xz_real: torch.Tensor, xz_fake: torch.Tensor,
                            xx_real: torch.Tensor, xx_fake: torch.Tensor,
                            zz_real: torch.Tensor | None = None,
                            zz_fake: torch.Tensor | None = None) -> torch.Tensor:
    """ALAD's discriminator loss per sample (Zenati et al. 2018, Eq. 2-4, the discriminators'
    side), from logits: ``D_xz`` tells ``(x, E(x))`` (1) from ``(G(z), z)`` (0), ``D_xx``
    ``(x, x)`` (1) from ``(x, G(E(x)))`` (0), ``D_zz`` ``(z, z)`` (1) from ``(z, E(G(z)))`` (0).
    ``zz_*`` None → without ``D_zz``."""
    loss = gan_discriminator_loss(xz_real, xz_fake) + gan_discriminator_loss(xx_real, xx_fake)
    if zz_real is not None:
        loss = loss + gan_discriminator_loss(zz_real, zz_fake)
    return loss


def alad_generator_loss(xz_real: torch.Tensor, xz_fake: torch.Tensor,
                        xx_real: torch.Tensor, xx_fake: torch.Tensor,
                        zz_real: torch.Tensor | None = None,
                        zz_fake: torch.Tensor | None = None) -> torch.Tensor:
    """ALAD's encoder + generator loss per sample: every discriminator's labels swapped
    (Zenati et al. 2018, Eq. 5, non-saturating as the authors' release): the BiGAN term
    ``−log D_xz(G(z), z) − log(1 − D_xz(x, E(x)))`` plus the cycle terms
    ``−log D_xx(x, G(E(x))) − log(1 − D_xx(x, x))`` and the same for ``D_zz``."""
    return alad_discriminator_loss(xz_fake, xz_real, xx_fake, xx_real, zz_fake, zz_real)


def ganomaly_generator_loss(x: torch.Tensor, x_hat: torch.Tensor, z: torch.Tensor,
                            z_hat: torch.Tensor, f_x: torch.Tensor, f_hat: torch.Tensor,
                            w_adv: float = 1.0, w_con: float = 50.0,
                            w_enc: float = 1.0) -> torch.Tensor:
    """GANomaly's generator loss per sample (Akcay et al. 2018, Eq. 1-4):
    ``w_adv · L_adv + w_con · L_con + w_enc · L_enc`` with ``L_adv`` the mean squared distance
    of the discriminator features ``f(x)``, ``f(x̂)``, ``L_con`` the mean absolute error
    ``|x − x̂|`` and ``L_enc`` the mean squared distance of the codes ``z = G_E(x)``,
    ``ẑ = E(x̂)`` (means over elements, as the authors' release)."""
    adv = (f_x - f_hat).pow(2).flatten(1).mean(dim=1)
    con = (x - x_hat).abs().flatten(1).mean(dim=1)
    enc = (z - z_hat).pow(2).flatten(1).mean(dim=1)
    return w_adv * adv + w_con * con + w_enc * enc


# ---------------------------------------------------------------------------- networks
class AnoGANNet(nn.Module):
    """A generator ``z → x`` and a discriminator ``x → (logit, f(x))``."""

    def __init__(self, generator: nn.Module, discriminator: Discriminator) -> None:
        super().__init__()
        self.generator = generator
        self.discriminator = discriminator

    def players(self) -> tuple[nn.Module, nn.Module]:
        """``(discriminator side, generator side)``."""
        return self.discriminator, self.generator


class ALADNet(nn.Module):
    """Encoder ``E: x → z``, generator ``G: z → x`` and the discriminators ``D_xz(x, z)`` (a
    two-branch :class:`JointDiscriminator`), ``D_xx(x, x')`` and ``D_zz(z, z')`` (each pair
    stacked along the last axis; ``d_zz`` is None without the latent cycle term)."""

    def __init__(self, encoder: nn.Module, generator: nn.Module, d_xz: JointDiscriminator,
                 d_xx: Discriminator, d_zz: Discriminator | None) -> None:
        super().__init__()
        self.encoder = encoder
        self.generator = generator
        self.d_xz = d_xz
        self.d_xx = d_xx
        self.d_zz = d_zz

    def players(self) -> tuple[nn.Module, nn.Module]:
        """``(discriminators, encoder and generator)``."""
        discriminators = [d for d in (self.d_xz, self.d_xx, self.d_zz) if d is not None]
        return nn.ModuleList(discriminators), nn.ModuleList([self.encoder, self.generator])

    def logits(self, x: torch.Tensor, z: torch.Tensor, z_enc: torch.Tensor, x_gen: torch.Tensor,
               x_rec: torch.Tensor, z_rec: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(xz_real, xz_fake, xx_real, xx_fake[, zz_real, zz_fake])`` for real ``x``, prior
        ``z``, ``z_enc = E(x)``, ``x_gen = G(z)``, ``x_rec = G(E(x))``, ``z_rec = E(G(z))``."""
        # real and fake pairs go through each discriminator as one batch (no batch
        # normalisation, so this equals two calls, at half the cost)
        xz = self.d_xz(torch.cat([x, x_gen]), torch.cat([z_enc, z]))[0]
        xx = self.d_xx(torch.cat([torch.cat([x, x], dim=-1), torch.cat([x, x_rec], dim=-1)]))[0]
        out = (*xz.chunk(2), *xx.chunk(2))
        if self.d_zz is None:
            return out
        zz = self.d_zz(torch.cat([torch.cat([z, z], dim=-1), torch.cat([z, z_rec], dim=-1)]))[0]
        return (*out, *zz.chunk(2))


class GANomalyNet(nn.Module):
    """Generator ``x → G_E → z → G_D → x̂ → E → ẑ`` and a discriminator ``x → (logit, f(x))``;
    ``forward(x)`` returns ``(x̂, z, ẑ)``."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, reencoder: nn.Module,
                 discriminator: Discriminator) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.reencoder = reencoder
        self.discriminator = discriminator

    def players(self) -> tuple[nn.Module, nn.Module]:
        """``(discriminator, generator G_E + G_D + E)``."""
        return self.discriminator, nn.ModuleList([self.encoder, self.decoder, self.reencoder])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        x_hat = self.decoder(z)
        return x_hat, z, self.reencoder(x_hat)


# ---------------------------------------------------------------------------- shared base
class _GAN(AdversarialDetector):
    """Unregistered base: networks from the modality's backbones, prior noise
    ``z ~ N(0, I)`` from the fit's local generator; one Adam per player with ``lr`` and betas
    ``(beta1, 0.999)`` (:class:`~deepad.core.adversarial.AdversarialDetector`)."""

    # -------------------------------------------------------------- networks
    @staticmethod
    def _options(spec: InputSpec) -> dict:
        """Backbone options per modality: on images, DCGAN's networks with their batch
        normalisation (``backbone="auto"``); rows and windows keep theirs, without."""
        return {"prefer": DCGAN, "batch_norm": spec.modality == "image"}

    def _encoder(self, spec: InputSpec) -> nn.Module:
        """``x → z``: the modality's backbone with leaky ReLU. Windows are read out by pooling
        and the last step (``readout="pool_last"``): ``z`` is decoded back into the window,
        so it must keep where things happen in it (the phase of a periodic signal)."""
        return set_leak(build_backbone(spec, hidden_dims=tuple(self.hidden_dims),
                                       out_dim=self.latent_dim, kind=self.backbone,
                                       activation="leaky_relu", readout="pool_last",
                                       **self._options(spec)), LEAK)

    def _decoder(self, spec: InputSpec) -> nn.Module:
        """``z → x``: the modality's decoder (mirror MLP for rows, GRU for windows, DCGAN's
        generator for images), ReLU."""
        return build_decoder(spec, latent_dim=self.latent_dim,
                             hidden_dims=tuple(self.hidden_dims), kind=self.backbone,
                             **self._options(spec))

    def _features(self, spec: InputSpec) -> nn.Module:
        """A discriminator's feature network: the modality's backbone of ``disc_hidden_dims``
        with leaky ReLU (for images DCGAN's discriminator trunk, its last feature map)."""
        return set_leak(build_backbone(spec, hidden_dims=tuple(self.disc_hidden_dims),
                                       out_dim=None, kind=self.backbone,
                                       activation="leaky_relu", **self._options(spec)), LEAK)

    def _discriminator(self, spec: InputSpec) -> Discriminator:
        """``x → (logit, f(x))`` over :meth:`_features`."""
        return Discriminator(self._features(spec), dropout=self.disc_dropout,
                             spectral=self.spectral_norm)

    # -------------------------------------------------------------- training
    def _noise(self, n: int) -> torch.Tensor:
        """``n`` draws of the prior ``N(0, I)`` from the fit's local generator."""
        return torch.randn(n, self.latent_dim, generator=self._generator).to(self.device_)


# ---------------------------------------------------------------------------- AnoGAN
@register
class AnoGAN(_GAN):
    """AnoGAN: a GAN of normal data; a sample is scored by searching the latent code whose
    generated sample matches it best, and measuring how badly it still matches.

    Training is a standard GAN (Schlegl et al. 2017, Eq. 1; Goodfellow et al. 2014): the
    discriminator minimises ``−log D(x) − log(1 − D(G(z)))``, the generator the non-saturating
    ``−log D(G(z))``, ``z ~ N(0, I)``, one update each per mini-batch (discriminator first).

    Scoring (Sec. 2.2, Eq. 3-6): for each sample, ``z`` is optimised for ``n_search_steps``
    Adam steps (lr ``search_lr``) on the mapping loss
    ``L(z) = (1 − λ) · L_R(z) + λ · L_D(z)``, residual loss ``L_R = Σ|x − G(z)|`` and
    discrimination loss ``L_D = Σ|f(x) − f(G(z))|`` (``f``: the discriminator's last hidden
    layer, feature matching), ``λ = feature_weight``; the anomaly score is ``L`` at the final
    ``z``. All samples of a scoring batch are searched at once on one ``(batch, latent_dim)``
    tensor: the loss is a sum over samples and Adam acts element-wise, so each sample's search
    is independent of the others'.

    Images: the paper's networks, DCGAN's (``backbone="auto"`` → :mod:`deepad.nets.dcgan`:
    strided convolutions with batch normalisation and leaky ReLU 0.2 for ``D``, transposed
    ones with ReLU for ``G``, one layer per width of ``hidden_dims`` / ``disc_hidden_dims``,
    ``f`` the last feature map of ``D``); ``G``'s output is linear, not tanh (inputs are used
    as given, uint8 images in [0, 1]). The defaults are the rows'; images want DCGAN widths
    such as ``hidden_dims=disc_hidden_dims=(64, 128, 256)``.

    Deviations: MLP (rows) or TCN / GRU (windows) networks instead of the paper's DCGAN for
    image patches; a normal prior instead of a uniform one; Adam on ``z`` instead of plain
    gradient steps, with fewer steps than the paper's 500 (``docs/decisions.md``); the search
    starts from the best of ``n_starts`` prior draws instead of one (``n_starts=1`` is the
    paper's). The starting codes come from a local generator seeded with the fit's seed at
    every call to ``decision_function``, so the same call gives the same scores; a sample's
    starting code depends on its position in the call.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64,)
        Generator widths, read as an encoder's (the generator ``z → 64 → x`` mirrors them).
        For windows the first width is the GRU width.
    latent_dim : int, default 8
        Dimension of ``z``.
    disc_hidden_dims : tuple of int, default (64,)
        Discriminator widths; the last hidden layer is ``f``.
    disc_dropout : float, default 0.0
        Dropout before the discriminator's logit.
    spectral_norm : bool, default False
        Spectral normalisation of the discriminator's layers (not in the paper).
    feature_weight : float, default 0.1
        ``λ`` (the paper's value).
    n_search_steps : int, default 100
        Adam steps of the latent search.
    search_lr : float, default 0.05
        Learning rate of the latent search.
    n_starts : int, default 32
        Draws of the prior the search may start from: it starts from the one with the lowest
        mapping loss (one forward pass per draw, no gradient). ``1``: the paper's single
        random start. Gradient descent on ``z`` stays in the basin it starts in; on periodic
        windows a wrong phase is such a basin (on planted windows the best of 16 starts
        ranked clearly better than one start, ``docs/decisions.md``).
    backbone : {"auto", "mlp", "gru", "tcn", "dcgan", ...}, default "auto"
        "auto": MLPs for rows; for windows a TCN discriminator and a GRU generator; DCGAN's
        networks for images.
    epochs : int, default 200
    batch_size : int, default 64
    n_batches : int or None, default 10
        Mini-batches per epoch, each epoch from a fresh permutation (None → one pass over
        the data). GANs train for a number of iterations (2,000 by default); a fixed budget
        keeps the fit time independent of the number of rows.
    lr : float, default 1e-3
    beta1 : float, default 0.5
        Adam's learning rate and first moment decay for both players (β1 as DCGAN and the
        paper; lr chosen on the benchmark datasets, ``docs/decisions.md``).
    weight_decay, validation_size, patience, grad_clip
        See :class:`deepad.core.deep.DeepDetector`.
    contamination : float, default 0.1
    device : str or None, default None
    random_state : int or None, default None
    verbose : bool, default False

    Attributes
    ----------
    decision_scores_, threshold_, labels_, model_, history_, device_, spec_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import AnoGAN
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> det = AnoGAN(epochs=2, n_search_steps=10, random_state=0).fit(X)
    >>> det.decision_function(X[:3]).shape
    (3,)

    References
    ----------
    Schlegl, Seeböck, Waldstein, Schmidt-Erfurth & Langs, "Unsupervised anomaly detection
    with generative adversarial networks to guide marker discovery", IPMI 2017.

    See Also
    --------
    deepad.ALAD : learns the inverse mapping with an encoder instead of searching for it.
    """

    name = "AnoGAN"
    category = "generic_normality"
    subcategory = "gans"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence", "image")
    reference = ("Schlegl et al., Unsupervised anomaly detection with generative adversarial "
                 "networks to guide marker discovery, IPMI 2017")
    # one start: the best of 32 draws of a barely trained generator fits the planted windows
    # too (docs/decisions.md, issue 16: GAN window ranking)
    test_params: ClassVar[dict] = {"epochs": 3, "n_batches": None, "hidden_dims": (16,),
                                   "latent_dim": 4, "disc_hidden_dims": (16,), "batch_size": 32,
                                   "n_search_steps": 20, "n_starts": 1, "lr": 2e-4}
    # images (tests/test_image_gans.py): two DCGAN layers, 200 iterations
    modality_test_params: ClassVar[dict] = {"image": {
        "hidden_dims": (16, 32), "disc_hidden_dims": (16, 32), "latent_dim": 16, "epochs": 20,
        "n_batches": 10, "n_search_steps": 30, "lr": 1e-3}}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_GAN._parameter_constraints,
        "feature_weight": [Interval(numbers.Real, 0.0, 1.0)],
        "n_search_steps": [Interval(numbers.Integral, 0, None)],
        "n_starts": [Interval(numbers.Integral, 1, None)],
        "search_lr": [Interval(numbers.Real, 0.0, None, closed="neither")],
    }

    def __init__(self, hidden_dims=(64,), latent_dim=8, disc_hidden_dims=(64,),
                 disc_dropout=0.0, spectral_norm=False, feature_weight=0.1, n_search_steps=100,
                 search_lr=0.05, n_starts=32, backbone="auto", epochs=200, batch_size=64,
                 n_batches=10, lr=1e-3, beta1=0.5, weight_decay=0.0, validation_size=0.0,
                 patience=None, grad_clip=None, contamination=0.1, device=None, random_state=None,
                 verbose=False):
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.disc_hidden_dims = disc_hidden_dims
        self.disc_dropout = disc_dropout
        self.spectral_norm = spectral_norm
        self.feature_weight = feature_weight
        self.n_search_steps = n_search_steps
        self.search_lr = search_lr
        self.n_starts = n_starts
        self.backbone = backbone
        self.epochs = epochs
        self.batch_size = batch_size
        self.n_batches = n_batches
        self.lr = lr
        self.beta1 = beta1
        self.weight_decay = weight_decay
        self.validation_size = validation_size
        self.patience = patience
        self.grad_clip = grad_clip
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def build(self, spec: InputSpec) -> nn.Module:
        return AnoGANNet(self._decoder(spec), self._discriminator(spec))

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        opt_d, opt_g = optimizers
        net = self.model_
        fake = net.generator(self._noise(len(batch.x)))
        (real_logit, _), (fake_logit, _) = real_and_fake(net.discriminator, batch.x,
                                                         fake.detach())
        loss_d = gan_discriminator_loss(real_logit, fake_logit).mean()
        self._step(opt_d, loss_d, net.discriminator)
        # the generator has not changed: its graph is reused for its own step
        requires_grad(net.discriminator, False)
        loss_g = gan_generator_loss(net.discriminator(fake)[0]).mean()
        self._step(opt_g, loss_g, net.generator)
        requires_grad(net.discriminator, True)
        return {"loss": loss_g.detach(), "loss_d": loss_d.detach()}

    def loss(self, batch: Batch) -> torch.Tensor:
        net = self.model_
        return gan_generator_loss(net.discriminator(net.generator(self._noise(len(batch.x))))[0])

    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        # one local generator per call: the same call gives the same starting codes
        self._search_generator = torch.Generator().manual_seed(self.seed_ or 0)
        try:
            return super()._score_samples(X)
        finally:
            del self._search_generator

    def anomaly_map(self, X: Any) -> np.ndarray:
        # the latent search draws its starting codes from the same per-call generator
        self._search_generator = torch.Generator().manual_seed(self.seed_ or 0)
        try:
            return super().anomaly_map(X)
        finally:
            del self._search_generator

    def anomaly_map_batch(self, x: torch.Tensor) -> torch.Tensor:
        """The residual image of Schlegl et al. (2017, Sec. 2.3), ``|x − G(z_Γ)|`` after the
        latent search, summed over channels: where the closest generated normal image
        differs from the input."""
        z, _ = self.search(x, self.starting_codes(x))
        with torch.no_grad():
            return (x - self.model_.generator(z)).abs().sum(dim=1)

    def search(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent search from the starting codes ``z`` (one row per sample of ``x``), all rows
        at once: returns the final codes and the mapping loss there, per sample (the score)."""
        net = self.model_
        with torch.no_grad():
            f_x = net.discriminator(x)[1]
        z = z.detach().clone().requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=self.search_lr)
        # cuDNN refuses the backward pass of an RNN in eval mode (a GRU generator for
        # windows); PyTorch's own kernels compute the same gradient
        with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
            for _ in range(self.n_search_steps):
                x_gen = net.generator(z)
                loss = anogan_loss(x, x_gen, f_x, net.discriminator(x_gen)[1],
                                   self.feature_weight)
                # the gradient with respect to z only: the networks' .grad stay untouched
                (z.grad,) = torch.autograd.grad(loss.sum(), z)
                optimizer.step()
        with torch.no_grad():
            x_gen = net.generator(z)
            loss = anogan_loss(x, x_gen, f_x, net.discriminator(x_gen)[1], self.feature_weight)
        return z.detach(), loss

    def starting_codes(self, x: torch.Tensor) -> torch.Tensor:
        """One starting code per sample: the best, by the mapping loss, of ``n_starts`` draws
        of the prior (one forward pass each, no gradient)."""
        net = self.model_
        n = len(x)
        z = torch.randn(self.n_starts, n, self.latent_dim, generator=self._search_generator)
        z = z.to(x.device)
        if self.n_starts == 1:
            return z[0]
        with torch.no_grad():
            f_x = net.discriminator(x)[1]
            losses = torch.stack([
                anogan_loss(x, x_gen, f_x, net.discriminator(x_gen)[1], self.feature_weight)
                for x_gen in map(net.generator, z)])  # (n_starts, n)
        return z[losses.argmin(dim=0), torch.arange(n, device=x.device)]

    def score(self, batch: Batch) -> torch.Tensor:
        return self.search(batch.x, self.starting_codes(batch.x))[1]


# ---------------------------------------------------------------------------- ALAD
@register
class ALAD(_GAN):
    """ALAD (Adversarially Learned Anomaly Detection): a bidirectional GAN with
    cycle-consistency discriminators; anomalies are samples the encoder-generator cycle
    reconstructs badly, measured in the feature space of the discriminator ``D_xx``.

    Networks: encoder ``E: x → z``, generator ``G: z → x`` and three discriminators with
    spectral normalisation (Zenati et al. 2018, Sec. III-B): ``D_xz`` on joint pairs,
    ``D_xx`` on pairs of samples and ``D_zz`` on pairs of codes. Losses (Eq. 2-5), from logits,
    ``z ~ N(0, I)``:

    - BiGAN term (Eq. 2): ``D_xz`` tells ``(x, E(x))`` from ``(G(z), z)``;
    - conditional-entropy regulariser on ``x`` (Eq. 3): ``D_xx`` tells ``(x, x)`` from
      ``(x, G(E(x)))``;
    - the same on ``z`` (Eq. 4): ``D_zz`` tells ``(z, z)`` from ``(z, E(G(z)))``;
    - the discriminators minimise the sum of the three cross-entropies, the encoder and
      generator the same sum with the labels swapped (Eq. 5, non-saturating, as the authors'
      release); one discriminator update then one encoder-generator update per mini-batch.

    Score (Sec. III-C, "Features", the paper's best):
    ``A(x) = ||f_xx(x, x) − f_xx(x, G(E(x)))||_1``, ``f_xx`` the last hidden layer of
    ``D_xx``. ``score_method`` selects the paper's other scores: ``"logits"``
    ``−log D_xx(x, G(E(x)))``, ``"l1"`` / ``"l2"`` ``||x − G(E(x))||``.

    Images are refused (``modalities``): ``D_xx`` and ``D_zz`` take their pairs stacked along
    the feature axis, which an image's spatial layout has no place for; the paper's CIFAR-10
    / SVHN networks (pairs stacked along channels) are not written here.

    Deviations: MLP (rows) or TCN / GRU (windows) networks of the given widths instead of the
    release's per-dataset networks; no exponential moving average of the weights at test time;
    the learning rate chosen on the benchmark datasets (``docs/decisions.md``).

    Parameters
    ----------
    hidden_dims : tuple of int, default (64,)
        Encoder widths (the generator mirrors them). For windows the first width is the
        TCN / GRU width.
    latent_dim : int, default 16
    disc_hidden_dims : tuple of int, default (64,)
        Widths of ``D_xx`` and of ``D_xz``'s ``x`` branch; ``D_xz``'s ``z`` branch and joint
        layer and ``D_zz``'s layer have the last width.
    disc_dropout : float, default 0.0
        Dropout before every discriminator's logit (and after ``D_xz``'s ``z`` branch).
    spectral_norm : bool, default True
        Spectral normalisation of the discriminators (the paper's).
    use_zz : bool, default True
        Include ``D_zz`` and its cycle term (Eq. 4).
    score_method : {"features", "logits", "l1", "l2"}, default "features"
    backbone : {"auto", "mlp", "gru", "tcn"}, default "auto"
        "auto": MLPs for rows; for windows TCN encoder and discriminators, GRU generator.
    epochs : int, default 25
    batch_size : int, default 64
    n_batches : int or None, default 10
        Mini-batches per epoch, each epoch from a fresh permutation (None → one pass over
        the data): 250 iterations by default, whatever the number of rows.
    lr : float, default 2e-4
    beta1 : float, default 0.5
        Adam's learning rate and first moment decay for both players (the release's β1; lr
        chosen on the benchmark datasets, ``docs/decisions.md``).
    weight_decay, validation_size, patience, grad_clip
        See :class:`deepad.core.deep.DeepDetector`.
    contamination : float, default 0.1
    device : str or None, default None
    random_state : int or None, default None
    verbose : bool, default False

    Attributes
    ----------
    decision_scores_, threshold_, labels_, model_, history_, device_, spec_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import ALAD
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> det = ALAD(epochs=2, random_state=0).fit(X)
    >>> det.decision_function(X[:3]).shape
    (3,)

    References
    ----------
    Zenati, Romain, Foo, Lecouat & Chandrasekhar, "Adversarially Learned Anomaly Detection",
    ICDM 2018.

    See Also
    --------
    deepad.AnoGAN : searches the latent code of each test sample instead of encoding it.
    """

    name = "ALAD"
    category = "generic_normality"
    subcategory = "gans"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence")
    reference = "Zenati et al., Adversarially Learned Anomaly Detection, ICDM 2018"
    # spectral normalisation is off here only to give the tiny planted check a margin on
    # windows; tests/test_gans.py covers it (and its save / load)
    test_params: ClassVar[dict] = {"epochs": 3, "n_batches": None, "hidden_dims": (16,),
                                   "latent_dim": 4, "disc_hidden_dims": (16,), "batch_size": 32,
                                   "spectral_norm": False}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_GAN._parameter_constraints,
        "use_zz": [BOOLEAN],
        "score_method": [Options(("features", "logits", "l1", "l2"))],
    }

    def __init__(self, hidden_dims=(64,), latent_dim=16, disc_hidden_dims=(64,),
                 disc_dropout=0.0, spectral_norm=True, use_zz=True, score_method="features",
                 backbone="auto", epochs=25, batch_size=64, n_batches=10, lr=2e-4,
                 beta1=0.5, weight_decay=0.0, validation_size=0.0, patience=None,
                 grad_clip=None, contamination=0.1, device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.disc_hidden_dims = disc_hidden_dims
        self.disc_dropout = disc_dropout
        self.spectral_norm = spectral_norm
        self.use_zz = use_zz
        self.score_method = score_method
        self.backbone = backbone
        self.epochs = epochs
        self.batch_size = batch_size
        self.n_batches = n_batches
        self.lr = lr
        self.beta1 = beta1
        self.weight_decay = weight_decay
        self.validation_size = validation_size
        self.patience = patience
        self.grad_clip = grad_clip
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def build(self, spec: InputSpec) -> nn.Module:
        width = tuple(self.disc_hidden_dims)[-1]
        options = {"dropout": self.disc_dropout, "spectral": self.spectral_norm}
        z_branch = MLP(self.latent_dim, (width,), None, activation="leaky_relu")
        d_xz = set_leak(JointDiscriminator(self._features(spec), z_branch, width, **options),
                        LEAK)
        # D_xx takes the pair stacked along the last axis (features, or channels of a window)
        pairs = InputSpec(spec.modality, 2 * spec.n_features, spec.window)
        d_xx = Discriminator(self._features(pairs), **options)
        d_zz = None
        if self.use_zz:
            pair = MLP(2 * self.latent_dim, (width,), None, activation="leaky_relu")
            d_zz = Discriminator(pair, **options)
        return ALADNet(self._encoder(spec), self._decoder(spec), d_xz, set_leak(d_xx, LEAK),
                       None if d_zz is None else set_leak(d_zz, LEAK))

    def _cycle(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(E(x), G(z), G(E(x)), E(G(z)))``."""
        net = self.model_
        z_enc = net.encoder(x)
        x_gen = net.generator(z)
        return z_enc, x_gen, net.generator(z_enc), net.encoder(x_gen)

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        opt_d, opt_g = optimizers
        discriminators, generators = self._players
        x, z = batch.x, self._noise(len(batch.x))
        fakes = self._cycle(x, z)
        detached = [fake.detach() for fake in fakes]
        loss_d = alad_discriminator_loss(*self.model_.logits(x, z, *detached)).mean()
        self._step(opt_d, loss_d, discriminators)
        # the encoder and generator have not changed: their graph is reused for their step
        requires_grad(discriminators, False)
        loss_g = alad_generator_loss(*self.model_.logits(x, z, *fakes)).mean()
        self._step(opt_g, loss_g, generators)
        requires_grad(discriminators, True)
        return {"loss": loss_g.detach(), "loss_d": loss_d.detach()}

    def loss(self, batch: Batch) -> torch.Tensor:
        z = self._noise(len(batch.x))
        return alad_generator_loss(*self.model_.logits(batch.x, z, *self._cycle(batch.x, z)))

    def score(self, batch: Batch) -> torch.Tensor:
        net = self.model_
        x = batch.x
        x_rec = net.generator(net.encoder(x))
        if self.score_method == "l1":
            return (x - x_rec).abs().flatten(1).sum(dim=1)
        if self.score_method == "l2":
            return (x - x_rec).pow(2).flatten(1).sum(dim=1).sqrt()
        if self.score_method == "logits":
            # −log D_xx(x, x̂): the generator's loss of the pair
            return gan_generator_loss(net.d_xx(torch.cat([x, x_rec], dim=-1))[0])
        pairs = torch.cat([torch.cat([x, x], dim=-1), torch.cat([x, x_rec], dim=-1)])
        f_real, f_rec = net.d_xx(pairs)[1].chunk(2)
        return (f_real - f_rec).abs().flatten(1).sum(dim=1)


# ---------------------------------------------------------------------------- GANomaly
@register
class GANomaly(_GAN):
    """GANomaly: an encoder-decoder-encoder generator trained adversarially on normal data;
    the distance between the code of a sample and the code of its reconstruction is the
    anomaly score.

    Networks (Akcay et al. 2018, Sec. 3.1): ``G_E: x → z``, ``G_D: z → x̂``, ``E: x̂ → ẑ`` and a
    discriminator ``D`` with features ``f`` (its last hidden layer). Losses: ``D`` minimises
    ``½ (−log D(x) − log(1 − D(x̂)))`` (the release's); the generator minimises (Eq. 1-4)
    ``w_adv · L_adv + w_con · L_con + w_enc · L_enc`` with ``L_adv = ||f(x) − f(x̂)||²``,
    ``L_con = ||x − x̂||_1``, ``L_enc = ||z − ẑ||²``, each a mean over its elements as in the
    release, weights 1, 50, 1 (the paper's). One generator update, then one discriminator
    update per mini-batch; the discriminator is re-initialised when its loss falls below 1e-5
    (both as the release).

    Score (Eq. 8, as the release): ``A(x) = ||G_E(x) − E(G_D(G_E(x)))||²`` (squared L2 over
    the code; the paper writes the L1 norm, the release squares). The release min-max scales
    the scores of a test set; we do not, so a sample's score does not depend on the other
    samples scored with it (the ranking within one set is the same).

    Images: the paper's DCGAN networks (``backbone="auto"`` → :mod:`deepad.nets.dcgan`):
    ``G_E`` and ``E`` strided convolutions with batch normalisation and leaky ReLU 0.2 down to
    the code (a last convolution over the whole map), ``G_D`` the transposed mirror with ReLU
    and a linear output (the paper's tanh would cap inputs used as given), ``D`` the same
    encoder trunk with ``f`` its last feature map; a batch-normalised ``D`` sees real and
    reconstructed images as separate batches. :meth:`anomaly_map` is the per-pixel ``|x − x̂|``
    (summed over channels). The defaults are the rows'; images want DCGAN widths such as
    ``hidden_dims=disc_hidden_dims=(64, 128, 256)`` and the paper's ``latent_dim=100``.

    Deviations: MLP (rows) or TCN / GRU (windows) networks instead of the paper's DCGAN, no
    batch normalisation there.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64,)
        Widths of the encoders ``G_E`` and ``E`` (the decoder mirrors them). For windows the
        first width is the TCN / GRU width.
    latent_dim : int, default 16
    disc_hidden_dims : tuple of int, default (64,)
        Discriminator widths; the last hidden layer is ``f``.
    disc_dropout : float, default 0.0
    spectral_norm : bool, default False
        Spectral normalisation of the discriminator (not in the paper).
    w_adv, w_con, w_enc : float, default 1, 50, 1
        Loss weights (the paper's).
    backbone : {"auto", "mlp", "gru", "tcn", "dcgan", ...}, default "auto"
        "auto": MLPs for rows; for windows TCN encoders and discriminator, GRU decoder;
        DCGAN's networks for images.
    epochs : int, default 50
    batch_size : int, default 64
    n_batches : int or None, default 10
        Mini-batches per epoch, each epoch from a fresh permutation (None → one pass over
        the data): 500 iterations by default, whatever the number of rows.
    lr : float, default 1e-3
    beta1 : float, default 0.5
        Adam's learning rate and first moment decay for both players (β1 the paper's; lr
        chosen on the benchmark datasets, ``docs/decisions.md``).
    weight_decay, validation_size, patience, grad_clip
        See :class:`deepad.core.deep.DeepDetector`.
    contamination : float, default 0.1
    device : str or None, default None
    random_state : int or None, default None
    verbose : bool, default False

    Attributes
    ----------
    decision_scores_, threshold_, labels_, model_, history_, device_, spec_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import GANomaly
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> det = GANomaly(epochs=2, random_state=0).fit(X)
    >>> det.decision_function(X[:3]).shape
    (3,)

    References
    ----------
    Akcay, Atapour-Abarghouei & Breckon, "GANomaly: Semi-supervised anomaly detection via
    adversarial training", ACCV 2018.

    See Also
    --------
    deepad.AutoEncoder : the reconstruction error of a plain autoencoder.
    """

    name = "GANomaly"
    category = "generic_normality"
    subcategory = "gans"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence", "image")
    reference = ("Akcay, Atapour-Abarghouei & Breckon, GANomaly: Semi-supervised anomaly "
                 "detection via adversarial training, ACCV 2018")
    test_params: ClassVar[dict] = {"epochs": 10, "n_batches": 10, "hidden_dims": (16,),
                                   "latent_dim": 4, "disc_hidden_dims": (16,), "batch_size": 32}
    # images (tests/test_image_gans.py): two DCGAN layers, a code of 32, 200 iterations
    modality_test_params: ClassVar[dict] = {"image": {
        "hidden_dims": (16, 32), "disc_hidden_dims": (16, 32), "latent_dim": 32, "epochs": 20}}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_GAN._parameter_constraints,
        "w_adv": [Interval(numbers.Real, 0.0, None)],
        "w_con": [Interval(numbers.Real, 0.0, None)],
        "w_enc": [Interval(numbers.Real, 0.0, None)],
    }

    reinit_below: ClassVar[float] = 1e-5  # discriminator loss that triggers re-initialisation

    def __init__(self, hidden_dims=(64,), latent_dim=16, disc_hidden_dims=(64,),
                 disc_dropout=0.0, spectral_norm=False, w_adv=1.0, w_con=50.0, w_enc=1.0,
                 backbone="auto", epochs=50, batch_size=64, n_batches=10, lr=1e-3,
                 beta1=0.5, weight_decay=0.0, validation_size=0.0, patience=None,
                 grad_clip=None, contamination=0.1, device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.disc_hidden_dims = disc_hidden_dims
        self.disc_dropout = disc_dropout
        self.spectral_norm = spectral_norm
        self.w_adv = w_adv
        self.w_con = w_con
        self.w_enc = w_enc
        self.backbone = backbone
        self.epochs = epochs
        self.batch_size = batch_size
        self.n_batches = n_batches
        self.lr = lr
        self.beta1 = beta1
        self.weight_decay = weight_decay
        self.validation_size = validation_size
        self.patience = patience
        self.grad_clip = grad_clip
        self.contamination = contamination
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def build(self, spec: InputSpec) -> nn.Module:
        return GANomalyNet(self._encoder(spec), self._decoder(spec), self._encoder(spec),
                           self._discriminator(spec))

    def _generator_loss(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The generator's loss per sample, and ``x̂``."""
        net = self.model_
        x_hat, z, z_hat = net(x)
        (_, f_x), (_, f_hat) = real_and_fake(net.discriminator, x, x_hat)
        loss = ganomaly_generator_loss(x, x_hat, z, z_hat, f_x.detach(), f_hat,
                                       self.w_adv, self.w_con, self.w_enc)
        return loss, x_hat

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        opt_d, opt_g = optimizers
        discriminator, generator = self._players
        requires_grad(discriminator, False)
        loss_g, x_hat = self._generator_loss(batch.x)
        loss_g = loss_g.mean()
        self._step(opt_g, loss_g, generator)
        requires_grad(discriminator, True)
        # the discriminator sees the reconstructions made before the generator's update
        (real_logit, _), (fake_logit, _) = real_and_fake(discriminator, batch.x, x_hat.detach())
        loss_d = 0.5 * gan_discriminator_loss(real_logit, fake_logit).mean()
        self._step(opt_d, loss_d, discriminator)
        if float(loss_d.detach()) < self.reinit_below:
            fresh = self._discriminator(self.spec_).to(self.device_)
            discriminator.load_state_dict(fresh.state_dict())
        return {"loss": loss_g.detach(), "loss_d": loss_d.detach()}

    def loss(self, batch: Batch) -> torch.Tensor:
        return self._generator_loss(batch.x)[0]

    def score(self, batch: Batch) -> torch.Tensor:
        net = self.model_
        z = net.encoder(batch.x)
        return (z - net.reencoder(net.decoder(z))).pow(2).sum(dim=1)

    def anomaly_map_batch(self, x: torch.Tensor) -> torch.Tensor:
        """The per-pixel contextual error ``Σ_c |x − x̂|`` (the paper's ``L_con`` per pixel,
        Akcay et al. 2018, Eq. 2; ``x̂ = G_D(G_E(x))``): where the reconstruction fails. The
        score itself is measured between the codes, so the map does not add up to it."""
        net = self.model_
        return (x - net.decoder(net.encoder(x))).abs().sum(dim=1)
