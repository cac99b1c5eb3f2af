//! In-database tests of the foundation: install, version, error propagation.

#[pgrx::pg_schema]
mod tests {
    use crate::error::sql::raise_with;
    use crate::error::SqlState;
    use pgrx::prelude::*;

    /// Test-only helper: raises the given SQLSTATE with message, detail and hint.
    #[pg_extern]
    fn raise_for_test(code: &str, message: &str, detail: Option<&str>, hint: Option<&str>) {
        let state = SqlState::from_code(code).expect("a SQLSTATE pg_segment knows");
        raise_with(state, message, detail, hint)
    }

    #[pg_test]
    fn version_matches_cargo() {
        let v = Spi::get_one::<String>("SELECT pg_segment_version()").unwrap();
        assert_eq!(v.as_deref(), Some(env!("CARGO_PKG_VERSION")));
        let installed = Spi::get_one::<String>(
            "SELECT extversion::text FROM pg_extension WHERE extname = 'pg_segment'",
        )
        .unwrap();
        assert_eq!(installed.as_deref(), Some(env!("CARGO_PKG_VERSION")));
    }

    #[pg_test]
    fn version_function_has_a_comment() {
        let c = Spi::get_one::<String>(
            "SELECT obj_description('pg_segment_version()'::regprocedure, 'pg_proc')",
        )
        .unwrap();
        assert!(c.unwrap_or_default().contains("version"));
    }

    /// Every SQLSTATE of ours reaches PL/pgSQL's handler with message, detail and hint intact.
    #[pg_test]
    fn every_sqlstate_is_raised_with_detail_and_hint() {
        for state in SqlState::ALL {
            let code = state.code();
            let got = Spi::get_one::<String>(&format!(
                "DO $$ DECLARE s text; m text; d text; h text; BEGIN
                   PERFORM tests.raise_for_test('{code}', 'boom {code}', 'the detail', 'the hint');
                 EXCEPTION WHEN OTHERS THEN
                   GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT,
                                           d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
                   PERFORM set_config('pg_segment_test.got', concat_ws('|', s, m, d, h), true);
                 END $$;
                 SELECT current_setting('pg_segment_test.got')"
            ))
            .unwrap();
            assert_eq!(got.as_deref(), Some(format!("{code}|boom {code}|the detail|the hint").as_str()));
        }
    }

    #[pg_test(error = "bins must be between 2 and 100")]
    fn raise_reports_the_message() {
        Spi::run("SELECT tests.raise_for_test('22023', 'bins must be between 2 and 100', NULL, NULL)")
            .unwrap();
    }
}

/// Outside the server: a real client connection receives our SQLSTATE, detail and hint.
#[cfg(test)]
mod client_side {
    #[test]
    fn sqlstate_detail_and_hint_reach_the_client() {
        // Starting the framework installs the extension and the test cluster.
        pgrx_tests::run_test("version_matches_cargo", None, crate::pg_test::postgresql_conf_options())
            .unwrap();
        let (mut client, _) = pgrx_tests::client().unwrap();
        client.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_segment").unwrap();
        let err = client
            .simple_query("SELECT tests.raise_for_test('54000', 'too big', 'k × d = 9', 'lower k')")
            .unwrap_err();
        let db = err.as_db_error().expect("a server error");
        assert_eq!(db.code().code(), "54000");
        assert_eq!(db.message(), "too big");
        assert_eq!(db.detail(), Some("k × d = 9"));
        assert_eq!(db.hint(), Some("lower k"));
    }
}
