"""Segment refresh across real sessions: readers never see an empty or partial
membership while refreshes run; two refreshes of one segmentation at once (one
is skipped); a refresh killed with pg_terminate_backend or cancelled by
statement_timeout leaves the previous membership intact and is logged; the
caller's privileges (42501) and row-level security apply."""

import threading
import time

import psycopg
import pytest

from conftest import connect

N = 20000  # customers in the main table, all labelled


@pytest.fixture(scope="module")
def data(dbname):
    with connect(dbname, autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        c.execute(
            "CREATE TABLE s_customers AS SELECT i AS id, 't' || (i % 4) AS tier, "
            f"CASE WHEN i % 2 = 0 THEN 'n' ELSE 's' END AS region FROM generate_series(1, {N}) i"
        )
        c.execute("ALTER TABLE s_customers ADD PRIMARY KEY (id)")
        # a refresh that takes knobs.secs seconds: the label of customer 1 sleeps
        c.execute("CREATE TABLE knobs (secs float8 NOT NULL)")
        c.execute("INSERT INTO knobs VALUES (0)")
        c.execute(
            "CREATE FUNCTION slow_tier(t text) RETURNS text LANGUAGE sql VOLATILE AS "
            "$$ SELECT pg_sleep((SELECT secs FROM knobs)); SELECT t $$"
        )
        c.execute(
            "CREATE VIEW slow_customers AS SELECT id, CASE WHEN id = 1 THEN slow_tier(tier) ELSE tier END AS tier "
            "FROM s_customers"
        )
        c.execute("SELECT segmentation_create('main', 's_customers', 'id', label_column => 'tier')")
        c.execute("SELECT segmentation_create('slow', 'slow_customers', 'id', label_column => 'tier')")
        c.execute("CALL segment_refresh('main')")
        c.execute("CALL segment_refresh('slow')")
    return dbname


def set_sleep(c, secs):
    c.execute("UPDATE knobs SET secs = %s", [secs])


def membership(c, name):
    return c.execute(
        "SELECT segment, count(*) FROM segment_membership WHERE segmentation = %s GROUP BY 1 ORDER BY 1", [name]
    ).fetchall()


def last_run(c, name):
    return c.execute(
        "SELECT run_id, status, error, phase FROM segment_runs WHERE segmentation = %s ORDER BY run_id DESC LIMIT 1",
        [name],
    ).fetchone()


def refresh(c, name):
    c.execute("SET client_min_messages = warning")
    return c.execute("CALL segment_refresh(%s)", [name]).fetchone()


def test_readers_never_see_empty_or_partial_membership(data):
    stop = threading.Event()
    bad, reads, seen = [], [0], set()

    def reader():
        with connect(data, autocommit=True) as c:
            while not stop.is_set():
                total, segs, lo = c.execute(
                    "SELECT count(*), count(DISTINCT segment), min(segment) "
                    "FROM segment_membership WHERE segmentation = 'main'"
                ).fetchone()
                reads[0] += 1
                seen.add(lo)
                if total != N or segs != 4:
                    bad.append((total, segs))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        with connect(data, autocommit=True) as w:
            for k in range(6):
                # relabel everyone, so every refresh replaces the whole membership
                w.execute(f"UPDATE s_customers SET tier = 'r{k}_' || (id % 4)")
                status = refresh(w, "main")[1]
                assert status == "succeeded"
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert bad == []
    assert reads[0] >= 30
    # readers saw the membership change from run to run
    assert len(seen) >= 2
    with connect(data, autocommit=True) as c:
        assert membership(c, "main") == [("r5_%d" % i, N // 4) for i in range(4)]


def test_two_refreshes_at_once_one_skips(data):
    with connect(data, autocommit=True) as a, connect(data, autocommit=True) as b:
        set_sleep(a, 3)
        result = {}
        t = threading.Thread(target=lambda: result.update(a=refresh(a, "slow")))
        t.start()
        # wait until A's run is logged as running (committed before the work starts)
        for _ in range(100):
            if last_run(b, "slow")[1] == "running":
                break
            time.sleep(0.05)
        assert last_run(b, "slow")[1] == "running"
        t0 = time.monotonic()
        run_b, status_b = refresh(b, "slow")
        assert status_b == "skipped"
        assert time.monotonic() - t0 < 1.5  # does not queue behind A
        t.join()
        set_sleep(b, 0)
        assert result["a"][1] == "succeeded"
        runs = dict(b.execute("SELECT run_id, status FROM segment_runs WHERE run_id IN (%s, %s)",
                              [result["a"][0], run_b]).fetchall())
        assert runs == {result["a"][0]: "succeeded", run_b: "skipped"}


def test_killed_refresh_leaves_old_membership_and_is_abandoned_by_the_next(data):
    with connect(data, autocommit=True) as c:
        before = membership(c, "slow")
        assert sum(n for _, n in before) == N
        set_sleep(c, 60)
        victim = connect(data, autocommit=True)
        pid = victim.info.backend_pid
        errors = []

        def run():
            try:
                refresh(victim, "slow")
            except psycopg.OperationalError as e:
                errors.append(e)

        t = threading.Thread(target=run)
        t.start()
        for _ in range(100):
            if last_run(c, "slow")[1] == "running":
                break
            time.sleep(0.05)
        run_id, status, _, _ = last_run(c, "slow")
        assert status == "running"
        time.sleep(0.5)  # well inside the label query
        assert c.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
        t.join(timeout=30)
        victim.close()
        assert errors, "the killed session should have lost its connection"
        for _ in range(100):  # the backend (and its session lock) is gone
            if not c.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]:
                break
            time.sleep(0.05)
        set_sleep(c, 0)
        # old membership intact; the killed run is left visibly unfinished
        assert membership(c, "slow") == before
        assert c.execute("SELECT status, backend_pid FROM segment_runs WHERE run_id = %s", [run_id]).fetchone() == (
            "running", pid)
        # the next refresh gets the lock (released with the dead session), marks the run abandoned, succeeds
        new_run, new_status = refresh(c, "slow")
        assert new_status == "succeeded"
        status, error = c.execute("SELECT status, error FROM segment_runs WHERE run_id = %s", [run_id]).fetchone()
        assert status == "abandoned"
        assert "ended before it finished" in error
        assert membership(c, "slow") == before


def test_statement_timeout_marks_the_run_failed_and_releases_the_lock(data):
    with connect(data, autocommit=True) as c:
        before = membership(c, "slow")
        set_sleep(c, 5)
        c.execute("SET statement_timeout = '1s'")
        with pytest.raises(psycopg.errors.QueryCanceled) as info:
            refresh(c, "slow")
        assert "statement timeout" in str(info.value)
        c.execute("RESET statement_timeout")
        run_id, status, error, phase = last_run(c, "slow")
        assert (status, phase) == ("failed", "labels")
        assert error == "canceling statement due to statement timeout"
        assert membership(c, "slow") == before
        set_sleep(c, 0)
    # another session can refresh right away: the lock was released
    with connect(data, autocommit=True) as other:
        assert refresh(other, "slow")[1] == "succeeded"


def test_refresh_inside_a_transaction_block_is_one_transaction(data):
    with connect(data) as c:  # not autocommit: BEGIN ... CALL ... ROLLBACK
        c.execute("SET client_min_messages = warning")
        run_id, status = c.execute("CALL segment_refresh('main')").fetchone()
        assert status == "succeeded"
        with connect(data, autocommit=True) as other:
            # nothing committed yet: the run is invisible to others
            assert other.execute("SELECT count(*) FROM segment_runs WHERE run_id = %s", [run_id]).fetchone()[0] == 0
        c.rollback()
        assert c.execute("SELECT count(*) FROM segment_runs WHERE run_id = %s", [run_id]).fetchone()[0] == 0


def test_privileges_and_row_level_security(data):
    with connect(data, autocommit=True) as admin:
        admin.execute("SET client_min_messages = warning")
        admin.execute("DROP ROLE IF EXISTS seg_refresher")
        admin.execute("CREATE ROLE seg_refresher")
        admin.execute(
            "GRANT INSERT, UPDATE, DELETE, SELECT ON segment_runs, segment_members, segment_run_segments, "
            "segment_run_transitions TO seg_refresher"
        )
        admin.execute("GRANT SELECT ON segmentations, segment_membership, segment_latest_runs TO seg_refresher")
        admin.execute("GRANT USAGE ON SEQUENCE segment_run_ids TO seg_refresher")
        admin.execute("GRANT SELECT ON segment_input_main TO seg_refresher")
        admin.execute("SET ROLE seg_refresher")
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            admin.execute("CALL segment_refresh('main')")
        assert info.value.diag.message_primary == (
            'permission denied to read customers table s_customers of segmentation "main"')
        assert "GRANT SELECT" in info.value.diag.message_hint
        admin.execute("RESET ROLE")

        # row-level security: the refresher sees only region 'n' (half the customers)
        admin.execute("CREATE TABLE rls_customers AS SELECT * FROM s_customers")
        admin.execute("ALTER TABLE rls_customers ENABLE ROW LEVEL SECURITY")
        admin.execute("CREATE POLICY only_n ON rls_customers FOR SELECT TO seg_refresher USING (region = 'n')")
        admin.execute("GRANT SELECT ON rls_customers TO seg_refresher")
        admin.execute("SELECT segmentation_create('rls', 'rls_customers', 'id', label_column => 'tier')")
        admin.execute("SET ROLE seg_refresher")
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as info:
            admin.execute("CALL segment_refresh('rls')")
        assert "segment_input_rls" in info.value.diag.message_primary
        admin.execute("RESET ROLE")
        admin.execute("GRANT SELECT ON segment_input_rls TO seg_refresher")
        admin.execute("SET ROLE seg_refresher")
        run_id, status = admin.execute("CALL segment_refresh('rls')").fetchone()
        assert status == "succeeded"
        admin.execute("RESET ROLE")
        rows, run_by = admin.execute("SELECT rows, run_by FROM segment_runs WHERE run_id = %s", [run_id]).fetchone()
        assert (rows, run_by) == (N // 2, "seg_refresher")
        # the superuser (who bypasses RLS) gets everyone
        assert refresh(admin, "rls")[1] == "succeeded"
        assert admin.execute("SELECT count(*) FROM segment_membership WHERE segmentation = 'rls'").fetchone()[0] == N
        admin.execute("SELECT segmentation_drop('rls')")
        admin.execute("DROP TABLE rls_customers")
        admin.execute("DROP OWNED BY seg_refresher")
        admin.execute("DROP ROLE seg_refresher")
