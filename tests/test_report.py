"""The run report: a real small NPE run and a CMA-ES baseline of UC1 (batched backend) in one results
index, the page written and opened in a real headless Chromium (installed by scripts/install_chromium.sh,
which scripts/test.sh runs)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sbi_neuro.api.execute import execute
from sbi_neuro.inference.settings import NPESettings
from sbi_neuro.methods.config import RunConfig
from sbi_neuro.results.report import SECTIONS, render_report, write_report

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HEADINGS = [title for _, title in SECTIONS]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
QUICK_NPE = NPESettings(stop_after_epochs=5, max_num_epochs=30)  # the report, not the posterior, is tested


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An NPE run and a CMA-ES run of hh on the simulated target, recorded in ``root/index.sqlite``."""
    root = tmp_path_factory.mktemp("report_runs")
    index = root / "index.sqlite"
    common: dict[str, Any] = dict(
        usecase="hh", backend="batched", target="simulated", workers=1, progress=False
    )
    npe = RunConfig(method="npe", budget=700, seed=2, npe=QUICK_NPE, posterior_samples=1000, **common)
    cmaes = RunConfig(method="cmaes", budget=200, seed=1, population_size=20, **common)
    execute(npe, root / "npe", index)
    execute(cmaes, root / "cmaes", index)
    return {"npe": root / "npe", "cmaes": root / "cmaes", "index": index}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through Playwright; fails (CI installs both) when either is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: run scripts/setup.sh (dev extra)", pytrace=False)
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/install_chromium.sh (as root it installs it)", pytrace=False
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on 127.0.0.1 (a free port), in a thread; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def open_page(browser: Any, url: str) -> tuple[Any, dict[str, list[Any]]]:
    """Load ``url``; returns the page and what it did: console errors, requests, its images."""
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    seen: dict[str, list[Any]] = {"errors": [], "requests": []}
    page.on(
        "console", lambda message: seen["errors"].append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: seen["errors"].append(str(error)))
    page.on("request", lambda request: seen["requests"].append(request.url))
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, url
    seen["images"] = page.eval_on_selector_all(
        "img", "images => images.map(i => ({alt: i.alt, complete: i.complete, width: i.naturalWidth}))"
    )
    seen["headings"] = page.locator("h2").all_inner_texts()
    return page, seen


def assert_loads_cleanly(seen: dict[str, list[Any]], url: str, min_images: int) -> None:
    assert seen["errors"] == []
    # Self-contained: the page itself is the only request (images are data URIs).
    assert [u for u in seen["requests"] if not u.startswith("data:")] == [url]
    assert len(seen["images"]) >= min_images
    for image in seen["images"]:
        assert image["complete"] and image["width"] > 0, image["alt"]
    assert seen["headings"] == HEADINGS


def save_screenshot(page: Any, path: Path) -> Path:
    """A full-page PNG at ``path``, copied to ``$SBI_NEURO_SCREENSHOT_DIR`` when set."""
    page.screenshot(path=str(path), full_page=True)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert width == 1200 and height > 900  # the whole page, beyond the viewport
    stable = os.environ.get("SBI_NEURO_SCREENSHOT_DIR")
    if stable:
        Path(stable).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(stable) / path.name)
    return path


