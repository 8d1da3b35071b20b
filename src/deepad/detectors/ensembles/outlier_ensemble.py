"""An outlier ensemble of registered detectors: each member is fitted on the same rows, its
scores are put on a common scale by statistics of its own training scores, and the ensemble
scores a row by averaging (or taking the maximum of) its members' normalised scores.

It follows the independent, heterogeneous ensembles of Aggarwal & Sathe ("Theoretical
foundations and algorithms for outlier ensembles", SIGKDD Explorations 2015; *Outlier
Ensembles*, Springer 2017, ch. 5: score standardisation and combination by average or
maximum) and the score normalisation that makes different detectors' scores comparable
(Kriegel et al., "Interpreting and unifying outlier scores", SDM 2011; Zimek, Campello &
Sander, "Ensembles for unsupervised outlier detection: challenges and research questions",
SIGKDD Explorations 2014: rank or standardised scores, averaged). Members are found through the
registry by name, so this module imports no other branch of the detectors.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from deepad.core.base import BaseDetector
from deepad.core.deep import DeepDetector
from deepad.core.params import Options
from deepad.core.registry import get_detector, register
from deepad.core.runtime import resolve_seed
from deepad.core.saved_state import read_field, take_tensors

COMBINATIONS = ("zscore-mean", "zscore-max", "rank-mean", "rank-max")
"""``<normalisation>-<combination>``. ``zscore``: a member's score minus the mean of its
training scores, divided by their standard deviation; ``rank``: the fraction of its training
scores below the score (ties count half), in [0, 1]. ``mean``: the average over the members;
``max``: the largest."""

DEFAULT_MEMBERS: dict[str, tuple] = {
    "tabular": ("SDOR", "AutoEncoder"),
    "image": (("AutoEncoder", {"backbone": "zscore_mlp", "epochs": 10, "lr": 3e-3,
                               "weight_decay": 0.0}), "DeepSVDD"),
}
"""``members="auto"``: the members for the input's modality. Rows: chosen on the quick suite
(below). Images: chosen on held-out Fashion-MNIST training images
(``benchmarks/image_ensemble_heldout.py``, ``docs/results/image_ensemble_heldout.md``), each
member at its image settings."""
DEFAULT_COMBINATION = "rank-mean"
"""Members and rule chosen on the quick suite only (``benchmarks/unsupervised_ensemble.py``,
``docs/results/unsupervised_ensemble.md``, ``docs/decisions.md``): the cheapest of the
combinations within 0.002 mean AUC-ROC of the best one over eight candidates, 247 member sets
and four rules."""


def normalise(train: np.ndarray, scores: np.ndarray, method: str) -> np.ndarray:
    """``scores`` of one member on the scale of its training scores ``train`` (see
    :data:`COMBINATIONS`); a member whose training scores are all equal is standardised by 1."""
    train = np.asarray(train, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if method == "zscore":
        std = float(train.std())
        return (scores - float(train.mean())) / (std if std > 0 else 1.0)
    if method == "rank":
        ordered = np.sort(train)
        below = np.searchsorted(ordered, scores, side="left")
        at_or_below = np.searchsorted(ordered, scores, side="right")
        return (below + at_or_below) / (2.0 * len(ordered))
    msg = f"unknown normalisation {method!r}; use 'zscore' or 'rank'."
    raise ValueError(msg)


def combine_scores(train: Sequence[np.ndarray], scores: Sequence[np.ndarray],
                   combination: str) -> np.ndarray:
    """The ensemble score of each row: the members' ``scores`` normalised by their training
    scores ``train`` (same order), then averaged or maximised (``combination``, one of
    :data:`COMBINATIONS`)."""
    if combination not in COMBINATIONS:
        msg = f"combination must be one of {COMBINATIONS}; got {combination!r}."
        raise ValueError(msg)
    method, rule = combination.split("-")
    stacked = np.stack([normalise(t, s, method) for t, s in zip(train, scores, strict=True)])
    return stacked.mean(axis=0) if rule == "mean" else stacked.max(axis=0)


MEMBER_MODALITIES = ("tabular", "image")
"""The inputs an ensemble takes: every member must take the one it is fitted on."""


def member_entry(entry: Any) -> tuple[str, dict[str, Any]]:
    """``(name, params)`` of one ``members`` entry: a registered name, or a ``(name, params)``
    pair whose ``params`` override the member's defaults."""
    if isinstance(entry, str):
        return entry, {}
    if (isinstance(entry, list | tuple) and len(entry) == 2 and isinstance(entry[0], str)
            and isinstance(entry[1], dict) and all(isinstance(k, str) for k in entry[1])):
        return entry[0], dict(entry[1])
    msg = (f"a members entry must be a detector name or a (name, params dict) pair; got "
           f"{entry!r}.")
    raise ValueError(msg)


