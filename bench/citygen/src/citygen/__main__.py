"""``python -m citygen --out DIR --scale small|full [--seed N] [--elements N]``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from citygen.generate import SCALES, generate
from citygen.writer import write


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="citygen", description="Generate a deterministic Zhangye-scale city.")
    parser.add_argument("--out", required=True, help="directory to write the city files into (created if needed)")
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--elements", type=int, default=None, help="element rows to write (default: small 10,000, full 9,200,000)"
    )
    args = parser.parse_args(argv)
    if args.elements is not None and args.elements < 0:
        parser.error("--elements must be ≥ 0")
    started = time.perf_counter()
    city = generate(args.scale, args.seed)
    generated = time.perf_counter()
    write(city, args.out, args.elements, progress=True)
    done = time.perf_counter()
    elements = city.default_elements if args.elements is None else args.elements
    print(
        f"citygen: {args.scale} city (seed {args.seed}) → {args.out}: {len(city.counties)} counties, "
        f"{len(city.townships)} townships, {len(city.communities)} communities, {len(city.grids)} grids, "
        f"{len(city.centres)} centres, {len(city.workers)} workers, {len(city.police_rooms)} police rooms, "
        f"{len(city.channels)} channels, {elements} elements; generated in {generated - started:.2f} s, "
        f"written in {done - generated:.2f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
