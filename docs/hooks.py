"""mkdocs hook: pages include generated files, so result tables are never typed by hand.

A line ``<!-- include: benchmarks/results/adapter_overhead.md -->`` (outside code blocks) is replaced by that
file's content at build time; the path is relative to the repository root (the folder of mkdocs.yml). The
included file's headings move one level down, so they nest under the page's own title. A missing file stops
the build with an error that names the page and the path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

INCLUDE = re.compile(r"^<!--\s*include:\s*(?P<path>\S+)\s*-->[ \t]*$", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^(#{1,5}) ", re.MULTILINE)


def _included(path: str, root: Path, page: str) -> str:
    file = (root / path).resolve()
    if root not in file.parents:
        raise PluginError(f"{page}: include path {path!r} points outside the repository.")
    if not file.is_file():
        raise PluginError(
            f"{page}: included file {path!r} does not exist; run the script that writes it (see benchmarks/) "
            "or remove the include line."
        )
    text = file.read_text(encoding="utf-8").strip()
    return HEADING.sub(lambda match: "#" + match.group(1) + " ", text)


def include_files(markdown: str, root: Path, page: str = "<page>") -> str:
    """Replace every include directive outside fenced code blocks with the file it names."""
    pieces, position = [], 0
    for fence in FENCE.finditer(markdown):
        text = markdown[position : fence.start()]
        pieces.append(INCLUDE.sub(lambda match: _included(match["path"], root, page), text))
        pieces.append(fence.group(0))
        position = fence.end()
    pieces.append(INCLUDE.sub(lambda match: _included(match["path"], root, page), markdown[position:]))
    return "".join(pieces)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    root = Path(config["config_file_path"]).resolve().parent
    return include_files(markdown, root, page.file.src_uri)
