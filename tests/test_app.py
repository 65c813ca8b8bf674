"""The web app (colorlab.app): its work on one file, and the page end to end in a real headless browser
(Debian's chromium + chromedriver through selenium; skipped, saying why, where they are missing)."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import color as skcolor
from skimage import data as skdata

from colorlab import infer, zoo
from colorlab.app import GREY_SUFFIX, OWN_DECODING, RESULT_SUFFIX, Models, colorize_file, wait_until_serving

REPO = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def lab(path: Path) -> np.ndarray:
    return skcolor.rgb2lab(np.asarray(Image.open(path).convert("RGB")))


@pytest.fixture(scope="module")
def colorizer():
    return Models(device="cpu").colorizer(zoo.default_name(), OWN_DECODING, 0.38)


# ------------------------------------------------------------------------------ one file, no page
def test_a_photo_comes_back_grey_and_coloured_at_full_size_with_its_own_l(colorizer, tmp_path):
    Image.fromarray(skdata.chelsea()).save(tmp_path / "cat.png")
    outcome = colorize_file(tmp_path / "cat.png", colorizer, tmp_path)
    assert outcome.error is None and outcome.size == (451, 300)
    assert outcome.result == tmp_path / f"cat{RESULT_SUFFIX}.png" and outcome.grey == tmp_path / f"cat{GREY_SUFFIX}.png"
    source, result, grey = lab(tmp_path / "cat.png"), lab(outcome.result), lab(outcome.grey)
    assert result.shape == grey.shape == source.shape
    # L is the input's, to 8-bit rounding (and, for the result, where predicted colours left the sRGB gamut, clipping)
    assert np.abs(grey[..., 0] - source[..., 0]).max() < 0.6
    assert np.abs(result[..., 0] - source[..., 0]).mean() < 0.1 and np.abs(result[..., 0] - source[..., 0]).max() < 1.5
    assert np.abs(result[..., 1:]).mean() > 1.0 and np.abs(grey[..., 1:]).mean() < 0.05  # grey: R = G = B


def test_a_non_image_or_a_too_large_one_gets_a_message_and_no_file(colorizer, tmp_path):
    (tmp_path / "notes.txt").write_text("not a photo")
    outcome = colorize_file(tmp_path / "notes.txt", colorizer, tmp_path)
    assert outcome.result is None and "not an image" in outcome.error and "notes.txt" in outcome.line()
    Image.fromarray(skdata.coffee()).save(tmp_path / "coffee.jpg")
    outcome = colorize_file(tmp_path / "coffee.jpg", colorizer, tmp_path, max_megapixels=0.1)
    assert outcome.result is None and "600 x 400 px = 0.2 megapixels, above this page's limit of 0.1" in outcome.error
    outcome = colorize_file(tmp_path / "coffee.jpg", colorizer, tmp_path, max_file_mb=0.001)
    assert outcome.result is None and "MB, above this page's limit" in outcome.error
    assert sorted(p.name for p in tmp_path.iterdir()) == ["coffee.jpg", "notes.txt"]


# ------------------------------------------------------------------------------ the page in a browser
def _missing() -> str | None:
    if CHROMIUM is None or CHROMEDRIVER is None:
        return "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run does)"
    for module in ("selenium", "gradio"):
        try:
            __import__(module)
        except ImportError:
            return f"needs {module}: pip install 'colorlab[app]'"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_url(tmp_path):
    """``python -m colorlab app`` on a free local port, as a user starts it; stopped after the test."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}
    with open(tmp_path / "app.log", "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "colorlab", "app", "--port", str(port), "--max_megapixels",
                                   "1"], stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)  # fmt: skip
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(url, server, 180)
    except RuntimeError as err:
        server.kill()
        raise RuntimeError(f"{err}: {(tmp_path / 'app.log').read_text()[-2000:]}") from None
    yield url
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1400", f"--user-data-dir={tempfile.mkdtemp()}"):
        options.add_argument(flag)  # fmt: skip
    (tmp_path / "downloads").mkdir()
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads"),
                                              "download.prompt_for_download": False})  # fmt: skip
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(condition, seconds: float = 120.0, what: str = ""):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


