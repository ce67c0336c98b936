"""griffe extension for the API reference: docstrings state their math in reStructuredText (``.. math::``
blocks and ``:math:`...``` roles, as PyG does); markdown would mangle the LaTeX (``_`` turns into emphasis). This
rewrites them before rendering: a math block becomes a ``latex`` code block, a role becomes inline code (so do
the cross-reference roles ``:func:``, ``:meth:``, ``:class:`` and friends). The site loads no MathJax (it works
offline), so readers see the LaTeX source the code implements.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import griffe

ROLE = re.compile(r":(?:math|func|meth|class|mod|data|attr|obj|exc):`~?([^`]+)`")
BLOCK = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*\n(?P<body>(?:(?P=indent)[ \t]+\S.*\n?|[ \t]*\n)+)", re.M)


def rst_math_to_markdown(text: str) -> str:
    """Replace ``.. math::`` blocks and ``:math:`` (and cross-reference) roles of a docstring with markdown code."""

    def block(match: re.Match[str]) -> str:
        indent = match["indent"]
        body = textwrap.dedent(match["body"]).strip("\n")
        fenced = "\n".join(["```latex", *body.splitlines(), "```"])
        return textwrap.indent(fenced, indent) + "\n\n"

    return ROLE.sub(r"`\1`", BLOCK.sub(block, text))


class RstMath(griffe.Extension):
    """Rewrite the math of every docstring in a loaded package (see the module docstring)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.docstring is not None:
                obj.docstring.value = rst_math_to_markdown(obj.docstring.value)
            stack.extend(member for member in obj.members.values() if not member.is_alias)
