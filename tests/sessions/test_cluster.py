"""The multi-session tier runs against a real cluster: pg_cron is preloaded and
several sessions see the same installed pg_segment."""

import threading

from conftest import connect


def test_pg_cron_is_preloaded(conn):
    assert conn.execute("SHOW shared_preload_libraries").fetchone()[0] == "pg_cron"


def test_concurrent_sessions_see_the_same_version(dbname):
    results = []

    def worker():
        with connect(dbname) as c:
            results.append(c.execute("SELECT pg_segment_version()").fetchone()[0])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with connect(dbname) as c:
        installed = c.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'pg_segment'"
        ).fetchone()[0]
    assert results == [installed] * 8
