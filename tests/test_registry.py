"""The registry: listing and filtering detectors, finding one by name, checking metadata."""

from __future__ import annotations

from typing import ClassVar

import pytest

import deepad
from deepad.core import registry
from deepad.core.deep import DeepDetector
from deepad.core.registry import register
from deepad.core.taxonomy import (
    CATEGORIES,
    MODALITIES,
    REGISTERED_CATEGORIES,
    REGISTERED_SUBCATEGORIES,
    SUPERVISIONS,
)

BUILT_IN = {"AutoEncoder", "DeepSVDD", "DevNet"}
FIELDS = {"name", "category", "subcategory", "supervision", "modalities", "reference",
          "module", "summary"}


@pytest.fixture
def scratch_registry(monkeypatch) -> dict:
    """A copy of the registry for tests that register classes; the real one is restored."""
    copy = dict(registry._REGISTRY)
    monkeypatch.setattr(registry, "_REGISTRY", copy)
    return copy


def make_detector(**metadata):
    """A detector class with valid metadata, overridden by ``metadata``."""
    attributes = {"name": "ScratchDetector", "category": "measure_normality",
                  "subcategory": "one_class", "supervision": ("unsupervised",),
                  "modalities": ("tabular",), "reference": "Nobody, Nowhere, 2024",
                  "__doc__": "A scratch detector for registry tests.",
                  "test_params": {"epochs": 1}, **metadata}
    return type(str(attributes["name"]) or "Nameless", (DeepDetector,), attributes)


# ---------------------------------------------------------------------------- listing
def test_list_detectors_returns_the_metadata():
    rows = deepad.list_detectors()
    assert BUILT_IN <= {row["name"] for row in rows}
    for row in rows:
        assert set(row) == FIELDS
        cls = deepad.get_detector(row["name"])
        assert row["category"] == cls.category and row["subcategory"] == cls.subcategory
        assert row["supervision"] == list(cls.supervision)
        assert row["modalities"] == list(cls.modalities)
        assert row["reference"] == cls.reference and row["module"] == cls.__module__
        assert row["summary"] and "\n" not in row["summary"]


def test_list_is_sorted_by_taxonomy_then_name():
    rows = deepad.list_detectors()
    keys = [(r["category"], r["subcategory"], r["name"]) for r in rows]
    assert keys == sorted(keys)


def test_every_registered_detector_has_valid_metadata(detector_cls):
    assert detector_cls.category in REGISTERED_CATEGORIES
    assert detector_cls.subcategory in REGISTERED_SUBCATEGORIES[detector_cls.category]
    assert detector_cls.supervision and set(detector_cls.supervision) <= set(SUPERVISIONS)
    assert detector_cls.modalities and set(detector_cls.modalities) <= set(MODALITIES)
    assert deepad.get_detector(detector_cls.name) is detector_cls


def test_baselines_are_registered_outside_the_taxonomy():
    rows = deepad.list_detectors(category="baselines")
    assert [r["name"] for r in rows] == ["ECOD", "IsolationForest", "KNN", "LOF"]
    assert all(r["subcategory"] == "shallow" and r["category"] not in CATEGORIES for r in rows)
    assert deepad.get_detector("isolationforest") is deepad.IsolationForest


def test_filter_by_modality():
    rows = deepad.list_detectors(modalities="sequence")
    assert BUILT_IN <= {r["name"] for r in rows}
    assert all("sequence" in r["modalities"] for r in rows)
    assert deepad.list_detectors(modalities="no-such-modality") == []


def test_filter_by_supervision():
    weak = {r["name"] for r in deepad.list_detectors(supervision="weakly-supervised")}
    unsupervised = {r["name"] for r in deepad.list_detectors(supervision="unsupervised")}
    assert "DevNet" in weak and "DevNet" not in unsupervised
    assert {"AutoEncoder", "DeepSVDD"} <= unsupervised
    assert not {"AutoEncoder", "DeepSVDD"} & weak
    classes = {r["name"] for r in deepad.list_detectors(supervision="class-labels")}
    assert {"MSP", "ODIN", "Energy", "Mahalanobis", "DeepKNN"} <= classes
    assert not classes & (weak | unsupervised)
    everything = {r["name"] for r in deepad.list_detectors()}
    assert weak | unsupervised | classes == everything


