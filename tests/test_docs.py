"""The documentation site builds with ``mkdocs build --strict``: a broken internal link, a link
out of docs/, an unknown anchor, a docstring mkdocstrings cannot render or a failing hook fails
it. Skipped only where mkdocs and its plugins are not installed (the ``dev`` extra has them)."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PLUGINS = ("mkdocs", "material", "mkdocstrings", "mkdocstrings_handlers.python")


def _missing_plugins() -> list[str]:
    missing = []
    for name in PLUGINS:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


def _user_pages() -> list[Path]:
    """The pages written for users: everything under docs/ except the developer design log."""
    return [p for p in DOCS.rglob("*.md") if p.name != "decisions.md"]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    if not (ROOT / "mkdocs.yml").exists():
        pytest.skip("not run from a checkout (no mkdocs.yml)")
    missing = _missing_plugins()
    if missing:
        pytest.skip(f"mkdocs or its plugins not installed ({', '.join(missing)}): "
                    'pip install -e ".[dev]"')
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(out)], cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-4000:]}"
    return out


def _text(html: Path) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.read_text(encoding="utf-8")).split())


def test_site_builds_strict_with_every_page(site):
    for page in ("index.html", "getting-started/index.html", "which-detector/index.html",
                 "cli/index.html", "benchmarks/index.html", "modalities/tables/index.html",
                 "modalities/series/index.html", "modalities/events/index.html",
                 "modalities/images/index.html", "api/detectors/index.html",
                 "results/index.html", "decisions/index.html"):
        assert (site / page).is_file(), page


def test_generated_pages_hold_the_cli_and_every_detector(site):
    import typer.main

    import deepad
    from deepad.cli import app

    cli = _text(site / "cli" / "index.html")
    for command in typer.main.get_command(app).commands:
        assert f"deepad {command}" in cli, command
    detectors = (site / "api" / "detectors" / "index.html").read_text(encoding="utf-8")
    for entry in deepad.list_detectors():
        assert f'id="{entry["module"]}.{entry["name"]}"' in detectors, entry["name"]
    assert ":class:" not in detectors and ":func:" not in detectors  # Sphinx roles rendered
    index = (site / "results" / "index.html").read_text(encoding="utf-8")
    for page in (DOCS / "results").glob("*.md"):
        assert f'href="../{page.stem}/"' in index or f'href="{page.stem}/"' in index, page.name


def test_broken_links_fail_the_build(tmp_path):
    if _missing_plugins() or not (ROOT / "mkdocs.yml").exists():
        pytest.skip("mkdocs or its plugins not installed")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\n[gone](missing.md)\n", encoding="utf-8")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    validation = config[config.index("validation:"):config.index("exclude_docs:")]
    (tmp_path / "mkdocs.yml").write_text(f"site_name: t\ndocs_dir: docs\n{validation}",
                                         encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode != 0 and "missing.md" in done.stderr


def test_user_pages_name_no_tracker_number_and_no_sibling_folder():
    """Pages for users never name an internal tracker number, and the hand-written ones never
    send a reader to folders beside the repository (the build already fails on a link that
    leaves docs/). The developer design log (decisions.md) is exempt."""
    for page in _user_pages():
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\bissues? #?\d+", text, flags=re.IGNORECASE), page
        if "results" not in page.relative_to(DOCS).parts:  # generated pages say their data
            assert "../shared" not in text, page


def test_which_detector_page_is_current():
    """docs/which-detector.md is what benchmarks/which_detector.py writes from the stores."""
    script = ROOT / "benchmarks" / "which_detector.py"
    stores = [ROOT / "benchmarks" / "results" / f"{n}.db" for n in ("quick", "adbench_shared")]
    if not (script.exists() and all(p.exists() for p in stores)):
        pytest.skip("not run from a checkout with the benchmark stores")
    done = subprocess.run([sys.executable, str(script), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
