//! In-database tests of the segments area: drift functions with hand-computed
//! values, a refresh inside a transaction block (one transaction, no COMMIT),
//! history, transitions, retention, and the SQLSTATEs of bad input.
//! The committing (top-level CALL) path is covered by pg_regress and the
//! multi-session tests in tests/sessions/.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;
    use crate::pgrx_tests::support::{error_of, query_rows};

    fn segments_fixture() {
        Spi::run(
            "CREATE TABLE seg_customers (id bigint, tier text);
             INSERT INTO seg_customers SELECT i, CASE WHEN i <= 6 THEN 'a' WHEN i <= 9 THEN 'b' ELSE NULL END
             FROM generate_series(1, 10) i;
             SELECT segmentation_create('t', 'seg_customers', 'id', label_column => 'tier', keep_runs => 1);",
        )
        .unwrap();
    }

    #[pg_test]
    fn segments_psi_and_size_change_values() {
        // (0.25 - 0.5) * ln(0.5) = 0.17328679513998632
        let psi = Spi::get_one::<f64>("SELECT segment_psi(0.5, 0.25)").unwrap().unwrap();
        assert!((psi - 0.173_286_795_139_986_3).abs() < 1e-12);
        // a new segment: share floored at 1e-4 -> 0.0999 * ln(1000)
        let psi = Spi::get_one::<f64>("SELECT segment_psi(0, 0.1)").unwrap().unwrap();
        assert!((psi - 0.0999 * 1000f64.ln()).abs() < 1e-12);
        assert_eq!(Spi::get_one::<f64>("SELECT segment_size_change(100, 125)").unwrap(), Some(0.25));
        assert_eq!(Spi::get_one::<f64>("SELECT segment_size_change(0, 5)").unwrap(), None);
        assert_eq!(Spi::get_one::<f64>("SELECT segment_psi(NULL, 0.5)").unwrap(), None);
        assert_eq!(
            Spi::get_one::<Vec<String>>("SELECT segment_flags(8, 0, 0.25, 5)").unwrap().unwrap(),
            vec!["gone".to_string(), "size_change".to_string()]
        );
        assert_eq!(
            Spi::get_one::<Vec<String>>("SELECT segment_flags(NULL, 3, 0.25, 5)").unwrap().unwrap(),
            vec!["below_min_size".to_string()]
        );
    }

    #[pg_test]
    fn segments_drift_errors() {
        let (state, msg) = error_of("SELECT segment_psi(0.2, 1.5)").unwrap();
        assert_eq!(state, "22023");
        assert_eq!(msg, "share must be a share between 0 and 1, got 1.5");
        let (state, _) = error_of("SELECT segment_psi('NaN', 0.1)").unwrap();
        assert_eq!(state, "22023");
        let (state, msg) = error_of("SELECT segment_flags(1, NULL, 0.25, 1)").unwrap();
        assert_eq!((state.as_str(), msg.as_str()), ("22004", "size must not be null"));
        let (state, _) = error_of("SELECT segment_size_change(-1, 2)").unwrap();
        assert_eq!(state, "22023");
    }

    #[pg_test]
    fn segments_refresh_in_a_transaction_block() {
        // the test runs inside a transaction, so the refresh cannot COMMIT: one transaction
        assert_eq!(Spi::get_one::<bool>("SELECT segment_in_transaction_block()").unwrap(), Some(true));
        segments_fixture();
        Spi::run("CALL segment_refresh('t', '2024-01-01 00:00+00')").unwrap();
        assert_eq!(
            query_rows("SELECT status || ' ' || rows || ' ' || unlabelled || ' ' || segments FROM segment_runs"),
            vec!["succeeded 9 1 2"]
        );
        // a: 6 of 9, b: 3 of 9
        assert_eq!(
            query_rows("SELECT segment || ' ' || customers || ' ' || round(share::numeric, 4) FROM segment_summary ORDER BY 1"),
            vec!["a 6 0.6667", "b 3 0.3333"]
        );
        Spi::run("UPDATE seg_customers SET tier = 'b' WHERE id IN (1, 2, 3); UPDATE seg_customers SET tier = 'a' WHERE id = 10").unwrap();
        Spi::run("CALL segment_refresh('t', '2024-02-01 00:00+00')").unwrap();
        // a: 4 (4,5,6,10), b: 6; change a (4-6)/6 = -1/3 -> size_change, b +1 -> size_change
        assert_eq!(
            query_rows(
                "SELECT segment || ' ' || customers || ' ' || previous_customers || ' ' || round(change::numeric, 4) || ' ' || flags \
                 FROM segment_alerts ORDER BY 1"
            ),
            vec!["a 4 6 -0.3333 size_change", "b 6 3 1.0000 size_change"]
        );
        // psi = (0.4 - 2/3) ln(0.4 / (2/3)) + (0.6 - 1/3) ln(0.6 / (1/3)) = 0.13621 + 0.15672
        let psi = Spi::get_one::<f64>("SELECT psi FROM segment_runs ORDER BY run_id DESC LIMIT 1").unwrap().unwrap();
        let expected = (0.4f64 - 2.0 / 3.0) * (0.4f64 / (2.0 / 3.0)).ln() + (0.6f64 - 1.0 / 3.0) * (0.6f64 / (1.0 / 3.0)).ln();
        assert!((psi - expected).abs() < 1e-12, "{psi} vs {expected}");
        assert_eq!(
            query_rows(
                "SELECT coalesce(from_segment, '-') || '>' || coalesce(to_segment, '-') || ' ' || customers \
                 FROM segment_transitions ORDER BY 1"
            ),
            vec!["->a 1", "a>a 3", "a>b 3", "b>b 3"]
        );
        // keep_runs => 1: only the new run keeps members and statistics; run 1's log row is gone
        assert_eq!(Spi::get_one::<i64>("SELECT count(DISTINCT run_id) FROM segment_members").unwrap(), Some(1));
        assert_eq!(Spi::get_one::<i64>("SELECT count(*) FROM segment_runs").unwrap(), Some(1));
        assert_eq!(
            query_rows("SELECT customer_key || ' ' || segment || ' ' || (since AT TIME ZONE 'UTC')::date FROM segment_membership WHERE customer_key IN ('1', '4') ORDER BY 1"),
            vec!["1 b 2024-02-01", "4 a 2024-01-01"]
        );
    }

    #[pg_test]
    fn segments_failed_refresh_reraises_with_a_clear_message() {
        segments_fixture();
        Spi::run("INSERT INTO seg_customers VALUES (1, 'b')").unwrap();
        let got = error_of("CALL segment_refresh('t')");
        let (state, msg) = got.clone().unwrap_or_default();
        assert_eq!(state, "23505", "{got:?}");
        assert!(msg.starts_with("customer key column \"id\" of seg_customers is not unique"), "{msg}");
    }

    #[pg_test]
    fn segments_definition_errors() {
        segments_fixture();
        let cases = [
            ("SELECT segmentation_create('t', 'seg_customers', 'id', label_column => 'tier')", "42710"),
            ("SELECT segmentation_create('u', 'seg_customers', 'nope', label_column => 'tier')", "42703"),
            ("SELECT segmentation_create('u', 'no_such_table', 'id', label_column => 'tier')", "42P01"),
            ("SELECT segmentation_create('u', 'seg_customers', 'id')", "22023"),
            ("SELECT segmentation_create('U', 'seg_customers', 'id', label_column => 'tier')", "22023"),
            ("SELECT segmentation_create('u', 'seg_customers', 'id', label_column => 'tier', keep_runs => 0)", "22023"),
            ("SELECT segmentation_drop('nope')", "42704"),
            ("CALL segment_refresh('nope')", "42704"),
            ("CALL segment_refresh(NULL)", "22004"),
        ];
        for (sql, want) in cases {
            let got = error_of(sql).map(|(s, _)| s);
            assert_eq!(got.as_deref(), Some(want), "{sql}");
        }
        let (_, msg) = error_of("SELECT segmentation_create('u', 'seg_customers', 'nope', label_column => 'tier')").unwrap();
        assert_eq!(msg, "column \"nope\" (customer_key) does not exist in public.seg_customers");
    }
}
