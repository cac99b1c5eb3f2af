//! In-database tests of the profile area: profile_fit / profile_vector with
//! values computed by hand, cache invalidation on refit, parallel query,
//! behaviour_agg (by hand, serial = parallel, state growth), personas, errors.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;
    use crate::pgrx_tests::support::{error_of, query_rows};

    fn profile_vector_of(sql: &str) -> Vec<f32> {
        Spi::get_one::<Vec<f32>>(sql).unwrap().unwrap()
    }

    fn profile_sample_customers() {
        Spi::run(
            "CREATE TABLE pt_customers (id bigint PRIMARY KEY, x float8, n numeric, city text, ok boolean, tags text[]);
             INSERT INTO pt_customers VALUES
               (1, 1, 10, 'a', true,  '{vip}'),
               (2, 2, 20, 'b', false, '{vip,eco}'),
               (3, 3, NULL, 'a', true, NULL),
               (4, NULL, 50, 'c', NULL, '{}');",
        )
        .unwrap();
    }

    /// x: [1, 2, 3, mean 2] → mean 2, population std sqrt(0.5); n: [10, 20, median 20, 50]
    /// → min 10, max 50; city top 1: a (2 rows), other: b, c; ok: mode of [1, 0, 1] is 1.
    #[pg_test]
    fn profile_vectors_equal_hand_computed_values() {
        profile_sample_customers();
        let dims = Spi::get_one::<i32>(
            r#"SELECT profile_fit('pt', 'pt_customers', '{"features": [
                 {"column": "x"},
                 {"column": "n", "transform": "minmax", "missing": "median"},
                 {"column": "city", "top": 1},
                 {"column": "ok"},
                 {"column": "tags"}]}')"#,
        )
        .unwrap();
        assert_eq!(dims, Some(7));
        let s = 0.5f64.sqrt();
        let expected: [[f64; 7]; 4] = [
            [-1.0 / s, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
            [0.0, 0.25, 0.0, 1.0, 0.0, 1.0, 1.0],
            [1.0 / s, 0.25, 1.0, 0.0, 1.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0],
        ];
        for (i, row) in expected.iter().enumerate() {
            let got = profile_vector_of(&format!("SELECT profile_vector('pt', c) FROM pt_customers c WHERE id = {}", i + 1));
            let want: Vec<f32> = row.iter().map(|v| *v as f32).collect();
            assert_eq!(got, want, "customer {}", i + 1);
        }
        // the jsonb overload reads the same values by column name
        let json = profile_vector_of(
            r#"SELECT profile_vector('pt', '{"x": 1, "n": 10, "city": "a", "ok": true, "tags": ["vip"]}'::jsonb)"#,
        );
        assert_eq!(json, profile_vector_of("SELECT profile_vector('pt', c) FROM pt_customers c WHERE id = 1"));
        // a subquery row (type record) and a view work by column name
        Spi::run("CREATE VIEW pt_view AS SELECT tags, ok, city, n, x FROM pt_customers").unwrap();
        assert_eq!(
            profile_vector_of("SELECT profile_vector('pt', v) FROM pt_view v WHERE x = 2"),
            profile_vector_of("SELECT profile_vector('pt', t) FROM (SELECT x, n, city, ok, tags FROM pt_customers WHERE id = 2) t"),
        );
        // unseen category → other; NULL row → NULL
        let unseen = profile_vector_of(r#"SELECT profile_vector('pt', '{"city": "zzz"}'::jsonb)"#);
        assert_eq!(&unseen[2..4], &[0.0, 1.0]);
        assert_eq!(Spi::get_one::<Vec<f32>>("SELECT profile_vector('pt', NULL::pt_customers)").unwrap(), None);
        let layout = query_rows("SELECT feature || ':' || kind FROM profile_layout('pt') ORDER BY position");
        assert_eq!(layout, ["x:numeric", "n:numeric", "city=a:category", "city=(other):other", "ok:boolean", "tags=eco:tag", "tags=vip:tag"]);
    }

    #[pg_test]
    fn profile_nan_is_missing_and_infinity_is_refused() {
        Spi::run("CREATE TABLE pt_floats (x float8); INSERT INTO pt_floats VALUES (1), (3), ('NaN')").unwrap();
        Spi::run(r#"SELECT profile_fit('ptf', 'pt_floats', '{"features": [{"column": "x", "transform": "none"}]}')"#).unwrap();
        let nan = profile_vector_of("SELECT profile_vector('ptf', f) FROM pt_floats f WHERE x = 'NaN'");
        assert_eq!(nan, vec![2.0]);
        Spi::run("INSERT INTO pt_floats VALUES ('Infinity')").unwrap();
        let (state, message) = error_of("SELECT profile_vector('ptf', f) FROM pt_floats f").unwrap();
        assert_eq!((state.as_str(), message.as_str()), ("22023", "feature \"x\" cannot use inf"));
        let (state, _) = error_of(r#"SELECT profile_fit('ptf', 'pt_floats', '{"features": [{"column": "x"}]}')"#).unwrap();
        assert_eq!(state, "22023");
    }

    /// A refit earlier in the same transaction is seen by the next statement.
    #[pg_test]
    fn profile_refit_replaces_the_cached_transform() {
        profile_sample_customers();
        let spec = |transform: &str| {
            format!(r#"SELECT profile_fit('ptr', 'pt_customers', '{{"features": [{{"column": "x", "transform": "{transform}"}}]}}')"#)
        };
        Spi::run(&spec("none")).unwrap();
        let first = profile_vector_of("SELECT profile_vector('ptr', c) FROM pt_customers c WHERE id = 3");
        assert_eq!(first, vec![3.0]);
        let id1 = Spi::get_one::<i64>("SELECT fit_id FROM profile_specs WHERE name = 'ptr'").unwrap();
        Spi::run(&spec("minmax")).unwrap();
        let second = profile_vector_of("SELECT profile_vector('ptr', c) FROM pt_customers c WHERE id = 3");
        assert_eq!(second, vec![1.0]);
        let id2 = Spi::get_one::<i64>("SELECT fit_id FROM profile_specs WHERE name = 'ptr'").unwrap();
        assert_ne!(id1, id2);
        assert_eq!(Spi::get_one::<i64>("SELECT count(*) FROM profile_specs WHERE name = 'ptr'").unwrap(), Some(1));
        // refit from the stored spec, then drop
        assert_eq!(Spi::get_one::<i32>("SELECT profile_refit('ptr')").unwrap(), Some(1));
        assert_eq!(Spi::get_one::<bool>("SELECT profile_drop('ptr')").unwrap(), Some(true));
        let (state, _) = error_of("SELECT profile_vector('ptr', c) FROM pt_customers c").unwrap();
        assert_eq!(state, "42704");
    }

    fn profile_force_parallel() {
        Spi::run(
            "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;
             SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2",
        )
        .unwrap();
    }

    fn profile_plan(sql: &str) -> String {
        query_rows(&format!("EXPLAIN (COSTS OFF) {sql}")).join("\n")
    }

    #[pg_test]
    fn profile_vector_runs_in_parallel_workers() {
        Spi::run(
            "CREATE TABLE pt_many AS SELECT i AS id, (i % 97)::float8 AS x, 'c' || (i % 7) AS city FROM generate_series(1, 20000) i;
             ANALYZE pt_many",
        )
        .unwrap();
        Spi::run(r#"SELECT profile_fit('ptp', 'pt_many', '{"features": [{"column": "x"}, {"column": "city"}]}')"#).unwrap();
        let sql = "SELECT md5(string_agg(v::text, ';' ORDER BY id)) FROM (SELECT id, profile_vector('ptp', m) AS v FROM pt_many m) s";
        Spi::run("SET LOCAL max_parallel_workers_per_gather = 0").unwrap();
        let serial = query_rows(sql);
        profile_force_parallel();
        assert!(profile_plan(sql).contains("Parallel Seq Scan"), "{}", profile_plan(sql));
        assert_eq!(query_rows(sql), serial);
    }

    fn profile_sample_events() {
        Spi::run(
            "CREATE TABLE pt_events (customer_id int, occurred_at timestamptz, event_type text, category text, channel text);
             INSERT INTO pt_events VALUES
               (1, '2025-01-01 08:00+00', 'visit', 'jazz', 'web'),
               (1, '2025-01-01 08:10+00', 'order', 'jazz', 'web'),
               (1, '2024-12-25 20:00+00', 'visit', 'rock', 'app'),
               (1, '2024-11-20 20:30+00', 'visit', NULL, 'app'),
               (1, '2024-09-01 09:00+00', NULL, 'jazz', NULL),
               (1, '2025-01-05 09:00+00', 'order', 'pop', 'store'),
               (2, '2024-12-31 23:00+00', 'visit', 'pop', 'web'),
               (2, NULL, 'visit', 'pop', 'web');
             SET LOCAL timezone = 'UTC'",
        )
        .unwrap();
    }

    /// Customer 1 as of 2025-01-02: the 2025-01-05 order is in the future and ignored.
    #[pg_test]
    fn profile_behaviour_equals_hand_counts() {
        profile_sample_events();
        let row = query_rows(
            "SELECT concat_ws(' ', (b).events, (b).events_7d, (b).events_30d, (b).events_90d, (b).orders, (b).visits, (b).visits_30d,
                              round((b).conversion::numeric, 4), (b).active_days, (b).active_days_30d, (b).days_since_last,
                              (b).favourite_category, (b).favourite_share, (b).peak_hour, (b).top_channel, (b).channel_mix,
                              (b).first_event_at, (b).last_event_at)
             FROM (SELECT behaviour_agg(occurred_at, event_type, category, channel, '2025-01-02 00:00+00') AS b
                   FROM pt_events WHERE customer_id = 1) s",
        );
        assert_eq!(
            row,
            ["5 2 3 4 1 3 2 0.3333 4 2 0 jazz 0.75 8 app {\"app\": 0.5, \"web\": 0.5} 2024-09-01 09:00:00+00 2025-01-01 08:10:00+00"]
        );
        // local days and hours follow the session time zone
        Spi::run("SET LOCAL timezone = 'America/New_York'").unwrap();
        let peak = Spi::get_one::<i32>(
            "SELECT (behaviour_agg(occurred_at, event_type, category, channel, '2025-01-02 00:00+00')).peak_hour FROM pt_events WHERE customer_id = 1",
        )
        .unwrap();
        assert_eq!(peak, Some(3));
        // no rows: NULL, like other aggregates
        let none = Spi::get_one::<i64>(
            "SELECT (behaviour_agg(occurred_at, event_type, category, channel, now())).events FROM pt_events WHERE false",
        )
        .unwrap();
        assert_eq!(none, None);
    }

    #[pg_test]
    fn profile_behaviour_parallel_equals_serial() {
        Spi::run(
            "CREATE TABLE pt_many_events AS
             SELECT i % 500 AS customer_id,
                    timestamptz '2024-01-01 00:00+00' + (i * 7919 % 8760) * interval '1 hour' AS occurred_at,
                    (ARRAY['visit', 'order', 'cart'])[1 + i % 3] AS event_type,
                    'cat' || (i * 31 % 13) AS category,
                    (ARRAY['web', 'app', NULL])[1 + i % 3] AS channel
             FROM generate_series(1, 60000) i;
             ANALYZE pt_many_events",
        )
        .unwrap();
        let grouped = "SELECT md5(string_agg(b::text, ';' ORDER BY customer_id)) FROM
                         (SELECT customer_id, behaviour_agg(occurred_at, event_type, category, channel, '2024-12-31') b
                          FROM pt_many_events GROUP BY customer_id) s";
        let whole = "SELECT behaviour_agg(occurred_at, event_type, category, channel, '2024-12-31')::text FROM pt_many_events";
        Spi::run("SET LOCAL max_parallel_workers_per_gather = 0").unwrap();
        let (serial_grouped, serial_whole) = (query_rows(grouped), query_rows(whole));
        profile_force_parallel();
        assert!(profile_plan(whole).contains("Partial Aggregate"), "{}", profile_plan(whole));
        assert!(profile_plan(grouped).contains("Partial"), "{}", profile_plan(grouped));
        assert_eq!(query_rows(grouped), serial_grouped);
        assert_eq!(query_rows(whole), serial_whole);
        // the whole table in one state: 366 days of 2024 at most, 13 categories
        let days = Spi::get_one::<i32>(
            "SELECT (behaviour_agg(occurred_at, event_type, category, channel, '2024-12-31')).active_days FROM pt_many_events",
        )
        .unwrap();
        let expected = Spi::get_one::<i64>(
            "SELECT count(DISTINCT occurred_at::date) FROM pt_many_events WHERE occurred_at <= '2024-12-31'",
        )
        .unwrap();
        assert_eq!(days.map(i64::from), expected);
    }

    /// Many distinct labels make the in-place state grow several times.
    #[pg_test]
    fn profile_behaviour_state_grows_in_place() {
        let got = query_rows(
            "SELECT concat_ws(' ', (b).events, (b).active_days, (b).favourite_category, (SELECT count(*) FROM jsonb_object_keys((b).channel_mix)),
                              (SELECT count(*) FROM jsonb_object_keys((b).event_counts)))
             FROM (SELECT behaviour_agg(timestamptz '2024-01-01' + i * interval '1 day', 'type' || (i % 40),
                                        'category-with-a-long-name-' || i, 'channel' || (i % 25), '2030-01-01') AS b
                   FROM generate_series(1, 1500) i) s",
        );
        assert_eq!(got, ["1500 1500 category-with-a-long-name-1 25 40"]);
    }

    #[pg_test]
    fn profile_catalog_is_kept_by_pg_dump() {
        let config = query_rows(
            "SELECT unnest(extconfig)::regclass::text FROM pg_extension WHERE extname = 'pg_segment' ORDER BY 1",
        );
        assert!(config.iter().any(|c| c.ends_with("profile_specs")), "{config:?}");
        assert!(config.iter().any(|c| c.ends_with("profile_fit_ids")), "{config:?}");
    }

    #[pg_test]
    fn profile_personas_equal_hand_values() {
        Spi::run(
            "CREATE TABLE pt_people (id int, tier text, spend float8, city text);
             INSERT INTO pt_people VALUES (1, 'gold', 100, 'Boston'), (2, 'gold', 80, 'Boston'), (3, 'gold', 93, 'Austin'),
                                          (4, 'bronze', 10, 'Austin'), (5, 'bronze', NULL, 'Austin'), (6, 'bronze', 20, NULL)",
        )
        .unwrap();
        let rows = query_rows(
            "SELECT concat_ws(' | ', segment, customers, share, representative, summary)
             FROM segment_personas('pt_people', 'tier', 'id') ORDER BY segment",
        );
        // spend: population mean 60.6, gold mean 91 (1.5×), bronze mean 15 (0.25×);
        // city: Austin is 2/3 of bronze, Boston 2/3 of gold. Representatives: nearest
        // in z-scored spend + one-hot city (customer 1: spend 100 and Boston).
        assert_eq!(
            rows,
            [
                "bronze | 3 | 0.5 | 4 | 50.0% of customers (3); 0.25× average spend; mostly city: Austin (67%)",
                "gold | 3 | 0.5 | 1 | 50.0% of customers (3); 1.5× average spend; mostly city: Boston (67%)",
            ]
        );
        let spend = query_rows(
            "SELECT concat_ws(' ', mean, median, population_mean, population_median, round(std_diff::numeric, 6))
             FROM segment_persona_attributes('pt_people', 'tier', attributes => ARRAY['spend']) WHERE segment = 'gold'",
        );
        let population = [100.0f64, 80.0, 93.0, 10.0, 20.0];
        let mean = population.iter().sum::<f64>() / 5.0;
        let std = (population.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 5.0).sqrt();
        assert_eq!(spend, [format!("91 93 60.6 80 {:.6}", (91.0 - mean) / std)]);
    }

    #[pg_test]
    fn profile_user_mistakes_have_specific_sqlstates() {
        profile_sample_customers();
        Spi::run("CREATE TABLE pt_empty (x int)").unwrap();
        for (sql, state) in [
            (r#"SELECT profile_fit('e', 'pt_customers', '{"features": [{"column": "nope"}]}')"#, "42703"),
            (r#"SELECT profile_fit('e', 'pt_customers', '{"features": [{"column": "city", "type": "numeric"}]}')"#, "42804"),
            (r#"SELECT profile_fit('e', 'pt_customers', '{"features": [{"column": "x", "transform": "sqrt"}]}')"#, "22023"),
            (r#"SELECT profile_fit('e', 'pt_customers', '{"features": [{"column": "x"}], "extra": 1}')"#, "22023"),
            (r#"SELECT profile_fit('e', 'pt_customers', '[]')"#, "22023"),
            (r#"SELECT profile_fit('e', 'pt_customers', 'not json')"#, "22023"),
            (r#"SELECT profile_fit('e', 'pt_customers', 'not json'::jsonb)"#, "22P02"),
            (r#"SELECT profile_fit('e', 'pt_empty', '{"features": [{"column": "x"}]}')"#, "22023"),
            (r#"SELECT profile_fit('', 'pt_customers', '{"features": [{"column": "x"}]}')"#, "22023"),
            (r#"SELECT profile_fit(NULL, 'pt_customers', '{"features": [{"column": "x"}]}')"#, "22004"),
            (r#"SELECT profile_fit('e', 'pt_customers', '{"features": [{"column": "x", "missing": "error"}]}')"#, "22004"),
            (r#"SELECT profile_fit('e', 'pt_customers_pkey', '{"features": [{"column": "x"}]}')"#, "22023"),
            ("SELECT profile_vector('missing', c) FROM pt_customers c", "42704"),
            ("SELECT profile_vector('missing', 1)", "42704"),
            ("SELECT profile_layout('missing')", "42704"),
            ("SELECT profile_drop('missing')", "42704"),
            ("SELECT behaviour_agg(now(), 'visit', NULL, NULL, NULL)", "22004"),
            ("SELECT behaviour_agg('infinity', 'visit', NULL, NULL, now())", "22023"),
            ("SELECT behaviour_agg_final('\\x00'::bytea)", "22P02"),
            ("SELECT * FROM segment_personas('pt_customers', 'nope')", "42703"),
        ] {
            let got = error_of(sql).map(|(s, _)| s);
            assert_eq!(got.as_deref(), Some(state), "{sql}");
        }
        Spi::run(r#"SELECT profile_fit('e', 'pt_customers', '{"features": [{"column": "x"}, {"column": "city", "unseen": "error", "other": false}]}')"#)
            .unwrap();
        let (state, message) = error_of(r#"SELECT profile_vector('e', '{"city": "zzz"}'::jsonb)"#).unwrap();
        assert_eq!((state.as_str(), message.as_str()), ("22023", "feature \"city\" has no category \"zzz\""));
        let (state, _) = error_of("SELECT profile_vector('e', t) FROM (SELECT 1 AS x) t").unwrap();
        assert_eq!(state, "42703");
        let (state, _) = error_of("SELECT profile_vector('e', t) FROM (SELECT 'a'::text AS x, 'b'::text AS city) t").unwrap();
        assert_eq!(state, "42804");
    }
}