def member_label(entry: Any) -> str:
    """A member as it is named in messages: ``AutoEncoder(backbone='mlp')``."""
    name, params = member_entry(entry)
    if not params:
        return name
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in sorted(params.items()))})"


class _MembersConstraint:
    """Two or more distinct entries, each the name of a registered unsupervised detector of
    tabular rows or images, or a ``(name, params)`` pair of such a name and parameters its
    constructor takes."""

    def is_satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, list | tuple) or len(value) < 2:
            return False
        try:
            entries = [member_entry(v) for v in value]
            classes = [get_detector(name) for name, _ in entries]
        except (KeyError, ValueError):
            return False
        keys = {(name.lower(), repr(sorted(params.items()))) for name, params in entries}
        if len(keys) != len(entries):
            return False
        for cls, (_, params) in zip(classes, entries, strict=True):
            if issubclass(cls, OutlierEnsemble) or "unsupervised" not in cls.supervision:
                return False
            if not set(MEMBER_MODALITIES) & set(cls.modalities):
                return False
            if not set(params) <= set(cls().get_params(deep=False)) - {"random_state"}:
                return False
        return True

    def __str__(self) -> str:
        return ("a tuple of two or more distinct entries, each the name of a registered "
                "unsupervised detector of tabular rows or images "
                "(deepad.list_detectors(supervision='unsupervised')), or a (name, params) pair "
                "of such a name and a dict of its constructor's parameters (not random_state); "
                "not OutlierEnsemble itself")


