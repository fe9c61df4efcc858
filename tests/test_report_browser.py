"""`clapmos report RUN` opened in a real headless browser (Debian's chromium through Selenium WebDriver).

The page must load from the file system without console errors, every ``<audio>`` element's
embedded source must decode (its duration is known once its metadata is loaded), the plots
must be there (images with a size), and the attention of the frame head is drawn under the
players. A screenshot is written for a person to look at (to ``$CLAPMOS_SCREENSHOT`` when set,
which is how ``docs/report.png`` in the README was made; otherwise into the test's folder).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clapmos import cli
from clapmos.embed.corpora.demo import make_demo_corpus

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SMALL = ["d_model=16", "n_heads=2", "hidden_sizes=[16]", "max_epochs=3"]
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def invoke(*args):
    return CliRunner().invoke(cli.app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """The report of a demo run with a frame head (attn_mlp) scored on dev."""
    folder = tmp_path_factory.mktemp("report")
    make_demo_corpus(folder / "corpus", n_clips=48, seed=2)
    assert invoke("embed", "--corpus", "musiceval", "--root", folder / "corpus", "--embedder", "spectral", "--frames",
                  "--out", folder / "store.zarr").exit_code == 0
    params = [arg for setting in SMALL for arg in ("--param", f"attn_mlp.{setting}")]
    result = invoke("fit", "--store", folder / "store.zarr", "--embedder", "spectral", "--head", "attn_mlp", "--cv", 2, "--eval-split", "dev",
                    "--no-plots", "--draws", 200, *params, "--out", folder / "run")
    assert result.exit_code == 0, result.output
    result = invoke("report", folder / "run", "--worst", 3, "--draws", 200)
    assert result.exit_code == 0, result.output
    return folder / "run_report.html"


def test_the_page_is_self_contained(page):
    text = page.read_text(encoding="utf-8")
    assert 'src="http' not in text and "<script" not in text and "<link" not in text  # nothing to fetch, nothing to run
    assert text.count("<audio") == 6 and text.count('src="data:audio/wav;base64,') == 6  # 3 worst clips x 2 targets
    assert "prompt: <i>" in text and 'alt="attention ' in text


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip(f"no {CHROMIUM} and {CHROMEDRIVER} on this machine (apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,3000", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


def test_the_page_opens_plays_and_shows_its_plots_in_chromium(page, browser, tmp_path):
    browser.get(page.as_uri())
    assert browser.title.startswith("clapmos report")
    browser.set_script_timeout(30)
    durations = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const players = Array.from(document.querySelectorAll('audio'));
        Promise.all(players.map(a => new Promise(resolve => {
            if (a.readyState >= 1) return resolve(a.duration);
            a.addEventListener('loadedmetadata', () => resolve(a.duration));
            a.addEventListener('error', () => resolve('error ' + (a.error && a.error.code)));
            a.load();
        }))).then(done);
        """
    )
    assert len(durations) == 6 and all(isinstance(d, (int, float)) and 0 < d < 60 for d in durations), durations
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0]);"
    )
    names = [alt for alt, _ in images]
    assert all(ok for _, ok in images), images
    assert "metrics with intervals" in names and "scatter system overall" in names and "scatter utterance textual" in names
    assert sum(alt.startswith("attention ") for alt in names) == 6
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not errors, errors
    screenshot = Path(os.environ.get("CLAPMOS_SCREENSHOT", tmp_path / "report.png"))
    assert browser.save_screenshot(str(screenshot)) and screenshot.read_bytes()[:4] == b"\x89PNG"
    shutil.copy(screenshot, page.with_suffix(".png"))  # beside the page, for a person to look at
