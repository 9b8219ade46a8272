"""Place search speed: the index build once, then each query's time over the whole gazetteer.

    python bench/bench_places.py [--repeat 20] [--limit 8]

The queries are the issue's examples, the existing city and country searches, and the slow cases
by construction: one letter (many hits in every tier), common words that fill no tier, and
nonsense that scans every tier to the end. The app asks for 8 matches (``ui.place_search``).
Target: under 50 ms per query.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tasking.places import _index, search_places

QUERIES = [
    # the examples
    "Port of Rotterdam",
    "rotterdam port",
    "Maasvlakte",
    "maasvl",
    "Suez Canal",
    "Strait of Hormuz",
    "hormuz",
    "Singapore Changi",
    "changi",
    "EHAM",
    # cities and countries
    "Helsinki",
    "paris",
    "Zürich",
    "Москва",
    "santa c",
    "fi",
    # slow by construction
    "a",
    "s",
    "port",
    "airport",
    "new port airport",
    "xqzjwv",
    "ab cd ef",
    "zz yy xx ww",
    "the of",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--limit", type=int, default=8)
    args = parser.parse_args()

    print(
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}; limit {args.limit}, {args.repeat} runs per query"
    )
    start = time.perf_counter()
    index = _index()
    print(f"index build: {time.perf_counter() - start:.2f} s, {len(index.places):,} places")

    worst: list[float] = []
    print(f"{'query':<22} {'median ms':>9} {'max ms':>8}  first result")
    for query in QUERIES:
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            found = search_places(query, args.limit)
            times.append((time.perf_counter() - t) * 1000)
        worst.append(max(times))
        first = found[0].summary if found else "(none)"
        print(f"{query!r:<22} {statistics.median(times):9.2f} {max(times):8.2f}  {first}")
    print(f"slowest query: {max(worst):.1f} ms (target < 50 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
