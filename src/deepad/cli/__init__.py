"""The ``deepad`` command line: ``deepad list``, ``deepad info NAME``, ``deepad run [DATA]``.

See ``deepad --help``; the commands live in :mod:`deepad.cli.app`.
"""

from deepad.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``deepad`` console script and of ``python -m deepad``."""
    app(prog_name="deepad")
