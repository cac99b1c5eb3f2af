"""kmeans_fit stops within 200 ms of a cancel request or statement_timeout
(check_for_interrupts between iterations and seeding steps), and a model
refitted in one session is seen by another session's next query."""

import threading
import time

import psycopg
import pytest

from conftest import connect, restored_copy


@pytest.fixture(scope="module")
def big(dbname):
    with connect(dbname, autocommit=True) as c:
        # 100k rows × 16 dims: a fit with k = 64, tol = 0 and 50 runs takes many seconds,
        # one iteration a few tens of milliseconds
        c.execute(
            "CREATE TABLE s_points AS SELECT i AS id, "
            "ARRAY(SELECT sin(i * j * 0.001 + j) FROM generate_series(1, 16) j)::real[] AS f "
            "FROM generate_series(1, 100000) i"
        )
        c.execute("ANALYZE s_points")
    return dbname


SLOW_FIT = "SELECT kmeans_fit('slow', 's_points', 'f', 64, max_iter => 100000, tol => 0, n_init => 50)"


def test_cancel_stops_a_fit_within_200ms(big):
    with connect(big, autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        c.execute("SET pg_segment.kmeans_threads = 1")
        result = {}

        def run():
            try:
                c.execute(SLOW_FIT)
                result["error"] = None
            except psycopg.errors.QueryCanceled as e:
                result["error"] = e
            result["at"] = time.monotonic()

        t = threading.Thread(target=run)
        t.start()
        time.sleep(3.0)  # loading is done; the fit is iterating
        assert t.is_alive(), "the fit finished before it could be cancelled"
        sent = time.monotonic()
        c.cancel()
        t.join(10)
        assert not t.is_alive()
        assert isinstance(result["error"], psycopg.errors.QueryCanceled)
        assert result["at"] - sent < 0.2, result["at"] - sent


def test_statement_timeout_stops_a_fit(big):
    with connect(big, autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        c.execute("SET statement_timeout = '2500ms'")
        start = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute(SLOW_FIT)
        assert time.monotonic() - start < 2.5 + 0.2 + 0.3  # timeout + stop bound + client round trip


def test_refit_in_another_session_is_seen_by_the_next_query(big):
    with connect(big, autocommit=True) as reader, connect(big, autocommit=True) as writer:
        writer.execute("SET client_min_messages = warning")
        writer.execute("CREATE TABLE s_two (f real[])")
        writer.execute("INSERT INTO s_two VALUES ('{0}'), ('{10}')")
        writer.execute("SELECT kmeans_fit('two', 's_two', 'f', 2, init_centroids => '{{0},{10}}')")
        q = "SELECT kmeans_assign('two', '{1}'::real[])"
        assert reader.execute(q).fetchone()[0] == 1
        writer.execute("SELECT kmeans_fit('two', 's_two', 'f', 2, init_centroids => '{{10},{0}}')")
        assert reader.execute(q).fetchone()[0] == 2
        # an uncommitted refit stays invisible
        with connect(big) as tx:
            tx.execute("SET client_min_messages = warning")
            tx.execute("SELECT kmeans_fit('two', 's_two', 'f', 2, init_centroids => '{{0},{10}}')")
            assert tx.execute(q).fetchone()[0] == 1
            assert reader.execute(q).fetchone()[0] == 2
            tx.rollback()


def test_models_survive_pg_dump_and_restore(big):
    with connect(big, autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        c.execute("CREATE TABLE s_dump (f real[])")
        c.execute("INSERT INTO s_dump VALUES ('{0,0}'), ('{0,1}'), ('{5,5}')")
        c.execute("SELECT kmeans_fit('dumped', 's_dump', 'f', 2, init_centroids => '{{0,0},{5,5}}')")
    with restored_copy(big, "--exclude-table-data=s_points") as (restored, dump):
        assert "kmeans_models" in dump
        with connect(restored, autocommit=True) as c:
            row = c.execute("SELECT centroids::text, sizes::text FROM kmeans_models WHERE name = 'dumped'").fetchone()
            assert row == ("{{0,0.5},{5,5}}", "{2,1}")
            assert c.execute("SELECT kmeans_assign('dumped', '{4,4}'::real[])").fetchone()[0] == 2
            top = c.execute("SELECT max(version) FROM kmeans_models").fetchone()[0]
            c.execute("SET client_min_messages = warning")
            c.execute("SELECT kmeans_fit('after', 's_dump', 'f', 1)")
            assert c.execute("SELECT version FROM kmeans_models WHERE name = 'after'").fetchone()[0] > top
