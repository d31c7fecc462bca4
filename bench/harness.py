"""What the benches share: percentiles, the customer's message mix, and CPU time of a
set of processes read from /proc. Standard library only: the bot env's bench
(nlu_eval_turn.py, Python 3.10) imports it too."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterable

# One customer's conversation: greeting, a report with identity, a story, a question in
# the middle, the confirmation, thanks. The same mix in every bot bench.
SCRIPT = (
    "你好",
    "我要报案",
    "P2025000001",
    "1234",
    "前天在医院看门诊花了八百",
    "理赔一般要多久",
    "确认",
    "谢谢",
)

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return f"p50 {statistics.median(values) * 1000:.1f} ms, p95 {pct(values, 95) * 1000:.1f} ms"


def timed(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _stat(pid: int) -> tuple[int, float] | None:
    """(process group, user + system seconds) of a live process, from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    # fields[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
    return int(fields[2]), (int(fields[11]) + int(fields[12])) / TICKS


def group_cpu_seconds(groups: Iterable[int]) -> dict[int, float]:
    """User + system CPU seconds of every live process in the given process groups,
    summed per group (a stack's processes each start in their own session)."""
    wanted = set(groups)
    totals = dict.fromkeys(wanted, 0.0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is not None and stat[0] in wanted:
            totals[stat[0]] += stat[1]
    return totals


# What each process of a topology is, by its command line (first match wins).
ROLES = (
    ("worker", "backend.notifications.worker"),
    ("actions", "rasa_sdk"),
    ("rasa", "bot.server"),
    ("rasa", "rasa"),
    ("app", "backend.main"),
    ("app", "uvicorn"),
    ("nginx", "nginx"),
)


def _role(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            command = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    return next((role for role, marker in ROLES if marker in command), "other")


def role_cpu_seconds(group: int) -> dict[str, float]:
    """User + system CPU seconds of the live processes of one process group, summed by
    what they are (app, rasa, actions, worker, nginx, other): the replicas of a role
    together."""
    totals: dict[str, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is not None and stat[0] == group:
            role = _role(int(entry))
            totals[role] = totals.get(role, 0.0) + stat[1]
    return totals


def machine_speed_ms() -> float:
    """Milliseconds for a fixed piece of pure Python work, best of three: how fast this
    (shared, virtual) machine's cores are at the moment. Runs of a bench whose figures
    differ by much more than this did are not comparable."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        sum(range(5_000_000))
        best = min(best, time.perf_counter() - started)
    return best * 1000


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"
