"""pg_cron, for real: the test cluster preloads pg_cron (cron.database_name =
postgres, cron.host = its socket directory). In database postgres we install
pg_cron and pg_segment (in a fresh schema), schedule a refresh every minute,
wait (bounded) for a run in segment_runs and in cron.job_run_details,
unschedule it and clean up."""

import time

from conftest import connect

WAIT_SECONDS = 150  # pg_cron 1.4 has minute granularity


def test_pg_cron_runs_segment_refresh():
    with connect("postgres", autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        had_cron = c.execute("SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'").fetchone()[0] == 1
        c.execute("CREATE EXTENSION IF NOT EXISTS pg_cron")
        c.execute("DROP SCHEMA IF EXISTS seg_cron CASCADE")
        c.execute("CREATE SCHEMA seg_cron")
        c.execute("CREATE EXTENSION pg_segment SCHEMA seg_cron")
        c.execute("CREATE TABLE seg_cron.customers AS SELECT i AS id, 't' || (i % 3) AS tier FROM generate_series(1, 100) i")
        c.execute("SELECT seg_cron.segmentation_create('cronned', 'seg_cron.customers', 'id', label_column => 'tier')")
        job = c.execute(
            "SELECT cron.schedule('pg_segment_test_refresh', '* * * * *', "
            "$$CALL seg_cron.segment_refresh('cronned')$$)"
        ).fetchone()[0]
        try:
            deadline = time.monotonic() + WAIT_SECONDS
            run = details = None
            while time.monotonic() < deadline:
                run = c.execute(
                    "SELECT status, rows, run_by FROM seg_cron.segment_runs WHERE segmentation = 'cronned' "
                    "AND status <> 'running' ORDER BY run_id LIMIT 1"
                ).fetchone()
                details = c.execute(
                    "SELECT status, command FROM cron.job_run_details WHERE jobid = %s AND status <> 'running' "
                    "ORDER BY runid LIMIT 1", [job]
                ).fetchone()
                if run and details:
                    break
                time.sleep(2)
            assert run == ("succeeded", 100, "postgres"), run
            assert details == ("succeeded", "CALL seg_cron.segment_refresh('cronned')"), details
            assert c.execute(
                "SELECT count(*) FROM seg_cron.segment_membership WHERE segmentation = 'cronned'"
            ).fetchone()[0] == 100
        finally:
            c.execute("SELECT cron.unschedule(%s)", [job])
            c.execute("DELETE FROM cron.job_run_details WHERE jobid = %s", [job])
            c.execute("DROP EXTENSION pg_segment CASCADE")
            c.execute("DROP SCHEMA seg_cron CASCADE")
            if not had_cron:
                c.execute("DROP EXTENSION pg_cron")
