"""The docs site builds with ``mkdocs build --strict`` (no warnings), works offline, and shows every benchmark
result file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("mkdocs", reason="the docs extra is not installed: pip install -e '.[docs]'")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(folder)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def test_strict_build_writes_every_page(site: Path) -> None:
    for page in ("index.html", "quickstart.html", "concepts.html", "benchmarks.html", "tutorials/cli.html"):
        assert (site / page).is_file(), page
    assert (site / "reference" / "graph_learners.html").is_file()


def test_site_loads_nothing_from_the_network(site: Path) -> None:
    external = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""", re.IGNORECASE)
    for page in site.rglob("*.html"):
        found = external.findall(page.read_text(encoding="utf-8"))
        assert not found, f"{page.relative_to(site)} loads {found}"


def test_benchmark_page_includes_every_result_file(site: Path) -> None:
    page = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for result in sorted((ROOT / "benchmarks" / "results").glob("*.md")):
        if result.stem.endswith("_quick"):  # smoke-test output of --quick modes, not results (git-ignored)
            continue
        directive = f"<!-- include: benchmarks/results/{result.name} -->"
        assert directive in page, f"add `{directive}` to docs/benchmarks.md"
    html = (site / "benchmarks.html").read_text(encoding="utf-8")
    assert "Planted task graph recovery" in html and "<table>" in html


def test_a_missing_include_fails_the_build(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        from hooks import include_files
    finally:
        sys.path.remove(str(ROOT / "docs"))
    from mkdocs.exceptions import PluginError

    (tmp_path / "table.md").write_text("# Title\n\n| a |\n|---|\n| 1 |\n")
    text = "Intro\n\n<!-- include: table.md -->\n\n```md\n<!-- include: missing.md -->\n```\n"
    expected = "Intro\n\n## Title\n\n| a |\n|---|\n| 1 |\n\n```md\n<!-- include: missing.md -->\n```\n"
    assert include_files(text, tmp_path) == expected  # headings nest one level down; code blocks stay as they are
    with pytest.raises(PluginError, match=r"missing\.md"):
        include_files("<!-- include: missing.md -->\n", tmp_path)
