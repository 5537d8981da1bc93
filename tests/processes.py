"""Processes a test started, seen through /proc, and waiting for them to end."""
import time
from pathlib import Path


def children_of(pid: int) -> set[int]:
    """The processes `pid` started (and that are still running)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def running(pid: int) -> bool:
    """Still running: present, and not a zombie waiting for whoever adopted it to collect its exit code."""
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]) != "Z"
    except OSError:
        return False


def gone(pids: set[int], seconds: float = 15) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if not any(running(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False