def test_report_of_a_real_run_renders_in_chromium(
    runs: dict[str, Path], browser: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No index given: the report finds the index.sqlite the runs were recorded in, beside them.
    monkeypatch.delenv("SBI_NEURO_INDEX", raising=False)
    path = write_report(runs["npe"])
    assert path == runs["npe"].resolve() / "report.html"
    with serve(runs["npe"]) as base:
        url = f"{base}/report.html"
        page, seen = open_page(browser, url)
        assert_loads_cleanly(seen, url, min_images=6)  # 4 plots/ + constraint and correlations (analysis/)
        assert {i["alt"] for i in seen["images"]} >= {
            "target against the best fit",
            "best error against evaluations",
        }
        # The images are the run's figures, byte for byte.
        sources = page.eval_on_selector_all("img", "images => images.map(i => i.src)")
        embedded = {base64.b64decode(src.split(",", 1)[1]) for src in sources}
        figures = [*(runs["npe"] / "plots").glob("*.png"), *(runs["npe"] / "analysis").glob("*.png")]
        assert embedded == {p.read_bytes() for p in figures}
        assert "not computed yet: run sbi-neuro check" in page.locator("#calibration").inner_text()
        highlighted = page.locator("#comparison tr.this").all_inner_texts()
        assert len(highlighted) == 1 and "npe" in highlighted[0] and "this run" in highlighted[0]
        methods = [t.split("\t")[0] for t in page.locator("#comparison tbody tr").all_inner_texts()]
        assert sorted(methods) == ["cmaes", "npe"]
        errors = [float(t) for t in page.locator("#comparison tbody td:nth-child(6)").all_inner_texts()]
        assert errors == sorted(errors)
        save_screenshot(page, tmp_path / "report.png")
        page.close()


def test_every_section_shows_its_files(runs: dict[str, Path], browser: Any, tmp_path: Path) -> None:
    """The files of ``sbi-neuro check`` (written here by hand) fill their sections; text is escaped."""
    folder = tmp_path / "checked"
    shutil.copytree(runs["npe"], folder, ignore=shutil.ignore_patterns("bank", "report.html"))
    png = (folder / "plots/convergence.png").read_bytes()
    for name in ("analysis/constraint.png", "calibration/coverage.png", "predictive/traces.png"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).write_bytes(png)
    summary = json.loads((folder / "summary.json").read_text())
    members = [
        {"seed": s, "best_validation_loss": -1.5 - s / 10, "epochs": 30, "kept": s != 3} for s in (1, 2, 3)
    ]
    warning = "member 3 diverged <b>&</b>"
    summary["training"]["ensemble"] = {"members": members, "kept": 2, "warning": warning}
    (folder / "summary.json").write_text(json.dumps(summary))
    # The fields of the calibration report; coverage deviates more than a calibrated posterior's.
    calibration = {
        "n_held_out": 200,
        "n_valid": 187,
        "n_samples": 1000,
        "max_coverage_deviation": 0.0712345,
        "calibrated_deviation_95": 0.052,
        "tarp": {
            "empirical_coverage": [0.1] * 19,
            "max_coverage_deviation": 0.04,
            "atc": 0.0125,
            "ks_pvalue": 0.5,
        },
        "sbc": {"gl_hh": {"ks_pvalue": 0.0321, "mean_normalised_rank": 0.51, "sd_normalised_rank": 0.2877}},
    }
    (folder / "calibration/calibration.json").write_text(json.dumps(calibration))
    predictive = {
        "samples": 50,
        "tolerance_sd": 2.0,
        "valid_fraction": 0.96,
        "within_tolerance_fraction": 0.5,
    }
    (folder / "predictive/predictive.json").write_text(json.dumps(predictive))
    (folder / "analysis/posterior_summary.csv").write_text(
        ",mean,sd,hdi_5%,hdi_95%,unit\ngl_hh,0.000312345,1e-05,2e-4,4e-4,S/cm2\n"
    )

    page_html = render_report(folder, index=str(runs["index"]))
    assert '<div class="warning">Warning: member 3 diverged &lt;b&gt;&amp;&lt;/b&gt;</div>' in page_html
    assert "<b>&</b>" not in page_html
    expected = ["0.07123", "0.052", "187", 'TARP ATC</th><td class="num">0.0125', "0.0321", "0.2877"]
    expected += ["96.0%", "50.0%", "0.0003123", "S/cm2", "hdi_95%"]
    for text in expected:
        assert text in page_html, text
    assert "more than a calibrated posterior" in page_html
    assert "not computed yet" not in page_html

    (folder / "report.html").write_text(page_html)
    url = (folder / "report.html").as_uri()
    page, seen = open_page(browser, url)
    assert_loads_cleanly(seen, url, min_images=7)
    assert page.locator("#training .warning").count() == 1
    assert page.locator("#calibration .warning").count() == 1
    save_screenshot(page, tmp_path / "report_all_sections.png")
    page.close()


def test_missing_files_give_notes_not_errors(runs: dict[str, Path], tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for name in ("config.json", "summary.json"):
        shutil.copy(runs["npe"] / name, bare / name)
    empty_index = tmp_path / "none.sqlite"
    page_html = render_report(bare, index=str(empty_index))
    assert (
        page_html.count("not computed yet: run <code>sbi-neuro check") == 3
    )  # posterior, calibration, predictive
    for name in ("best_fit", "pairplot", "convergence"):
        assert f"missing: plots/{name}.png" in page_html
    assert f"no results index at {empty_index}" in page_html
    assert "<img" not in page_html and page_html.rstrip().endswith("</html>")

    baseline = write_report(runs["cmaes"], index=str(runs["index"])).read_text()
    assert baseline.count("not applicable: a cmaes run has no posterior") == 4
    assert '<tr class="this"><td>cmaes</td>' in baseline and "<td>npe</td>" in baseline


def test_a_folder_that_is_not_a_finished_run_is_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a run folder"):
        write_report(tmp_path)
    with pytest.raises(ValueError, match="not a run folder"):
        write_report(tmp_path / "absent")
    shutil.copy(runs["cmaes"] / "config.json", tmp_path / "config.json")
    with pytest.raises(ValueError, match="has not finished"):
        write_report(tmp_path)
    assert not (tmp_path / "report.html").exists()
