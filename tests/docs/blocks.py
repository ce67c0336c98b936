"""Run the code blocks of a markdown page, so README and docs cannot drift from the code.

Rules (a page is read top to bottom; fences start at column 0):

- ```` ```python ```` blocks run in order in one namespace per page, inside the working directory given.
- ```` ```bash ```` blocks whose commands all start with ``graphft `` run through :func:`graphft.cli.main` (split
  with :func:`shlex.split`); each must exit with status 0. Other shell blocks (pip, make, apt) are shown, not run;
  a block that starts with ``graphft`` and mixes in other commands is an error.
- A block with a file name as title, e.g. ```` ```yaml title="run.yaml" ````, is written to that file in the
  working directory when the page reaches it (configs and data files the later blocks read).
- An HTML comment ``<!-- docs-test: skip REASON -->`` on the line before a fence leaves that block out; the
  reason is required (e.g. it downloads).

Tracebacks point at the markdown file and line of the failing statement.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(?P<language>[\w+-]*)(?P<attributes>[^\n]*)\n(?P<body>.*?)^```[ \t]*$", re.M | re.S)
TITLE = re.compile(r'title="(?P<title>[^"]+)"')
SKIP = re.compile(r"<!--\s*docs-test:\s*skip\b(?P<reason>[^>]*?)-->\s*\Z")
SHELL = ("bash", "sh", "shell", "console")
FILE_NAME = re.compile(r"^[\w.-]+$")


@dataclass
class Block:
    """One fenced code block of a page."""

    language: str
    body: str
    line: int  # 1-based line of the block's first body line
    title: str | None = None
    skip_reason: str | None = None


def code_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a markdown text, in order."""
    blocks = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        skip = SKIP.search(before)
        if skip and not skip["reason"].strip():
            raise ValueError(f"line {text[: match.start()].count(chr(10))}: docs-test: skip needs a reason.")
        title = TITLE.search(match["attributes"])
        blocks.append(
            Block(
                language=match["language"],
                body=match["body"],
                line=text[: match.start("body")].count("\n") + 1,
                title=title["title"] if title else None,
                skip_reason=skip["reason"].strip() if skip else None,
            )
        )
    return blocks


def shell_commands(body: str) -> list[str]:
    """The commands of a shell block: comments and blank lines dropped, backslash continuations joined."""
    commands, current = [], ""
    for raw in body.splitlines():
        line = raw.rstrip()
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        line = current + line
        current = ""
        if line.strip() and not line.lstrip().startswith("#"):
            commands.append(line.strip())
    return commands


def graphft_commands(block: Block) -> list[list[str]]:
    """The ``graphft`` commands a shell block runs (argv without the program name); empty when it runs none."""
    if block.language not in SHELL:
        return []
    commands = shell_commands(block.body)
    if not commands or not commands[0].startswith("graphft "):
        return []
    mixed = [command for command in commands if not command.startswith("graphft ")]
    if mixed:
        raise ValueError(f"line {block.line}: a graphft block must hold only graphft commands, also has {mixed}.")
    return [shlex.split(command, comments=True)[1:] for command in commands]


@contextmanager
def working_directory(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run_page(page: Path, workdir: Path, cli: Callable[[list[str]], int]) -> dict[str, object]:
    """Run every runnable block of ``page`` in ``workdir``; returns the page's Python namespace."""
    namespace: dict[str, object] = {"__name__": "__docs__"}
    page = page.resolve()
    with working_directory(workdir):
        for block in code_blocks(page.read_text(encoding="utf-8")):
            if block.skip_reason is not None:
                continue
            if block.title and FILE_NAME.match(block.title) and block.language not in ("python", *SHELL):
                Path(block.title).write_text(block.body, encoding="utf-8")
            elif block.language == "python":
                source = "\n" * (block.line - 1) + block.body  # line numbers of the markdown file
                exec(compile(source, str(page), "exec"), namespace)
            else:
                for argv in graphft_commands(block):
                    status = cli(argv)
                    if status != 0:
                        raise AssertionError(f"{page}:{block.line}: `graphft {shlex.join(argv)}` exited {status}.")
    return namespace
