//! In-database tests of the rules area: rulesets over real rows, references,
//! versions and caching, explain and check, SQLSTATEs, parallel query, and a
//! differential test against PostgreSQL's own evaluation of the same conditions.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;
    use crate::pgrx_tests::support::{error_of, query_rows};

    fn rules_err(sql: &str) -> (String, String) {
        error_of(sql).unwrap_or_else(|| panic!("no error from: {sql}"))
    }

    fn rules_customers() {
        Spi::run(
            "CREATE TABLE rt_customers (id bigint PRIMARY KEY, monetary numeric(10,2), orders int, last_order_at timestamptz,
                                        city text, tags text[], vip boolean);
             INSERT INTO rt_customers VALUES
               (1, 1500, 12, now() - interval '10 days', 'Boston', '{vip}', true),
               (2, 200, 3, now() - interval '400 days', 'Austin', '{}', false),
               (3, NULL, 1, now() - interval '20 days', NULL, NULL, NULL),
               (4, 50, 0, NULL, 'Boise', '{new,eco}', false);
             SELECT segment_ruleset_create('rt_life', '[
                 {\"segment\": \"VIP\", \"when\": \"monetary >= 1000 AND last_order_at >= now() - interval ''90 days''\"},
                 {\"segment\": \"Dormant\", \"when\": \"last_order_at < now() - interval ''180 days''\"},
                 {\"segment\": \"Active\", \"when\": \"last_order_at >= now() - interval ''90 days''\"},
                 {\"segment\": \"Tagged\", \"when\": \"''eco'' = ANY(tags) OR city LIKE ''B%''\"}
               ]', 'Other', 'rt_customers'::regtype);",
        )
        .unwrap();
    }

    #[pg_test]
    fn rules_assign_matches_and_default() {
        rules_customers();
        assert_eq!(
            query_rows("SELECT segment_assign('rt_life', c) FROM rt_customers c ORDER BY id"),
            vec!["VIP", "Dormant", "Active", "Tagged"]
        );
        assert_eq!(
            query_rows("SELECT segment_matches('rt_life', c)::text FROM rt_customers c ORDER BY id"),
            vec!["{VIP,Active,Tagged}", "{Dormant}", "{Active}", "{Tagged}"]
        );
        // jsonb customers: absent keys are NULL; no rule matches → default.
        assert_eq!(
            Spi::get_one::<String>("SELECT segment_assign('rt_life', '{\"city\": \"Denver\"}'::jsonb)").unwrap(),
            Some("Other".into())
        );
        assert_eq!(
            Spi::get_one::<String>("SELECT segment_assign('rt_life', jsonb_build_object('monetary', 2000, 'last_order_at', now()::text))").unwrap(),
            Some("VIP".into())
        );
        // A NULL row gives NULL.
        assert_eq!(Spi::get_one::<String>("SELECT segment_assign('rt_life', NULL::rt_customers)").unwrap(), None);
    }

    #[pg_test]
    fn rules_explain_names_the_failed_conditions() {
        rules_customers();
        let e = Spi::get_one::<pgrx::JsonB>("SELECT segment_explain('rt_life', c) FROM rt_customers c WHERE id = 2")
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(e["segment"], "Dormant");
        assert_eq!(e["rule"], 2);
        assert_eq!(e["rules"][0]["matched"], false);
        assert_eq!(e["rules"][0]["values"]["monetary"], 200.0);
        let failed = e["rules"][0]["failed"].as_array().unwrap();
        assert_eq!(failed.len(), 2, "{e}");
        assert_eq!(failed[0]["condition"], "monetary >= 1000");
        let e = Spi::get_one::<pgrx::JsonB>("SELECT segment_explain('rt_life', c) FROM rt_customers c WHERE id = 3")
            .unwrap()
            .unwrap()
            .0;
        // monetary NULL: the first condition is NULL (unknown), not false.
        assert_eq!(e["rules"][0]["matched"], serde_json::Value::Null);
        assert_eq!(e["rules"][0]["failed"][0]["result"], serde_json::Value::Null);
        assert_eq!(e["segment"], "Active");
    }

    #[pg_test]
    fn rules_check_counts_won_shadowed_overlaps() {
        rules_customers();
        let rows = query_rows(
            "SELECT concat_ws(' ', kind, rule, segment, other_rule, customers, won, shadowed, never_matched)
             FROM segment_ruleset_check('rt_life', 'rt_customers')",
        );
        assert_eq!(
            rows,
            vec![
                "rule 1 VIP 1 1 0 f",
                "rule 2 Dormant 1 1 0 f",
                "rule 3 Active 2 1 1 f",
                "rule 4 Tagged 2 1 1 f",
                "default Other 0",
                "overlap 1 VIP 3 1",
                "overlap 1 VIP 4 1",
                "overlap 3 Active 4 1",
                "total 4",
            ]
        );
    }

    #[pg_test]
    fn rules_versions_cache_and_replace() {
        rules_customers();
        let v1 = Spi::get_one::<i64>("SELECT version FROM segment_rulesets WHERE name = 'rt_life'").unwrap().unwrap();
        assert_eq!(Spi::get_one::<String>("SELECT segment_assign('rt_life', c) FROM rt_customers c WHERE id = 4").unwrap(), Some("Tagged".into()));
        let (state, message) = error_of("SELECT segment_ruleset_create('rt_life', '[{\"segment\": \"A\", \"when\": \"true\"}]', input => 'rt_customers')").unwrap();
        assert_eq!(state, "42710");
        assert_eq!(message, "ruleset \"rt_life\" already exists");
        let v2 = Spi::get_one::<i64>(
            "SELECT segment_ruleset_create('rt_life', '[{\"segment\": \"Cheap\", \"when\": \"monetary < 100\"}]', 'Rest', 'rt_customers', replace => true)",
        )
        .unwrap()
        .unwrap();
        assert!(v2 > v1);
        // The same backend sees the new version at once.
        assert_eq!(Spi::get_one::<String>("SELECT segment_assign('rt_life', c) FROM rt_customers c WHERE id = 4").unwrap(), Some("Cheap".into()));
        assert!(Spi::get_one::<bool>("SELECT segment_ruleset_drop('rt_life')").unwrap().unwrap());
        assert_eq!(error_of("SELECT segment_assign('rt_life', c) FROM rt_customers c").unwrap().0, "42704");
        assert!(!Spi::get_one::<bool>("SELECT segment_ruleset_drop('rt_life', if_exists => true)").unwrap().unwrap());
        assert_eq!(error_of("SELECT segment_ruleset_drop('rt_life')").unwrap().0, "42704");
    }

    #[pg_test]
    fn rules_references_and_cycles() {
        rules_customers();
        Spi::run(
            "SELECT segment_ruleset_create('rt_top', '[{\"segment\": \"Boston VIP\", \"when\": \"segment(''rt_life'') = ''VIP'' AND city = ''Boston''\"}]',
                                           'Others', 'rt_customers')",
        )
        .unwrap();
        assert_eq!(
            query_rows("SELECT segment_assign('rt_top', c) FROM rt_customers c ORDER BY id"),
            vec!["Boston VIP", "Others", "Others", "Others"]
        );
        // rt_life → rt_top → rt_life is a cycle.
        let (state, message) = error_of(
            "SELECT segment_ruleset_create('rt_life', '[{\"segment\": \"X\", \"when\": \"segment(''rt_top'') = ''Others''\"}]', input => 'rt_customers', replace => true)",
        )
        .unwrap();
        assert_eq!(state, "42P19");
        assert_eq!(message, "rulesets reference each other in a cycle: rt_life → rt_top → rt_life");
        let (state, _) = error_of("SELECT segment_ruleset_drop('rt_life')").unwrap();
        assert_eq!(state, "55000");
        let (state, _) = error_of(
            "SELECT segment_ruleset_create('rt_x', '[{\"segment\": \"X\", \"when\": \"segment(''nope'') = ''A''\"}]', input => 'rt_customers')",
        )
        .unwrap();
        assert_eq!(state, "42704");
    }

    #[pg_test]
    fn rules_errors_have_specific_sqlstates() {
        rules_customers();
        let create = |rules: &str| {
            format!("SELECT segment_ruleset_create('rt_e', '{rules}', input => 'rt_customers')")
        };
        let (s, m) = rules_err(&create(r#"[{"segment": "A", "when": "orders > 1"}, {"segment": "B", "when": "monetry > 1"}]"#));
        assert_eq!((s.as_str(), m.as_str()), ("42703", "attribute \"monetry\" does not exist at position 1 of rule 2 (\"B\")"));
        let (s, m) = rules_err(&create(r#"[{"segment": "A", "when": "city > 5"}]"#));
        assert_eq!(s, "42804");
        assert!(m.contains("cannot compare text with bigint"), "{m}");
        let (s, m) = rules_err(&create(r#"[{"segment": "A", "when": "orders > pg_sleep(1)"}]"#));
        assert_eq!((s.as_str(), m.as_str()), ("42601", "function pg_sleep() is not allowed in a rule at position 10 of rule 1 (\"A\")"));
        assert_eq!(rules_err(&create(r#"[{"segment": "A", "when": "orders > 1; DROP TABLE rt_customers"}]"#)).0, "42601");
        assert_eq!(rules_err(&create(r#"{"segment": "A"}"#)).0, "22023");
        assert_eq!(rules_err(&create(r#"[{"segment": "A", "if": "true"}]"#)).0, "22023");
        let deep = format!("[{{\"segment\": \"A\", \"when\": \"{}orders > 1{}\"}}]", "(".repeat(10_000), ")".repeat(10_000));
        assert_eq!(rules_err(&create(&deep)).0, "54000");
        assert_eq!(rules_err("SELECT segment_ruleset_create('rt_e', '[{\"segment\": \"A\", \"when\": \"x > 1\"}]')").0, "22023");
        assert_eq!(rules_err("SELECT segment_ruleset_create('rt_e', '[]', attributes => '{\"x\": \"int\"}')").0, "22023");
        assert_eq!(rules_err("SELECT segment_ruleset_create('rt_e', '[{\"segment\": \"A\", \"when\": \"x\"}]', attributes => '{\"x\": \"jsonb\"}')").0, "22023");
        assert_eq!(rules_err("SELECT segment_ruleset_create(NULL, '[]', input => 'rt_customers')").0, "22004");
        assert_eq!(rules_err("SELECT segment_ruleset_create('rt_e', '[]', input => 'int4')").0, "42804");
        assert_eq!(rules_err("SELECT segment_assign('rt_life', 5)").0, "42804");
        assert_eq!(rules_err("SELECT segment_assign('rt_life', '{\"monetary\": \"many\"}'::jsonb)").0, "42804");
        // A row without an attribute the ruleset reads, or with another type.
        Spi::run("CREATE TABLE rt_other (id int, city int)").unwrap();
        Spi::run("INSERT INTO rt_other VALUES (1, 1)").unwrap();
        assert_eq!(rules_err("SELECT segment_assign('rt_life', o) FROM rt_other o").0, "42703");
        Spi::run("SELECT segment_ruleset_create('rt_city', '[{\"segment\": \"B\", \"when\": \"city LIKE ''B%''\"}]', input => 'rt_customers')").unwrap();
        assert_eq!(rules_err("SELECT segment_assign('rt_city', o) FROM rt_other o").0, "42804");
        // Division by zero at evaluation time is PostgreSQL's 22012.
        Spi::run("SELECT segment_ruleset_create('rt_div', '[{\"segment\": \"D\", \"when\": \"100 / orders > 1\"}]', input => 'rt_customers')").unwrap();
        assert_eq!(rules_err("SELECT segment_assign('rt_div', c) FROM rt_customers c").0, "22012");
    }

    #[pg_test]
    fn rules_parallel_equals_serial() {
        Spi::run(
            "CREATE TABLE rt_many AS SELECT g AS id, (g % 97)::numeric AS monetary, g % 13 AS orders,
                    CASE WHEN g % 7 = 0 THEN NULL ELSE 'c' || (g % 5) END AS city
             FROM generate_series(1, 50000) g;
             ANALYZE rt_many;
             SELECT segment_ruleset_create('rt_par', '[
               {\"segment\": \"big\", \"when\": \"monetary > 80 AND orders >= 6\"},
               {\"segment\": \"c1\", \"when\": \"city = ''c1''\"}]', 'rest', 'rt_many'::regtype)",
        )
        .unwrap();
        let q = "SELECT string_agg(s || ':' || n, ',' ORDER BY s) FROM (SELECT segment_assign('rt_par', t) s, count(*) n FROM rt_many t GROUP BY 1) x";
        Spi::run("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0").unwrap();
        let parallel = Spi::get_one::<String>(q).unwrap();
        Spi::run("SET max_parallel_workers_per_gather = 0").unwrap();
        let serial = Spi::get_one::<String>(q).unwrap();
        let expected = Spi::get_one::<String>(
            "SELECT string_agg(s || ':' || n, ',' ORDER BY s) FROM (SELECT CASE WHEN monetary > 80 AND orders >= 6 THEN 'big'
               WHEN city = 'c1' THEN 'c1' ELSE 'rest' END s, count(*) n FROM rt_many GROUP BY 1) x",
        )
        .unwrap();
        assert_eq!(parallel, expected);
        assert_eq!(serial, expected);
    }

    /// Random conditions over random rows with NULLs: our evaluation equals
    /// PostgreSQL's for `CASE WHEN cond THEN 'T' WHEN NOT (cond) THEN 'F' ELSE 'N' END`,
    /// both on the planner's column path (a table row) and the whole-row path
    /// (a subquery's row, which the planner leaves alone).
    #[pg_test]
    fn rules_differential_against_postgresql() {
        Spi::run(
            "SELECT setseed(0.42);
             CREATE TABLE rt_diff AS
             SELECT g AS id,
                    CASE WHEN random() < 0.2 THEN NULL ELSE (random() * 20)::int - 10 END AS a,
                    CASE WHEN random() < 0.2 THEN NULL ELSE (random() * 20)::int - 10 END AS b,
                    CASE WHEN random() < 0.2 THEN NULL ELSE round((random() * 10)::numeric, 1)::float8 END AS x,
                    CASE WHEN random() < 0.2 THEN NULL ELSE random() < 0.5 END AS p,
                    CASE WHEN random() < 0.2 THEN NULL ELSE random() < 0.5 END AS q,
                    CASE WHEN random() < 0.2 THEN NULL ELSE (ARRAY['apple','Banana','cherry','date','b_x','%'])[1 + (random() * 5)::int] END AS s,
                    CASE WHEN random() < 0.2 THEN NULL ELSE date '2024-01-01' + (random() * 60)::int END AS d,
                    CASE (random() * 5)::int WHEN 0 THEN NULL WHEN 1 THEN ARRAY['vip','new'] WHEN 2 THEN ARRAY['eco', NULL]
                         WHEN 3 THEN ARRAY['vip', 'eco'] WHEN 4 THEN '{}'::text[] ELSE ARRAY['x'] END AS tags
             FROM generate_series(1, 120) g",
        )
        .unwrap();
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut rng = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        fn num(r: &mut dyn FnMut(u64) -> u64, depth: u32) -> String {
            match if depth > 2 { r(4) } else { r(8) } {
                0 => "a".into(),
                1 => "b".into(),
                2 => format!("{}", r(21) as i64 - 10),
                3 => "x".into(),
                4 => format!("({} + {})", num(r, depth + 1), num(r, depth + 1)),
                5 => format!("({} - {})", num(r, depth + 1), num(r, depth + 1)),
                6 => format!("({} * {})", num(r, depth + 1), r(4)),
                _ => format!("coalesce({}, {})", num(r, depth + 1), num(r, depth + 1)),
            }
        }
        fn cond(r: &mut dyn FnMut(u64) -> u64, depth: u32) -> String {
            let ops = ["=", "<>", "<", "<=", ">", ">="];
            let pick = if depth > 2 { r(12) } else { r(16) };
            match pick {
                0 => format!("{} {} {}", num(r, depth), ops[r(6) as usize], num(r, depth)),
                1 => ["p", "q", "NULL::boolean", "true"][r(4) as usize].into(),
                2 => format!("{} IN ({}, {}, {})", num(r, depth), r(7) as i64 - 3, ["NULL", "2", "a"][r(3) as usize], r(5)),
                3 => format!("{} NOT IN ({}, {})", num(r, depth), r(7) as i64 - 3, ["NULL", "4", "b"][r(3) as usize]),
                4 => format!("{} {}BETWEEN {} AND {}", num(r, depth), ["", "NOT "][r(2) as usize], r(9) as i64 - 4, ["NULL", "5", "b"][r(3) as usize]),
                5 => format!("s {} '{}'", ["LIKE", "ILIKE", "NOT LIKE", "NOT ILIKE"][r(4) as usize], ["b%", "%a%", "_pple", "B\\\\_%", "%", "\\\\%"][r(6) as usize]),
                6 => format!("s {} '{}'", ops[r(6) as usize], ["banana", "Banana", "c", "date", ""][r(5) as usize]),
                7 => format!("'{}' {} {}(tags)", ["vip", "eco", "x"][r(3) as usize], ["=", "<>"][r(2) as usize], ["ANY", "ALL"][r(2) as usize]),
                8 => format!("{} IS {}NULL", ["a", "x", "s", "d", "tags", "p"][r(6) as usize], ["", "NOT "][r(2) as usize]),
                9 => format!("d {} date '2024-01-{:02}' + {}", ops[r(6) as usize], 1 + r(28), r(40)),
                10 => format!("d - date '2024-01-01' {} {}", ops[r(6) as usize], r(60)),
                11 => format!("{} IS {}DISTINCT FROM {}", num(r, depth), ["", "NOT "][r(2) as usize], num(r, depth)),
                12 => format!("NOT ({})", cond(r, depth + 1)),
                13 => format!("({}) IS {}{}", cond(r, depth + 1), ["", "NOT "][r(2) as usize], ["TRUE", "FALSE", "UNKNOWN"][r(3) as usize]),
                14 => format!("({} AND {})", cond(r, depth + 1), cond(r, depth + 1)),
                _ => format!("({} OR {})", cond(r, depth + 1), cond(r, depth + 1)),
            }
        }
        let cases = 1_000;
        for i in 0..cases {
            let c = cond(&mut rng, 0);
            let rules = serde_json::json!([{"segment": "T", "when": c}, {"segment": "F", "when": format!("NOT ({c})")}]).to_string();
            Spi::run_with_args(
                "SELECT segment_ruleset_create('rt_diff', $1::jsonb, 'N', 'rt_diff'::regtype, replace => true)",
                &[rules.into()],
            )
            .unwrap_or_else(|e| panic!("case {i}: {c}: {e}"));
            let wrong = Spi::get_one::<String>(&format!(
                "SELECT string_agg(id || ': ours ' || ours || ', whole row ' || whole || ', postgres ' || theirs, '; ') FROM (
                   SELECT id, segment_assign('rt_diff', t) AS ours,
                          (SELECT segment_assign('rt_diff', w) FROM (SELECT t.* OFFSET 0) w) AS whole,
                          CASE WHEN {c} THEN 'T' WHEN NOT ({c}) THEN 'F' ELSE 'N' END AS theirs
                   FROM rt_diff t) z WHERE ours IS DISTINCT FROM theirs OR whole IS DISTINCT FROM theirs"
            ))
            .unwrap();
            assert_eq!(wrong, None, "case {i}: {c}");
        }
    }

    /// The three-valued truth tables, evaluated by PostgreSQL and by us.
    #[pg_test]
    fn rules_truth_tables_equal_postgresql() {
        Spi::run(
            "CREATE TABLE rt_tv AS SELECT p, q FROM (VALUES (true), (false), (NULL::boolean)) a(p), (VALUES (true), (false), (NULL::boolean)) b(q)",
        )
        .unwrap();
        for c in ["p AND q", "p OR q", "NOT p", "p = q", "p <> q", "p IS DISTINCT FROM q", "p IS NOT TRUE", "p IS UNKNOWN", "p IN (q, true)"] {
            let rules = serde_json::json!([{"segment": "T", "when": c}, {"segment": "F", "when": format!("NOT ({c})")}]).to_string();
            Spi::run_with_args("SELECT segment_ruleset_create('rt_tv', $1::jsonb, 'N', 'rt_tv'::regtype, replace => true)", &[rules.into()]).unwrap();
            let ours = query_rows("SELECT segment_assign('rt_tv', t) FROM rt_tv t ORDER BY p NULLS LAST, q NULLS LAST");
            let theirs = query_rows(&format!(
                "SELECT CASE WHEN {c} THEN 'T' WHEN NOT ({c}) THEN 'F' ELSE 'N' END FROM rt_tv t ORDER BY p NULLS LAST, q NULLS LAST"
            ));
            assert_eq!(ours, theirs, "{c}");
        }
    }

    /// The plan text of `sql` (EXPLAIN VERBOSE, no costs), one string.
    fn plan_of(sql: &str) -> String {
        query_rows(&format!("EXPLAIN (VERBOSE, COSTS OFF) {sql}")).join("\n")
    }

    /// The planner passes a table row's needed columns, not the whole row,
    /// and leaves every case where that could change an answer alone.
    #[pg_test]
    fn rules_planner_passes_only_the_columns_read() {
        rules_customers();
        let table = "SELECT segment_assign('rt_life', c) FROM rt_customers c ORDER BY id";
        assert!(
            plan_of(table).contains("segment_assign_columns('rt_life'::text, '{monetary,last_order_at,tags,city}'::text[], monetary, last_order_at, tags, city)"),
            "{}",
            plan_of(table)
        );
        assert_eq!(query_rows(table), vec!["VIP", "Dormant", "Active", "Tagged"]);

        // A view's row (flattened into its columns) takes the same path and answers the same.
        Spi::run("CREATE VIEW rt_view AS SELECT * FROM rt_customers").unwrap();
        let view = "SELECT segment_assign('rt_life', v) FROM rt_view v ORDER BY id";
        assert!(plan_of(view).contains("segment_assign_columns"), "{}", plan_of(view));
        assert_eq!(query_rows(view), vec!["VIP", "Dormant", "Active", "Tagged"]);

        // The nullable side of an outer join: a missing row stays NULL (not the default).
        let outer = "SELECT segment_assign('rt_life', c) FROM (VALUES (1), (99)) v(id) LEFT JOIN rt_customers c USING (id) ORDER BY v.id";
        assert!(!plan_of(outer).contains("segment_assign_columns"), "{}", plan_of(outer));
        assert_eq!(query_rows(outer), vec!["VIP", "NULL"]);

        // A ruleset given as a parameter, or unknown at plan time: the row path, same errors.
        assert!(!plan_of("SELECT segment_assign(current_user::text, c) FROM rt_customers c").contains("segment_assign_columns"));
        assert_eq!(rules_err("SELECT segment_assign('rt_nope', c) FROM rt_customers c").0, "42704");

        // A column of another type than the ruleset's: the row path raises the precise error.
        Spi::run("CREATE TABLE rt_other (id bigint, monetary text, last_order_at timestamptz, tags text[], city text)").unwrap();
        Spi::run("INSERT INTO rt_other VALUES (1, 'lots', now(), '{}', 'Boston')").unwrap();
        assert!(!plan_of("SELECT segment_assign('rt_life', o) FROM rt_other o").contains("segment_assign_columns"));
        let (state, message) = rules_err("SELECT segment_assign('rt_life', o) FROM rt_other o");
        assert_eq!(state, "42804", "{message}");

        // Called by hand with names that do not match the columns, or VARIADIC: clear errors.
        let (state, message) = rules_err("SELECT segment_assign_columns('rt_life', '{monetary}', 1.0, 2.0)");
        assert_eq!((state.as_str(), message.as_str()), ("22023", "segment_assign_columns got 1 attribute names for 2 columns"));
        let (state, message) = rules_err("SELECT segment_assign_columns('rt_life', '{monetary}', 1.0)");
        assert_eq!(state, "55000", "{message}");
        assert!(message.contains("now reads attribute \"last_order_at\""), "{message}");
        assert_eq!(rules_err("SELECT segment_assign_columns('rt_life', '{a}', VARIADIC ARRAY[1])").0, "0A000");
        let (state, message) = rules_err("SELECT segment_assign_columns(NULL, '{monetary}', 1.0)");
        assert_eq!((state.as_str(), message.as_str()), ("22004", "ruleset must not be null"));
        let (state, message) = rules_err("SELECT segment_assign_columns('rt_life', NULL, 1.0)");
        assert_eq!((state.as_str(), message.as_str()), ("22004", "attributes must not be null"));
    }

    /// A prepared query keeps working when its ruleset changes to read other
    /// columns: replacing a ruleset invalidates plans that pass its columns.
    #[pg_test]
    fn rules_replacing_a_ruleset_replans_prepared_queries() {
        rules_customers();
        Spi::run("PREPARE rt_q AS SELECT string_agg(segment_assign('rt_life', c), ',' ORDER BY id) FROM rt_customers c").unwrap();
        for _ in 0..6 {
            // past the fifth run PostgreSQL may switch to a cached generic plan
            assert_eq!(Spi::get_one::<String>("EXECUTE rt_q").unwrap().as_deref(), Some("VIP,Dormant,Active,Tagged"));
        }
        Spi::run(
            "SELECT segment_ruleset_create('rt_life', '[{\"segment\": \"Frequent\", \"when\": \"orders >= 3\"}]', 'Rare',
                                           'rt_customers'::regtype, replace => true)",
        )
        .unwrap();
        assert_eq!(Spi::get_one::<String>("EXECUTE rt_q").unwrap().as_deref(), Some("Frequent,Frequent,Rare,Rare"));
        Spi::run("DEALLOCATE rt_q").unwrap();
    }
}
