"""pg_dump / pg_restore of a database with pg_segment keeps the rows of every
table and the position of every sequence the extension registered with
pg_extension_config_dump (generic over pg_extension.extconfig, so it covers
every area's catalog), and a restored segmentation refreshes."""

from conftest import connect, restored_copy


def extconfig(c):
    """(name, relkind) of every relation pg_segment registered for dumping."""
    return c.execute(
        "SELECT format('%I.%I', n.nspname, k.relname), k.relkind FROM pg_extension e, "
        "unnest(e.extconfig) AS x(oid) JOIN pg_class k ON k.oid = x.oid "
        "JOIN pg_namespace n ON n.oid = k.relnamespace WHERE e.extname = 'pg_segment' ORDER BY 1"
    ).fetchall()


def contents(c):
    """Every registered table's rows (as sorted text) and every sequence's last_value."""
    out = {}
    for name, kind in extconfig(c):
        if kind == "S":
            out[name] = c.execute(f"SELECT last_value FROM {name}").fetchone()[0]
        else:
            out[name] = sorted(r[0] for r in c.execute(f"SELECT t::text FROM {name} t").fetchall())
    return out


def test_dump_and_restore_keep_every_extconfig_table(dbname):
    with connect(dbname, autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        c.execute("CREATE TABLE d_customers AS SELECT i AS id, 't' || (i % 3) AS tier FROM generate_series(1, 300) i")
        c.execute("SELECT segmentation_create('dumped', 'd_customers', 'id', label_column => 'tier')")
        c.execute("CALL segment_refresh('dumped', '2024-01-01')")
        c.execute("UPDATE d_customers SET tier = 't9' WHERE id <= 30")
        c.execute("CALL segment_refresh('dumped', '2024-02-01')")
        before = contents(c)
        names = [n.split(".")[-1] for n, _ in extconfig(c)]
        for table in ["segmentations", "segment_runs", "segment_members", "segment_run_segments",
                      "segment_run_transitions", "segment_run_ids"]:
            assert table in names
            assert before[[n for n, _ in extconfig(c) if n.endswith("." + table)][0]]
    with restored_copy(dbname, custom=True) as (restored, _):
        with connect(restored, autocommit=True) as new:
            assert contents(new) == before
            # the restored definition, input view and history work: a third run sees run 2 as previous
            new.execute("SET client_min_messages = warning")
            run_id, status = new.execute("CALL segment_refresh('dumped', '2024-03-01')").fetchone()
            assert status == "succeeded"
            assert run_id > max(r for r, in new.execute("SELECT run_id FROM segment_runs WHERE run_id < %s",
                                                          [run_id]).fetchall())
            assert new.execute(
                "SELECT customers FROM segment_summary WHERE segmentation = 'dumped' AND segment = 't9'"
            ).fetchone()[0] == 30