def test_filter_by_category_and_combined():
    rows = deepad.list_detectors(category="measure_normality")
    assert "DeepSVDD" in {r["name"] for r in rows}
    assert all(r["category"] == "measure_normality" for r in rows)
    assert [r["name"] for r in deepad.list_detectors(category="score_learning",
                                                     subcategory="prior",
                                                     supervision="weakly-supervised")] \
        == ["DevNet"]
    assert deepad.list_detectors(category="measure_normality", subcategory="prior") == []


def test_unknown_filter():
    with pytest.raises(ValueError, match=r"Unknown filter\(s\) \['colour'\]; use any of"):
        deepad.list_detectors(colour="red")


# ---------------------------------------------------------------------------- lookup
@pytest.mark.parametrize("name", ["DeepSVDD", "deepsvdd", "DEEPSVDD", "dEePsVdD"])
def test_get_detector_is_case_insensitive(name):
    assert deepad.get_detector(name) is deepad.DeepSVDD


def test_get_detector_suggests_close_matches():
    with pytest.raises(KeyError, match="No detector named 'DeepSVD'. Did you mean DeepSVDD"):
        deepad.get_detector("DeepSVD")


def test_get_detector_lists_the_registered_names_without_a_close_match():
    with pytest.raises(KeyError) as info:
        deepad.get_detector("HBOS")
    message = str(info.value)
    assert "Did you mean" not in message
    assert all(name in message for name in BUILT_IN)


# ---------------------------------------------------------------------------- registration
@pytest.mark.parametrize(("metadata", "message"), [
    ({"name": ""}, r"missing metadata \['name'\]"),
    ({"reference": ""}, r"missing metadata \['reference'\]"),
    ({"category": "magic"}, "category 'magic' is not one of"),
    ({"subcategory": "prior"}, "subcategory 'prior' is not a leaf of 'measure_normality'"),
    ({"supervision": ("supervised",)}, "supervision must be a tuple drawn from"),
    ({"supervision": ["unsupervised"]}, "supervision must be a tuple"),
    ({"modalities": ("tabular", "audio")}, "modalities must be a tuple drawn from"),
    ({"modalities": "tabular"}, "modalities must be a tuple"),
], ids=["no-name", "no-reference", "category", "subcategory", "supervision",
        "supervision-list", "modality", "modality-str"])
def test_bad_metadata_is_refused(scratch_registry, metadata, message):
    cls = make_detector(**metadata)
    with pytest.raises(TypeError, match=message):
        register(cls)
    assert cls not in scratch_registry.values()


def test_register_adds_and_is_idempotent(scratch_registry):
    original = dict(registry._REGISTRY)
    cls = make_detector()
    assert register(cls) is cls
    assert register(cls) is cls  # the same class again is harmless
    assert deepad.get_detector("scratchdetector") is cls
    assert "ScratchDetector" in {r["name"] for r in deepad.list_detectors()}
    assert set(scratch_registry) == set(original) | {"scratchdetector"}


def test_duplicate_name_is_refused(scratch_registry):
    impostor = make_detector(name="deepsvdd")  # names are case-insensitive
    with pytest.raises(ValueError, match="A detector named 'deepsvdd' is already registered"):
        register(impostor)
    assert deepad.get_detector("DeepSVDD") is deepad.DeepSVDD


def test_scratch_registrations_do_not_leak():
    # runs after the tests above in file order: the real registry never saw ScratchDetector
    assert "scratchdetector" not in registry._REGISTRY
    with pytest.raises(KeyError):
        deepad.get_detector("ScratchDetector")


class _Unregistered(DeepDetector):
    name: ClassVar[str] = "Unregistered"


def test_subclasses_are_not_registered_implicitly():
    assert "unregistered" not in registry._REGISTRY


def test_every_registered_detector_is_exported_at_top_level():
    for info in deepad.list_detectors():
        assert getattr(deepad, info["name"]) is deepad.get_detector(info["name"])
        assert info["name"] in deepad.__all__
