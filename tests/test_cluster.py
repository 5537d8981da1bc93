"""Several app processes behind Caddy (make serve, kefu/cluster.py): a browser whose worker dies goes on,
logged in, on another; the dead worker comes back; the daily jobs run in one process at a time."""
import json
import multiprocessing
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from browser import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, log_in, require_chromium, settle

from conftest import book_today
from kefu import jobs
from kefu.cluster import state_file

# Two appointments of the office's today, the first two of its 今日预约 at any hour (conftest.book_today)
GUESTS = ("欧阳明远", "司马静怡")


def require_caddy() -> None:
    if shutil.which("caddy"):
        return
    message = "caddy is missing: apt-get install caddy (.ci/run does this)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _get(url: str, timeout: float = 2) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.read()
    except OSError:
        return None


def _wait(condition, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _workers(db: Path) -> dict[int, dict]:
    try:
        return {w["number"]: w for w in json.loads(state_file(db).read_text())["workers"]}
    except (OSError, ValueError):
        return {}


def _all_healthy(db: Path) -> bool:
    workers = _workers(db)
    return bool(workers) and all(_get(f"http://127.0.0.1:{w['port']}/_stcore/health") == b"ok"
                                 for w in workers.values())


@pytest.fixture(scope="module")
def cluster(demo_file, tmp_path_factory):
    require_chromium()
    require_caddy()
    db = tmp_path_factory.mktemp("cluster") / "kefu.db"
    shutil.copy(demo_file, db)
    for minute, name in enumerate(GUESTS):
        book_today(db, name, minute=minute)
    port = free_port()
    log = open(db.with_suffix(".log"), "w")
    process = subprocess.Popen([sys.executable, "-m", "kefu", "serve", "--workers", "2", "--port", str(port),
                                "--address", "127.0.0.1"], cwd=ROOT, env={**os.environ, "KEFU_DB": str(db)},
                               stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _all_healthy(db), "both workers to answer")
        _wait(lambda: _get(f"http://127.0.0.1:{port}/_stcore/health") == b"ok", "the proxy")
        yield type("Cluster", (), {"url": f"http://127.0.0.1:{port}", "db": db, "process": process})
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()


def check_in(expected, name: str) -> None:
    """Click 签到 on the row of this visitor in the home screen's 今日预约."""
    row = expected.locator("[data-testid='stHorizontalBlock']").filter(has_text=name)
    row.get_by_role("button", name="签到").click(timeout=30000)


def test_a_browser_whose_worker_dies_goes_on_logged_in_on_another(cluster):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN").new_page()
        log_in(page, cluster.url, "demo-supervisor")
        settle(page)
        first = page.request.get(f"{cluster.url}/_kefu/worker").json()["worker"]
        assert first in (1, 2)                                    # the sticky cookie names the browser's worker
        expected = page.locator(".st-key-home_expected")
        present = page.locator(".st-key-home_present")
        names = GUESTS
        check_in(expected, names[0])                                        # a write on the first worker
        present.get_by_text(names[0]).wait_for(timeout=15000)

        dead = _workers(cluster.db)[first]["pid"]
        with page.expect_websocket(timeout=60000):                # the page notices and reconnects by the proxy
            os.kill(dead, signal.SIGKILL)
        # Until the new socket is open, Streamlit's page drops a click ("Cannot send message when server is
        # disconnected") as a user sees nothing happen and clicks again; on a loaded machine that takes a while.
        heading = page.get_by_role("heading", name="来访登记").first
        deadline = time.monotonic() + 60
        while True:
            page.get_by_role("link", name="来访登记").click()
            try:
                heading.wait_for(timeout=5000)
                break
            except PlaywrightTimeout:
                if time.monotonic() > deadline:
                    raise
        page.locator("[data-testid='stDataFrame']").wait_for(timeout=30000)
        assert page.get_by_role("button", name="登录", exact=True).count() == 0   # still logged in
        second = page.request.get(f"{cluster.url}/_kefu/worker").json()["worker"]
        assert second != first

        page.get_by_role("link", name="今日").click()
        expected = page.locator(".st-key-home_expected")
        check_in(expected, names[1])                                        # a write on the second worker
        page.locator(".st-key-home_present").get_by_text(names[1]).wait_for(timeout=15000)
        browser.close()
    arrived = dict(sqlite3.connect(cluster.db).execute(
        f"SELECT visitor_name, count(*) FROM visitors WHERE visitor_name IN ({', '.join('?' * len(names))}) "
        "AND arrived_at IS NOT NULL GROUP BY visitor_name", names))
    assert arrived == {names[0]: 1, names[1]: 1}                          # both saved, neither twice
    # the supervisor started the dead worker again, on its port
    back = _wait(lambda: (w := _workers(cluster.db)[first])["pid"] != dead and _all_healthy(cluster.db) and w,
                 "the dead worker to come back")
    assert back["restarts"] == 1


def _hold_the_backup_job(path: str, started, release) -> None:
    with jobs.only_one(path) as mine:
        assert mine
        started.set()
        release.wait(30)


def test_a_daily_job_runs_in_one_process_at_a_time(tmp_path):
    lock = str(tmp_path / "kefu.db.backup.lock")
    started, release = multiprocessing.Event(), multiprocessing.Event()
    holder = multiprocessing.get_context("fork").Process(target=_hold_the_backup_job, args=(lock, started, release))
    holder.start()
    try:
        assert started.wait(30)
        with jobs.only_one(lock) as mine:
            assert not mine                                   # another worker is running it now
    finally:
        release.set()
        holder.join(30)
    with jobs.only_one(lock) as mine:
        assert mine                                           # and once it is done, the next check may
    killed = multiprocessing.get_context("fork").Process(target=_hold_the_backup_job, args=(lock, started, release))
    release.clear()
    started.clear()
    killed.start()
    assert started.wait(30)
    os.kill(killed.pid, signal.SIGKILL)                       # a worker killed while running the job
    killed.join(30)
    with jobs.only_one(lock) as mine:
        assert mine                                           # leaves the lock free
