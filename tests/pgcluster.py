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


@contextmanager
def cluster(durability: str = THROWAWAY):
    """Yields the URL of a running throwaway cluster's `postgres` database, user kefu, no password.
    `durability`: the server options on flushing (the benchmark runs with an office's)."""
    folder = Path(tempfile.mkdtemp(prefix="kefu-pg-"))
    data, sockets = folder / "data", folder / "run"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    try:
        subprocess.run(_as_owner([_bin("initdb"), "-D", str(data), "-U", "kefu", "--auth=trust", "-E", "UTF8",
                                  "--locale=C.UTF-8", "--no-sync"]), check=True, stdout=subprocess.DEVNULL)
        subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(folder / "log"),
                                  "-o", f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 {durability} "
                                        "-c max_connections=200",
                                  "start"]), check=True, stdout=subprocess.DEVNULL)
        yield f"postgresql://kefu@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(_as_owner([_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                           stdout=subprocess.DEVNULL)
        shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    if not argv:
        raise SystemExit(__doc__)
    with cluster() as url:
        return subprocess.run(argv, env={**os.environ, "KEFU_TEST_PG": url}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
