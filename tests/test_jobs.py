"""Work done ahead in a second process (kefu.jobs.ahead): the results in order and the same as worked out here,
the other core used, and nothing left running when the caller stops early or is killed."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kefu import jobs
from processes import children_of, gone

ROOT = Path(__file__).resolve().parent.parent
two_cores = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="a second process needs a second core")


def squares_and_pid(batch: list[int]) -> tuple[list[int], int]:
    time.sleep(0.05)
    return [n * n for n in batch], os.getpid()


def test_results_come_in_order_and_equal_those_worked_out_here():
    batches = [list(range(start, start + 7)) for start in range(0, 140, 7)]
    results = list(jobs.ahead(squares_and_pid, batches))
    assert [squares for squares, _ in results] == [squares_and_pid(b)[0] for b in batches]


@two_cores
def test_the_work_is_shared_with_a_second_process():
    pids = {pid for _, pid in jobs.ahead(squares_and_pid, [[n] for n in range(40)])}
    assert os.getpid() in pids and len(pids) == 2            # the first batch here, others there


def test_one_batch_is_worked_out_here():
    assert [pid for _, pid in jobs.ahead(squares_and_pid, [[1, 2]])] == [os.getpid()]


@two_cores
def test_a_caller_that_stops_early_leaves_no_process():
    before = children_of(os.getpid())
    results = jobs.ahead(squares_and_pid, [[n] for n in range(200)])
    next(results), next(results)
    started = children_of(os.getpid()) - before
    assert started                                           # the second process was running
    results.close()
    assert gone(started)


@two_cores
def test_the_second_process_ends_when_its_caller_is_killed(tmp_path):
    script = ("import sys, time; sys.path[:0] = [sys.argv[1], sys.argv[2]]\n"
              "from kefu import jobs; from test_jobs import squares_and_pid\n"
              "for n, _ in enumerate(jobs.ahead(squares_and_pid, [[k] for k in range(10000)])):\n"
              "    print(n, flush=True) if n == 3 else None\n")
    caller = subprocess.Popen([sys.executable, "-c", script, str(ROOT), str(ROOT / "tests")], stdout=subprocess.PIPE,
                              text=True)
    assert caller.stdout.readline().strip() == "3"
    deadline = time.time() + 30
    while not children_of(caller.pid) and time.time() < deadline:
        time.sleep(0.1)
    second = children_of(caller.pid)
    assert second
    caller.kill()
    caller.wait()
    assert gone(second)


def fails_on_three(batch: list[int]) -> list[int]:
    if 3 in batch:
        raise ValueError("three")
    return batch


@two_cores
def test_an_error_in_the_second_process_stops_the_caller():
    with pytest.raises(RuntimeError, match="fails_on_three"):
        list(jobs.ahead(fails_on_three, [[n] for n in range(6)]))
