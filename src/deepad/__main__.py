"""``python -m deepad``: the ``deepad`` command line."""

from deepad.cli import main

if __name__ == "__main__":
    main()
