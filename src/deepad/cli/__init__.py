"""The ``deepad`` command line: ``list``, ``info NAME``, ``run [DATA]``, ``datasets``,
``bench``, ``report``, ``score MODEL DATA``.

See ``deepad --help``; the commands live in :mod:`deepad.cli.app`.
"""

from deepad.cli import bench as _bench  # noqa: F401  (registers "deepad bench")
from deepad.cli import datasets as _datasets  # noqa: F401  (registers "deepad datasets")
from deepad.cli import explain as _explain  # noqa: F401  (registers "deepad explain")
from deepad.cli import report as _report  # noqa: F401  (registers "deepad report")
from deepad.cli import score as _score  # noqa: F401  (registers "deepad score")
from deepad.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    """Entry point of the ``deepad`` console script and of ``python -m deepad``."""
    app(prog_name="deepad")
