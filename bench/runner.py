"""Benchmark runner: times pg_segment and its peers side by side, prints ratios.

Each suite in bench/suites/ yields cases; a case times pg_segment's way and the
peer's way on the same data in the same run, alternating, and reports medians
of several runs and their ratio. Absolute times on shared machines are noise;
the ratios are what the README quotes.

    python bench/runner.py --customers 100000 --suite baseline --repeat 5
"""

import argparse
import dataclasses
import datetime
import importlib
import os
import pkgutil
import statistics
import sys
import time

import psycopg

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


@dataclasses.dataclass
class Case:
    """One comparison: `ours` and `peer` are callables doing the same job."""

    name: str
    ours: callable
    peer: callable
    peer_name: str
    goal: float | None = None  # the ratio ours/peer we aim to stay under
    setup: callable = None  # run once before timing (warm caches, create models)


@dataclasses.dataclass
class Context:
    """What a suite gets: a DSN to the generated database and its size."""

    dsn: str
    customers: int
    seed: int
    repeat: int

    def connect(self, **kwargs):
        return psycopg.connect(self.dsn, **kwargs)


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(case, repeat):
    """Medians of `repeat` alternating runs of ours and the peer."""
    if case.setup:
        case.setup()
    ours, peer = [], []
    for i in range(repeat):
        # alternate the order so drift in machine load hits both sides alike
        if i % 2 == 0:
            ours.append(timed(case.ours))
            peer.append(timed(case.peer))
        else:
            peer.append(timed(case.peer))
            ours.append(timed(case.ours))
    return statistics.median(ours), statistics.median(peer)


def ensure_data(admin_dsn, customers, seed, with_events):
    """Creates database bench_<customers>_<seed> with generated data, once."""
    dbname = f"bench_{customers}_{seed}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [dbname]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{dbname}"')
            admin.execute(f"ALTER DATABASE \"{dbname}\" SET timezone = 'UTC'")
    dsn = psycopg.conninfo.make_conninfo(admin_dsn, dbname=dbname)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_segment")
        have = c.execute("SELECT to_regclass('orders') IS NOT NULL").fetchone()[0]
        if have and with_events:
            have = c.execute("SELECT to_regclass('events') IS NOT NULL").fetchone()[0]
        if not have:
            print(f"generating {customers} customers (seed {seed}) into {dbname} ...", flush=True)
            start = time.perf_counter()
            with open(os.path.join(HERE, "generate.sql")) as f:
                c.execute(f.read())
            c.execute("CALL bench_generate(%s, %s, %s)", [customers, seed, with_events])
            c.execute("VACUUM ANALYZE")
            print(f"  generated in {time.perf_counter() - start:.1f} s", flush=True)
    return dsn


def suites():
    names = [m.name for m in pkgutil.iter_modules([os.path.join(HERE, "suites")])]
    return {n: importlib.import_module(f"suites.{n}") for n in sorted(names)}


def format_table(rows):
    lines = [
        "| case | pg_segment (s) | peer | peer (s) | ratio | goal |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name, ours, peer_name, peer, goal in rows:
        ratio = ours / peer if peer > 0 else float("inf")
        goal_txt = "" if goal is None else f"≤ {goal:g}×" + (" ✓" if ratio <= goal else " ✗")
        lines.append(f"| {name} | {ours:.3f} | {peer_name} | {peer:.3f} | {ratio:.2f}× | {goal_txt} |")
    return "\n".join(lines)


def main():
    available = suites()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--suite", action="append", choices=sorted(available), help="default: all")
    args = parser.parse_args()

    chosen = args.suite or sorted(available)
    with_events = any(getattr(available[s], "NEEDS_EVENTS", False) for s in chosen)
    dsn = ensure_data("dbname=postgres", args.customers, args.seed, with_events)
    ctx = Context(dsn=dsn, customers=args.customers, seed=args.seed, repeat=args.repeat)

    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    print(f"\n## pg_segment benchmarks — {args.customers:,} customers, seed {args.seed}, "
          f"median of {args.repeat} runs, {stamp}\n")
    for name in chosen:
        rows = []
        for case in available[name].cases(ctx):
            ours, peer = measure(case, args.repeat)
            rows.append((case.name, ours, case.peer_name, peer, case.goal))
            print(f"  {name}/{case.name}: {ours:.3f} s vs {peer:.3f} s", file=sys.stderr, flush=True)
        print(f"### {name}\n\n{format_table(rows)}\n", flush=True)


if __name__ == "__main__":
    main()
