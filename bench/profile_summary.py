"""Sum up a py-spy raw profile (collapsed stacks, ``py-spy record -f raw``): where the
samples' time goes, by function including callees and by function itself.

    python bench/profile_summary.py .data/bench/profile-pipeline-dispatch.txt [--top 30] [--match text]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--match", default="", help="only frames whose text contains this (e.g. a package name)")
    args = parser.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = [_LINE.sub(")", f) for f in stack.split(";")]  # one entry per function, not per line
        for frame in set(frames):  # a recursive frame counts once per sample
            if args.match in frame:
                inclusive[frame] += n
        own[frames[-1]] += n
    print(f"{total} samples")
    for title, counter in (("including callees", inclusive), ("self", own)):
        print(f"\n-- {title}")
        for frame, n in counter.most_common(args.top):
            print(f"{n / total:6.1%}  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
