"""A screenshot of a run's report.html in headless Chromium, for the docs.

Run: .venv/bin/python benchmarks/report_screenshot.py RUN OUT.png [--height 2400]
Writes the report first (``sbi_neuro.results.report.write_report``), opens it from disk in Debian's
Chromium through Playwright (scripts/install_chromium.sh) and saves the top ``--height`` pixels.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sbi_neuro.results.report import write_report

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--height", type=int, default=2400, help="pixels from the top of the page")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    page_path = write_report(args.run)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": args.height})
        page.goto(page_path.resolve().as_uri(), wait_until="load")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=False)
        browser.close()
    print(f"{page_path} -> {args.out}")


if __name__ == "__main__":
    main()
