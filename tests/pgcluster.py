"""A throwaway PostgreSQL cluster for `make test-pg`: Debian's postgresql package, initdb into a temporary folder,
started on a free local port, stopped and removed afterwards.

    python tests/pgcluster.py COMMAND...     runs COMMAND with KEFU_TEST_PG=postgresql://kefu@127.0.0.1:PORT/postgres

The engine tests then make one fresh database per test (tests/conftest.py). initdb refuses to run as root, so
as root the cluster belongs to the `postgres` user the package creates.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise SystemExit("PostgreSQL is missing: apt-get install postgresql (.ci/run does this)")
    return found[-1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


# The tests' cluster keeps nothing across a crash (it is removed afterwards anyway): no flushes at all
THROWAWAY = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"


class Cluster:
    """A running throwaway cluster: its URL, and stop/start for the tests of the database going away."""

    def __init__(self, folder: Path, port: int, *, durable: bool, password: str | None, durability: str | None):
        self.folder, self.port, self.data = folder, port, folder / "data"
        self.url = f"postgresql://kefu{':' + password if password else ''}@127.0.0.1:{port}/postgres"
        # durable: a commit the server acknowledged survives an immediate stop (a crash), as on a real server
        flushing = durability or (THROWAWAY.replace("synchronous_commit=off", "synchronous_commit=on") if durable
                                  else THROWAWAY)
        self._options = f"-p {port} -k {folder / 'run'} -c listen_addresses=127.0.0.1 {flushing} -c max_connections=200"

    def start(self) -> None:
        """Start it (again) on its port; returns once it accepts connections."""
        subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-l", str(self.folder / "log"),
                                  "-o", self._options, "start"]), check=True, stdout=subprocess.DEVNULL)

    def stop(self, mode: str = "fast") -> None:
        """Stop it: "fast" ends every session (rolling back what is open), "immediate" is a crash."""
        subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-m", mode, "stop"]),
                       check=True, stdout=subprocess.DEVNULL)

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def running_cluster(*, durable: bool = False, password: str | None = None, durability: str | None = None):
    """Yields a running throwaway Cluster, user kefu (superuser): without a password (trust), or with `password`
    asked of every connection (scram-sha-256). `durability`: the server options on flushing (the benchmark
    runs with an office's); by default none, or with `durable` a commit survives a crash."""
    folder = Path(tempfile.mkdtemp(prefix="kefu-pg-"))
    sockets = folder / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
    made = Cluster(folder, _free_port(), durable=durable, password=password, durability=durability)
    auth = ["--auth=trust"]
    if password:
        (folder / "pw").write_text(password)
        if os.geteuid() == 0:
            shutil.chown(folder / "pw", "postgres")
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={folder / 'pw'}"]
    try:
        subprocess.run(_as_owner([_bin("initdb"), "-D", str(made.data), "-U", "kefu", *auth, "-E", "UTF8",
                                  "--locale=C.UTF-8", "--no-sync"]), check=True, stdout=subprocess.DEVNULL)
        made.start()
        yield made
    finally:
        if made.running:
            subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(made.data), "-m", "immediate", "stop"]),
                           stdout=subprocess.DEVNULL)
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def cluster(durability: str | None = None):
    """Yields the URL of a running throwaway cluster's `postgres` database, user kefu, no password."""
    with running_cluster(durability=durability) as made:
        yield made.url


def main(argv: list[str]) -> int:
    if not argv:
        raise SystemExit(__doc__)
    with cluster() as url:
        return subprocess.run(argv, env={**os.environ, "KEFU_TEST_PG": url}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
