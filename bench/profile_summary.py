"""Sum py-spy's raw (collapsed) stacks by function: where a process spent its samples.

Usage: .venv/bin/python bench/profile_summary.py FILE [--top 30] [--match TEXT ...]

FILE is what `py-spy record --format raw` wrote (bench/turn_bench.py --profile). Stacks
whose innermost frame is waiting (epoll, select, a lock, sleep, a thread pool's queue)
are counted as idle and left out of the shares. Prints the busy share, then the
functions with the most samples inclusive (a function counted once per stack) and self
(innermost frame); `--match` restricts the inclusive list to frames containing TEXT
(e.g. `rasa/nlu`, `rasa/core/policies`).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

IDLE_LEAVES = re.compile(
    r"^(select|poll|epoll|_run_once|wait|acquire|sleep|_worker|get|accept|recv|read|readinto"
    r"|_recv_into|sock_recv|run_forever|_wait_for_tstate_lock)\b"
)
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def short(frame: str) -> str:
    """`function (path/to/module.py:12)` → `function (to/module.py)`."""
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    for marker in ("site-packages/", "/work/main/", "/tmp/turn-wt/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match.group('func')} ({path})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", action="append", default=[])
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    busy = idle = 0
    for line in args.file.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [short(f) for f in stack.split(";")]
        # The first frame is the thread ("process 123:\"name\"" or the thread id).
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        if IDLE_LEAVES.match(frames[-1].split(" (")[0].rsplit(".", 1)[-1]):
            idle += count
            continue
        busy += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    total = busy + idle
    print(f"{args.file.name}: {busy} busy samples of {total} ({100 * busy / max(1, total):.0f}%)")
    matching = [(f, n) for f, n in inclusive.most_common() if all(m in f for m in args.match)]
    chosen = matching[: args.top]
    print("inclusive (share of busy samples):")
    for frame, count in chosen:
        print(f"  {100 * count / max(1, busy):5.1f}%  {frame}")
    print("self:")
    for frame, count in own.most_common(args.top):
        print(f"  {100 * count / max(1, busy):5.1f}%  {frame}")


if __name__ == "__main__":
    main()
