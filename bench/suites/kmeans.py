"""k-means: kmeans_fit / kmeans_assign vs scikit-learn.

Data: `kmeans_points_<d>` with one row per customer count (--customers rows),
`f real[]` of d dimensions around 8 well-separated centres, deterministic
(hashint8extended). Shapes: (d, k) = (4, 4), (16, 8), (32, 32).

What is timed:
- fit alone: `kmeans_fit` end to end inside PostgreSQL (reads the table, fits,
  stores the model) from given initial centroids, max_iter 20, tol 0, vs
  scikit-learn `KMeans(init=same, n_init=1, max_iter=20, tol=0, algorithm="lloyd")`
  `.fit` on a float32 numpy array already in memory, threads matched
  (pg_segment.kmeans_threads and threadpoolctl both = cores). Both sides run
  the same Lloyd iterations from the same centroids (checked: same inertia).
- export workflow (d=16, k=8): k-means++ fit and labels stored in a table, vs
  what a user does today: COPY the features out, parse into numpy, KMeans fit
  (k-means++, n_init=1), COPY the labels back into a table.
- assign (d=16): `SELECT sum(kmeans_assign('m', f))` over every row vs a plain
  scan reading the same column (`sum(cardinality(f))`).

Where the time goes (printed as a second table, not timed): kmeans_fit's DEBUG1
timing line (load, seeding, per Lloyd iteration, store) of its last timed run,
scikit-learn's fit time per iteration, and peak memory of one extra untimed run
of each side: for PostgreSQL, the most anonymous memory (RssAnon from /proc,
sampled every 2 ms) a fresh backend held during the call, minus what it held
before (shared buffers are not counted: they are PostgreSQL's cache, allocated
at start); for scikit-learn, the peak of what numpy allocated during `fit`
(tracemalloc; the input array is not counted, as it was in memory before).

KMEANS_BENCH_ROWS may list several sizes (e.g. 100000,1000000); each gets its
own tables `kmeans_points_<d>_<rows>`.
"""

import io
import os
import re
import threading
import time
import tracemalloc

import numpy as np
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_limits

from runner import Case

NEEDS_EVENTS = False
SHAPES = [(4, 4), (16, 8), (32, 32)]
ITERATIONS = 20
THREADS = min(os.cpu_count() or 1, 8)


def make_table(conn, n, d):
    table = f"kmeans_points_{d}_{n}"
    have = conn.execute("SELECT count(*) FROM pg_class WHERE relname = %s", [table]).fetchone()[0]
    if have:
        rows = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        if rows == n:
            all_visible(conn, table)
            return table
        conn.execute(f"DROP TABLE {table}")
    start = time.perf_counter()
    # committed and flushed before VACUUM looks (the bench cluster runs synchronous_commit = off, and
    # VACUUM cannot mark pages all-visible while the inserting commit is not yet on disk)
    conn.execute("SET synchronous_commit = on")
    conn.execute(
        f"""CREATE TABLE {table} AS
            SELECT i AS id,
                   ARRAY(SELECT ((i % 8) * 7 + j * 3) % 17 * 2.0
                                + ((hashint8extended(i * 64 + j, 7) >> 11) & 1048575) / 1048576.0 * 3.0
                         FROM generate_series(1, {d}) j)::real[] AS f
            FROM generate_series(1, {n}) i"""
    )
    conn.execute("RESET synchronous_commit")
    conn.execute(f"VACUUM ANALYZE {table}")
    all_visible(conn, table)
    print(f"  generated {table} ({n} rows) in {time.perf_counter() - start:.1f} s", flush=True)
    return table


