"""Out-of-distribution detection on a classifier: MSP, ODIN, energy, Mahalanobis, deep k-NN.

Each is a post-hoc score on a classifier of the in-distribution classes
(:class:`~deepad.detectors.related.classifier.ClassifierDetector`): ``fit(X, y)`` with the
integer classes of in-distribution data trains one (or takes ``classifier=``), and
``decision_function`` is higher for inputs more likely out of distribution. One classifier can
serve them all: ``Energy(classifier=MSP().fit(X, y).classifier_).fit(X, y)``.

Hyperparameters that the papers tune on out-of-distribution data (ODIN's temperature and ε,
Mahalanobis' ε and layer weights) are never tuned on OOD data here: they are fixed defaults,
or, with ``epsilon="auto"``, chosen on in-distribution data only (the ε of :data:`EPSILONS`
that most raises the training data's confidence, the criterion of Hsu et al., "Generalized
ODIN", CVPR 2020, Sec. 3.3).
"""

from __future__ import annotations

import numbers
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from deepad.core.chunks import element_rows
from deepad.core.params import NONE, Interval, Options
from deepad.core.registry import register
from deepad.core.saved_state import read_field
from deepad.detectors.related.classifier import CLASSIFIER_DEFAULTS as D
from deepad.detectors.related.classifier import (
    CLASSIFIER_TEST_PARAMS,
    ClassifierDetector,
    input_gradient,
)

