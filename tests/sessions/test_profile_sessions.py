"""Profiles across real sessions: refits seen by other sessions' next query,
uncommitted refits invisible, concurrent refits of one name, pg_dump/restore
of the catalog, and parallel workers launched for profile_vector and
behaviour_agg from a top-level query."""

import json
import threading

import pytest

from conftest import connect, restored_copy

SPEC = {"features": [{"column": "x", "transform": "none"}, {"column": "city", "top": 2}]}


@pytest.fixture(scope="module")
def data(dbname):
    with connect(dbname, autocommit=True) as c:
        c.execute(
            "CREATE TABLE s_customers AS SELECT i AS id, i::float8 AS x, 'c' || (i % 5) AS city "
            "FROM generate_series(1, 5000) i"
        )
        c.execute("ANALYZE s_customers")
        c.execute("SELECT profile_fit('s', 's_customers', %s::jsonb)", [json.dumps(SPEC)])
    return dbname


def first_vector(c, name="s"):
    return c.execute(f"SELECT profile_vector('{name}', c) FROM s_customers c WHERE id = 10").fetchone()[0]


def test_refit_in_another_session_is_seen_by_the_next_query(data):
    with connect(data, autocommit=True) as reader, connect(data, autocommit=True) as writer:
        before = first_vector(reader)
        assert before[0] == 10.0
        writer.execute(
            "SELECT profile_fit('s', 's_customers', %s::jsonb)",
            [json.dumps({"features": [{"column": "x", "transform": "minmax"}, {"column": "city", "top": 2}]})],
        )
        after = first_vector(reader)
        assert after[0] == pytest.approx(9 / 4999, rel=1e-6)
        writer.execute("SELECT profile_fit('s', 's_customers', %s::jsonb)", [json.dumps(SPEC)])
        assert first_vector(reader) == before


def test_uncommitted_refit_is_invisible_to_others(data):
    with connect(data, autocommit=True) as reader, connect(data) as writer:
        before = first_vector(reader)
        writer.execute(
            "SELECT profile_fit('s', 's_customers', %s::jsonb)",
            [json.dumps({"features": [{"column": "x", "transform": "zscore"}]})],
        )
        # the writer sees its own refit, the reader still the committed one
        assert len(first_vector(writer)) == 1
        assert first_vector(reader) == before
        writer.rollback()
        assert first_vector(reader) == before


def test_concurrent_refits_of_one_name(data):
    specs = [
        {"features": [{"column": "x", "transform": t}]} for t in ["none", "zscore", "minmax", "robust", "log1p"]
    ]
    errors = []

    def refit(spec):
        try:
            with connect(data, autocommit=True) as c:
                for _ in range(3):
                    c.execute("SELECT profile_fit('s_race', 's_customers', %s::jsonb)", [json.dumps(spec)])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=refit, args=(s,)) for s in specs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with connect(data, autocommit=True) as c:
        rows = c.execute("SELECT spec, fitted FROM profile_specs WHERE name = 's_race'").fetchall()
        assert len(rows) == 1
        spec, fitted = rows[0]
        # the stored statistics belong to the stored spec (the replace was atomic)
        step = fitted["features"][0]["encoding"]["numeric"]["steps"][0]
        wanted = spec["features"][0]["transform"]
        assert (step if isinstance(step, str) else next(iter(step))) == wanted
        c.execute("SELECT profile_drop('s_race')")


def test_pg_dump_and_restore_keep_fitted_profiles(data):
    with restored_copy(data) as (restored, dump):
        assert "profile_specs" in dump
        with connect(data, autocommit=True) as old, connect(restored, autocommit=True) as new:
            query = "SELECT name, spec, fitted, fit_id FROM profile_specs ORDER BY name"
            assert new.execute(query).fetchall() == old.execute(query).fetchall()
            assert first_vector(new) == first_vector(old)
            # the id sequence was restored too: a new fit gets an id above every restored one
            top = new.execute("SELECT max(fit_id) FROM profile_specs").fetchone()[0]
            new.execute("SELECT profile_fit('after_restore', 's_customers', %s::jsonb)", [json.dumps(SPEC)])
            assert new.execute("SELECT fit_id FROM profile_specs WHERE name = 'after_restore'").fetchone()[0] > top


PARALLEL = [
    "SET parallel_setup_cost = 0",
    "SET parallel_tuple_cost = 0",
    "SET min_parallel_table_scan_size = 0",
    "SET max_parallel_workers_per_gather = 2",
]


def run_both(c, query):
    c.execute("SET max_parallel_workers_per_gather = 0")
    serial = c.execute(query).fetchall()
    for s in PARALLEL:
        c.execute(s)
    plan = "\n".join(r[0] for r in c.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + query).fetchall())
    return serial, c.execute(query).fetchall(), plan


def test_profile_vector_in_parallel_workers(data):
    """Workers compute the vectors (the partial aggregates run there), in a
    transaction without a transaction id: nothing on the path may need one."""
    with connect(data, autocommit=True) as c:
        serial, parallel, plan = run_both(
            c, "SELECT sum(cardinality(profile_vector('s', c))), "
               "sum(hashtext(profile_vector('s', c)::text)::bigint) FROM s_customers c"
        )
        assert "Partial Aggregate" in plan and "Workers Launched: 2" in plan, plan
        assert parallel == serial


def test_behaviour_agg_in_parallel_workers(data):
    with connect(data, autocommit=True) as c:
        c.execute(
            "CREATE TABLE s_events AS SELECT i % 300 AS customer_id, "
            "timestamptz '2024-01-01' + (i * 7919 % 8000) * interval '1 hour' AS occurred_at, "
            "(ARRAY['visit','order','cart'])[1 + i % 3] AS event_type, 'cat' || (i % 11) AS category, "
            "(ARRAY['web','app'])[1 + i % 2] AS channel FROM generate_series(1, 40000) i"
        )
        c.execute("ANALYZE s_events")
        serial, parallel, plan = run_both(
            c, "SELECT md5(string_agg(b::text, ';' ORDER BY customer_id)) FROM "
               "(SELECT customer_id, behaviour_agg(occurred_at, event_type, category, channel, '2025-01-01') b "
               "FROM s_events GROUP BY customer_id) q"
        )
        assert "Partial" in plan and "Workers Launched: 2" in plan, plan
        assert parallel == serial
