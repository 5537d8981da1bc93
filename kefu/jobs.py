"""Work beside the user's: the app's daily jobs (the backup, the retention run), each a background thread of the
app's process that runs a job with its own connection every so often (the job itself knows whether today's run is
still due; an error is printed and retried at the next check, never shown to a user); and pure work done ahead
in a second process, on the machine's other core, while this one writes (`ahead`)."""
from __future__ import annotations

import fcntl
import hashlib
import importlib
import os
import pickle
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def only_one(path: Path | str):
    """Yields True in the one process of this machine that holds the lock file `path` now, False in any
    other; the lock goes with the holder (also when it is killed), so the next check of another takes over."""
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def only_one_of(store, name: str):
    """only_one for a store's job: a lock file beside the SQLite file; on PostgreSQL, whose app processes may run
    on several machines and have no file of the database, a session advisory lock of the job's name, held by the
    thread's connection (and so given back when it closes, also when the process is killed)."""
    if not store.url:
        with only_one(f"{store.path}.{name}.lock") as mine:
            yield mine
        return
    key = int.from_bytes(hashlib.sha256(f"kefu job {name}".encode()).digest()[:8], "big", signed=True)
    conn = store.conn
    mine = conn.native("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
    try:
        yield mine
    finally:
        if mine and not conn.raw.closed:       # a closed connection has given the lock back already
            conn.native("SELECT pg_advisory_unlock(%s)", (key,))


def every(name: str, store, job, every_seconds: float) -> threading.Thread:
    """Start a daemon thread calling job(store) now and every `every_seconds`; store.close() after each call
    gives back the thread's connection. Several app processes on one file (make serve) each start the
    thread; a lock (only_one_of) lets one of them run the job at a time, and the jobs do
    nothing when the day's run is done, so the day's backup and retention run once."""
    def run() -> None:
        while True:
            try:
                with only_one_of(store, name) as mine:
                    if mine:
                        job(store)
            except Exception as exc:                      # a locked file, a full disk: try again later
                print(f"kefu {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                store.close()
            time.sleep(every_seconds)
    thread = threading.Thread(target=run, name=f"kefu-daily-{name}", daemon=True)
    thread.start()
    return thread


def ahead(function, batches: list):
    """function(batch) for each batch, in order, as a generator: a second Python process works them out ahead
    while the caller uses each result (an import computes its rows' search keys there while it inserts). The
    function must be pure and importable by name, its batches and results picklable: it runs in a fresh
    interpreter (`python -m kefu.jobs`, fed through a pipe) and sees nothing of this one. The first batch is
    worked out here while that process starts; with one batch or one core there is no second process. The
    second process ends at the end of its input: when the caller is done, stops early, or is killed."""
    if len(batches) < 2 or len(os.sched_getaffinity(0)) < 2:
        yield from (function(batch) for batch in batches)
        return
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.Popen([sys.executable, "-m", "kefu.jobs", function.__module__, function.__qualname__],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def feed() -> None:
        try:
            for batch in batches[1:]:
                pickle.dump(batch, child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            child.stdin.close()
        except (BrokenPipeError, ValueError):          # the caller stopped early and ended the process
            pass
    feeder = threading.Thread(target=feed, name="kefu-ahead-feed", daemon=True)
    feeder.start()
    try:
        yield function(batches[0])
        for _ in batches[1:]:
            try:
                result = pickle.load(child.stdout)
            except EOFError:
                raise RuntimeError(f"kefu.jobs.ahead: the second process for {function.__qualname__} ended "
                                   f"with code {child.wait()} (its error is above)") from None
            yield result
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
        feeder.join()


def _serve(module: str, name: str) -> None:
    """The second process of `ahead`: each batch from stdin, its result to stdout, until stdin ends."""
    function = getattr(importlib.import_module(module), name)
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            batch = pickle.load(source)
        except EOFError:
            return
        try:
            pickle.dump(function(batch), sink, protocol=pickle.HIGHEST_PROTOCOL)
            sink.flush()
        except BrokenPipeError:                       # the caller is gone
            return


if __name__ == "__main__":
    _serve(*sys.argv[1:3])