def all_visible(conn, table):
    """Points tables are measured as a table that has been in the database a while: vacuumed, every page
    all-visible (scans then skip per-row visibility checks; both sides read the table this way)."""
    visible, pages = conn.execute(
        "SELECT relallvisible, relpages FROM pg_class WHERE relname = %s", [table]).fetchone()
    if visible < pages:
        conn.execute(f"VACUUM {table}")
        visible, pages = conn.execute(
            "SELECT relallvisible, relpages FROM pg_class WHERE relname = %s", [table]).fetchone()
        if visible < pages:
            print(f"  warning: only {visible} of {pages} pages of {table} are all-visible", flush=True)


def export(conn, table, d):
    """COPY id and features out and parse them into numpy (what a user's script does)."""
    buf = io.BytesIO()
    with conn.cursor().copy(f"COPY (SELECT id, array_to_string(f, ',') FROM {table}) TO STDOUT") as copy:
        for chunk in copy:
            buf.write(chunk)
    text = buf.getvalue().replace(b"\t", b",").replace(b"\n", b",")
    values = np.array(text.decode().rstrip(",").split(","), dtype=np.float64).reshape(-1, d + 1)
    return values[:, 0].astype(np.int64), values[:, 1:].astype(np.float32)


def write_back(conn, ids, labels):
    conn.execute("DROP TABLE IF EXISTS bench_labels_peer")
    conn.execute("CREATE TABLE bench_labels_peer (id int, cluster int)")
    out = io.StringIO()
    np.savetxt(out, np.column_stack([ids, labels + 1]), fmt="%d", delimiter="\t")
    with conn.cursor().copy("COPY bench_labels_peer FROM STDIN") as copy:
        copy.write(out.getvalue())


def rss_anon_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    return 0


def peak_anon_mb(pid, fn):
    """Runs fn() while sampling RssAnon of process pid: (peak - before) in MB."""
    before = rss_anon_kb(pid)
    peak = [before]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_anon_kb(pid))
            time.sleep(0.002)

    t = threading.Thread(target=sample)
    t.start()
    try:
        fn()
    finally:
        done.set()
        t.join()
    peak[0] = max(peak[0], rss_anon_kb(pid))
    return (peak[0] - before) / 1024.0


TIMING = re.compile(r"load ([\d.]+) ms, seeding ([\d.]+) ms, (\d+) iterations ([\d.]+) ms \(([\d.]+) ms each.*store ([\d.]+) ms")


