"""A reader's check of the docs site: build it, serve it locally, and screenshot pages in headless Chromium.

Not part of the test run (it needs a browser). Run from the repository root:

    python -m tools.check_docs_site SCREENSHOT_DIR [--page index.html --page tutorials/cli.html ...]

Needs ``chromium`` (Debian: ``apt-get install -y chromium``). The site is served from 127.0.0.1 only, and
Chromium runs with networking extras off, so a page that tried to load anything from the web would show it.
Look at the PNGs it writes.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PAGES = ["index.html", "tutorials/reading-plots.html", "concepts.html", "benchmarks.html"]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def build_site(site_dir: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site_dir)]
    subprocess.run(command, cwd=ROOT, env=env, check=True)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # one line per request is noise here
        pass


def serve(site_dir: Path) -> http.server.ThreadingHTTPServer:
    handler = functools.partial(QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def screenshot(browser: str, url: str, path: Path, profile: Path, size: str) -> None:
    command = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={path}", f"--window-size={size}"]
    subprocess.run([*command, url], check=True, capture_output=True, timeout=120)
    if not path.is_file():
        raise RuntimeError(f"chromium wrote no screenshot for {url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", type=Path, help="folder for the screenshots")
    parser.add_argument("--page", action="append", help=f"site page to capture (default: {DEFAULT_PAGES})")
    parser.add_argument("--window-size", default="1280,2000")
    args = parser.parse_args(argv)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        parser.error("chromium not found; install it (Debian: apt-get install -y chromium)")
    args.output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        site_dir, profile = Path(folder) / "site", Path(folder) / "profile"
        build_site(site_dir)
        server = serve(site_dir)
        try:
            for page in args.page or DEFAULT_PAGES:
                url = f"http://127.0.0.1:{server.server_address[1]}/{page}"
                path = args.output / (page.replace("/", "_").removesuffix(".html") + ".png")
                screenshot(browser, url, path, profile, args.window_size)
                print(path)
        finally:
            server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