EPSILONS = (0.0, 0.0005, 0.001, 0.0014, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
"""The perturbation sizes ``epsilon="auto"`` chooses from: Lee et al.'s list (2018, Sec. 3)
and ODIN's 0.0014, extended to 0.1 for inputs in [0, 1] that are not standardised."""
AUTO_ROWS = 1000
"""Training samples (a seeded subsample) on which ``epsilon="auto"`` compares the sizes."""

_EPSILON = [Interval(numbers.Real, 0.0, None), Options(("auto",))]


class _EpsilonChoice:
    """``epsilon="auto"``: the ε of :data:`EPSILONS` that maximises the mean confidence of a
    subsample of the training data (``confidence(x, eps)``, higher = more in-distribution)."""

    @staticmethod
    def choose(detector: ClassifierDetector, X: torch.Tensor, confidence) -> float:
        if detector.epsilon != "auto":
            return float(detector.epsilon)
        if not detector.epsilon_on_clean:  # chosen later, on other data (no perturbation now)
            return 0.0
        generator = torch.Generator().manual_seed(int(detector.seed_ or 0))
        rows = torch.randperm(len(X), generator=generator)[:AUTO_ROWS].to(X.device)
        sample = X[rows]
        means = []
        for eps in EPSILONS:
            detector.epsilon_ = eps
            rows = detector.score_rows(sample.shape)
            values = torch.cat([confidence(sample[s:s + rows])
                                for s in range(0, len(sample), rows)])
            means.append(float(values.double().mean()))
        detector.epsilon_means_ = dict(zip(EPSILONS, means, strict=True))
        return EPSILONS[int(np.argmax(means))]


class _LayerNames:
    def is_satisfied_by(self, value: Any) -> bool:
        return isinstance(value, list | tuple) and len(value) > 0 and all(
            isinstance(v, str) and v for v in value) and len(set(value)) == len(value)

    def __str__(self) -> str:
        return "None or a non-empty tuple of distinct module names"


@register
class MSP(ClassifierDetector):
    """Maximum softmax probability (Hendrycks & Gimpel, ICLR 2017): the out-of-distribution
    score is ``−max_c softmax(f(x))_c``, the negated confidence of the predicted class (the
    paper's baseline, Sec. 2: in-distribution examples get higher maximum probabilities).

    Parameters
    ----------
    classifier, feature_layer, hidden_dims, feature_dim, activation, backbone, epochs,
    batch_size, lr, weight_decay, validation_size, patience, grad_clip, contamination, device,
    random_state, verbose, batch_norm
        See :class:`~deepad.detectors.related.classifier.ClassifierDetector` (MSP reads no
        features).

    References
    ----------
    Hendrycks, D. & Gimpel, K. "A Baseline for Detecting Misclassified and Out-of-Distribution
    Examples in Neural Networks." ICLR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors.related.ood import MSP
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(-2, 1, (100, 2)), rng.normal(2, 1, (100, 2))].astype("float32")
    >>> y = np.r_[np.zeros(100, int), np.ones(100, int)]
    >>> det = MSP(epochs=5, random_state=0).fit(X, y)
    >>> det.decision_function(X[:3]).shape
    (3,)
    """

    name = "MSP"
    subcategory = "ood"
    reference = ("Hendrycks & Gimpel, A Baseline for Detecting Misclassified and "
                 "Out-of-Distribution Examples in Neural Networks, ICLR 2017")
    test_params: ClassVar[dict[str, Any]] = dict(CLASSIFIER_TEST_PARAMS)
    epsilon_on_clean: ClassVar[bool] = True
    """Whether ``epsilon="auto"`` is chosen on clean training data in ``fit`` (ODIN,
    Mahalanobis) rather than later on other data (MahalanobisAdversarial)."""

    def __init__(self, classifier=D["classifier"], feature_layer=D["feature_layer"],
                 hidden_dims=D["hidden_dims"], feature_dim=D["feature_dim"],
                 activation=D["activation"], backbone=D["backbone"], epochs=D["epochs"],
                 batch_size=D["batch_size"], lr=D["lr"], weight_decay=D["weight_decay"],
                 validation_size=D["validation_size"], patience=D["patience"],
                 grad_clip=D["grad_clip"], contamination=D["contamination"],
                 device=D["device"], random_state=D["random_state"], verbose=D["verbose"],
                 batch_norm=D["batch_norm"]):
        self.classifier = classifier
        self.feature_layer = feature_layer
        self.hidden_dims = hidden_dims
        self.feature_dim = feature_dim
        self.activation = activation
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
        self.batch_norm = batch_norm

    def ood_score(self, x: torch.Tensor) -> torch.Tensor:
        return -torch.softmax(self.logits(x), dim=1).amax(dim=1)


@register
class Energy(MSP):
    """Energy score (Liu, Wang, Owens & Li, NeurIPS 2020): the out-of-distribution score is the
    free energy of the logits, ``E(x; f) = −T · log Σ_c exp(f_c(x) / T)`` (Eq. 5; the paper
    detects with the negative energy, higher for in-distribution data, Eq. 6). The
    temperature is the paper's ``T = 1``. This is the energy score of a pre-trained
    classifier (the paper's Sec. 4.2 "fine-tuning" with an energy-bounded loss on auxiliary
    outliers is not done).

    Parameters
    ----------
    temperature : float, default 1.0
        ``T``.
    classifier, feature_layer, hidden_dims, feature_dim, activation, backbone, epochs,
    batch_size, lr, weight_decay, validation_size, patience, grad_clip, contamination, device,
    random_state, verbose, batch_norm
        See :class:`~deepad.detectors.related.classifier.ClassifierDetector`.

    References
    ----------
    Liu, W., Wang, X., Owens, J. & Li, Y. "Energy-based Out-of-distribution Detection."
    NeurIPS 2020.
    """

    name = "Energy"
    reference = ("Liu, Wang, Owens & Li, Energy-based Out-of-distribution Detection, "
                 "NeurIPS 2020")
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **MSP._parameter_constraints,
        "temperature": [Interval(numbers.Real, 0.0, None, closed="neither")]}

    def __init__(self, temperature=1.0, classifier=D["classifier"],
                 feature_layer=D["feature_layer"], hidden_dims=D["hidden_dims"],
                 feature_dim=D["feature_dim"], activation=D["activation"],
                 backbone=D["backbone"], epochs=D["epochs"], batch_size=D["batch_size"],
                 lr=D["lr"], weight_decay=D["weight_decay"],
                 validation_size=D["validation_size"], patience=D["patience"],
                 grad_clip=D["grad_clip"], contamination=D["contamination"],
                 device=D["device"], random_state=D["random_state"], verbose=D["verbose"],
                 batch_norm=D["batch_norm"]):
        super().__init__(classifier, feature_layer, hidden_dims, feature_dim, activation,
                         backbone, epochs, batch_size, lr, weight_decay, validation_size,
                         patience, grad_clip, contamination, device, random_state, verbose,
                         batch_norm)
        self.temperature = temperature

    def ood_score(self, x: torch.Tensor) -> torch.Tensor:
        t = self.temperature
        return -t * torch.logsumexp(self.logits(x).double() / t, dim=1)


