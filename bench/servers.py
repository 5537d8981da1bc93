"""Twenty people at once against real servers: one `streamlit run serve.py` process, then `make serve`'s N
workers behind Caddy, on the same copy of the office.

Each session is a real WebSocket client speaking Streamlit's own protocol (the BackMsg / ForwardMsg protobufs
the browser sends and receives), logged in as the manager by its session cookie, as a browser would be after
a refresh. Every session opens the ticket list, then reruns it RENDERS times, then the dashboard; a render is
timed from the rerun request sent to the server's "script finished". The clients run as threads of one process
of their own (on this 2-core machine they share the cores with the servers: the figures include that).
Printed per server shape: per-render p50/p95 and renders per second over the round.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench import side
from kefu import auth, config
from kefu.cluster import free_port, healthy, state_file
from kefu.sheets import load_sheets
from kefu.store import Store

ROOT = Path(__file__).resolve().parent.parent
SESSIONS = 20
RENDERS = 5
PAGES = ("tickets", "dashboard")


def _start(db: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "KEFU_DB": str(db)}
    if workers == 1:
        command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"), "--server.port", str(port),
                   "--server.address", "127.0.0.1", "--server.headless", "true"]
    else:
        command = [sys.executable, "-m", "kefu", "serve", "--workers", str(workers), "--port", str(port),
                   "--address", "127.0.0.1"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while not healthy(url):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"the server ({workers} worker(s)) did not start")
        time.sleep(0.3)
    if workers > 1:                     # the proxy answers as soon as one worker does: wait for all of them
        while True:
            try:
                ports = [w["port"] for w in json.loads(state_file(db).read_text())["workers"]]
            except (OSError, ValueError):
                ports = []
            if ports and all(healthy(f"http://127.0.0.1:{p}") for p in ports):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not all start")
            time.sleep(0.3)
    return process, url


def _render(ws, page: str) -> float:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    message = BackMsg()
    message.rerun_script.page_name = page
    started = time.perf_counter()
    ws.send(message.SerializeToString())
    while True:
        answer = ForwardMsg()
        answer.ParseFromString(ws.recv(timeout=120))
        if answer.WhichOneof("type") == "script_finished":
            return (time.perf_counter() - started) * 1000


def _session(url: str, cookie: str, barrier: threading.Barrier, results: dict, problems: list) -> None:
    from websockets.sync.client import connect
    host = url.removeprefix("http://")
    try:
        with connect(f"ws://{host}/_stcore/stream", subprotocols=["streamlit"], max_size=None, open_timeout=60,
                     additional_headers={"Cookie": f"kefu_session={cookie}", "Origin": url}) as ws:
            for page in PAGES:
                _render(ws, page)                                  # opening the page: not timed
                barrier.wait(timeout=300)
                started = time.perf_counter()
                times = [_render(ws, page) for _ in range(RENDERS)]
                results.setdefault(page, []).append((times, started, time.perf_counter()))
    except Exception as exc:                                        # reported, never hidden
        problems.append(f"{type(exc).__name__}: {exc}")
        barrier.abort()


def _round(url: str, cookies: list[str]) -> tuple[dict, list]:
    barrier = threading.Barrier(len(cookies))
    results, problems = {}, []
    threads = [threading.Thread(target=_session, args=(url, c, barrier, results, problems)) for c in cookies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, problems


def _cookies(store: Store, count: int) -> list[str]:
    cookies = []
    for _ in range(count):
        _, token = auth.login(store, "demo-manager", "kefu-demo")
        cookies.append(auth.redeem_handoff(store, auth.handoff(store, token)))
    return cookies


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def run(store: Store, folder: Path, workers: int | None = None) -> None:
    workers = workers or os.cpu_count() or 2
    db = folder / "servers.db"
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copy(store.path, db)
    office = (ROOT / "office.toml").read_text(encoding="utf-8").replace("daily = true", "daily = false")
    (folder / "office.toml").write_text(office, encoding="utf-8")
    os.environ["KEFU_CONFIG"] = str(folder / "office.toml")
    config.load.cache_clear()
    copy = Store(db, load_sheets(), config.load())
    tickets = copy.conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
    columns = ("1 worker", f"{workers} workers")
    for shape in (1, workers):
        process, url = _start(db, shape)
        try:
            results, problems = _round(url, _cookies(copy, SESSIONS))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
        if problems:
            print(f"servers: {shape} worker(s): {len(problems)} session(s) failed: {problems[:3]}")
            side.put(columns, f"{SESSIONS} sessions: failed", columns[0 if shape == 1 else 1], str(len(problems)))
            continue
        for page in PAGES:
            times = [ms for t, _, _ in results[page] for ms in t]
            wall = max(end for _, _, end in results[page]) - min(start for _, start, _ in results[page])
            print(f"servers: {SESSIONS} WebSocket sessions at once on {shape} worker(s) "
                  f"({'streamlit run' if shape == 1 else 'Caddy + ' + str(shape) + ' streamlit workers'}; "
                  f"{tickets:,} tickets), {page} page, {RENDERS} reruns each: per render p50 "
                  f"{_percentile(times, 0.5):.0f} ms, p95 {_percentile(times, 0.95):.0f} ms; "
                  f"{len(times)} renders in {wall:.1f} s ({len(times) / wall:.1f}/s)")
            column = columns[0 if shape == 1 else 1]
            side.put(columns, f"{SESSIONS} sessions, {page} page: renders/s", column,
                     f"{len(times) / wall:.1f} ({len(times)} renders, {tickets:,} tickets)")
            side.put(columns, f"{SESSIONS} sessions, {page} page: per render p50 / p95", column,
                     f"{_percentile(times, 0.5):,.0f} / {_percentile(times, 0.95):,.0f} ms")
    copy.close()


if __name__ == "__main__":          # python -m bench.servers DB: the round alone, on a copy of DB
    import tempfile
    source = Store(sys.argv[1], load_sheets(), config.load())
    scratch = Path(tempfile.mkdtemp(prefix="kefu-servers-"))
    try:
        run(source, scratch)
        side.show()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