@register
class OutlierEnsemble(BaseDetector):
    """Outlier ensemble: the average of rank-normalised scores of diverse unsupervised detectors.

    Every member (a registered detector, by name, or a ``(name, params)`` pair) is fitted on
    the same rows or images at its defaults for that input (its class's, chosen on the quick
    suite for rows; on images its ``modality_defaults["image"]``), under the pair's parameters;
    the ensemble sets only their ``random_state`` and ``device``. For a row ``x``, member
    ``m`` gives the score ``s_m(x)``; with ``x_1..x_n`` the training rows, the ensemble score
    is, for the default ``"rank-mean"``,

        ``S(x) = (1/M) Σ_m F_m(s_m(x))``,
        ``F_m(s) = (#{i: s_m(x_i) < s} + #{i: s_m(x_i) ≤ s}) / (2n)``,

    the average of each member's empirical distribution function of its training scores: the
    rank normalisation that Zimek, Campello & Sander (2014) and Kriegel et al. (2011) discuss,
    then averaging (Aggarwal & Sathe 2017, ch. 5). ``"rank-max"`` takes ``max_m`` instead of
    the mean (their maximisation combination); ``"zscore-mean"`` / ``"zscore-max"`` replace
    ``F_m`` by standardisation, ``(s_m(x) − μ_m) / σ_m`` with ``μ_m``, ``σ_m`` the mean and
    standard deviation of the member's training scores. There is no loss of its own: each
    member trains on its own objective (see its docstring); the ensemble learns only the
    members' training scores (their saved ``decision_scores_``).

    The default members for rows — SDOR (self-trained ordinal regression, started from an
    isolation forest's scores) and AutoEncoder (reconstruction error) — and the rule were
    chosen on the quick suite only, among eight candidates, every member set of two or more and
    the four rules (``benchmarks/unsupervised_ensemble.py``; the numbers are in
    ``docs/results/unsupervised_ensemble.md`` and ``docs/decisions.md``). Deviations from the
    papers: no subsampling or feature bagging of the members (each is fitted once, on all
    rows), and a member's test scores are normalised by its training scores (the papers
    normalise the scores of the data being scored), so a new row is scored on its own.
    The default members for images — AutoEncoder on z-scored flattened pixels (``backbone=
    "zscore_mlp"``, 10 epochs at lr 3e-3 without weight decay) and Deep SVDD at its image
    settings, combined by ``"rank-mean"`` — were chosen on held-out Fashion-MNIST training
    images only, among RND, that AutoEncoder and Deep SVDD, every set of two or more and the
    four rules: the cheapest within 0.002 mean AUC-ROC of the best on three classes, checked
    on three others (``benchmarks/image_ensemble_heldout.py``,
    ``docs/results/image_ensemble_heldout.md``).
    The fit time is the sum of the members'.

    Parameters
    ----------
    members : "auto" or tuple, default "auto"
        Two or more entries, each the name of a registered unsupervised detector that takes the
        input (tabular rows or images), or a ``(name, params)`` pair, e.g.
        ``("AutoEncoder", {"backbone": "zscore_mlp"})``. ``"auto"``: the modality's
        :data:`DEFAULT_MEMBERS` (rows: SDOR and AutoEncoder; images: see there). A member that
        does not take the input raises ``ValueError`` at ``fit``.
    combination : {"rank-mean", "rank-max", "zscore-mean", "zscore-max"}, default "rank-mean"
        How member scores are normalised and combined (see :data:`COMBINATIONS`).
    contamination : float, default 0.1
    device : str or None, default None
        Passed to every member that takes a device.
    random_state : int or None, default None
        Seed of every member (each draws from its own generators).

    Attributes
    ----------
    members_ : list of BaseDetector
        The fitted members, in the order of ``member_entries_``.
    member_entries_ : tuple
        The members' entries used (``members``, or the modality's defaults for ``"auto"``).
    seed_ : int
    decision_scores_, threshold_, labels_, spec_

    Examples
    --------
    >>> import numpy as np
    >>> from deepad.detectors import OutlierEnsemble
    >>> X = np.random.default_rng(0).normal(size=(200, 4))
    >>> det = OutlierEnsemble(members=("IsolationForest", "ECOD"), random_state=0).fit(X)
    >>> bool(det.decision_function([[6.0, 6.0, 6.0, 6.0]])[0] > det.threshold_)
    True

    See Also
    --------
    RandNet : an ensemble of autoencoders of one kind (the median of their errors).
    SDOR, AutoEncoder, REPEN

    References
    ----------
    Aggarwal & Sathe, "Theoretical foundations and algorithms for outlier ensembles", SIGKDD
    Explorations 17(1), 2015; Aggarwal & Sathe, *Outlier Ensembles: An Introduction*,
    Springer 2017, ch. 5 (score normalisation and combination). Zimek, Campello & Sander,
    "Ensembles for unsupervised outlier detection: challenges and research questions",
    SIGKDD Explorations 15(1), 2014. Kriegel, Kröger, Schubert & Zimek, "Interpreting and
    unifying outlier scores", SDM 2011.
    """

    name = "OutlierEnsemble"
    category = "ensembles"
    subcategory = "score_combination"
    supervision = ("unsupervised",)
    modalities = MEMBER_MODALITIES
    reference = ("Aggarwal & Sathe, Theoretical foundations and algorithms for outlier "
                 "ensembles, SIGKDD Explorations 2015; Zimek et al., SIGKDD Explorations 2014")
    test_params: ClassVar[dict] = {"members": ("AutoEncoder", "ECOD")}
    modality_test_params: ClassVar[dict] = {"image": {"members": (
        ("AutoEncoder", {"backbone": "mlp", "epochs": 2}), ("DeepSVDD", {"epochs": 2}))}}
    tuple_params: ClassVar[tuple[str, ...]] = ("members",)  # load() restores them as tuples
    stream_refusal = ("its members' training scores set the scale of their scores, and some "
                      "members (the isolation forest) need every training row at once")

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **BaseDetector._parameter_constraints,
        "members": [Options(("auto",)), _MembersConstraint()],
        "combination": [Options(COMBINATIONS)],
        "device": DeepDetector._parameter_constraints["device"],
        "random_state": DeepDetector._parameter_constraints["random_state"],
    }

    def __init__(self, members="auto", combination=DEFAULT_COMBINATION,
                 contamination=0.1, device=None, random_state=None):
        self.members = members
        self.combination = combination
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ members
    def _make_member(self, entry: Any, modality: str) -> BaseDetector:
        """The member of ``entry`` for ``modality`` input: its class's settings for that
        modality (``modality_defaults``, e.g. RND's image network) under the entry's own
        parameters, with the ensemble's seed and device."""
        name, given = member_entry(entry)
        cls = get_detector(name)
        if modality not in cls.modalities:
            msg = (f"OutlierEnsemble member {member_label(entry)} does not take {modality} "
                   f"input (it takes {list(cls.modalities)}); choose members that do.")
            raise ValueError(msg)
        params: dict[str, Any] = {**getattr(cls, "modality_defaults", {}).get(modality, {}),
                                  **given}
        known = cls().get_params(deep=False)
        for key, value in (("random_state", self.seed_), ("device", self.device)):
            if key in known and (key == "random_state" or value is not None) \
                    and key not in given:
                params[key] = value
        return cls(**params)

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self.seed_ = resolve_seed(self.random_state)
        self.member_entries_ = self._entries()
        members = [self._make_member(entry, self.spec_.modality)
                   for entry in self.member_entries_]
        self.members_ = [member.fit(X) for member in members]

    def _entries(self) -> tuple:
        """The members' entries: ``members``, or the modality's defaults for ``"auto"``."""
        if isinstance(self.members, str):
            return DEFAULT_MEMBERS[self.spec_.modality]
        return tuple(self.members)

    def _member_scores(self, X: np.ndarray) -> list[np.ndarray]:
        out = []
        for member in self.members_:
            # A member's clipped infinite scores are not the ensemble's: normalisation puts
            # them beyond every training score, and the combined score stays finite. Say
            # which member overflowed instead of passing on a warning about this output.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                scores = np.asarray(member.decision_function(X), dtype=np.float64)
            for warning in caught:
                if issubclass(warning.category, RuntimeWarning) and \
                        "infinite scores" in str(warning.message):
                    warnings.warn(
                        f"member {type(member).__name__} overflowed on some rows; its scores "
                        "there were clipped to the largest float64 before normalisation, so "
                        "they rank beyond every training score. The input is probably far "
                        "outside the training range.", RuntimeWarning, stacklevel=3)
                else:
                    warnings.warn_explicit(warning.message, warning.category,
                                           warning.filename, warning.lineno)
            out.append(scores)
        return out

    def _score_samples(self, X: np.ndarray) -> np.ndarray:
        return combine_scores([m.decision_scores_ for m in self.members_],
                              self._member_scores(X), self.combination)

    def member_scores(self, X: Any) -> np.ndarray:
        """The members' normalised scores of ``X``, shape ``(n_samples, n_members)``, columns
        in the order of ``members`` (what the ensemble averages or maximises)."""
        X = self._check_input(X)
        method = self.combination.split("-")[0]
        return np.column_stack([normalise(m.decision_scores_, s, method)
                                for m, s in zip(self.members_, self._member_scores(X),
                                                strict=True)])

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        state, tensors = super()._get_state()
        state["seed"] = self.seed_
        state["members"] = []
        for i, member in enumerate(self.members_):
            member_state, member_tensors = member._get_state()
            state["members"].append(member_state)
            tensors.update({f"member{i}.{k}": v for k, v in member_tensors.items()})
        return state, tensors

    def _set_state(self, state: dict[str, Any], tensors: dict[str, torch.Tensor],
                   device: str | torch.device | None = None) -> None:
        super()._set_state(state, tensors)
        self.seed_ = read_field(state, "seed", "int", low=0)
        saved = read_field(state, "members", "list")
        entries = self._entries()
        if len(saved) != len(entries):
            msg = (f"state['members'] holds {len(saved)} members; the configuration names "
                   f"{len(entries)}: {[member_label(e) for e in entries]}.")
            raise ValueError(msg)
        members = []
        for i, (entry, member_state) in enumerate(zip(entries, saved, strict=True)):
            if not isinstance(member_state, dict):
                msg = f"state['members'][{i}] must be an object; got {member_state!r}."
                raise ValueError(msg)
            member = self._make_member(entry, self.spec_.modality)
            member._set_state(member_state, take_tensors(tensors, f"member{i}."), device=device)
            if member.n_features_in_ != self.n_features_in_:
                msg = (f"state['members'][{i}] ({member_label(entry)}) was fitted on "
                       f"{member.n_features_in_} features; the ensemble on "
                       f"{self.n_features_in_}.")
                raise ValueError(msg)
            members.append(member)
        self.member_entries_ = entries
        self.members_ = members


__all__ = ["COMBINATIONS", "OutlierEnsemble", "combine_scores", "member_entry", "member_label",
           "normalise"]