@register
class ODIN(MSP):
    """ODIN (Liang, Li & Srikant, ICLR 2018): the maximum softmax probability with temperature
    scaling, ``S_c(x; T) = exp(f_c(x)/T) / Σ_j exp(f_j(x)/T)`` (Eq. 1), of an input perturbed
    towards higher confidence, ``x̃ = x − ε · sign(−∇_x log S_ŷ(x; T))`` (Eq. 2, ŷ the
    predicted class). The out-of-distribution score is ``−max_c S_c(x̃; T)``.

    The paper tunes T and ε on 1,000 out-of-distribution validation images; here they are the
    paper's values for its networks, T = 1000 and ε = 0.0014 (Sec. 4), fixed, or
    ``epsilon="auto"``: the ε of :data:`EPSILONS` maximising the mean ``max_c S_c(x̃; T)`` of
    (up to 1,000) training samples (an in-distribution criterion, Hsu et al. 2020). The
    perturbation is in the units of ``X`` (the authors' code divides the gradient sign by the
    per-channel standard deviation of their normalisation; inputs here are not normalised).

    Parameters
    ----------
    temperature : float, default 1000.0
    epsilon : float or "auto", default 0.0014
    classifier, feature_layer, hidden_dims, feature_dim, activation, backbone, epochs,
    batch_size, lr, weight_decay, validation_size, patience, grad_clip, contamination, device,
    random_state, verbose, batch_norm
        See :class:`~deepad.detectors.related.classifier.ClassifierDetector`.

    Attributes
    ----------
    epsilon_ : float
        The perturbation size used.

    References
    ----------
    Liang, S., Li, Y. & Srikant, R. "Enhancing The Reliability of Out-of-distribution Image
    Detection in Neural Networks." ICLR 2018.
    """

    name = "ODIN"
    reference = ("Liang, Li & Srikant, Enhancing The Reliability of Out-of-distribution Image "
                 "Detection in Neural Networks, ICLR 2018")
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **MSP._parameter_constraints,
        "temperature": [Interval(numbers.Real, 0.0, None, closed="neither")],
        "epsilon": _EPSILON}

    def __init__(self, temperature=1000.0, epsilon=0.0014, classifier=D["classifier"],
                 feature_layer=D["feature_layer"], hidden_dims=D["hidden_dims"],
                 feature_dim=D["feature_dim"], activation=D["activation"],
                 backbone=D["backbone"], epochs=D["epochs"], batch_size=D["batch_size"],
                 lr=D["lr"], weight_decay=D["weight_decay"],
                 validation_size=D["validation_size"], patience=D["patience"],
                 grad_clip=D["grad_clip"], contamination=D["contamination"],
                 device=D["device"], random_state=D["random_state"], verbose=D["verbose"],
                 batch_norm=D["batch_norm"]):
        super().__init__(classifier, feature_layer, hidden_dims, feature_dim, activation,
                         backbone, epochs, batch_size, lr, weight_decay, validation_size,
                         patience, grad_clip, contamination, device, random_state, verbose,
                         batch_norm)
        self.temperature = temperature
        self.epsilon = epsilon

    def fit_statistics(self, X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        self.epsilon_ = _EpsilonChoice.choose(self, X, lambda x: -self.ood_score(x))
        return {}

    def ood_score(self, x: torch.Tensor) -> torch.Tensor:
        t = self.temperature
        if self.epsilon_ > 0:
            def nll(z: torch.Tensor) -> torch.Tensor:  # −log S_ŷ(z; T)
                logits = self.logits(z) / t
                return F.cross_entropy(logits, logits.argmax(dim=1), reduction="none")
            x = x - self.epsilon_ * torch.sign(input_gradient(nll, x))
        with torch.no_grad():
            return -torch.softmax(self.logits(x).double() / t, dim=1).amax(dim=1)

    def _get_state(self):
        state, tensors = super()._get_state()
        state["epsilon"] = float(self.epsilon_)
        return state, tensors

    def _set_state(self, state, tensors, device=None):
        super()._set_state(state, tensors, device=device)
        self.epsilon_ = read_field(state, "epsilon", "float", low=0.0)


@register
class Mahalanobis(MSP):
    """Mahalanobis distance to class-conditional Gaussians (Lee, Lee, Lee & Shin, NeurIPS
    2018) on the classifier's features.

    From the training features ``f(x)`` (default: the penultimate layer) of each class c, the
    class mean ``μ_c`` and one covariance shared by all classes,
    ``Σ = 1/N Σ_c Σ_{i: y_i = c} (f(x_i) − μ_c)(f(x_i) − μ_c)ᵀ`` (Eq. 1, "tied"). The
    confidence is ``M(x) = max_c −(f(x) − μ_c)ᵀ Σ⁻¹ (f(x) − μ_c)`` (Eq. 2), computed on the
    input pre-processed towards the closest class, ``x̂ = x + ε · sign(∇_x M(x))`` (Eq. 4);
    the out-of-distribution score is ``−M(x̂)``, the smallest squared Mahalanobis distance.
    ``Σ⁻¹`` is the pseudo-inverse (as the authors' code, through scikit-learn's
    ``EmpiricalCovariance``).

    Layer ensemble (``layers``): the paper computes ``M`` at several layers (feature maps
    averaged over their spatial positions) and combines them with logistic-regression weights
    fitted on validation samples (Sec. 2.1, Alg. 1). Here, without OOD validation data, each
    layer's score is standardised by the mean and standard deviation of its training scores
    and the standardised scores are averaged (equal weights): a deviation from the paper.
    ε is fixed (default 0.0014) or ``"auto"``: the ε of :data:`EPSILONS` maximising the mean
    ``M(x̂)`` of (up to 1,000) training samples, averaged over the layers (an
    in-distribution criterion, Hsu et al. 2020; the paper tunes ε on OOD validation data).
    Inputs are perturbed in the units of ``X``.

    Parameters
    ----------
    epsilon : float or "auto", default 0.0014
    layers : tuple of str or None, default None
        Module names whose outputs are ensembled; None → ``feature_layer`` only.
    classifier, feature_layer, hidden_dims, feature_dim, activation, backbone, epochs,
    batch_size, lr, weight_decay, validation_size, patience, grad_clip, contamination, device,
    random_state, verbose, batch_norm
        See :class:`~deepad.detectors.related.classifier.ClassifierDetector`.

    References
    ----------
    Lee, K., Lee, K., Lee, H. & Shin, J. "A Simple Unified Framework for Detecting
    Out-of-Distribution Samples and Adversarial Attacks." NeurIPS 2018.
    """

    name = "Mahalanobis"
    reference = ("Lee, Lee, Lee & Shin, A Simple Unified Framework for Detecting "
                 "Out-of-Distribution Samples and Adversarial Attacks, NeurIPS 2018")
    uses_features = True
    statistic_names = ("means", "precision", "score_mean", "score_std")

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **MSP._parameter_constraints, "epsilon": _EPSILON, "layers": [NONE, _LayerNames()]}

    def __init__(self, epsilon=0.0014, layers=None, classifier=D["classifier"],
                 feature_layer=D["feature_layer"], hidden_dims=D["hidden_dims"],
                 feature_dim=D["feature_dim"], activation=D["activation"],
                 backbone=D["backbone"], epochs=D["epochs"], batch_size=D["batch_size"],
                 lr=D["lr"], weight_decay=D["weight_decay"],
                 validation_size=D["validation_size"], patience=D["patience"],
                 grad_clip=D["grad_clip"], contamination=D["contamination"],
                 device=D["device"], random_state=D["random_state"], verbose=D["verbose"],
                 batch_norm=D["batch_norm"]):
        super().__init__(classifier, feature_layer, hidden_dims, feature_dim, activation,
                         backbone, epochs, batch_size, lr, weight_decay, validation_size,
                         patience, grad_clip, contamination, device, random_state, verbose,
                         batch_norm)
        self.epsilon = epsilon
        self.layers = layers

    def feature_layers(self) -> list[str | None]:
        return [self.feature_layer] if self.layers is None else list(self.layers)

    def fit_statistics(self, X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        layers = self.feature_layers()
        feats = self.features_in_chunks(X, layers)
        n_classes = self.n_classes_
        counts = torch.bincount(y, minlength=n_classes).double()
        means, precisions = [], []
        for f in feats:
            f = f.double()
            sums = torch.zeros(n_classes, f.shape[1], dtype=torch.float64, device=f.device)
            sums.index_add_(0, y, f)
            mu = sums / counts.clamp(min=1)[:, None]
            centred = f - mu[y]
            cov = centred.T @ centred / len(f)
            means.append(mu)
            precisions.append(torch.linalg.pinv(cov, hermitian=True))
        dims = [m.shape[1] for m in means]
        width = max(dims)
        # one padded tensor per statistic (layers of different widths: zero padding, which
        # adds nothing to a distance)
        self._means = torch.stack([F.pad(m, (0, width - m.shape[1])) for m in means]).float()
        self._precision = torch.stack([F.pad(p, (0, width - p.shape[1], 0, width - p.shape[0]))
                                       for p in precisions]).float()
        self._dims = dims
        self._norm = (torch.zeros(len(layers), device=X.device),
                      torch.ones(len(layers), device=X.device))
        self.epsilon_ = 0.0
        rows = self.score_rows(X.shape)
        with torch.no_grad():
            raw = torch.cat([self._layer_distances(X[s:s + rows])
                             for s in range(0, len(X), rows)]).double()
        mean, std = raw.mean(dim=0), raw.std(dim=0).clamp(min=1e-12)
        self._norm = (mean.float(), std.float())
        self.epsilon_ = _EpsilonChoice.choose(self, X, lambda x: -self.ood_score(x))
        return {"means": self._means, "precision": self._precision,
                "score_mean": self._norm[0], "score_std": self._norm[1]}

    def _set_state(self, state, tensors, device=None):
        super()._set_state(state, tensors, device=device)
        self.epsilon_ = read_field(state, "epsilon", "float", low=0.0)
        self._means = self.statistics_["means"]
        self._precision = self.statistics_["precision"]
        self._norm = (self.statistics_["score_mean"], self.statistics_["score_std"])
        self._dims = [int(d) for d in read_field(state, "feature_dims", "list")]
        n_layers = len(self.feature_layers())
        if (len(self._dims) != n_layers or self._means.shape[0] != n_layers
                or self._means.shape[1] != self.n_classes_):
            msg = (f"Mahalanobis: the saved statistics do not fit {n_layers} layer(s) and "
                   f"{self.n_classes_} classes.")
            raise ValueError(msg)

    def _get_state(self):
        state, tensors = super()._get_state()
        state["epsilon"] = float(self.epsilon_)
        state["feature_dims"] = list(self._dims)
        return state, tensors

    @staticmethod
    def _distances(f: torch.Tensor, mu: torch.Tensor, precision: torch.Tensor) -> torch.Tensor:
        """Squared Mahalanobis distances ``(n, K)`` of features ``(n, d)`` to the class means."""
        diff = f[:, None, :] - mu[None]  # (n, K, d)
        return torch.einsum("nkd,de,nke->nk", diff, precision, diff)

    def _layer_distances(self, x: torch.Tensor, grad: bool = False) -> torch.Tensor:
        """Closest-class squared distance per layer, ``(n, n_layers)``."""
        _, feats = self.features(x, self.feature_layers())
        out = []
        for i, f in enumerate(feats):
            d = self._dims[i]
            out.append(self._distances(f, self._means[i, :, :d],
                                       self._precision[i, :d, :d]).amin(dim=1))
        return torch.stack(out, dim=1)

    def ood_score(self, x: torch.Tensor) -> torch.Tensor:
        if self.epsilon_ > 0:
            # each layer's distance is perturbed towards its own closest class (Lee et al.'s
            # code pre-processes per layer); one sign step on the sum is the single-layer case
            if len(self._dims) == 1:
                step = torch.sign(input_gradient(lambda z: self._layer_distances(z)[:, 0], x))
                with torch.no_grad():
                    raw = self._layer_distances(x - self.epsilon_ * step)
            else:
                columns = []
                for i in range(len(self._dims)):
                    step = torch.sign(input_gradient(
                        lambda z, i=i: self._layer_distances(z)[:, i], x))
                    with torch.no_grad():
                        columns.append(self._layer_distances(x - self.epsilon_ * step)[:, i])
                raw = torch.stack(columns, dim=1)
        else:
            with torch.inference_mode():  # a forward pass only
                raw = self._layer_distances(x)
        if raw.shape[1] == 1:
            return raw[:, 0].double()
        mean, std = self._norm
        return ((raw - mean) / std).mean(dim=1).double()


@register
class DeepKNN(MSP):
    """Deep nearest neighbours (Sun, Ming, Zhu & Li, ICML 2022): the distance from an input's
    normalised features ``z = f(x) / ‖f(x)‖`` to its k-th nearest neighbour among the
    normalised features of the training data (Sec. 3, Eq. 1-2; the paper thresholds the
    negated distance). pytorch-ood names it ``KNN``; deepad's ``KNN`` is the shallow baseline
    on raw features.

    ``n_neighbors`` defaults to the paper's k = 50 for CIFAR-10 (Sec. 4.1; k = 1000 for
    ImageNet). The training data's own scores count each sample among its neighbours (at
    distance 0), as every later input is scored against all of them.

    Parameters
    ----------
    n_neighbors : int, default 50
        k; at most the number of training samples.
    classifier, feature_layer, hidden_dims, feature_dim, activation, backbone, epochs,
    batch_size, lr, weight_decay, validation_size, patience, grad_clip, contamination, device,
    random_state, verbose, batch_norm
        See :class:`~deepad.detectors.related.classifier.ClassifierDetector`.

    References
    ----------
    Sun, Y., Ming, Y., Zhu, X. & Li, Y. "Out-of-Distribution Detection with Deep Nearest
    Neighbors." ICML 2022.
    """

    name = "DeepKNN"
    reference = ("Sun, Ming, Zhu & Li, Out-of-Distribution Detection with Deep Nearest "
                 "Neighbors, ICML 2022")
    uses_features = True
    statistic_names = ("bank",)
    test_params: ClassVar[dict[str, Any]] = {**CLASSIFIER_TEST_PARAMS, "n_neighbors": 10}
    _parameter_constraints: ClassVar[dict[str, list]] = {
        **MSP._parameter_constraints, "n_neighbors": [Interval(numbers.Integral, 1, None)]}

    def __init__(self, n_neighbors=50, classifier=D["classifier"],
                 feature_layer=D["feature_layer"], hidden_dims=D["hidden_dims"],
                 feature_dim=D["feature_dim"], activation=D["activation"],
                 backbone=D["backbone"], epochs=D["epochs"], batch_size=D["batch_size"],
                 lr=D["lr"], weight_decay=D["weight_decay"],
                 validation_size=D["validation_size"], patience=D["patience"],
                 grad_clip=D["grad_clip"], contamination=D["contamination"],
                 device=D["device"], random_state=D["random_state"], verbose=D["verbose"],
                 batch_norm=D["batch_norm"]):
        super().__init__(classifier, feature_layer, hidden_dims, feature_dim, activation,
                         backbone, epochs, batch_size, lr, weight_decay, validation_size,
                         patience, grad_clip, contamination, device, random_state, verbose,
                         batch_norm)
        self.n_neighbors = n_neighbors

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        if self.n_neighbors > len(X):
            msg = (f"n_neighbors={self.n_neighbors} exceeds the {len(X)} training samples; "
                   "lower it or pass more data.")
            raise ValueError(msg)
        super()._fit(X, y)

    def score_rows(self, shape) -> int:
        # the similarities to the bank, (rows, n_bank), bound the pass
        bank = getattr(self, "statistics_", {}).get("bank")
        rows = super().score_rows(shape)
        return rows if bank is None else min(rows, element_rows(len(bank)))

    def fit_statistics(self, X: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
        (f,) = self.features_in_chunks(X)
        return {"bank": F.normalize(f, dim=1)}

    @torch.no_grad()
    def ood_score(self, x: torch.Tensor) -> torch.Tensor:
        _, (f,) = self.features(x)
        z = F.normalize(f, dim=1)
        bank = self.statistics_["bank"]
        k = min(self.n_neighbors, len(bank))
        # ‖z − b‖² = 2 − 2 z·b for unit vectors: the k-th largest similarity is the k-th
        # nearest neighbour
        similarity = torch.topk(z @ bank.T, k, dim=1).values[:, -1]
        return (2.0 - 2.0 * similarity.double()).clamp(min=0.0).sqrt()
