"""What one PIN check costs: the scrypt hash of scanstation.credentials, at its default cost
and at half and double the memory, so a site can see what raising it would cost.

    python benchmarks/pin_hash.py [--runs 15]

Prints medians (and the fastest and slowest run) in milliseconds; no pass/fail. The issue asks
for at least 50 ms of hashing a check: compare the default's median with that.
"""

from __future__ import annotations

import argparse
import statistics
import time

from scanstation.credentials import DEFAULT_HASHER, PinHasher, verify_pin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    for label, hasher in (
        ("half", PinHasher(DEFAULT_HASHER.n // 2, DEFAULT_HASHER.r, DEFAULT_HASHER.p)),
        ("default", DEFAULT_HASHER),
        ("double", PinHasher(DEFAULT_HASHER.n * 2, DEFAULT_HASHER.r, DEFAULT_HASHER.p)),
    ):
        stored = hasher.hash("4711")
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            verify_pin("4711", stored)
            times.append((time.perf_counter() - start) * 1000)
        print(
            f"scrypt n=2**{hasher.n.bit_length() - 1} r={hasher.r} p={hasher.p} "
            f"({hasher.memory // 2**20} MiB, {label}): median {statistics.median(times):6.1f} ms "
            f"(min {min(times):.1f}, max {max(times):.1f}, {args.runs} checks)"
        )


if __name__ == "__main__":
    main()
