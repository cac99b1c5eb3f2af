//! In-database tests of the rfm area: rfm_agg against hand-computed values and
//! against plain SQL aggregates, serial = parallel, numeric decoding, time
//! zones, rfm_breaks / rfm_score against NTILE, segment maps, rfm_segments
//! against the composition of the parts, key types, SQLSTATEs.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;
    use crate::pgrx_tests::support::{error_of, query_rows};

    fn rfm_state_of(sql: &str) -> String {
        error_of(sql).map(|(s, _)| s).unwrap_or_else(|| "ok".into())
    }

    fn rfm_one(sql: &str) -> String {
        query_rows(sql).join("\n")
    }

    fn rfm_force_parallel() {
        Spi::run(
            "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;
             SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2",
        )
        .unwrap();
    }

    fn rfm_sample() {
        Spi::run(
            "SET LOCAL TimeZone = 'UTC';
             CREATE TABLE rt_orders (customer_id bigint, ordered_at timestamptz, amount numeric(10,2));
             INSERT INTO rt_orders VALUES
               (1, '2025-01-01 08:00', 10.00), (1, '2025-01-01 20:00', 5.00), (1, '2025-01-04 09:00', 20.00),
               (1, '2025-01-07 06:00', 30.00), (1, '2025-01-07 06:00', 1.50), (1, '2025-01-11 00:00', 999.00),
               (2, '2025-01-09 12:00', -4.00), (2, '2025-01-09 13:00', NULL), (2, NULL, 7.00),
               (3, '2025-02-01', 1.00)",
        )
        .unwrap();
    }

    /// Customer 1 by hand (as_of 2025-01-10 12:00): days 1, 4, 7 → frequency 2,
    /// recency 6, T 9; repeat days' totals 20 and 31.50 → monetary_value 25.75.
    #[pg_test]
    fn rfm_agg_equals_hand_computed_values() {
        rfm_sample();
        let got = query_rows(
            "SELECT customer_id || ' ' || rfm_agg(ordered_at, amount, '2025-01-10 12:00')::text
             FROM rt_orders GROUP BY customer_id ORDER BY customer_id",
        );
        assert_eq!(
            got,
            [
                r#"1 ("2025-01-01 08:00:00+00","2025-01-07 06:00:00+00",3.25,5,66.50,13.300000,9.166666666666666,2,6,9,25.75)"#,
                // NULL amount: an order without money; NULL time: skipped; refund kept
                r#"2 ("2025-01-09 12:00:00+00","2025-01-09 13:00:00+00",0.9583333333333334,2,-4.00,-4.000000,1,0,0,1,0)"#,
                // all orders after as_of
                "3 (,,,0,0,,,,,,)",
            ]
        );
        // no rows at all: NULL, like other aggregates
        assert_eq!(rfm_one("SELECT rfm_agg(ordered_at, amount, now())::text FROM rt_orders WHERE false"), "NULL");
        // the two-argument form uses now(): every sample order is in the past
        assert_eq!(rfm_one("SELECT (rfm_agg(ordered_at, amount)).frequency::text FROM rt_orders"), "9");
    }

    #[pg_test]
    fn rfm_agg_amount_and_time_types() {
        rfm_sample();
        // float8, bigint and integer amounts; float8 is summed exactly in micro-units
        assert_eq!(
            rfm_one("SELECT (rfm_agg(t, a, '2025-01-02')).monetary::text FROM (VALUES ('2025-01-01'::timestamptz, 0.1::float8), ('2025-01-01', 0.2)) v(t, a)"),
            "0.3"
        );
        assert_eq!(
            rfm_one("SELECT (rfm_agg(t, a, '2025-01-02')).monetary::text FROM (VALUES ('2025-01-01'::timestamptz, 9000000000000000000::bigint), ('2025-01-01', 9000000000000000000)) v(t, a)"),
            "18000000000000000000"
        );
        assert_eq!(
            rfm_one("SELECT (rfm_agg(t, a, '2025-01-02')).avg_order_value::text FROM (VALUES ('2025-01-01'::timestamptz, 1), ('2025-01-01', 2)) v(t, a)"),
            "1.5000"
        );
        // timestamp without time zone: wall-clock days, results shown as timestamptz
        Spi::run("SET LOCAL TimeZone = 'America/New_York'").unwrap();
        assert_eq!(
            rfm_one(
                "SELECT rfm_agg(t, a, '2025-03-10 00:00')::text FROM (VALUES ('2025-03-08 23:30'::timestamp, 1.5), ('2025-03-09 03:30', 2.5)) v(t, a)"
            ),
            r#"("2025-03-08 23:30:00-05","2025-03-09 03:30:00-04",0.8541666666666666,2,4.0,2.00000,1.0208333333333333,1,1,2,2.5)"#
        );
        // the same instants as timestamptz: local days follow the session TimeZone
        assert_eq!(
            rfm_one(
                "SELECT concat_ws(' ', (r).btyd_frequency, (r).btyd_recency, (r).btyd_t) FROM (SELECT rfm_agg(t, a, '2025-03-10 00:00') r FROM (VALUES ('2025-03-09 04:30+00'::timestamptz, 1.5), ('2025-03-09 07:30+00', 2.5)) v(t, a)) s"
            ),
            "1 1 2"
        );
        Spi::run("SET LOCAL TimeZone = 'UTC'").unwrap();
        assert_eq!(
            rfm_one(
                "SELECT concat_ws(' ', (r).btyd_frequency, (r).btyd_recency, (r).btyd_t) FROM (SELECT rfm_agg(t, a, '2025-03-10 00:00') r FROM (VALUES ('2025-03-09 04:30+00'::timestamptz, 1.5), ('2025-03-09 07:30+00', 2.5)) v(t, a)) s"
            ),
            "0 0 1"
        );
    }

    /// Every field against plain SQL over many customers, with numerics of every shape.
    #[pg_test]
    fn rfm_agg_equals_sql_reference() {
        Spi::run(
            "SET LOCAL TimeZone = 'Europe/Berlin';
             CREATE TABLE rt_many AS
             SELECT i % 700 AS customer_id,
                    timestamptz '2024-01-01 00:00+00' + (i * 7919 % 20000) * interval '37 minutes' AS ordered_at,
                    CASE i % 7 WHEN 0 THEN NULL WHEN 1 THEN -(i % 50)::numeric / 4 WHEN 2 THEN 123456789012.3456789
                               WHEN 3 THEN 0 ELSE (i % 1000)::numeric / 100 END AS amount
             FROM generate_series(1, 30000) i;
             ANALYZE rt_many",
        )
        .unwrap();
        let ours = "SELECT customer_id || ' ' || concat_ws(' ', (r).first_order_at, (r).last_order_at, round((r).recency_days::numeric, 9),
                       (r).frequency, (r).monetary, (r).avg_order_value, round((r).tenure_days::numeric, 9), (r).btyd_frequency, (r).btyd_recency, (r).btyd_t)
                    FROM (SELECT customer_id, rfm_agg(ordered_at, amount, '2025-06-01') r FROM rt_many GROUP BY customer_id) s ORDER BY customer_id";
        let reference = "WITH o AS (SELECT * FROM rt_many WHERE ordered_at <= '2025-06-01'),
                         d AS (SELECT customer_id, ordered_at::date AS day, coalesce(sum(amount), 0) AS total FROM o GROUP BY 1, 2),
                         b AS (SELECT customer_id, count(*) - 1 AS f, max(day) - min(day) AS r, date '2025-06-01' - min(day) AS t,
                                      CASE WHEN count(*) > 1 THEN (sum(total) - (array_agg(total ORDER BY day))[1]) / (count(*) - 1) ELSE 0 END AS mv
                               FROM d GROUP BY 1)
                    SELECT customer_id || ' ' || concat_ws(' ', min(ordered_at), max(ordered_at),
                       round(extract(epoch FROM timestamptz '2025-06-01' - max(ordered_at)) / 86400, 9), count(*), sum(amount),
                       round(sum(amount)::numeric(70, 40) / nullif(count(amount), 0), scale(sum(amount)) + 4),
                       round(extract(epoch FROM timestamptz '2025-06-01' - min(ordered_at)) / 86400, 9),
                       (SELECT f FROM b WHERE b.customer_id = o.customer_id), (SELECT r FROM b WHERE b.customer_id = o.customer_id),
                       (SELECT t FROM b WHERE b.customer_id = o.customer_id))
                    FROM o GROUP BY customer_id ORDER BY customer_id";
        let (a, b) = (query_rows(ours), query_rows(reference));
        assert_eq!(a.len(), 700);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y);
        }
        // BTYD monetary value: mean of the repeat days' totals, to float precision
        let off = Spi::get_one::<i64>(
            "WITH o AS (SELECT * FROM rt_many WHERE ordered_at <= '2025-06-01'),
                  d AS (SELECT customer_id, ordered_at::date AS day, coalesce(sum(amount), 0) AS total FROM o GROUP BY 1, 2),
                  b AS (SELECT customer_id, CASE WHEN count(*) > 1 THEN (sum(total) - (array_agg(total ORDER BY day))[1]) / (count(*) - 1) ELSE 0 END AS mv
                        FROM d GROUP BY 1),
                  a AS (SELECT customer_id, (rfm_agg(ordered_at, amount, '2025-06-01')).btyd_monetary_value AS mv FROM rt_many GROUP BY 1)
             SELECT count(*) FROM a JOIN b USING (customer_id) WHERE abs(a.mv - b.mv::float8) > 1e-9 * greatest(1, abs(b.mv::float8))",
        )
        .unwrap();
        assert_eq!(off, Some(0));
        // serial = parallel, grouped and whole-table
        let grouped = format!("SELECT md5(string_agg(x, ';')) FROM ({ours}) s(x)");
        let whole = "SELECT rfm_agg(ordered_at, amount, '2025-06-01')::text FROM rt_many";
        Spi::run("SET LOCAL max_parallel_workers_per_gather = 0").unwrap();
        let (serial_grouped, serial_whole) = (query_rows(&grouped), query_rows(whole));
        rfm_force_parallel();
        let plan = query_rows(&format!("EXPLAIN (COSTS OFF) {whole}")).join("\n");
        assert!(plan.contains("Partial Aggregate"), "{plan}");
        assert_eq!(query_rows(&grouped), serial_grouped);
        assert_eq!(query_rows(whole), serial_whole);
    }

    #[pg_test]
    fn rfm_agg_bad_input() {
        rfm_sample();
        let agg = |args: &str| rfm_state_of(&format!("SELECT rfm_agg({args}) FROM rt_orders"));
        assert_eq!(agg("ordered_at, amount, NULL::timestamptz"), "22004");
        assert_eq!(agg("ordered_at, amount, 'infinity'::timestamptz"), "22023");
        assert_eq!(agg("ordered_at, 'NaN'::numeric, now()"), "22023");
        assert_eq!(agg("ordered_at, 'Infinity'::float8, now()"), "22023");
        assert_eq!(agg("'-infinity'::timestamptz, amount, now()"), "22023");
        assert_eq!(agg("ordered_at, amount, now() - customer_id * interval '1 day'"), "22023");
        assert_eq!(agg("ordered_at, 1e40::numeric, now()"), "22003");
        let (_, message) = error_of("SELECT rfm_agg(ordered_at, amount, NULL::timestamptz) FROM rt_orders").unwrap();
        assert_eq!(message, "as_of must not be null");
    }

    #[pg_test]
    fn rfm_breaks_and_score_match_ntile_without_ties() {
        let mismatches = Spi::get_one::<i64>(
            "WITH v AS (SELECT (i * 7919 % 1009)::float8 AS x FROM generate_series(1, 1009) i),
                  b AS (SELECT rfm_breaks(x, 5) AS cuts FROM v)
             SELECT count(*) FROM (SELECT x, ntile(5) OVER (ORDER BY x) AS t FROM v) s, b WHERE rfm_score(x, cuts) <> t",
        )
        .unwrap();
        assert_eq!(mismatches, Some(0));
        // ties share a score: six ones, then 2..5
        assert_eq!(
            rfm_one("SELECT rfm_breaks(x, 5)::text FROM unnest('{1,1,1,1,1,1,2,3,4,5}'::float8[]) x"),
            "{1,1,1,3}"
        );
        assert_eq!(rfm_one("SELECT rfm_breaks(x, 5)::text FROM unnest('{}'::float8[]) x"), "NULL");
        assert_eq!(rfm_one("SELECT rfm_breaks(x, 3)::text FROM unnest('{5,NULL,1}'::float8[]) x"), "{1,5}");
        assert_eq!(rfm_one("SELECT rfm_score(30, '{30,90,180,365}', true)::text"), "5");
        assert_eq!(rfm_one("SELECT rfm_score(31, '{30,90,180,365}', reverse => true)::text"), "4");
        assert_eq!(rfm_one("SELECT rfm_score(1000, '{30,90,180,365}')::text"), "5");
        assert_eq!(rfm_one("SELECT rfm_score(NULL, '{30,90,180,365}')::text"), "NULL");
        // errors
        assert_eq!(rfm_state_of("SELECT rfm_breaks(x, 1) FROM generate_series(1, 3) x"), "22023");
        assert_eq!(rfm_state_of("SELECT rfm_breaks(x, 101) FROM generate_series(1, 3) x"), "22023");
        assert_eq!(rfm_state_of("SELECT rfm_breaks(x, NULL) FROM generate_series(1, 3) x"), "22004");
        assert_eq!(rfm_state_of("SELECT rfm_breaks('NaN', 5)"), "22023");
        assert_eq!(rfm_state_of("SELECT rfm_score(1, '{3,2}')"), "22023");
        assert_eq!(rfm_state_of("SELECT rfm_score(1, '{}')"), "22023");
        assert_eq!(rfm_state_of("SELECT rfm_score(1, '{1,NULL}')"), "22004");
        assert_eq!(rfm_state_of("SELECT rfm_score('NaN', '{1,2}')"), "22023");
        // parallel = serial
        Spi::run("CREATE TABLE rt_values AS SELECT (i * 31 % 977)::float8 AS x FROM generate_series(1, 50000) i; ANALYZE rt_values").unwrap();
        let sql = "SELECT rfm_breaks(x, 7)::text FROM rt_values";
        let serial = query_rows(sql);
        rfm_force_parallel();
        assert!(query_rows(&format!("EXPLAIN (COSTS OFF) {sql}")).join("\n").contains("Partial Aggregate"));
        assert_eq!(query_rows(sql), serial);
    }

    #[pg_test]
    fn rfm_segment_maps_are_data() {
        // the standard map covers every cell once, and SQL agrees with the Rust table
        assert_eq!(rfm_one("SELECT count(*)::text FROM rfm_segment_map_check('standard')"), "0");
        let standard = crate::rfm::segment_map::standard();
        let table = standard.table();
        let names = query_rows(
            "SELECT rfm_segment_name(r, f, m) FROM generate_series(1, 5) r, generate_series(1, 5) f, generate_series(1, 5) m ORDER BY r, f, m",
        );
        assert_eq!(names, table);
        assert_eq!(rfm_one("SELECT count(DISTINCT segment)::text FROM rfm_segment_map_rules WHERE map = 'standard'"), "11");
        assert_eq!(rfm_one("SELECT rfm_segment_name(5, 5, 5)"), "Champions");
        assert_eq!(rfm_one("SELECT rfm_segment_name(NULL, 5, 5)"), "NULL");
        // copy, edit: a gap falls back, the check names it
        assert_eq!(rfm_one("SELECT rfm_segment_map_copy('standard', 'mine')::text"), "12");
        Spi::run("DELETE FROM rfm_segment_map_rules WHERE map = 'mine' AND segment = 'Lost'").unwrap();
        assert_eq!(rfm_one("SELECT rfm_segment_name(1, 1, 1, 'mine')"), "Other");
        assert_eq!(
            rfm_one("SELECT concat_ws(' ', problem, priority, segment, cells, example) FROM rfm_segment_map_check('mine')"),
            "gap Other 5 r=1 f=1 m=1"
        );
        Spi::run("INSERT INTO rfm_segment_map_rules (map, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max) VALUES ('mine', 1, 'Whales', 1, 5, 1, 5, 5, 5)").unwrap();
        assert_eq!(rfm_one("SELECT rfm_segment_name(1, 1, 5, 'mine')"), "Whales");
        assert_eq!(rfm_one("SELECT count(*)::text FROM rfm_segment_map_check('mine') WHERE problem = 'overlap'"), "11");
        // errors
        assert_eq!(rfm_state_of("SELECT rfm_segment_name(1, 1, 1, 'nope')"), "42704");
        assert_eq!(rfm_state_of("SELECT rfm_segment_name(6, 1, 1)"), "22023");
        assert_eq!(rfm_state_of("SELECT rfm_segment_name(1, 1, 1, NULL)"), "22004");
        assert_eq!(rfm_state_of("SELECT rfm_segment_map_copy('nope', 'x')"), "42704");
        assert_eq!(rfm_state_of("SELECT rfm_segment_map_copy('standard', 'mine')"), "42710");
        // config-dumped, standard excluded (CREATE EXTENSION recreates it)
        assert_eq!(
            rfm_one(r#"SELECT string_agg(c.relname || ':' || x.cond, ', ' ORDER BY c.relname COLLATE "C") FROM pg_extension e, unnest(e.extconfig, e.extcondition) x(oid, cond) JOIN pg_class c ON c.oid = x.oid WHERE e.extname = 'pg_segment' AND c.relname LIKE 'rfm%'"#),
            "rfm_segment_map_rules:WHERE map <> 'standard', rfm_segment_maps:WHERE name <> 'standard'"
        );
    }

    /// rfm_segments equals the composition of rfm_agg, rfm_breaks, rfm_score and rfm_segment_name.
    #[pg_test]
    fn rfm_segments_equals_composition_of_the_parts() {
        Spi::run(
            "SET LOCAL TimeZone = 'UTC';
             CREATE TABLE rt_seg AS
             SELECT (i * 7 % 997)::bigint AS customer_id,
                    timestamptz '2024-01-01' + (i * 7919 % 9000) * interval '1 hour' AS ordered_at,
                    ((i * 13 % 400) + 1)::numeric / 4 AS amount
             FROM generate_series(1, 6000) i;
             INSERT INTO rt_seg VALUES (5000, '2024-03-01', 10), (5001, '2030-01-01', 10), (NULL, '2024-03-01', 10), (5002, NULL, 10)",
        )
        .unwrap();
        let composed = "WITH a AS (SELECT customer_id, rfm_agg(ordered_at, amount, '2025-01-01') r FROM rt_seg WHERE customer_id IS NOT NULL GROUP BY 1),
                   s AS (SELECT * FROM a WHERE (r).frequency > 0),
                   b AS (SELECT rfm_breaks((r).recency_days, 5) rb, rfm_breaks((r).frequency, 5) fb, rfm_breaks((r).monetary::float8, 5) mb FROM s),
                   sc AS (SELECT customer_id, r, rfm_score((r).recency_days, rb, true) rs, rfm_score((r).frequency, fb) fs, rfm_score((r).monetary::float8, mb) ms FROM s, b)
              SELECT concat_ws(' ', customer_id, r, rs, fs, ms, rs::text || fs || ms, rfm_segment_name(rs, fs, ms)) FROM sc ORDER BY customer_id";
        let one_call = "SELECT concat_ws(' ', customer, (first_order_at, last_order_at, recency_days, frequency, monetary, avg_order_value, tenure_days,
                                btyd_frequency, btyd_recency, btyd_t, btyd_monetary_value)::rfm, r_score, f_score, m_score, rfm_cell, segment)
                        FROM rfm_segments('rt_seg', NULL::bigint, as_of => '2025-01-01') ORDER BY customer";
        let (a, b) = (query_rows(composed), query_rows(one_call));
        assert_eq!(a.len(), 998); // 997 + customer 5000; 5001 orders later, NULL key and NULL time skipped
        assert_eq!(a, b);
        assert_eq!(rfm_one("SELECT count(*)::text FROM rfm_segments('rt_seg', NULL::bigint, as_of => '2025-01-01') WHERE segment IS NULL"), "0");
        // other key types join back without a cast
        Spi::run(
            "CREATE TABLE rt_keys AS SELECT customer_id::int AS cid, 'c' || customer_id AS name, md5(customer_id::text)::uuid AS u,
                    ordered_at::timestamp AS at, amount::float8 AS amt FROM rt_seg WHERE customer_id < 100",
        )
        .unwrap();
        let count = |sql: &str| rfm_one(&format!("SELECT count(*)::text FROM {sql}"));
        let want = rfm_one("SELECT count(DISTINCT cid)::text FROM rt_keys");
        assert_eq!(count("rfm_segments('rt_keys', NULL::int, 'cid', 'at', 'amt', '2026-01-01') s JOIN rt_keys k ON k.cid = s.customer"), rfm_one("SELECT count(*)::text FROM rt_keys"));
        assert_eq!(count("rfm_segments('rt_keys', NULL::int, 'cid', 'at', 'amt', '2026-01-01')"), want);
        assert_eq!(count("rfm_segments('rt_keys', NULL::text, 'name', 'at', 'amt', '2026-01-01') s JOIN rt_keys k ON k.name = s.customer"), rfm_one("SELECT count(*)::text FROM rt_keys"));
        assert_eq!(count("rfm_segments('rt_keys', NULL::uuid, 'u', 'at', 'amt', '2026-01-01') s JOIN rt_keys k ON k.u = s.customer"), rfm_one("SELECT count(*)::text FROM rt_keys"));
        // a key column of another type is cast to key_type
        assert_eq!(count("rfm_segments('rt_keys', NULL::bigint, 'cid', 'at', 'amt', '2026-01-01')"), want);
        // no segment names without a map; 10 bins give cells like 10-3-7
        assert_eq!(rfm_one("SELECT count(segment)::text FROM rfm_segments('rt_seg', NULL::bigint, as_of => '2025-01-01', map => NULL)"), "0");
        assert_eq!(rfm_one(r"SELECT bool_and(rfm_cell ~ '^\d+-\d+-\d+$')::text FROM rfm_segments('rt_seg', NULL::bigint, as_of => '2025-01-01', bins => 10, map => NULL)"), "true");
        // empty table, single customer
        Spi::run("CREATE TABLE rt_empty (customer_id bigint, ordered_at timestamptz, amount numeric); CREATE TABLE rt_single AS SELECT 7::bigint AS customer_id, t AS ordered_at, 5.5 AS amount FROM (VALUES (timestamptz '2024-06-01'), ('2024-06-02')) v(t)").unwrap();
        assert_eq!(count("rfm_segments('rt_empty', NULL::bigint)"), "0");
        assert_eq!(
            rfm_one("SELECT concat_ws(' ', customer, r_score, f_score, m_score, rfm_cell, segment) FROM rfm_segments('rt_single', NULL::bigint, as_of => '2025-01-01')"),
            "7 5 1 1 511 New Customers"
        );
    }

    /// A plain table is scanned directly, anything else through SPI: both give
    /// the same rows, and privileges, row-level security and inheritance apply
    /// exactly as in `SELECT ... FROM orders`.
    #[pg_test]
    fn rfm_segments_direct_scan_equals_spi() {
        Spi::run(
            "SET LOCAL TimeZone = 'Europe/Berlin';
             CREATE TABLE rt_direct AS
             SELECT (i * 7 % 499)::bigint AS customer_id,
                    timestamptz '2024-03-20' + (i * 7919 % 9000) * interval '47 minutes' AS ordered_at,
                    CASE i % 9 WHEN 0 THEN NULL WHEN 1 THEN -(i % 50)::numeric / 4 WHEN 2 THEN 123456789.123456
                               ELSE ((i * 13 % 400) + 1)::numeric / 4 END AS amount
             FROM generate_series(1, 8000) i;
             INSERT INTO rt_direct VALUES (NULL, '2024-05-01', 1), (3, NULL, 2), (4, '2030-01-01', 3);
             CREATE VIEW rt_direct_view AS SELECT * FROM rt_direct",
        )
        .unwrap();
        let rows = |rel: &str, extra: &str| {
            query_rows(&format!(
                "SELECT concat_ws(' ', customer, first_order_at, last_order_at, recency_days, frequency, monetary, avg_order_value,
                        tenure_days, btyd_frequency, btyd_recency, btyd_t, btyd_monetary_value, r_score, f_score, m_score, rfm_cell, segment)
                 FROM rfm_segments('{rel}', NULL::bigint, as_of => '2025-01-01'{extra}) ORDER BY customer"
            ))
        };
        let direct = rows("rt_direct", "");
        assert_eq!(direct.len(), 499);
        assert_eq!(direct, rows("rt_direct_view", ""));
        // a fixed-offset zone (no DST) and a DST zone give their own calendar days, both ways
        for zone in ["Etc/GMT-9", "America/New_York", "UTC"] {
            Spi::run(&format!("SET LOCAL TimeZone = '{zone}'")).unwrap();
            let (a, b) = (rows("rt_direct", ""), rows("rt_direct_view", ""));
            assert_eq!(a, b, "{zone}");
            let by_agg = query_rows(
                "SELECT concat_ws(' ', customer_id, (r).btyd_frequency, (r).btyd_recency, (r).btyd_t, (r).btyd_monetary_value)
                 FROM (SELECT customer_id, rfm_agg(ordered_at, amount, '2025-01-01') r FROM rt_direct WHERE customer_id IS NOT NULL GROUP BY 1) s
                 WHERE (r).frequency > 0 ORDER BY customer_id",
            );
            let by_segments = query_rows(
                "SELECT concat_ws(' ', customer, btyd_frequency, btyd_recency, btyd_t, btyd_monetary_value)
                 FROM rfm_segments('rt_direct', NULL::bigint, as_of => '2025-01-01') ORDER BY customer",
            );
            assert_eq!(by_agg, by_segments, "{zone}");
        }
        assert_ne!(rows("rt_direct", ""), direct); // UTC days differ from Berlin's
        // inheritance: the children's rows count, as in SELECT ... FROM parent
        Spi::run("CREATE TABLE rt_direct_child () INHERITS (rt_direct); INSERT INTO rt_direct_child VALUES (100000, '2024-06-01', 5)").unwrap();
        assert_eq!(rfm_one("SELECT count(*)::text FROM rfm_segments('rt_direct', NULL::bigint, as_of => '2025-01-01')"), "500");
        Spi::run("DROP TABLE rt_direct_child").unwrap();
        // privileges: none → 42501; SELECT on just the three columns is enough
        Spi::run(
            "CREATE ROLE rt_reader; CREATE ROLE rt_stranger;
             ALTER TABLE rt_direct ADD COLUMN secret text;
             GRANT SELECT (customer_id, ordered_at, amount) ON rt_direct TO rt_reader",
        )
        .unwrap();
        // (map => NULL: the roles may not read the segment maps either)
        let count_as_role = || rfm_one("SELECT count(*)::text FROM rfm_segments('rt_direct', NULL::bigint, as_of => '2025-01-01', map => NULL)");
        Spi::run("SET LOCAL ROLE rt_stranger").unwrap();
        let (state, message) = error_of("SELECT * FROM rfm_segments('rt_direct', NULL::bigint, map => NULL)").unwrap();
        assert_eq!((state.as_str(), message.contains("rt_direct")), ("42501", true), "{message}");
        Spi::run("RESET ROLE; SET LOCAL ROLE rt_reader").unwrap();
        assert_eq!(count_as_role(), "499");
        assert_eq!(rfm_state_of("SELECT * FROM rfm_segments('rt_direct', NULL::bigint, amount_column => 'secret', map => NULL)"), "42501");
        // row-level security: the policy's rows only
        Spi::run(
            "RESET ROLE;
             ALTER TABLE rt_direct ENABLE ROW LEVEL SECURITY;
             CREATE POLICY rt_small ON rt_direct FOR SELECT TO rt_reader USING (customer_id < 100)",
        )
        .unwrap();
        Spi::run("SET LOCAL ROLE rt_reader").unwrap();
        assert_eq!(count_as_role(), "100");
        Spi::run("RESET ROLE").unwrap();
        // the test's superuser is not subject to the policy
        assert_eq!(rfm_one("SELECT count(*)::text FROM rfm_segments('rt_direct', NULL::bigint, as_of => '2025-01-01')"), "499");
    }

    /// The direct scan copies values out of the page in batches: keys that are
    /// TOASTed (out of line, or compressed in line) and long keys that fill a
    /// batch's copy space give the same rows as the SPI path.
    #[pg_test]
    fn rfm_segments_direct_scan_reads_long_and_toasted_keys() {
        Spi::run(
            "CREATE TABLE rt_long (out_of_line text, compressed text, long_inline text, ordered_at timestamptz, amount numeric);
             ALTER TABLE rt_long ALTER COLUMN out_of_line SET STORAGE EXTERNAL;
             ALTER TABLE rt_long ALTER COLUMN long_inline SET STORAGE MAIN;
             INSERT INTO rt_long
             SELECT CASE WHEN i % 3 = 0 THEN repeat('k', 3000) || (i % 40) ELSE (i % 40)::text END,
                    CASE WHEN i % 3 = 0 THEN repeat('c', 5000) || (i % 40) ELSE (i % 40)::text END,
                    repeat(md5((i % 40)::text), 30) || (i % 40),
                    timestamptz '2024-01-01' + i * interval '97 minutes',
                    (i % 17)::numeric / 4
             FROM generate_series(1, 5000) i;
             CREATE VIEW rt_long_view AS SELECT * FROM rt_long",
        )
        .unwrap();
        // the values really are stored that way (else the test would not test the copying)
        assert_eq!(
            rfm_one(
                "SELECT concat_ws(' ', (SELECT pg_relation_size(reltoastrelid) > 1000000 FROM pg_class WHERE oid = 'rt_long'::regclass),
                                       max(pg_column_size(compressed)) FILTER (WHERE length(compressed) > 5000) < 1000,
                                       min(pg_column_size(long_inline)) > 900)
                 FROM rt_long"
            ),
            "t t t"
        );
        for column in ["out_of_line", "compressed", "long_inline"] {
            let rows = |rel: &str| {
                query_rows(&format!(
                    "SELECT concat_ws(' ', md5(customer), frequency, monetary, btyd_frequency, rfm_cell, segment)
                     FROM rfm_segments('{rel}', NULL::text, customer_column => '{column}', as_of => '2025-01-01') ORDER BY 1"
                ))
            };
            let direct = rows("rt_long");
            assert_eq!(direct.len(), if column == "long_inline" { 40 } else { 40 + 40 }, "{column}");
            assert_eq!(direct, rows("rt_long_view"), "{column}");
        }
        // every key arrives whole
        assert_eq!(
            rfm_one(
                "SELECT sum(length(customer))::text FROM rfm_segments('rt_long', NULL::text, customer_column => 'out_of_line', as_of => '2025-01-01')"
            ),
            rfm_one("SELECT sum(length(k))::text FROM (SELECT DISTINCT out_of_line AS k FROM rt_long) s")
        );
    }

    #[pg_test]
    fn rfm_segments_errors_name_what_is_wrong() {
        rfm_sample();
        let err = |sql: &str| error_of(sql).unwrap_or_default();
        assert_eq!(err("SELECT * FROM rfm_segments('rt_nope', NULL::bigint)").0, "42P01");
        assert_eq!(
            err("SELECT * FROM rfm_segments('rt_orders', NULL::bigint, 'cust')"),
            ("42703".into(), "column \"cust\" does not exist in rt_orders".into())
        );
        assert_eq!(err("SELECT * FROM rfm_segments('rt_orders', NULL::bigint, amount_column => 'Amount')").0, "42703");
        assert_eq!(err("SELECT * FROM rfm_segments('rt_orders', NULL::bigint, ordered_at_column => 'amount')").0, "42804");
        assert_eq!(err("SELECT * FROM rfm_segments('rt_orders', NULL::float8)").0, "42804");
        assert_eq!(err("SELECT * FROM rfm_segments('rt_orders', NULL::bigint, bins => 1)").0, "22023");
        assert_eq!(err("SELECT * FROM rfm_segments('rt_orders', NULL::bigint, bins => 101)").0, "22023");
        assert_eq!(err("SELECT * FROM rfm_segments('rt_orders', NULL::bigint, bins => 4)").0, "22023");
        assert_eq!(err("SELECT * FROM rfm_segments('rt_orders', NULL::bigint, map => 'nope')").0, "42704");
        assert_eq!(err("SELECT * FROM rfm_segments('rt_orders', NULL::bigint, as_of => NULL)").0, "22004");
        assert_eq!(err("SELECT * FROM rfm_segments(NULL, NULL::bigint)").0, "22004");
        // quoted identifiers are safe and exact
        Spi::run(r#"CREATE TABLE "rt odd""name" ("Customer Id" bigint, "at;drop" timestamptz, "$" numeric); INSERT INTO "rt odd""name" VALUES (1, '2025-01-01', 2)"#).unwrap();
        assert_eq!(
            rfm_one(r#"SELECT customer || ' ' || monetary FROM rfm_segments('"rt odd""name"', NULL::bigint, 'Customer Id', 'at;drop', '$', '2025-02-01')"#),
            "1 2"
        );
    }
}
