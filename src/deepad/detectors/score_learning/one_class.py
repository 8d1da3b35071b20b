"""End-to-end one-class classification: a discriminator, trained adversarially against a
generator on (mostly) normal data, is itself the one-class classifier, and its output is the
anomaly score (Pang et al. 2021 survey, Sec. 6.4).

Two methods of the taxonomy's leaf:

- :class:`ALOCC` (Sabokrou et al., CVPR 2018): a denoising reconstructor ``R`` and a
  discriminator ``D``; ``R`` learns to map samples, noisy ones included, to samples ``D``
  takes for normal, and ``D`` scores a test sample through ``R``: ``1 − D(R(x))``.
- :class:`OCAN` (Zheng et al., AAAI 2019): a complementary GAN whose generator places "bad"
  samples in the low-density regions around the normal data's representation, so that the
  discriminator learns the boundary of normality: ``1 − D(x)``.

Both follow the pattern of :mod:`deepad.detectors.generic_normality.gans`: one ``nn.Module``
holding both players, one Adam per player (``configure_optimizers``), a ``training_step``
that updates the discriminator and then the other player, and the library's
:class:`~deepad.core.trainer.Trainer` as the loop. Training length is ``epochs × n_batches``
mini-batches. The logged ``loss`` is the generator's (reconstructor's) objective, ``loss_d``
the discriminator's. Scores are computed from the discriminator's logit ``l`` as
``1 − σ(l) = σ(−l)`` in float64, so confident predictions do not round to ties.

The losses are module-level functions, per sample where the method allows, checked by hand
in ``tests/test_score_one_class.py``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from deepad.core.adversarial import AdversarialDetector
from deepad.core.chunks import forward_in_chunks
from deepad.core.params import Interval, Options, PositiveInts
from deepad.core.pretrain import pretrain_autoencoder
from deepad.core.registry import register
from deepad.core.saved_state import read_field, read_history
from deepad.core.trainer import Batch
from deepad.data.spec import InputSpec
from deepad.nets import StepConv, build_backbone, build_decoder
from deepad.nets.adversarial import (
    Discriminator,
    gan_discriminator_loss,
    gan_generator_loss,
    real_and_fake,
    requires_grad,
    set_leak,
)
from deepad.nets.mlp import MLP

LEAK = 0.2  # negative slope of the discriminators' (and encoders') leaky ReLU
DCGAN = {"image": "dcgan"}  # backbone="auto" on images: DCGAN-style strided CNNs
MAX_DENSITY_REFERENCE = 1024  # training codes the density estimate of OCAN is built on


# ---------------------------------------------------------------------------- losses
def alocc_reconstructor_loss(fake_logit: torch.Tensor, target: torch.Tensor,
                             x_rec: torch.Tensor, rec_weight: float = 0.4) -> torch.Tensor:
    """ALOCC's reconstructor loss per sample (Sabokrou et al. 2018, Eq. 3-5):
    ``−log D(R(x̃)) + λ · ||target − R(x̃)||²``, the adversarial term non-saturating (as the
    authors' release) and from the logit of ``D(R(x̃))``, the squared norm summed over the
    elements of a sample (features and time steps), ``λ = rec_weight``."""
    residual = (target - x_rec).pow(2).flatten(1).sum(dim=1)
    return gan_generator_loss(fake_logit) + rec_weight * residual


def binary_entropy(logit: torch.Tensor) -> torch.Tensor:
    """Per-sample entropy ``−p log p − (1 − p) log(1 − p)`` of ``p = σ(logit)``, stable for
    any logit: ``p · softplus(−l) + (1 − p) · softplus(l)``."""
    p = torch.sigmoid(logit)
    return p * F.softplus(-logit) + (1.0 - p) * F.softplus(logit)


def ocan_discriminator_loss(real_logit: torch.Tensor, fake_logit: torch.Tensor,
                            entropy_weight: float = 1.85) -> torch.Tensor:
    """OCAN's discriminator loss per sample (Zheng et al. 2019, Eq. 7), from logits:
    ``−log D(x) − log(1 − D(x̃)) + w · H(D(x))``, ``D`` the probability of the benign class,
    ``H`` the binary entropy (the conditional-entropy term that makes ``D`` confident on
    benign data) and ``w = entropy_weight`` (1.85 in the authors' release)."""
    return gan_discriminator_loss(real_logit, fake_logit) + entropy_weight * binary_entropy(
        real_logit)


def pull_away_term(features: torch.Tensor) -> torch.Tensor:
    """The pull-away term (Zhao, Mathieu & LeCun, ICLR 2017, Eq. 7) of a batch of features:
    ``1 / (N (N − 1)) Σ_i Σ_{j≠i} (f_iᵀ f_j / (||f_i|| ||f_j||))²``, the mean squared cosine
    similarity of distinct pairs; OCAN's surrogate for ``−H(p_G)`` (Zheng et al. 2019,
    Eq. 6). 0 for fewer than two samples; a zero feature vector counts as orthogonal."""
    n = len(features)
    if n < 2:
        return features.sum() * 0.0
    unit = F.normalize(features, dim=1, eps=1e-8)
    gram = (unit @ unit.T).pow(2)
    return (gram.sum() - gram.diagonal().sum()) / (n * (n - 1))


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """``||E f(x) − E f(x̃)||²`` over a batch (Salimans et al. 2016; Zheng et al. 2019, Eq. 6)."""
    return (real_features.mean(dim=0) - fake_features.mean(dim=0)).pow(2).sum()


def low_density_penalty(log_density: torch.Tensor, log_threshold: float) -> torch.Tensor:
    """Per-sample ``max(0, log p(x̃) − log ε)``: OCAN's ``log p(x̃) · 1[p(x̃) > ε]`` (Zheng et
    al. 2019, Eq. 6) shifted by ``log ε`` where it is active, so it is 0 in low-density
    regions and never negative; its gradient is the paper's term's."""
    return torch.clamp(log_density - log_threshold, min=0.0)


def _squared_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``||a_i − b_j||²`` of shape (len(a), len(b)); differentiable everywhere (``cdist``'s
    gradient is not defined at distance 0)."""
    sq = a.pow(2).sum(dim=1, keepdim=True) + b.pow(2).sum(dim=1) - 2.0 * a @ b.T
    return sq.clamp_min(0.0)


def kde_log_density(x: torch.Tensor, reference: torch.Tensor, bandwidth: float,
                    leave_one_out: bool = False) -> torch.Tensor:
    """Log density of each row of ``x`` under a Gaussian kernel density estimate on the rows of
    ``reference`` with bandwidth ``h``:
    ``log (1/n Σ_j N(x; r_j, h² I))``. ``leave_one_out`` (``x`` is ``reference``) leaves each
    row's own kernel out."""
    k = x.shape[1]
    logits = -_squared_distances(x, reference) / (2.0 * bandwidth**2)
    n = reference.shape[0]
    if leave_one_out:
        logits = logits.masked_fill(torch.eye(n, dtype=torch.bool, device=x.device), -math.inf)
        n -= 1
    return (torch.logsumexp(logits, dim=1) - math.log(n)
            - 0.5 * k * math.log(2.0 * math.pi * bandwidth**2))


# ---------------------------------------------------------------------------- networks
class ALOCCNet(nn.Module):
    """Reconstructor ``R = decoder ∘ encoder`` and a discriminator ``x → (logit, f(x))``."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module,
                 discriminator: Discriminator) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.discriminator = discriminator

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def players(self) -> tuple[nn.Module, nn.Module]:
        """``(discriminator, reconstructor)``."""
        return self.discriminator, nn.ModuleList([self.encoder, self.decoder])


class OCANNet(nn.Module):
    """The representation ``r(x) = (encoder(x) − shift) / scale`` (identity encoder for
    ``representation="input"``; ``shift`` and ``scale``, the training minimum and range, are
    buffers), a generator ``z → r`` and a discriminator ``r → (logit, f(r))``."""

    def __init__(self, encoder: nn.Module, generator: nn.Module, discriminator: Discriminator,
                 rep_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.generator = generator
        self.discriminator = discriminator
        self.register_buffer("shift", torch.zeros(rep_dim))
        self.register_buffer("scale", torch.ones(rep_dim))

    def represent(self, x: torch.Tensor) -> torch.Tensor:
        return (self.encoder(x) - self.shift) / self.scale

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """``x̃ = 1/2 + tanh(G(z))``, in ``(−1/2, 3/2)^k``."""
        return 0.5 + torch.tanh(self.generator(z))

    def players(self) -> tuple[nn.Module, nn.Module]:
        """``(discriminator, generator)``; the encoder is trained before, not by the game."""
        return self.discriminator, self.generator


# ---------------------------------------------------------------------------- shared base
class _AdversarialOneClass(AdversarialDetector):
    """Unregistered base: the two-player training of
    :class:`~deepad.core.adversarial.AdversarialDetector` (one Adam per player, ``n_batches``
    mini-batches per epoch), scores ``σ(−logit)`` in float64."""

    def _discriminator(self, features: nn.Module) -> Discriminator:
        return Discriminator(set_leak(features, LEAK), dropout=self.disc_dropout,
                             spectral=self.spectral_norm)

    @staticmethod
    def _anomaly_probability(logit: torch.Tensor) -> torch.Tensor:
        """``1 − D = σ(−logit)`` in float64."""
        return torch.sigmoid(-logit.double())


# ---------------------------------------------------------------------------- ALOCC
@register
class ALOCC(_AdversarialOneClass):
    """ALOCC (Adversarially Learned One-Class Classifier): a denoising reconstructor and a
    discriminator trained against each other on normal data; the discriminator, looking at the
    reconstruction of a sample, is the one-class classifier.

    Networks (Sabokrou et al. 2018, Sec. 3): the reconstructor ``R`` is an encoder-decoder (the
    modality's backbone to a ``latent_dim`` code, and its decoder); the discriminator ``D``
    the modality's backbone with a linear logit. Training (Eq. 3-5), on each mini-batch
    ``x``, with ``x̃ = x + η``, ``η ~ N(0, σ² I)`` drawn afresh from the fit's generator:

    - ``D`` minimises ``−log D(x) − log(1 − D(R(x̃)))``;
    - ``R`` minimises ``−log D(R(x̃)) + λ · ||t − R(x̃)||²`` (non-saturating, as the release;
      the squared norm summed over the elements of a sample), ``λ = rec_weight``, with the
      target ``t = x̃`` (``rec_target="noisy"``, the release's refinement loss) or ``t = x``
      (``"clean"``, the paper's Eq. 4).

    ``D`` is updated once, then ``R`` ``r_steps`` times on the same ``x̃`` (the release
    updates ``R`` twice "to make sure that d_loss does not go to zero (different from
    paper)"; the paper alternates one and one).

    Score (Sec. 3.3): ``D(R(x))`` is the paper's normality score (``x`` not noised); the
    anomaly score is ``1 − D(R(x))``.

    Why the noisy target: a reconstructor trained to return the clean ``x`` is a denoiser
    that projects any input, anomalies included, onto the normal data, where ``D`` (at its
    equilibrium, 1/2 on the data) cannot tell them apart; on planted rows this ranked the
    anomalies at the bottom. Reproducing its noisy input, ``R`` stays close to the identity,
    the fakes ``R(x̃)`` form a halo of width about ``σ`` around the data, and ``D`` learns
    the boundary between the data and the halo, which ranks planted rows well. The width of
    that halo matters: on four benchmark sets ``σ = 0.05`` ranked the anomalies below the
    normal rows, and 0.3 ranked them better than 0.155, the release's (measured:
    ``docs/decisions.md``). Rows are expected scaled to about [0, 1].

    Windows: the paper's ``R`` is fully convolutional, its bottleneck a feature map with the
    image's layout. The window analogue (``reconstructor="steps"``, the default there) is a
    pair of :class:`~deepad.nets.StepConv` stacks, non-causal dilated convolutions that keep
    the window's length, with a ``latent_dim``-wide code per step: like the MLP on rows it can
    stay close to the identity, so the fakes form the same halo around the data and spikes
    or level shifts reach ``D`` intact. A code *vector* with a GRU decoder
    (``reconstructor="vector"``, the backbone's encoder and decoder) smooths spikes away and
    cannot reproduce the noise, so ``D(R(x))`` saw normal-looking reconstructions of
    anomalies: planted windows (three data seeds, defaults) 0.89 / 0.98 / 0.84 against
    1.00 / 1.00 / 0.998 with per-step codes and ``σ = 0.3``
    (``docs/results/one_class_windows.md``, ``docs/decisions.md``). ``instance_noise`` adds
    ``N(0, s² I)`` to every input of ``D`` during training, real and reconstructed alike
    (instance noise, Sønderby et al., ICLR 2017); "auto" is 0 for rows and ``σ`` for
    windows.

    Defaults: ``λ = 0.4`` (the paper), ``r_steps = 2`` and batch 128 (the release), ``σ``
    (above), Adam's lr 1e-3 with β1 = 0.5 and 300 iterations (planted rows reach 1.00 for
    six seeds out of six; the benchmark datasets, ``docs/decisions.md``).

    Images: the paper's networks (Sec. 3.1): ``R`` a strided convolutional encoder to a
    ``latent_dim`` code and its transposed-convolution decoder, ``D`` a strided CNN, both
    with batch normalisation and leaky ReLU (``backbone="auto"`` → :mod:`deepad.nets.dcgan`;
    the decoder's output is linear, the paper's tanh would cap inputs used as given); a
    batch-normalised ``D`` sees real and reconstructed images as separate batches; instance
    noise as on windows (without it the planted test images ranked below 0.8 on seed 0).
    The paper's ``R`` keeps a feature map as its bottleneck; here it is a
    code vector, so a wide code (``latent_dim=32`` or more on small images) keeps ``R``
    close enough to the identity for the halo above. The defaults are the rows'.

    Deviations: MLP (rows) or per-step convolutions without down-sampling and a TCN
    discriminator (windows) instead of the paper's strided convolutional networks on image
    patches, no batch normalisation there; Adam (β1 = 0.5) instead of the release's RMSprop
    (lr 2e-3); a squared error instead of the release's cross-entropy refinement term
    (weight 0.2); ``σ = 0.3`` instead of the release's 0.155; noise drawn per mini-batch, not
    once per data set; instance noise on windows; a fixed number of iterations instead of
    training until the reconstruction error falls below a bound.

    Parameters
    ----------
    hidden_dims : tuple of int, default (64,)
        Encoder widths (the decoder mirrors them). For windows the first width is the
        TCN / GRU width.
    latent_dim : int, default 16
        Width of ``R``'s bottleneck. On rows a bottleneck narrower than the features keeps
        ``R`` from the identity, and the ranking then varies from seed to seed (planted rows,
        8 features, ``latent_dim=4``).
    disc_hidden_dims : tuple of int, default (64,)
        Discriminator widths.
    disc_dropout : float, default 0.0
        Dropout before the discriminator's logit.
    spectral_norm : bool, default False
        Spectral normalisation of the discriminator (not in the paper).
    noise_std : "auto" or float, default "auto"
        ``σ`` of the Gaussian noise added to ``R``'s training input; "auto": 0.3, but 0.155
        (the release's) for the code-vector reconstructor on windows, where it was better.
    rec_weight : float, default 0.4
        ``λ`` (the paper's).
    rec_target : {"noisy", "clean"}, default "noisy"
        What ``R(x̃)`` is compared with: ``x̃`` (the release) or ``x`` (the paper).
    instance_noise : "auto" or float, default "auto"
        Standard deviation of the noise added to the discriminator's inputs in training;
        "auto": 0 for rows, ``noise_std`` for windows and images.
    r_steps : int, default 2
        Reconstructor updates per discriminator update (the release's).
    reconstructor : {"auto", "vector", "steps"}, default "auto"
        ``R``'s form: "vector", the backbone's encoder to a ``latent_dim`` code and its
        decoder; "steps" (windows only), :class:`~deepad.nets.StepConv` encoder and decoder
        with a ``latent_dim`` code per step, of width ``hidden_dims[0]``. "auto": "vector"
        for rows and images, "steps" for windows.
    backbone : {"auto", "mlp", "gru", "tcn"}, default "auto"
        "auto": MLPs for rows; for windows a TCN discriminator (and, with the "vector"
        reconstructor, TCN encoder and GRU decoder).
    epochs : int, default 30
    batch_size : int, default 128
        The release's.
    n_batches : int or None, default 10
        Mini-batches per epoch (None → one pass over the data): 300 iterations by default.
    lr : float, default 1e-3
    beta1 : float, default 0.5
        Adam's learning rate and first moment decay for both players.
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
    >>> from deepad.detectors import ALOCC
    >>> X = np.random.default_rng(0).random((200, 5))
    >>> det = ALOCC(epochs=2, random_state=0).fit(X)
    >>> det.decision_function(X[:3]).shape
    (3,)

    References
    ----------
    Sabokrou, Khalooei, Fathy & Adeli, "Adversarially Learned One-Class Classifier for
    Novelty Detection", CVPR 2018.

    See Also
    --------
    deepad.OCAN : a complementary generator instead of a reconstructor.
    deepad.GANomaly : an adversarially trained reconstructor scored in its latent space.
    """

    name = "ALOCC"
    category = "score_learning"
    subcategory = "one_class"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence", "image")
    reference = ("Sabokrou, Khalooei, Fathy & Adeli, Adversarially Learned One-Class "
                 "Classifier for Novelty Detection, CVPR 2018")
    # D(R(x)) ranks planted windows from about 200 iterations on (docs/decisions.md)
    test_params: ClassVar[dict] = {"epochs": 30, "n_batches": 10, "hidden_dims": (16,),
                                   "latent_dim": 8, "disc_hidden_dims": (16,), "batch_size": 64,
                                   "lr": 2e-3}
    # images (tests/test_image_gans.py): two DCGAN layers, a code of 32, 200 iterations
    modality_test_params: ClassVar[dict] = {"image": {
        "hidden_dims": (16, 32), "disc_hidden_dims": (16, 32), "latent_dim": 32, "epochs": 20}}
    # models saved before ``reconstructor`` existed reconstruct through a code vector
    params_added: ClassVar[dict] = {"reconstructor": "vector"}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_AdversarialOneClass._parameter_constraints,
        "noise_std": [Options(("auto",)), Interval(numbers.Real, 0.0, None)],
        "rec_weight": [Interval(numbers.Real, 0.0, None)],
        "rec_target": [Options(("noisy", "clean"))],
        "instance_noise": [Options(("auto",)), Interval(numbers.Real, 0.0, None)],
        "r_steps": [Interval(numbers.Integral, 1, None)],
        "reconstructor": [Options(("auto", "vector", "steps"))],
    }

    def __init__(self, hidden_dims=(64,), latent_dim=16, disc_hidden_dims=(64,),
                 disc_dropout=0.0, spectral_norm=False, noise_std="auto", rec_weight=0.4,
                 rec_target="noisy", instance_noise="auto", r_steps=2, reconstructor="auto",
                 backbone="auto",
                 epochs=30, batch_size=128, n_batches=10, lr=1e-3, beta1=0.5, weight_decay=0.0,
                 validation_size=0.0, patience=None, grad_clip=None, contamination=0.1,
                 device=None, random_state=None, verbose=False):
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.disc_hidden_dims = disc_hidden_dims
        self.disc_dropout = disc_dropout
        self.spectral_norm = spectral_norm
        self.noise_std = noise_std
        self.rec_weight = rec_weight
        self.rec_target = rec_target
        self.instance_noise = instance_noise
        self.r_steps = r_steps
        self.reconstructor = reconstructor
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

    def _reconstructor(self, spec: InputSpec) -> str:
        """``reconstructor`` resolved: "auto" → "vector" for rows, "steps" for windows."""
        if self.reconstructor == "auto":
            return "steps" if spec.modality == "sequence" else "vector"
        if self.reconstructor == "steps" and spec.modality != "sequence":
            msg = ("ALOCC(reconstructor='steps') needs sequence windows (n, window, "
                   f"n_features); got {spec.modality} input. Use 'vector' or 'auto'.")
            raise ValueError(msg)
        return self.reconstructor

    def build(self, spec: InputSpec) -> nn.Module:
        hidden = tuple(self.hidden_dims)
        # images: the paper's strided convolutional R and D with batch normalisation (DCGAN's
        # networks); rows and windows keep theirs, without
        image = {"prefer": DCGAN, "batch_norm": spec.modality == "image"}
        if self._reconstructor(spec) == "steps":
            encoder = set_leak(StepConv(spec.n_features, hidden[0], self.latent_dim,
                                        activation="leaky_relu"), LEAK)
            decoder = set_leak(StepConv(self.latent_dim, hidden[0], spec.n_features,
                                        activation="leaky_relu"), LEAK)
        else:
            encoder = set_leak(build_backbone(spec, hidden_dims=hidden, out_dim=self.latent_dim,
                                              kind=self.backbone, activation="leaky_relu",
                                              **image), LEAK)
            decoder = build_decoder(spec, latent_dim=self.latent_dim, hidden_dims=hidden,
                                    kind=self.backbone, **image)
        features = build_backbone(spec, hidden_dims=tuple(self.disc_hidden_dims), out_dim=None,
                                  kind=self.backbone, activation="leaky_relu", **image)
        return ALOCCNet(encoder, decoder, self._discriminator(features))

    def _noise_std(self) -> float:
        """``noise_std`` resolved: "auto" → 0.155 (the release's) for the code-vector
        reconstructor on windows, 0.3 otherwise."""
        if self.noise_std == "auto":
            vector_on_windows = (self.spec_.modality == "sequence"
                                 and self._reconstructor(self.spec_) == "vector")
            return 0.155 if vector_on_windows else 0.3
        return self.noise_std

    def _instance_noise(self) -> float:
        """``instance_noise`` resolved: "auto" → 0 for rows, σ for windows and images."""
        if self.instance_noise == "auto":
            return 0.0 if self.spec_.modality == "tabular" else self._noise_std()
        return self.instance_noise

    def _noisy(self, x: torch.Tensor, std: float) -> torch.Tensor:
        """``x + η``, ``η ~ N(0, std² I)`` from the fit's local generator (``x`` for 0)."""
        if std == 0:
            return x
        return x + std * torch.randn(x.shape, generator=self._generator).to(x.device)

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        opt_d, opt_r = optimizers
        discriminator, reconstructor = self._players
        net = self.model_
        x = batch.x
        x_noisy = self._noisy(x, self._noise_std())
        x_rec = net.reconstruct(x_noisy)
        target = x_noisy if self.rec_target == "noisy" else x
        pair = self._noisy(torch.cat([x, x_rec.detach()]), self._instance_noise())
        (real_logit, _), (fake_logit, _) = real_and_fake(discriminator, *pair.chunk(2))
        loss_d = gan_discriminator_loss(real_logit, fake_logit).mean()
        self._step(opt_d, loss_d, discriminator)
        requires_grad(discriminator, False)
        for step in range(self.r_steps):
            if step:  # R has changed: reconstruct again
                x_rec = net.reconstruct(x_noisy)
            fake_logit = discriminator(self._noisy(x_rec, self._instance_noise()))[0]
            loss_r = alocc_reconstructor_loss(fake_logit, target, x_rec, self.rec_weight).mean()
            self._step(opt_r, loss_r, reconstructor)
        requires_grad(discriminator, True)
        return {"loss": loss_r.detach(), "loss_d": loss_d.detach()}

    def loss(self, batch: Batch) -> torch.Tensor:
        x_noisy = self._noisy(batch.x, self._noise_std())
        x_rec = self.model_.reconstruct(x_noisy)
        target = x_noisy if self.rec_target == "noisy" else batch.x
        fake_logit = self.model_.discriminator(self._noisy(x_rec, self._instance_noise()))[0]
        return alocc_reconstructor_loss(fake_logit, target, x_rec, self.rec_weight)

    def score(self, batch: Batch) -> torch.Tensor:
        net = self.model_
        return self._anomaly_probability(net.discriminator(net.reconstruct(batch.x))[0])


# ---------------------------------------------------------------------------- OCAN
@register
class OCAN(_AdversarialOneClass):
    """OCAN (One-Class Adversarial Nets): a complementary GAN on the representation of normal
    data; its discriminator, which learns to tell normal data from samples generated in the
    low-density regions around it, is the one-class classifier.

    Representation (Zheng et al. 2019, Sec. "LSTM-Autoencoder"): the original learns it from
    user sessions with an LSTM autoencoder. Here ``representation="autoencoder"`` first trains
    an autoencoder (the modality's backbone to a ``latent_dim`` code, and its decoder) for
    ``pretrain_epochs`` epochs on the mean squared reconstruction error; its encoder, then
    frozen, gives the codes ``e(x)``. ``"input"`` (rows only) takes the rows themselves, as
    the release's "raw credit card" setting. ``"auto"``: the rows for tabular data, the
    autoencoder for windows. The representation is min-max scaled with the training data,
    ``r(x) = (e(x) − min) / (max − min)`` (the release scales to [0, 1] too).

    Complementary GAN (Sec. "Complementary GAN", Eq. 6-7; Dai et al., NeurIPS 2017), on
    ``r``, with ``x̃ = 1/2 + tanh(G(z))``, ``z ~ U(−1, 1)^noise_dim`` and ``f`` the
    discriminator's last hidden layer:

    - the generator minimises ``−H(p_G) + E[log p(x̃) · 1[p(x̃) > ε]] + ||E f(x) − E f(x̃)||²``:
      the entropy by the pull-away term ``PT(f(x̃))`` (:func:`pull_away_term`); ``p``, the
      density of normal representations, by a Gaussian kernel density estimate on (up to
      1,024 of) the training representations, bandwidth Scott's factor ``n^(−1/(k+4))``
      times their mean standard deviation; ``ε`` its ``density_quantile``-quantile over
      those representations (leave-one-out), so generated samples are pushed out of the
      region of the densest ``1 − density_quantile`` of normal data. The term is written
      ``max(0, log p − log ε)`` (:func:`low_density_penalty`, the same gradient);
    - the discriminator minimises ``−log D(x) − log(1 − D(x̃)) + w · H(D(x))``
      (:func:`ocan_discriminator_loss`), ``w = entropy_weight``.

    One discriminator update, then one generator update per mini-batch (the release's
    order). Score: ``1 − D(r(x))``, the probability of the complementary class.

    The generator's range ``(−1/2, 3/2)^k`` holds the scaled training data with a margin of
    half its range on every side: generated samples can surround the data, so ``D`` learns a
    closed boundary. With an unbounded (linear) output they stayed in a thin shell near the
    data and ``D`` extrapolated beyond it, ranking planted rows worse than chance, where the
    bounded range ranks them well (measured: ``docs/decisions.md``).

    Defaults and their sources: generator ``noise_dim → 100 → k``, discriminator
    ``k → 100 → 50 → 1``, ``U(−1, 1)`` noise of dimension 50 and ``w = 1.85`` (the
    release's); batch 64 (the release: 70); Adam's β1, lr and the training length chosen on
    the benchmark datasets (``docs/decisions.md``). The autoencoder of the "autoencoder"
    representation is small (16 wide, codes of 8): on planted windows (three data seeds) it
    ranked better than a 64-wide one with codes of 16, and on four UCR series and SMAP A-1 it
    matched or beat the wider one in less fit time (measured: ``docs/decisions.md``,
    ``benchmarks/one_class_windows.py``; current results: ``docs/results/one_class_windows.md``).

    Deviations: the representation (above). The release estimates ``p`` with a network
    trained for one gradient step on benign data only and uses the probability of its other
    class, which leaves the term close to inert; a kernel density estimate (also among the
    authors' utilities, bandwidth 0.2) gives it its meaning. The feature matching is the
    paper's (on ``f``, batch means; the release matches logits sample by sample); the
    pull-away term is on the discriminator's features (the release: on its density
    network's). The generator's range has a margin on both sides (the release's tanh on
    [0, 1] data has a margin of one range below the data and none above). Adam for both
    players (the release: plain gradient descent, lr 1e-3, for the discriminator). Leaky
    ReLU (slope 0.2) in the discriminator.

    Images: not supported, because its complementary generator works on representations of
    user-activity records (rows) and the paper evaluates no images; give it image embeddings as
    rows.

    Parameters
    ----------
    representation : {"auto", "autoencoder", "input"}, default "auto"
        What the complementary GAN works on. "input" takes rows only.
    hidden_dims : tuple of int, default (16,)
        Autoencoder widths (encoder; the decoder mirrors them). For windows the first width
        is the TCN / GRU width.
    latent_dim : int, default 8
        Code width of the autoencoder.
    pretrain_epochs : int, default 20
        Autoencoder epochs (full passes over the data, batch ``batch_size``, Adam with
        ``lr``).
    noise_dim : int, default 50
    gen_hidden_dims : tuple of int, default (100,)
    disc_hidden_dims : tuple of int, default (100, 50)
        Generator and discriminator widths (ReLU generator).
    disc_dropout : float, default 0.0
    spectral_norm : bool, default False
        Spectral normalisation of the discriminator (not in the paper).
    entropy_weight : float, default 1.85
        ``w``.
    density_quantile : float in (0, 1), default 0.05
        Sets ``ε``.
    backbone : {"auto", "mlp", "gru", "tcn"}, default "auto"
    epochs : int, default 30
    batch_size : int, default 64
    n_batches : int or None, default 10
        Mini-batches per epoch of the GAN (None → one pass over the data): 300 iterations
        by default.
    lr : float, default 1e-3
    beta1 : float, default 0.5
        Adam's learning rate and first moment decay for both players (and lr for the
        autoencoder).
    weight_decay, validation_size, patience, grad_clip
        See :class:`deepad.core.deep.DeepDetector` (``patience`` and ``validation_size`` act on
        the GAN; the autoencoder trains for ``pretrain_epochs``).
    contamination : float, default 0.1
    device : str or None, default None
    random_state : int or None, default None
    verbose : bool, default False

    Attributes
    ----------
    decision_scores_, threshold_, labels_, model_, history_, device_, spec_
    pretrain_history_ : list of dict
        Per-epoch reconstruction losses of the autoencoder (empty for "input").
    bandwidth_ : float
        Bandwidth of the kernel density estimate.
    log_density_threshold_ : float
        ``log ε``.

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import OCAN
    >>> X = np.random.default_rng(0).random((200, 5))
    >>> det = OCAN(epochs=2, pretrain_epochs=2, random_state=0).fit(X)
    >>> det.decision_function(X[:3]).shape
    (3,)

    References
    ----------
    Zheng, Yuan, Wu, Li & Lu, "One-Class Adversarial Nets for Fraud Detection", AAAI 2019
    (extended in World Wide Web 22, 2019).
    Dai, Yang, Yang, Cohen & Salakhutdinov, "Good Semi-supervised Learning That Requires a
    Bad GAN", NeurIPS 2017.

    See Also
    --------
    deepad.ALOCC : a reconstructor instead of a complementary generator.
    """

    name = "OCAN"
    category = "score_learning"
    subcategory = "one_class"
    supervision = ("unsupervised",)
    modalities = ("tabular", "sequence")
    reference = ("Zheng, Yuan, Wu, Li & Lu, One-Class Adversarial Nets for Fraud Detection, "
                 "AAAI 2019")
    test_params: ClassVar[dict] = {"epochs": 30, "pretrain_epochs": 20}

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **_AdversarialOneClass._parameter_constraints,
        "representation": [Options(("auto", "autoencoder", "input"))],
        "pretrain_epochs": [Interval(numbers.Integral, 0, None)],
        "noise_dim": [Interval(numbers.Integral, 1, None)],
        "gen_hidden_dims": [PositiveInts()],
        "entropy_weight": [Interval(numbers.Real, 0.0, None)],
        "density_quantile": [Interval(numbers.Real, 0.0, 1.0, closed="neither")],
    }

    def __init__(self, representation="auto", hidden_dims=(16,), latent_dim=8,
                 pretrain_epochs=20, noise_dim=50, gen_hidden_dims=(100,),
                 disc_hidden_dims=(100, 50), disc_dropout=0.0, spectral_norm=False,
                 entropy_weight=1.85, density_quantile=0.05, backbone="auto", epochs=30,
                 batch_size=64, n_batches=10, lr=1e-3, beta1=0.5, weight_decay=0.0,
                 validation_size=0.0, patience=None, grad_clip=None, contamination=0.1,
                 device=None, random_state=None, verbose=False):
        self.representation = representation
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.pretrain_epochs = pretrain_epochs
        self.noise_dim = noise_dim
        self.gen_hidden_dims = gen_hidden_dims
        self.disc_hidden_dims = disc_hidden_dims
        self.disc_dropout = disc_dropout
        self.spectral_norm = spectral_norm
        self.entropy_weight = entropy_weight
        self.density_quantile = density_quantile
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

    # -------------------------------------------------------------- networks
    def _representation(self, spec: InputSpec) -> str:
        """``representation`` resolved: "auto" → the rows themselves, an autoencoder's code
        for windows."""
        if self.representation == "auto":
            return "input" if spec.modality == "tabular" else "autoencoder"
        if self.representation == "input" and spec.modality != "tabular":
            msg = (f"OCAN(representation='input') takes rows; for {spec.modality} data use "
                   "representation='autoencoder' or 'auto'.")
            raise ValueError(msg)
        return self.representation

    def build(self, spec: InputSpec) -> nn.Module:
        if self._representation(spec) == "input":
            encoder: nn.Module = nn.Identity()
        else:
            encoder = set_leak(build_backbone(spec, hidden_dims=tuple(self.hidden_dims),
                                              out_dim=self.latent_dim, kind=self.backbone,
                                              activation="leaky_relu"), LEAK)
        rep_dim = spec.n_features if self._representation(spec) == "input" else self.latent_dim
        generator = MLP(self.noise_dim, tuple(self.gen_hidden_dims), rep_dim)
        features = MLP(rep_dim, tuple(self.disc_hidden_dims), None, activation="leaky_relu")
        return OCANNet(encoder, generator, self._discriminator(features), rep_dim)

    # -------------------------------------------------------------- fit phases
    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self.pretrain_history_: list[dict] = []
        try:
            super()._fit(X, y)
        finally:
            for name in ("_codes", "_reference"):
                self.__dict__.pop(name, None)

    def on_train_start(self, X: torch.Tensor, y: torch.Tensor | None) -> None:
        net = self.model_
        if self._representation(self.spec_) == "autoencoder" and self.pretrain_epochs > 0:
            self._pretrain(X)
        requires_grad(net.encoder, False)
        codes = forward_in_chunks(net.encoder, X)
        with torch.no_grad():
            low, high = codes.amin(dim=0), codes.amax(dim=0)
            span = high - low
            net.shift.copy_(low)
            net.scale.copy_(torch.where(span > 1e-6, span, torch.ones_like(span)))
            self._codes = (codes - net.shift) / net.scale
            self._set_density(self._codes)

    def _pretrain(self, X: torch.Tensor) -> None:
        """The autoencoder phase (:func:`~deepad.core.pretrain.pretrain_autoencoder`, with
        Adam at ``lr`` and ``weight_decay``, neither validation split nor early stopping)."""
        decoder = build_decoder(self.spec_, latent_dim=self.latent_dim,
                                hidden_dims=tuple(self.hidden_dims), kind=self.backbone)
        self.pretrain_history_ = pretrain_autoencoder(self, self.model_.encoder, decoder, X,
                                                      epochs=self.pretrain_epochs)

    def _set_density(self, codes: torch.Tensor) -> None:
        """The kernel density estimate's reference codes, bandwidth and ``log ε``."""
        n = len(codes)
        if n > MAX_DENSITY_REFERENCE:
            pick = torch.randperm(n, generator=self._generator)[:MAX_DENSITY_REFERENCE]
            codes = codes[pick.to(codes.device)]
            n = MAX_DENSITY_REFERENCE
        self._reference = codes
        spread = float(codes.std(dim=0, correction=0).mean()) if n > 1 else 1.0
        self.bandwidth_ = max(spread, 1e-3) * float(n ** (-1.0 / (codes.shape[1] + 4)))
        log_density = kde_log_density(codes, codes, self.bandwidth_, leave_one_out=n > 1)
        self.log_density_threshold_ = float(torch.quantile(log_density.double(),
                                                           self.density_quantile))

    # -------------------------------------------------------------- training
    def _noise(self, n: int) -> torch.Tensor:
        """``n`` draws of ``U(−1, 1)^noise_dim`` from the fit's local generator."""
        z = torch.rand(n, self.noise_dim, generator=self._generator) * 2.0 - 1.0
        return z.to(self.device_)

    def _generator_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """The complementary generator's objective on a batch (a scalar)."""
        features = self.model_.discriminator(torch.cat([real, fake]))[1]
        f_real, f_fake = features.chunk(2)
        density = kde_log_density(fake, self._reference, self.bandwidth_)
        return (pull_away_term(f_fake)
                + low_density_penalty(density, self.log_density_threshold_).mean()
                + feature_matching(f_real.detach(), f_fake))

    def training_step(self, batch: Batch, optimizers: list[torch.optim.Optimizer]) -> dict:
        opt_d, opt_g = optimizers
        discriminator, generator = self._players
        real = self._codes[batch.index]
        fake = self.model_.generate(self._noise(len(real)))
        real_logit, fake_logit = discriminator(torch.cat([real, fake.detach()]))[0].chunk(2)
        loss_d = ocan_discriminator_loss(real_logit, fake_logit, self.entropy_weight).mean()
        self._step(opt_d, loss_d, discriminator)
        requires_grad(discriminator, False)
        loss_g = self._generator_loss(real, fake)
        self._step(opt_g, loss_g, generator)
        requires_grad(discriminator, True)
        return {"loss": loss_g.detach(), "loss_d": loss_d.detach()}

    def loss(self, batch: Batch) -> torch.Tensor:
        real = self._codes[batch.index]
        return self._generator_loss(real, self.model_.generate(self._noise(len(real))))

    def score(self, batch: Batch) -> torch.Tensor:
        net = self.model_
        return self._anomaly_probability(net.discriminator(net.represent(batch.x))[0])

    # -------------------------------------------------------------- persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["pretrain_history"] = [{k: float(v) for k, v in record.items()}
                                     for record in self.pretrain_history_]
        state["bandwidth"] = self.bandwidth_
        state["log_density_threshold"] = self.log_density_threshold_
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        super()._set_state(state, tensors, device)
        self.pretrain_history_ = read_history(state, "pretrain_history")
        self.bandwidth_ = read_field(state, "bandwidth", "float", default=None, nullable=True,
                                     low=0.0)
        self.log_density_threshold_ = read_field(state, "log_density_threshold", "float",
                                                 default=None, nullable=True)
