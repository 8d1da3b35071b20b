"""Named dataset suites and how a dataset name becomes a file.

- ``quick``: eight ADBench sets spanning sizes and domains (small tabular, images, a large
  marketing and a large donation set);
- ``adbench``: every ADBench ``.npz`` file found in the data folders
  (:func:`deepad.data.adbench.data_dirs`);
- ``adbench-shared``: the 25 ADBench classical sets in ``shared/datasets/adbench/classical``
  that are not in ``quick``. Defaults are chosen on ``quick`` only; this suite is for checking
  them on data nobody tuned on (``docs/decisions.md``, "Choosing and checking defaults");
- ``mvtec-embeddings``: ADBench's ResNet-18 embeddings of the 15 MVTec-AD categories
  (``shared/datasets/adbench/cv_resnet18``), run as tables; its report quotes ADBench's best
  unsupervised average (:data:`SUITE_NOTES`).
The ``series`` suite belongs to the time-series protocol (:mod:`deepad.bench.series`),
``fashion-oneclass`` and ``mnist-oneclass`` to the image protocol
(:mod:`deepad.bench.image_protocol`); :func:`deepad.bench.protocols.suite_names` lists every
suite of every protocol.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from deepad.data.adbench import data_dirs, find_adbench

QUICK = ("6_cardio", "38_thyroid", "29_Pima", "18_Ionosphere", "24_mnist", "5_campaign",
         "11_donors", "8_celeba")
ADBENCH_SHARED = (
    "1_ALOI", "4_breastw", "7_Cardiotocography", "10_cover", "14_glass", "15_Hepatitis",
    "16_http", "20_letter", "21_Lymphography", "22_magic.gamma", "25_musk", "26_optdigits",
    "27_PageBlocks", "28_pendigits", "30_satellite", "32_shuttle", "33_skin", "34_smtp",
    "37_Stamps", "39_vertebral", "41_Waveform", "42_WBC", "43_WDBC", "45_wine", "46_WPBC")
MVTEC_CATEGORIES = ("bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather",
                    "metal_nut", "pill", "screw", "tile", "toothbrush", "transistor", "wood",
                    "zipper")
MVTEC_EMBEDDINGS = tuple(f"MVTec-AD_{name}" for name in MVTEC_CATEGORIES)
SUITES: dict[str, tuple[str, ...] | None] = {"quick": QUICK, "adbench-shared": ADBENCH_SHARED,
                                             "mvtec-embeddings": MVTEC_EMBEDDINGS,
                                             "adbench": None}
"""Tabular suite name → dataset names; None: every ADBench ``.npz`` file found locally."""

SUITE_NOTES: dict[str, str] = {
    "mvtec-embeddings": (
        "Reference: ADBench (Han et al., \"ADBench: Anomaly Detection Benchmark\", NeurIPS "
        "2022) reports CBLOF as the best unsupervised detector on these 15 MVTec-AD ResNet-18 "
        "embedding sets, with an average AUC-ROC of 75.98 % (0.7598 on this report's scale; "
        "quoted as the project's target states it, not checked against ADBench's tables "
        "here). ADBench's runs use seeds 1, 2 and 3 (the seed list of its run.py), and "
        "deepad.data.adbench_split reproduces its data generator draw for draw, so rows of "
        "seeds 1-3 are fitted and scored on ADBench's own train / test splits; other seeds "
        "are other splits of the same data."),
}
"""Suite → a note its report prints (a published reference to compare with)."""


def suite_notes(datasets) -> list[str]:
    """The notes of the suites whose every dataset is among ``datasets`` (a report of a
    suite's run quotes its reference)."""
    present = set(datasets)
    return [note for name, note in SUITE_NOTES.items()
            if SUITES.get(name) and set(SUITES[name]) <= present]


def local_datasets() -> dict[str, Path]:
    """``{stem: path}`` of every ``.npz`` file in the data folders (the first one found wins
    when two folders hold the same name)."""
    found: dict[str, Path] = {}
    for directory in data_dirs():
        if directory.is_dir():
            for path in sorted(directory.rglob("*.npz")):
                found.setdefault(path.stem, path)
    return found


def suite_datasets(name: str) -> list[str]:
    """Dataset names of suite ``name`` (``ValueError`` with close matches when unknown)."""
    key = name.strip().lower()
    if key not in SUITES:
        close = difflib.get_close_matches(key, list(SUITES), n=2)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        msg = f"unknown suite {name!r}.{hint} Suites: {', '.join(SUITES)}."
        raise ValueError(msg)
    names = SUITES[key]
    if names is not None:
        return list(names)
    found = sorted(local_datasets())
    if not found:
        folders = ", ".join(str(d) for d in data_dirs())
        msg = (f"suite 'adbench' found no .npz file in {folders}. Put the ADBench files there "
               "or set DEEPAD_DATA_DIR.")
        raise FileNotFoundError(msg)
    return found


def resolve_dataset(name: str) -> Path:
    """The ``.npz`` file of dataset ``name``: a path, a local name (``6_cardio`` or
    ``cardio``), or an ADBench name the data layer can download and verify.

    Raises ``FileNotFoundError`` with close matches among the local files otherwise.
    """
    path = Path(name)
    if path.suffix == ".npz" and path.is_file():
        return path.resolve()
    try:
        return find_adbench(name)
    except FileNotFoundError as error:
        from deepad.data.download import download_adbench, known_adbench_name

        if known_adbench_name(name) is not None:
            return download_adbench(name)
        close = difflib.get_close_matches(name, sorted(local_datasets()), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        msg = f"unknown dataset {name!r}.{hint} {error}"
        raise FileNotFoundError(msg) from error