@pytest.mark.slow
@pytest.mark.skipif(_missing() is not None, reason=str(_missing()))
def test_the_page_colorizes_an_upload_in_a_real_browser_and_reports_a_non_image(app_url, browser, tmp_path):
    from selenium.webdriver.common.by import By

    rgb = np.ascontiguousarray(skdata.chelsea())
    Image.fromarray(rgb).save(tmp_path / "cat.png")
    (tmp_path / "notes.txt").write_text("not a photo")
    Image.fromarray(np.zeros((1100, 1000, 3), np.uint8)).save(tmp_path / "huge.png")  # 1.1 MP; the app allows 1

    browser.get(app_url)
    upload = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#upload input[type=file]"), what="the page")[0]
    upload.send_keys("\n".join(str(tmp_path / n) for n in ("cat.png", "notes.txt", "huge.png")))
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#upload tr, #upload .file")) >= 3
             or "huge.png" in browser.find_element(By.ID, "upload").text, what="the three uploads")  # fmt: skip
    time.sleep(1)
    browser.find_element(By.ID, "run").click()
    status = wait_for(lambda: (t := browser.find_element(By.ID, "status").text) and "colorized with" in t and t,
                      what="the status line")  # fmt: skip
    assert "1 of 3 colorized" in status
    assert "notes.txt: not an image" in status and "/tmp" not in status and str(tmp_path) not in status
    assert "huge.png: 1000 x 1100 px = 1.1 megapixels, above this page's limit of 1" in status
    shown = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#results img"), what="the results gallery")
    assert len(shown) >= 2  # grayscale | result
    browser.save_screenshot(str(tmp_path / "page.png"))

    link = wait_for(lambda: [a for a in browser.find_elements(By.CSS_SELECTOR, "#downloads a")
                             if RESULT_SUFFIX in (a.get_attribute("href") or "")], what="a download link")[0]  # fmt: skip
    link.click()
    downloaded = tmp_path / "downloads" / f"cat{RESULT_SUFFIX}.png"
    wait_for(lambda: downloaded.is_file() and not list((tmp_path / "downloads").glob("*.crdownload")),
             seconds=60, what=f"{downloaded.name} in the download folder")  # fmt: skip
    result = lab(downloaded)
    source = skcolor.rgb2lab(rgb)
    assert result.shape == source.shape  # full resolution
    # its L is the input's, to 8-bit rounding and gamut clipping
    assert np.abs(result[..., 0] - source[..., 0]).mean() < 0.1 and np.abs(result[..., 0] - source[..., 0]).max() < 1.5
    assert np.abs(result[..., 1:]).max() > 1.0  # and its ab is not all zero
    # the server keeps serving: a second run on the same page
    browser.find_element(By.ID, "run").click()
    time.sleep(1)
    assert urllib.request.urlopen(app_url, timeout=10).status == 200


def test_colorize_file_handles_16_bit_grey_like_colorize(colorizer, tmp_path):
    grey16 = (np.linspace(0, 65535, 64 * 80).reshape(64, 80)).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    outcome = colorize_file(tmp_path / "grey16.png", colorizer, tmp_path)
    expected = infer.render(infer.read_picture(tmp_path / "grey16.png"),
                            colorizer.predict_ab(infer.read_picture(tmp_path / "grey16.png").resized(
                                colorizer.working_size(64, 80))))[0]  # fmt: skip
    assert np.array_equal(np.asarray(Image.open(outcome.result).convert("RGB")), expected)


def test_app_help_names_its_options_and_listens_on_localhost_by_default(capsys):
    from colorlab.cli import cli_main

    with pytest.raises(SystemExit) as exit_:
        cli_main(["app", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(option in out for option in ("--model", "--ckpt_path", "--host", "--port", "--max_megapixels"))
    assert "default 127.0.0.1" in out
