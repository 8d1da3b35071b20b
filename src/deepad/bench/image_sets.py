"""The one-class image sets of the bench: their names (``<source>/<class>``), sources, titles
and class names. Shared by the protocol (:mod:`deepad.bench.image_protocol`) and its report
(:mod:`deepad.bench.image_report`), so neither imports the other at module level."""

from __future__ import annotations

import re

SOURCES = {"fashion_mnist": "ruff", "mnist": "within-test"}
"""Image source → the one-class protocol of its jobs
(:data:`deepad.data.images.ONE_CLASS_PROTOCOLS`)."""

SOURCE_TITLES = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST"}

IMAGE_SUITES = {"fashion-oneclass": "fashion_mnist", "mnist-oneclass": "mnist"}
"""Suite → its source; each suite is the source's 10 classes."""

N_CLASSES = 10
_NAME = re.compile(r"^(?P<source>[a-z_]+)/(?P<cls>\d+)$")


def parse_name(name: str) -> tuple[str, int]:
    """``"fashion_mnist/3"`` → ``("fashion_mnist", 3)`` (``ValueError`` otherwise)."""
    found = _NAME.match(name.strip().lower())
    if found is None or found["source"] not in SOURCES or int(found["cls"]) >= N_CLASSES:
        msg = (f"{name!r} is not a one-class image dataset; expected <source>/<class> with a "
               f"source among {', '.join(SOURCES)} and a class 0-{N_CLASSES - 1} (e.g. "
               "fashion_mnist/0).")
        raise ValueError(msg)
    return found["source"], int(found["cls"])


def is_image_name(name: str) -> bool:
    """Whether ``name`` is a one-class image dataset name."""
    try:
        parse_name(name)
    except ValueError:
        return False
    return True


def class_names(source: str) -> tuple[str, ...]:
    """The class names of a source, by label."""
    from deepad.data.images import FASHION_MNIST_CLASSES

    return FASHION_MNIST_CLASSES if source == "fashion_mnist" else tuple(map(str, range(10)))
