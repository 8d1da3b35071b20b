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

DEFAULT_MEMBERS = ("SDOR", "AutoEncoder")
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


class _MembersConstraint:
    """Two or more distinct names of registered unsupervised detectors of tabular rows."""

    def is_satisfied_by(self, value: Any) -> bool:
        if not isinstance(value, list | tuple) or len(value) < 2:
            return False
        if not all(isinstance(v, str) for v in value):
            return False
        if len({v.lower() for v in value}) != len(value):
            return False
        try:
            classes = [get_detector(v) for v in value]
        except KeyError:
            return False
        return all("unsupervised" in c.supervision and "tabular" in c.modalities
                   and not issubclass(c, OutlierEnsemble) for c in classes)

    def __str__(self) -> str:
        return ("a tuple of two or more distinct names of registered unsupervised detectors of "
                "tabular rows (deepad.list_detectors(supervision='unsupervised', "
                "modalities='tabular')), not OutlierEnsemble itself")


@register
class OutlierEnsemble(BaseDetector):
    """Outlier ensemble: the average of rank-normalised scores of diverse unsupervised detectors.

    Every member (a registered detector, by name) is fitted on the same rows at its defaults
    (its own class's, chosen on the quick suite; the ensemble sets only their ``random_state``
    and ``device``). For a row ``x``, member ``m`` gives the score ``s_m(x)``; with
    ``x_1..x_n`` the training rows, the ensemble score is, for the default ``"rank-mean"``,

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

    The default members — SDOR (self-trained ordinal regression, started from an isolation
    forest's scores) and AutoEncoder (reconstruction error) — and the rule were chosen on the
    quick suite only, among eight candidates, every member set of two or more and the four
    rules (``benchmarks/unsupervised_ensemble.py``; the numbers are in
    ``docs/results/unsupervised_ensemble.md`` and ``docs/decisions.md``). Deviations from the
    papers: no subsampling or feature bagging of the members (each is fitted once, on all
    rows), and a member's test scores are normalised by its training scores (the papers
    normalise the scores of the data being scored), so a new row is scored on its own.
    The fit time is the sum of the members'.

    Parameters
    ----------
    members : tuple of str, default ("SDOR", "AutoEncoder")
        Names of two or more registered unsupervised detectors of tabular rows.
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
        The fitted members, in the order of ``members``.
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
    modalities = ("tabular",)
    reference = ("Aggarwal & Sathe, Theoretical foundations and algorithms for outlier "
                 "ensembles, SIGKDD Explorations 2015; Zimek et al., SIGKDD Explorations 2014")
    test_params: ClassVar[dict] = {"members": ("AutoEncoder", "ECOD")}
    stream_refusal = ("its members' training scores set the scale of their scores, and some "
                      "members (the isolation forest) need every training row at once")

    _parameter_constraints: ClassVar[dict[str, list]] = {
        **BaseDetector._parameter_constraints,
        "members": [_MembersConstraint()],
        "combination": [Options(COMBINATIONS)],
        "device": DeepDetector._parameter_constraints["device"],
        "random_state": DeepDetector._parameter_constraints["random_state"],
    }

    def __init__(self, members=DEFAULT_MEMBERS, combination=DEFAULT_COMBINATION,
                 contamination=0.1, device=None, random_state=None):
        self.members = members
        self.combination = combination
        self.contamination = contamination
        self.device = device
        self.random_state = random_state

    # ------------------------------------------------------------------ members
    def _make_member(self, name: str) -> BaseDetector:
        cls = get_detector(name)
        params: dict[str, Any] = {}
        known = cls().get_params(deep=False)
        for key, value in (("random_state", self.seed_), ("device", self.device)):
            if key in known and (key == "random_state" or value is not None):
                params[key] = value
        return cls(**params)

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        self.seed_ = resolve_seed(self.random_state)
        self.members_ = [self._make_member(name).fit(X) for name in self.members]

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
        if len(saved) != len(self.members):
            msg = (f"state['members'] holds {len(saved)} members; the configuration names "
                   f"{len(self.members)}: {list(self.members)}.")
            raise ValueError(msg)
        members = []
        for i, (name, member_state) in enumerate(zip(self.members, saved, strict=True)):
            if not isinstance(member_state, dict):
                msg = f"state['members'][{i}] must be an object; got {member_state!r}."
                raise ValueError(msg)
            member = self._make_member(name)
            member._set_state(member_state, take_tensors(tensors, f"member{i}."), device=device)
            if member.n_features_in_ != self.n_features_in_:
                msg = (f"state['members'][{i}] ({name}) was fitted on {member.n_features_in_} "
                       f"features; the ensemble on {self.n_features_in_}.")
                raise ValueError(msg)
            members.append(member)
        self.members_ = members


__all__ = ["COMBINATIONS", "OutlierEnsemble", "combine_scores", "normalise"]
