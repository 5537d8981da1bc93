"""Is a declared `pattern` safe to run on what people type? A regular expression with nested repetition
(`(a+)+`, `(\\w+\\s?)*`) or a repeated alternation whose branches match the same text (`(a|aa)*`) takes
exponential time on a long string that almost matches: one form field could hold a server thread for
hours. Python's `re` backtracks, so such a pattern is refused where it is declared (kefu/sheets.py).

Two checks, both cheap: the pattern's parse tree is read for a repetition repeated (`(a+)+`); then a
pattern with any repetition of varying length is run on long strings made from its own characters, which
almost match, in a separate Python process (a thread cannot stop `re`) that the kernel stops after
PROBE_CPU_SECONDS of its own processor time: a busy machine slows its start but does not change the verdict.
The verdict is kept per pattern for the life of the process.
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from functools import lru_cache

try:                                   # Python 3.11+: the parser behind re.compile
    from re import _constants as _c, _parser as _p
except ImportError:                    # pragma: no cover - older Pythons
    import sre_constants as _c
    import sre_parse as _p

PROBE_LENGTH = 60         # 2**60 steps for an exponential pattern: years; a sound one answers in microseconds
PROBE_CPU_SECONDS = 1.0   # processor time for start-up and every string: a sound pattern needs milliseconds
PROBE_SECONDS = 30.0      # wall clock, only a backstop (a starved machine); where no CPU timer exists, 3 s
_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None))
_CATEGORY_SAMPLES = {_c.CATEGORY_DIGIT: "1", _c.CATEGORY_WORD: "a", _c.CATEGORY_SPACE: " ",
                     _c.CATEGORY_NOT_DIGIT: "a", _c.CATEGORY_NOT_WORD: "-", _c.CATEGORY_NOT_SPACE: "a"}


def _varies(op, av) -> bool:
    """A repetition that can take more than one length (a+, a*, a{2,5}), so a run can be split many ways."""
    return op in _REPEATS and op is not None and av[0] != av[1] and av[1] > 1


def _chars_in(av) -> list[str]:
    found = []
    for op, arg in av:
        if op == _c.LITERAL:
            found.append(chr(arg))
        elif op == _c.RANGE:
            found.append(chr(arg[0]))
            found.append(chr(arg[1]))
        elif op == _c.CATEGORY and arg in _CATEGORY_SAMPLES:
            found.append(_CATEGORY_SAMPLES[arg])
    return found


def _walk(items, inside_repeat: bool) -> str | None:
    """"nested": a repetition whose whole body is itself a repetition of varying length, `(a+)+`,
    `(\\d*)*`: every split of a long run is tried. Other shapes are left to the probe."""
    for op, av in items:
        if op in _REPEATS and op is not None:
            body = av[2]
            if _varies(op, av):
                inner = body
                while len(inner) == 1 and inner[0][0] == _c.SUBPATTERN:
                    inner = inner[0][1][-1]
                if len(inner) == 1 and inner[0][0] in _REPEATS and _varies(*inner[0]):
                    return "nested"
            verdict = _walk(body, True)
            if verdict:
                return verdict
        elif op == _c.SUBPATTERN:
            verdict = _walk(av[-1], inside_repeat)
            if verdict:
                return verdict
        elif op == _c.BRANCH:
            for branch in av[1]:
                verdict = _walk(branch, inside_repeat)
                if verdict:
                    return verdict
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            verdict = _walk(av[1], inside_repeat)
            if verdict:
                return verdict
    return None


def _samples(items, found: list) -> list[str]:
    for op, av in items:
        if op == _c.LITERAL:
            found.append(chr(av))
        elif op == _c.IN:
            found.extend(_chars_in(av))
        elif op == _c.ANY:
            found.append("a")
        elif op == _c.SUBPATTERN:
            _samples(av[-1], found)
        elif op == _c.BRANCH:
            for branch in av[1]:
                _samples(branch, found)
        elif op in _REPEATS and op is not None:
            _samples(av[2], found)
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            _samples(av[1], found)
    return found


_PROBE = """
import json, re, signal, sys
limit = float(sys.argv[1])
if limit and hasattr(signal, "setitimer"):
    signal.setitimer(signal.ITIMER_VIRTUAL, limit)   # SIGVTALRM after that much processor time: ends the process
pattern, strings = json.loads(sys.stdin.read())
compiled = re.compile(pattern)
for s in strings:
    compiled.fullmatch(s)
    compiled.search(s)
print("done")
"""


def _probe(pattern: str, strings: list[str]) -> bool:
    """True when `re` answers every string in time, run in a process of its own that is stopped if not."""
    timed = hasattr(signal, "setitimer")
    try:
        done = subprocess.run([sys.executable, "-I", "-S", "-c", _PROBE, str(PROBE_CPU_SECONDS if timed else 0)],
                              input=json.dumps([pattern, strings]), capture_output=True, text=True,
                              timeout=PROBE_SECONDS if timed else 3.0)
    except subprocess.TimeoutExpired:
        return False
    except OSError:                     # no process could be started: the tree check stands alone
        return True
    if timed and done.returncode == -signal.SIGVTALRM:
        return False
    return done.returncode != 0 or done.stdout.strip() == "done"


@lru_cache(maxsize=256)
def slow_reason(pattern: str) -> str | None:
    """None when the pattern is safe; "nested", "overlap" or "slow" when it may take exponential time.
    The pattern must compile (check that first)."""
    try:
        tree = _p.parse(pattern)
    except Exception:                   # re.error is reported by the caller
        return None
    items = list(tree)
    verdict = _walk(items, False)
    if verdict:
        return verdict
    chars = list(dict.fromkeys(_samples(items, [])))[:12] or ["a"]
    strings = [c * PROBE_LENGTH + tail for c in chars for tail in ("!", "\x00", "")]
    strings.append(("".join(chars) * PROBE_LENGTH)[: PROBE_LENGTH * 4] + "!")
    if not any(_varies(op, av) for op, av in _flatten(items)):
        return None                     # no repetition of varying length: one way through, linear
    return None if _probe(pattern, strings) else "slow"


def _flatten(items):
    for op, av in items:
        yield op, av
        if op == _c.SUBPATTERN:
            yield from _flatten(av[-1])
        elif op == _c.BRANCH:
            for branch in av[1]:
                yield from _flatten(branch)
        elif op in _REPEATS and op is not None:
            yield from _flatten(av[2])
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            yield from _flatten(av[1])
