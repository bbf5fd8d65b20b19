"""The web UI in a real headless browser (Debian's chromium driven by Selenium) against a
running embedded cluster: each page renders what the cluster holds; screenshots of the
main pages go to docs/."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from actors.cluster import LocalCluster
from actors.http import HttpServer
from actors.operator import MasterSource, operator_app
from actors.operator.files import SandboxReader
from actors.operator.writes import master_sender
from tests.unit.operator_api.conftest import Recorder, wait_for

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
DOCS = Path(__file__).resolve().parents[2] / "docs"
COMMANDS = ["i=0; while true; do i=$((i+1)); echo web line $i; sleep 0.2; done"] + ["sleep 300"] * 5 + ["true"] * 3
ECHO_TASK = f"t0-{len(COMMANDS) - 1}"  # Recorder's id for its first task

pytestmark = pytest.mark.skipif(not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
                                reason="Debian's chromium and chromedriver are not installed")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mesobus-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def site():
    with LocalCluster(agents=3, agent_resources="cpus:4;mem:4096;disk:8192;ports:[31000-32000]") as cluster:
        source = MasterSource("127.0.0.1:0")
        source.lead(cluster.master_ref.proxy().snapshots.get(), master_sender(cluster.transport))
        source.files = SandboxReader(cluster.transport)
        server = HttpServer(operator_app(source), "127.0.0.1", 0).start()
        source.http_address = f"127.0.0.1:{server.port}"
        handle = Recorder.run(cluster, name="webapp", roles=("web",), commands=list(COMMANDS))
        wait_for(lambda: sum(s.state.value == "TASK_RUNNING" for s in handle.scheduler.statuses) >= 6, 60, "six running")
        try:
            yield server.url, handle
        finally:
            handle.stop()
            server.stop()


def _text_of(driver, css: str, contains: str, timeout: float = 20.0) -> str:
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            text = driver.find_element(By.CSS_SELECTOR, css).text
        except Exception:  # noqa: BLE001  not rendered yet
            text = ""
        if contains in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"{css!r} never showed {contains!r}; last: {text!r}")


def test_pages_render_the_cluster(browser, site):
    url, handle = site
    browser.get(f"{url}/#/")
    _text_of(browser, "#dash-agents", "3")
    _text_of(browser, "#res-cpus", "/ 12")
    assert "TASK_RUNNING" in _text_of(browser, "main", "TASK_RUNNING")
    browser.save_screenshot(str(DOCS / "webui-dashboard.png"))

    browser.get(f"{url}/#/agents")
    assert _text_of(browser, "main table", "active").count("active") == 3

    browser.get(f"{url}/#/frameworks")
    _text_of(browser, "main table", "webapp")
    browser.get(f"{url}/#/frameworks/{handle.framework_id}")
    _text_of(browser, "main", "roles web")

    browser.get(f"{url}/#/tasks")
    text = _text_of(browser, "#page-info", "tasks")
    assert "page 1 of 1" in text
    _text_of(browser, "main table", "TASK_RUNNING")
    browser.save_screenshot(str(DOCS / "webui-tasks.png"))

    browser.get(f"{url}/#/roles")
    _text_of(browser, "main table", "web")


def test_task_page_shows_history_and_follows_stdout(browser, site):
    url, handle = site
    task_id = ECHO_TASK  # the first command, launched on the first offer
    browser.get(f"{url}/#/tasks/{handle.framework_id}/{task_id}")
    _text_of(browser, "main table", "TASK_RUNNING")
    first = _text_of(browser, "#log", "web line")
    later = _text_of(browser, "#log", f"web line {_last_line_number(first) + 5}")
    assert later != first
    browser.save_screenshot(str(DOCS / "webui-task.png"))


def _last_line_number(text: str) -> int:
    numbers = [int(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("web line ")]
    return max(numbers)
