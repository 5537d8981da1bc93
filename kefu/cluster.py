"""Several app processes on one database file behind Caddy (`make serve WORKERS=N`, `python -m kefu serve`).

Each worker is a `streamlit run serve.py` on a local port of its own; Caddy (deploy/Caddyfile) listens on
the office's port, keeps a browser on its worker by a cookie and skips a worker that fails its health
check. This supervisor starts them, restarts a worker that exits or stops answering its health check on
the same port, and stops everything on SIGTERM or Ctrl-C. It writes where each worker is (number, port,
pid) into a small JSON file beside the database, for the administrator and the tests.

Logins live in the database, so a browser moved to another worker stays logged in; SQLite serialises the
writers (BEGIN IMMEDIATE, busy_timeout); the daily jobs take a lock file, so one worker runs each.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from kefu import config

CADDYFILE = config.ROOT / "deploy" / "Caddyfile"
HEALTH_EVERY = 2.0         # seconds between a worker's health checks
HEALTH_FAILURES = 3        # this many failed checks in a row and a running worker is restarted
START_GRACE = 90.0         # a (re)started worker may take this long to answer its first check


class ClusterError(Exception):
    """The cluster cannot start: no Caddy, a port in use."""


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def state_file(db: Path) -> Path:
    return Path(f"{db}.workers.json")


@dataclass
class Worker:
    number: int
    port: int
    process: subprocess.Popen | None = None
    started: float = 0.0
    failures: int = 0
    restarts: int = 0
    answered: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    workers: int
    port: int
    address: str = "localhost"
    db: Path = field(default_factory=config.db_path)
    log: object = sys.stderr
    _workers: list[Worker] = field(default_factory=list)
    _caddy: subprocess.Popen | None = None
    _home: Path | None = None
    _stopping: bool = False

    # -- start and stop ------------------------------------------------------------------------
    def start(self) -> None:
        caddy = shutil.which("caddy")
        if caddy is None:
            raise ClusterError("caddy is not installed: apt-get install caddy (.ci/run does this)")
        self.db = Path(self.db).resolve()
        self._home = Path(tempfile.mkdtemp(prefix="kefu-caddy-"))
        self._workers = [Worker(n, free_port()) for n in range(1, self.workers + 1)]
        for worker in self._workers:
            self._spawn(worker)
        upstreams = " ".join(f"127.0.0.1:{w.port}" for w in self._workers)
        env = {**os.environ, "KEFU_LISTEN": f"{self.address}:{self.port}", "KEFU_UPSTREAMS": upstreams,
               "XDG_DATA_HOME": str(self._home), "XDG_CONFIG_HOME": str(self._home), "HOME": str(self._home)}
        self._caddy = subprocess.Popen([caddy, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                                       env=env, stdout=self.log, stderr=self.log)
        self._wait_for_caddy()
        self._write_state()
        self._say(f"Kefu Desk on http://{self.address}:{self.port} with {self.workers} workers "
                  f"(ports {', '.join(str(w.port) for w in self._workers)}), database {self.db}")

    def _wait_for_caddy(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._caddy.poll() is not None:
                self.stop()
                raise ClusterError(f"caddy could not start (exit {self._caddy.returncode}); its message is above")
            try:
                with socket.create_connection((self.address, self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise ClusterError(f"caddy did not listen on {self.address}:{self.port} within {timeout:.0f} s")

    def _spawn(self, worker: Worker) -> None:
        env = {**os.environ, "KEFU_DB": str(self.db), "KEFU_WORKER": str(worker.number)}
        worker.process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(config.ROOT / "serve.py"),
             "--server.port", str(worker.port), "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=config.ROOT, env=env, stdout=self.log, stderr=self.log)
        worker.started, worker.failures, worker.answered = time.monotonic(), 0, False

    def stop(self) -> None:
        self._stopping = True
        processes = [w.process for w in self._workers if w.process] + ([self._caddy] if self._caddy else [])
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        state_file(self.db).unlink(missing_ok=True)
        if self._home:
            shutil.rmtree(self._home, ignore_errors=True)

    # -- supervision ---------------------------------------------------------------------------
    def check_once(self) -> list[int]:
        """Restart each worker that exited, or that stopped answering its health check; returns their numbers."""
        restarted = []
        for worker in self._workers:
            reason = self._trouble(worker)
            if reason:
                self._say(f"worker {worker.number} (port {worker.port}) {reason}; restarting it")
                if worker.process and worker.process.poll() is None:
                    worker.process.kill()
                    worker.process.wait()
                worker.restarts += 1
                self._spawn(worker)
                restarted.append(worker.number)
        if self._caddy is not None and self._caddy.poll() is not None and not self._stopping:
            raise ClusterError(f"caddy exited with {self._caddy.returncode}")
        if restarted:
            self._write_state()
        return restarted

    def _trouble(self, worker: Worker) -> str | None:
        code = worker.process.poll() if worker.process else -1
        if code is not None:
            return f"exited with {code}"
        if healthy(worker.url):
            worker.failures, worker.answered = 0, True
            return None
        if not worker.answered and time.monotonic() - worker.started < START_GRACE:
            return None                               # still starting
        worker.failures += 1
        return f"failed {worker.failures} health checks" if worker.failures >= HEALTH_FAILURES else None

    def run_forever(self) -> None:
        def stop(signum, frame):                     # noqa: ARG001
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, stop)
        try:
            while True:
                self.check_once()
                time.sleep(HEALTH_EVERY)
        except KeyboardInterrupt:
            pass
        except ClusterError as exc:
            self._say(str(exc))
            raise
        finally:
            self.stop()

    # -- where the workers are -----------------------------------------------------------------
    def _write_state(self) -> None:
        state = {"url": f"http://{self.address}:{self.port}", "supervisor": os.getpid(),
                 "workers": [{"number": w.number, "port": w.port, "pid": w.process.pid if w.process else None,
                              "restarts": w.restarts} for w in self._workers]}
        target = state_file(self.db)
        partial = target.with_name(target.name + ".partial")
        partial.write_text(json.dumps(state, indent=1), encoding="utf-8")
        partial.replace(target)

    def _say(self, message: str) -> None:
        print(f"kefu serve: {message}", file=self.log, flush=True)


def healthy(url: str) -> bool:
    """Whether the Streamlit server at `url` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False
