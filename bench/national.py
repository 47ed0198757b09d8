"""``make bench-national``: the managers' console when the whole country is on Parcours.

About 1.9 million households receive the RSA in France. This loads **2,000,000** journeys (the
read model, its timelines, the access log, the indicators' milestones and spans: the same rows
as ``bench.management``) into a PostgreSQL database of its own (``parcours_national``), spread
over the 101 départements in proportion to their RSA households — the largest near 100,000,
the smallest a few thousand — and times what a département's manager reads: the stalled list
and the indicators, for départements drawn in proportion to their size (a big département's
manager is read as often as its share says).

Prints ``key=value`` lines: ``national_journeys``, ``national_territories``,
``national_seed_s``, ``national_database_mb``, ``national_bytes_per_journey``,
``national_indicators_first_read_p50_ms``/``_max_ms`` (each département's first read, alone:
it keeps the closed months the timed reads then find kept),
``national_stalled_list_p50_ms``/``_p95_ms`` (target ≤ 150), ``national_indicators_p50_ms``/
``_p95_ms`` (target ≤ 300), each target printed beside its figure, and each figure's anchor
(``national_stalled_list_sql_p95_ms``, ``national_indicators_sql_p95_ms``: the same SQL without
the service, timed in turns with it) with its ``…_sql_ratio``. Options as
``bench.management`` (``--journeys``, ``--clients``, ``--requests``, ``--database``). Without a
reachable PostgreSQL it says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

import asyncpg
from sqlalchemy.engine import make_url

from bench import management

# The départements (INSEE codes) with many RSA households, in thousandths of the country's
# (rounded from the CNAF's yearly figures); every other département shares what is left.
LARGE = {
    "59": 50, "93": 45, "13": 40, "974": 35, "75": 30, "62": 28, "69": 22, "33": 22,
    "34": 22, "31": 20, "94": 20, "95": 18, "76": 18, "06": 16, "92": 16, "77": 16,
    "971": 15, "91": 15, "30": 14, "83": 14, "972": 12, "78": 12, "44": 12, "67": 12,
    "57": 12, "973": 10, "66": 10, "02": 10, "60": 10, "80": 9, "11": 8,
}  # fmt: skip
OTHERS = [
    *(f"{n:02d}" for n in range(1, 96) if n != 20),
    "2A", "2B", "976",
]  # fmt: skip
SHARES = 1000
STALLED_TARGET_MS = 150
INDICATORS_TARGET_MS = 300


def territory_cycle() -> list[str]:
    """Every département, listed as many times as its thousandths of the households."""
    others = [code for code in OTHERS if code not in LARGE]
    left = SHARES - sum(LARGE.values())
    each, extra = divmod(left, len(others))
    shares = {**LARGE, **{code: each + (1 if i < extra else 0) for i, code in enumerate(others)}}
    # Interleaved, so that every département's journeys spread over the two years.
    cycle: list[str] = []
    remaining = dict(shares)
    while remaining:
        for code in list(remaining):
            cycle.append(code)
            remaining[code] -= 1
            if remaining[code] == 0:
                del remaining[code]
    return cycle


async def database_size(options: argparse.Namespace) -> int:
    url = make_url(management.server_url()).set(database=options.database)
    connection = await asyncpg.connect(management.dsn(url.render_as_string(False)))
    try:
        size: int = await connection.fetchval("SELECT pg_database_size(current_database())")
        return size
    finally:
        await connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--journeys", type=int, default=2_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database", default="parcours_national")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time again the database seeded by an earlier run with as many journeys (the seed "
        "takes about half an hour on 2 cores)",
    )
    options = parser.parse_args(argv)
    cycle = territory_cycle()
    figures = asyncio.run(management.run(options, cycle))
    if not figures:
        return 0
    size = asyncio.run(database_size(options))
    print(f"national_journeys={options.journeys}")
    print(f"national_territories={len(set(cycle))}")
    print(f"national_seed_s={figures['management_seed_s']}")
    print(f"national_database_mb={size / 1024 / 1024:.0f}")
    print(f"national_bytes_per_journey={size / options.journeys:.0f}")
    for key in ("indicators_first_read_p50_ms", "indicators_first_read_max_ms"):
        if key in figures:
            print(f"national_{key}={figures[key]}")
    for key, target in (("stalled_list", STALLED_TARGET_MS), ("indicators", INDICATORS_TARGET_MS)):
        if f"{key}_p95_ms" not in figures:
            continue
        p95 = float(figures[f"{key}_p95_ms"])
        print(f"national_{key}_p50_ms={figures[f'{key}_p50_ms']}")
        print(f"national_{key}_p95_ms={p95:.1f} target={target} ratio={p95 / target:.2f}")
        if f"{key}_sql_p95_ms" in figures:
            print(f"national_{key}_sql_p95_ms={figures[f'{key}_sql_p95_ms']}")
            print(f"national_{key}_sql_ratio={figures[f'{key}_sql_ratio']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