def cases(ctx):
    details = []
    for n in [int(v) for v in os.environ.get("KMEANS_BENCH_ROWS", str(ctx.customers)).split(",")]:
        yield from cases_for(ctx, n, details)
    print("\n#### k-means: where the time goes (last timed run; memory: one extra run)\n")
    print("| rows | d | k | load (ms) | seeding (ms) | ms per iteration (kmeans_fit) | store (ms) | sklearn ms per iteration | "
          "peak memory MB (pg backend) | peak memory MB (sklearn) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in details:
        print("| " + " | ".join(row) + " |")
    print(flush=True)


def cases_for(ctx, n, details):
    conn = ctx.connect(autocommit=True)
    conn.execute("SET client_min_messages = warning")
    conn.execute(f"SET pg_segment.kmeans_threads = {THREADS}")
    # rows of the point tables: --customers, or KMEANS_BENCH_ROWS (so 1M points need not generate 1M customers)
    timing = {}

    def on_notice(diag):
        m = TIMING.search(diag.message_primary or "")
        if m:
            timing["last"] = m.groups()

    conn.add_notice_handler(on_notice)
    for d, k in SHAPES:
        table = make_table(conn, n, d)
        state = {}

        def setup(table=table, d=d, k=k, state=state):
            _, x = export(conn, table, d)
            state["x"] = x
            rng = np.random.default_rng(0)
            state["init"] = x[rng.choice(len(x), k, replace=False)].astype(np.float64)

        def fit_sql(c, table=table, k=k, state=state):
            return c.execute(
                f"SELECT inertia, iterations, elapsed_ms FROM kmeans_fit('bench_km', '{table}', 'f', {k}, "
                f"max_iter => {ITERATIONS}, tol => 0, init_centroids => %s::float8[])",
                [state["init"].tolist()],
            ).fetchone()

        def ours(state=state):
            conn.execute("SET client_min_messages = debug1")
            try:
                state["ours"] = fit_sql(conn)
            finally:
                conn.execute("SET client_min_messages = warning")
            state["timing"] = timing.get("last")

        def peer(k=k, state=state):
            with threadpool_limits(limits=THREADS):
                km = KMeans(n_clusters=k, init=state["init"].astype(np.float32), n_init=1, max_iter=ITERATIONS,
                            tol=0, algorithm="lloyd").fit(state["x"])
            state["peer"] = (km.inertia_, km.n_iter_)
            if "ours" in state:
                ours_inertia, ours_iter, elapsed = state["ours"]
                print(f"    N={n} d={d} k={k}: inertia {ours_inertia:.6g} vs {km.inertia_:.6g}, iterations {ours_iter} vs "
                      f"{km.n_iter_}, kmeans_fit {elapsed:.0f} ms; timing {state.get('timing')}", flush=True)

        def peer_timed(state=state):
            start = time.perf_counter()
            peer()
            state["peer_ms_per_iter"] = (time.perf_counter() - start) * 1000 / max(state["peer"][1], 1)

        def memory(state=state):
            """One untimed run of each side with memory sampling."""
            with ctx.connect(autocommit=True) as c:
                c.execute("SET client_min_messages = warning")
                c.execute(f"SET pg_segment.kmeans_threads = {THREADS}")
                pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
                state["pg_mb"] = peak_anon_mb(pid, lambda: fit_sql(c))
            # this process reuses memory freed by earlier fits, so its RSS does not show
            # sklearn's allocations: count them with tracemalloc (numpy reports its buffers to it)
            peer_timed()  # the time per iteration, without tracemalloc's overhead
            tracemalloc.start()
            try:
                tracemalloc.reset_peak()
                peer()
                state["sk_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
            finally:
                tracemalloc.stop()

        def setup_all(setup=setup, memory=memory):
            setup()
            memory()

        yield Case(f"fit alone, N={n:,} d={d} k={k}: kmeans_fit vs KMeans.fit (same init, {ITERATIONS} iterations)",
                   ours, peer, "sklearn KMeans.fit on numpy", goal=0.5, setup=setup_all)
        t = state.get("timing") or ("?",) * 6
        details.append([f"{n:,}", str(d), str(k), t[0], t[1], t[4], t[5], f"{state.get('peer_ms_per_iter', 0):.1f}",
                        f"{state.get('pg_mb', 0):.0f}", f"{state.get('sk_mb', 0):.0f}"])

    table = make_table(conn, n, 16)

    def workflow_ours():
        conn.execute(f"SELECT kmeans_fit('bench_km_pp', '{table}', 'f', 8, seed => 1)")
        conn.execute("DROP TABLE IF EXISTS bench_labels_ours")
        conn.execute(f"CREATE TABLE bench_labels_ours AS SELECT id, kmeans_assign('bench_km_pp', f) AS cluster FROM {table}")

    def workflow_peer():
        ids, x = export(conn, table, 16)
        with threadpool_limits(limits=THREADS):
            km = KMeans(n_clusters=8, n_init=1, random_state=1, algorithm="lloyd").fit(x)
        write_back(conn, ids, km.labels_)

    yield Case(f"export workflow, N={n:,} d=16 k=8: fit + labels into a table", workflow_ours, workflow_peer,
               "COPY out + numpy + sklearn fit + COPY labels in", goal=0.1)

    def assign_ours():
        conn.execute(f"SELECT sum(kmeans_assign('bench_km_pp', f)) FROM {table}").fetchone()

    def assign_scan():
        conn.execute(f"SELECT sum(cardinality(f)) FROM {table}").fetchone()

    yield Case(f"assign every row, N={n:,} d=16 k=8", assign_ours, assign_scan, "plain scan of the column", goal=2.0)
