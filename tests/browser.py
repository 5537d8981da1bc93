"""A real Streamlit server and Debian's Chromium, driven by Playwright, for end-to-end tests."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "docs" / "screenshots"


def require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    message = f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does this)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def own_folder_server(demo_file: Path, base: Path, folder: str, variable: str) -> "Server":
    """`streamlit run` on a copy of the demo office in `base`, reading its own copy of the project's `folder`
    (schema or rules) through $`variable`: what a test saves there changes no other test and not the repository.
    The copy is the server's `db` and its attribute named after the folder."""
    import shutil
    require_chromium()
    db, own = base / "kefu.db", base / folder
    shutil.copy(demo_file, db)
    shutil.copytree(ROOT / folder, own)
    running = Server(db, env={variable: str(own)})
    running.db = db
    setattr(running, folder, own)
    return running


@contextmanager
def launched_chromium():
    """Debian's Chromium, headless, driven by Playwright, for the length of the block."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def fill_in_a_call(page, base: str, subject: str, *, kind: str = "投诉", category: str = "维修质量",
                   phone: str = "13912345678", caller: str = "周女士") -> None:
    """On the ticket screen, a 400 call (by default 周女士's complaint about repair quality) about `subject`,
    filled in and not yet logged."""
    page.goto(f"{base}/tickets")
    settle(page)
    for label, option in (("渠道", "400 来电"), ("类型", kind), ("分类", category)):
        page.get_by_role("combobox", name=label).click()
        page.get_by_role("option", name=option, exact=True).click()
        settle(page)
    page.get_by_label("来电号码").fill(phone)
    page.get_by_label("来电人").fill(caller)
    page.get_by_label("事由").fill(subject)
    page.get_by_label("事由").press("Tab")
    settle(page)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`streamlit run serve.py` (the app and its cookie routes) on 127.0.0.1 with its own database file."""

    def __init__(self, db: Path | str, env: dict | None = None, log: Path | None = None):
        """db: a SQLite file (its log beside it) or a PostgreSQL URL (its log at `log`)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "KEFU_DB": str(db), **(env or {})}     # env: e.g. KEFU_RULES, a rules folder of its own
        self.log = open(log or Path(db).with_suffix(".log"), "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit did not start; see {self.log.name}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def log_in(page, base: str, username: str, password: str = "kefu-demo") -> None:
    page.goto(base)
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("heading", name="您好").wait_for(timeout=20000)
    wait_for_session_cookie(page)


def wait_for_session_cookie(page, *, present: bool = True, timeout: float = 10) -> dict | None:
    """The login's HttpOnly cookie once the server's answer has set it (page script cannot see it), or
    with present=False, None once the logout's answer has cleared it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [c for c in page.context.cookies() if c["name"] == "kefu_session"]
        if bool(found) == present:
            return found[0] if found else None
        if time.monotonic() > deadline:
            raise AssertionError(f"the session cookie was {'never set' if present else 'not cleared'}")
        page.wait_for_timeout(100)


def settle(page, timeout: int = 15000) -> None:
    """Wait until Streamlit has finished running the script."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=timeout)


def shoot(page, name: str) -> Path:
    """Save a screenshot for the README once the page has drawn everything (no loading skeletons)."""
    settle(page)
    page.wait_for_function("!document.querySelector('[data-testid=stSkeleton]')", timeout=15000)
    page.wait_for_timeout(800)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
