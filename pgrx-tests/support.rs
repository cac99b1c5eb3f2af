//! Helpers shared by the in-database tests of every area.

use pgrx::prelude::*;

/// Runs `sql` and returns (SQLSTATE, message) of the error it raises, or None.
/// The statement runs in a PL/pgSQL block that traps the error, so the test's
/// transaction survives and can check several errors in a row.
pub fn error_of(sql: &str) -> Option<(String, String)> {
    let quoted = sql.replace('\'', "''");
    let got = Spi::get_one::<String>(&format!(
        "DO $$ DECLARE s text; m text; BEGIN
           EXECUTE '{quoted}';
           PERFORM set_config('pg_segment_test.err', '', true);
         EXCEPTION WHEN OTHERS THEN
           GET STACKED DIAGNOSTICS s = RETURNED_SQLSTATE, m = MESSAGE_TEXT;
           PERFORM set_config('pg_segment_test.err', s || '|' || m, true);
         END $$;
         SELECT current_setting('pg_segment_test.err')"
    ))
    .unwrap()
    .unwrap_or_default();
    got.split_once('|').map(|(s, m)| (s.to_string(), m.to_string()))
}

/// The first column of every row of `sql` as text ("NULL" for NULL).
pub fn query_rows(sql: &str) -> Vec<String> {
    Spi::connect(|client| {
        client
            .select(sql, None, &[])
            .unwrap()
            .map(|row| row.get::<String>(1).unwrap().unwrap_or_else(|| "NULL".into()))
            .collect()
    })
}
