"""The app's daily jobs (the backup, the retention run): a background thread of the app's process that runs a
job with its own connection every so often; the job itself knows whether today's run is still due. An error is
printed and retried at the next check, never shown to a user."""
from __future__ import annotations

import sys
import threading
import time


def every(name: str, store, job, every_seconds: float) -> threading.Thread:
    """Start a daemon thread calling job(store) now and every `every_seconds`; store.close() after each call
    gives back the thread's connection."""
    def run() -> None:
        while True:
            try:
                job(store)
            except Exception as exc:                      # a locked file, a full disk: try again later
                print(f"kefu {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                store.close()
            time.sleep(every_seconds)
    thread = threading.Thread(target=run, name=f"kefu-daily-{name}", daemon=True)
    thread.start()
    return thread
