"""The ``deepad`` command line: ``deepad list``, ``info NAME``, ``run [DATA]``, ``datasets``.

See ``deepad --help``; the commands live in :mod:`deepad.cli.app`.
"""

from deepad.cli import datasets as _datasets  # noqa: F401  (registers "deepad datasets")
from deepad.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``deepad`` console script and of ``python -m deepad``."""
    app(prog_name="deepad")
