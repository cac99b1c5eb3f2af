//! In-database tests of the kmeans area: fits checked by hand, the catalog and
//! its cache, assignment (arrays, rows through a profile, parallel workers),
//! kmeans_step identical in serial / parallel / partitioned plans, SQLSTATEs.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;
    use crate::pgrx_tests::support::error_of;

    fn kmeans_text(sql: &str) -> String {
        Spi::get_one::<String>(sql).unwrap().unwrap_or_else(|| "NULL".into())
    }

    fn kmeans_pairs() {
        Spi::run(
            "CREATE TABLE km_pairs (id int, f real[]);
             INSERT INTO km_pairs VALUES (1, '{0,0}'), (2, '{0,1}'), (3, '{10,0}'), (4, '{10,1}'), (5, NULL);",
        )
        .unwrap();
    }

    /// Two pairs: from the given centroids one step reaches (0, .5) and (10, .5);
    /// inertia = 4 × 0.5² = 1; the NULL row is skipped and counted.
    #[pg_test]
    fn kmeans_fit_two_pairs_by_hand() {
        kmeans_pairs();
        let summary = kmeans_text(
            "SELECT row(k, dims, rows, inertia, iterations, converged)::text
             FROM kmeans_fit('km', 'km_pairs', 'f', 2, init_centroids => ARRAY[[0,0],[10,0]])",
        );
        assert_eq!(summary, "(2,2,4,1,2,t)");
        let stored = kmeans_text(
            "SELECT row(centroids, sizes, rows_fitted, rows_skipped, features, profile IS NULL)::text FROM kmeans_models WHERE name = 'km'",
        );
        assert_eq!(stored, r#"("{{0,0.5},{10,0.5}}","{2,2}",4,1,f,t)"#);
        assert_eq!(Spi::get_one::<i32>("SELECT kmeans_assign('km', '{9,0}'::real[])").unwrap(), Some(2));
        assert_eq!(Spi::get_one::<i32>("SELECT kmeans_assign('km', '{1,3}'::float8[])").unwrap(), Some(1));
        assert_eq!(Spi::get_one::<i32>("SELECT kmeans_assign('km', NULL::real[])").unwrap(), None);
        assert_eq!(kmeans_text("SELECT kmeans_assign_with_distance('km', '{13,4.5}'::real[])::text"), "(2,5)");
        assert_eq!(kmeans_text("SELECT (kmeans_assign_with_distance('km', '{0,0.5}'::float8[])).distance::text"), "0");
        // k-means++ with several seeds finds the same optimum, reproducibly
        let a = kmeans_text("SELECT inertia::text FROM kmeans_fit('km2', 'km_pairs', 'f', 2, seed => 7, n_init => 3)");
        assert_eq!(a, "1");
        let c1 = kmeans_text("SELECT centroids::text FROM kmeans_models WHERE name = 'km2'");
        Spi::run("SELECT kmeans_fit('km2', 'km_pairs', 'f', 2, seed => 7, n_init => 3)").unwrap();
        assert_eq!(c1, kmeans_text("SELECT centroids::text FROM kmeans_models WHERE name = 'km2'"));
        assert_eq!(Spi::get_one::<bool>("SELECT kmeans_drop('km2')").unwrap(), Some(true));
        assert_eq!(Spi::get_one::<bool>("SELECT kmeans_drop('km2', if_exists => true)").unwrap(), Some(false));
    }

    /// kmeans_fit reads exactly what the caller's `SELECT f FROM rel` would (a
    /// plain table is scanned directly, everything else through SPI): rows of
    /// inheritance children, materialized views (55000 when not populated),
    /// row-level security of a non-superuser owner under FORCE, and 42501
    /// without SELECT privilege.
    #[pg_test]
    fn kmeans_fit_reads_rows_as_the_caller() {
        kmeans_pairs();
        let rows = |relation: &str| kmeans_text(&format!("SELECT rows::text FROM kmeans_fit('kc', '{relation}', 'f', 1)"));
        Spi::run("CREATE TABLE km_child () INHERITS (km_pairs); INSERT INTO km_child VALUES (6, '{5,5}');").unwrap();
        assert_eq!(rows("km_pairs"), "5");
        assert_eq!(rows("km_child"), "1");
        Spi::run(
            "CREATE MATERIALIZED VIEW km_mv AS SELECT f FROM km_pairs WHERE id < 3;
             CREATE MATERIALIZED VIEW km_mv_empty AS SELECT f FROM km_pairs WITH NO DATA;",
        )
        .unwrap();
        assert_eq!(rows("km_mv"), "2");
        assert_eq!(error_of("SELECT kmeans_fit('kc', 'km_mv_empty', 'f', 1)").map(|e| e.0), Some("55000".into()));
        Spi::run(
            "DO $$ BEGIN
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'km_user') THEN CREATE ROLE km_user; END IF;
               EXECUTE format('GRANT USAGE ON SCHEMA %s TO km_user',
                              (SELECT relnamespace::regnamespace FROM pg_class WHERE oid = 'kmeans_models'::regclass));
             END $$;
             GRANT ALL ON kmeans_models, kmeans_model_versions TO km_user;
             CREATE TABLE km_secret (id int, f real[]);
             INSERT INTO km_secret VALUES (1, '{0,0}'), (2, '{1,1}'), (3, '{2,2}');
             ALTER TABLE km_secret OWNER TO km_user;
             ALTER TABLE km_secret ENABLE ROW LEVEL SECURITY;
             ALTER TABLE km_secret FORCE ROW LEVEL SECURITY;
             CREATE POLICY km_two ON km_secret USING (id <= 2);
             CREATE TABLE km_hidden (id int, f real[]);
             INSERT INTO km_hidden VALUES (1, '{0,0}');",
        )
        .unwrap();
        Spi::run("SET LOCAL ROLE km_user").unwrap();
        assert_eq!(rows("km_secret"), "2");
        assert_eq!(error_of("SELECT kmeans_fit('kc', 'km_hidden', 'f', 1)").map(|e| e.0), Some("42501".into()));
        Spi::run("RESET ROLE").unwrap();
        // a superuser is not subject to the policy
        assert_eq!(rows("km_secret"), "3");
    }

    /// The direct scan copies arrays out of the page in batches: wide arrays
    /// that fill a batch's copy space, arrays compressed in line and arrays
    /// stored out of line give the same fit as the SPI path (a view).
    #[pg_test]
    fn kmeans_fit_direct_scan_reads_wide_and_toasted_arrays() {
        Spi::run(
            "CREATE TABLE km_wide (id int, f real[]);
             INSERT INTO km_wide
             SELECT i, array_fill((i % 3) * 10 + (i % 7) / 7.0, ARRAY[400])::real[]
             FROM generate_series(1, 3000) i;
             CREATE TABLE km_toast (id int, f real[]);
             ALTER TABLE km_toast ALTER COLUMN f SET STORAGE EXTENDED;
             INSERT INTO km_toast
             SELECT i, CASE WHEN i % 2 = 0 THEN array_fill((i % 3) * 10.0, ARRAY[1000])::real[]
                            ELSE ARRAY(SELECT (i % 3) * 10 + ((hashint8extended(i * 1000 + j, 3) >> 11) & 1023) / 1024.0
                                       FROM generate_series(1, 1000) j)::real[] END
             FROM generate_series(1, 1500) i;
             CREATE VIEW km_wide_view AS SELECT * FROM km_wide;
             CREATE VIEW km_toast_view AS SELECT * FROM km_toast",
        )
        .unwrap();
        // stored as intended: wide arrays in line, the others compressed or out of line
        assert_eq!(
            kmeans_text(
                "SELECT concat_ws(' ', (SELECT min(pg_column_size(f)) > 1500 FROM km_wide),
                                       (SELECT max(pg_column_size(f)) < 1000 FROM km_toast WHERE id % 2 = 0),
                                       (SELECT pg_relation_size(reltoastrelid) > 1000000 FROM pg_class WHERE oid = 'km_toast'::regclass))"
            ),
            "t t t"
        );
        for table in ["km_wide", "km_toast"] {
            let fit = |rel: &str| {
                let fitted = kmeans_text(&format!("SELECT concat_ws(' ', rows, inertia) FROM kmeans_fit('kw', '{rel}', 'f', 3, seed => 5)"));
                fitted + " " + &kmeans_text("SELECT md5(centroids::text) FROM kmeans_models WHERE name = 'kw'")
            };
            let direct = fit(table);
            assert!(direct.starts_with(if table == "km_wide" { "3000 " } else { "1500 " }), "{direct}");
            assert_eq!(direct, fit(&format!("{table}_view")), "{table}");
        }
    }

    /// The direct scan reads the column from each page's bytes (heap_page.rs):
    /// columns before it of every storage shape (NULLs, 1- and 4-byte varlena
    /// headers, 8-byte alignment, a dropped column), deleted rows on pages
    /// that are not all-visible, and a column added with a default after rows
    /// were written (those rows store no value) give the same fit as the SPI
    /// path. `init => 'random'` picks rows by position, so order counts too.
    #[pg_test]
    fn kmeans_fit_direct_scan_reads_every_column_layout() {
        Spi::run(
            "CREATE TABLE km_shapes (a bool, b text, c int8, gone int, d numeric, f real[], g int);
             INSERT INTO km_shapes
             SELECT CASE WHEN i % 3 = 0 THEN NULL ELSE i % 2 = 0 END,
                    CASE WHEN i % 5 = 0 THEN NULL ELSE repeat('x', i % 300) END,
                    i, i, CASE WHEN i % 7 = 0 THEN NULL ELSE i / 3.0 END,
                    CASE WHEN i % 11 = 0 THEN NULL
                         ELSE ARRAY[(i % 4) * 10 + (i % 13) / 13.0, (i % 17) / 17.0, i % 4]::real[] END,
                    i
             FROM generate_series(1, 3000) i;
             ALTER TABLE km_shapes DROP COLUMN gone;
             DELETE FROM km_shapes WHERE c % 19 = 0;
             INSERT INTO km_shapes (c, f) SELECT i, ARRAY[i % 4 * 10, 0.5, i % 4]::real[] FROM generate_series(3001, 3100) i;
             CREATE TABLE km_added (id int);
             INSERT INTO km_added SELECT generate_series(1, 500);
             ALTER TABLE km_added ADD COLUMN f real[] DEFAULT '{5,5,5}';
             INSERT INTO km_added SELECT i, ARRAY[i % 3 * 20, i % 5, 1]::real[] FROM generate_series(501, 1000) i;
             UPDATE km_added SET f = '{40,4,4}' WHERE id % 50 = 0;
             CREATE VIEW km_shapes_view AS SELECT * FROM km_shapes;
             CREATE VIEW km_added_view AS SELECT * FROM km_added",
        )
        .unwrap();
        for (table, rows) in [("km_shapes", "2685"), ("km_added", "1000")] {
            let fit = |rel: &str| {
                let fitted = kmeans_text(&format!(
                    "SELECT concat_ws(' ', rows, inertia) FROM kmeans_fit('kl', '{rel}', 'f', 3, seed => 5, init => 'random', max_iter => 3)"
                ));
                fitted + " " + &kmeans_text("SELECT centroids::text FROM kmeans_models WHERE name = 'kl'")
            };
            let direct = fit(table);
            assert!(direct.starts_with(&format!("{rows} ")), "{direct}");
            assert_eq!(direct, fit(&format!("{table}_view")), "{table}");
        }
    }

    /// A refit earlier in the transaction is seen by the next statement's assignments.
    #[pg_test]
    fn kmeans_refit_replaces_the_cached_model() {
        kmeans_pairs();
        Spi::run("SELECT kmeans_fit('kr', 'km_pairs', 'f', 2, init_centroids => ARRAY[[0,0],[10,0]])").unwrap();
        let v1 = Spi::get_one::<i64>("SELECT version FROM kmeans_models WHERE name = 'kr'").unwrap();
        assert_eq!(Spi::get_one::<i32>("SELECT kmeans_assign('kr', '{0,0}'::real[])").unwrap(), Some(1));
        // the same clusters in the other order
        Spi::run("SELECT kmeans_fit('kr', 'km_pairs', 'f', 2, init_centroids => ARRAY[[10,0],[0,0]])").unwrap();
        assert_eq!(Spi::get_one::<i32>("SELECT kmeans_assign('kr', '{0,0}'::real[])").unwrap(), Some(2));
        let v2 = Spi::get_one::<i64>("SELECT version FROM kmeans_models WHERE name = 'kr'").unwrap();
        assert_ne!(v1, v2);
        assert_eq!(Spi::get_one::<i64>("SELECT count(*) FROM kmeans_models WHERE name = 'kr'").unwrap(), Some(1));
        Spi::run("SELECT kmeans_drop('kr')").unwrap();
        let (state, message) = error_of("SELECT kmeans_assign('kr', '{0,0}'::real[])").unwrap();
        assert_eq!((state.as_str(), message.as_str()), ("42704", "k-means model \"kr\" does not exist"));
    }

    fn kmeans_force_parallel() {
        Spi::run(
            "SET LOCAL parallel_setup_cost = 0; SET LOCAL parallel_tuple_cost = 0;
             SET LOCAL min_parallel_table_scan_size = 0; SET LOCAL max_parallel_workers_per_gather = 2;
             SET LOCAL parallel_leader_participation = off",
        )
        .unwrap();
    }

    fn kmeans_plan(sql: &str) -> String {
        Spi::connect(|c| {
            c.select(&format!("EXPLAIN (COSTS OFF) {sql}"), None, &[])
                .unwrap()
                .map(|r| r.get::<String>(1).unwrap().unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    fn kmeans_blobs(table: &str, partitioned: bool) {
        let create = if partitioned {
            format!(
                "CREATE TABLE {table} (id int, f real[]) PARTITION BY HASH (id);
                 CREATE TABLE {table}_0 PARTITION OF {table} FOR VALUES WITH (MODULUS 3, REMAINDER 0);
                 CREATE TABLE {table}_1 PARTITION OF {table} FOR VALUES WITH (MODULUS 3, REMAINDER 1);
                 CREATE TABLE {table}_2 PARTITION OF {table} FOR VALUES WITH (MODULUS 3, REMAINDER 2);"
            )
        } else {
            format!("CREATE TABLE {table} (id int, f real[]);")
        };
        Spi::run(&format!(
            "{create}
             INSERT INTO {table} SELECT i, ARRAY[(i % 3) * 10 + sin(i) , (i % 3) * 5 + cos(i * 1.7), sin(i * 0.31) / 3]::real[]
             FROM generate_series(1, 30000) i;
             ANALYZE {table};"
        ))
        .unwrap();
    }

    /// One Lloyd step gives the same bits serial, with parallel workers and over partitions.
    #[pg_test]
    fn kmeans_step_is_identical_serial_parallel_partitioned() {
        kmeans_blobs("km_step", false);
        kmeans_blobs("km_step_parts", true);
        let c = "ARRAY[[0,0,0],[10,5,0],[20,10,0],[5,5,5]]::float8[]";
        let q = |t: &str| format!("SELECT kmeans_step(f, {c})::text FROM {t}");
        Spi::run("SET LOCAL max_parallel_workers_per_gather = 0").unwrap();
        let serial = kmeans_text(&q("km_step"));
        kmeans_force_parallel();
        let plan = kmeans_plan(&q("km_step"));
        assert!(plan.contains("Partial Aggregate") && plan.contains("Gather"), "{plan}");
        let parallel = kmeans_text(&q("km_step"));
        let partitioned = kmeans_text(&q("km_step_parts"));
        assert_eq!(serial, parallel);
        assert_eq!(serial, partitioned);
        // counts add up, the empty fourth cluster keeps its centroid
        let counts = kmeans_text(&format!("SELECT (kmeans_step(f, {c})).counts::text FROM km_step"));
        assert_eq!(counts, "{10000,10000,10000,0}");
        let fourth = kmeans_text(&format!("SELECT ((kmeans_step(f, {c})).centroids)[4:4][1:3]::text FROM km_step"));
        assert_eq!(fourth, "{{5,5,5}}");
        // the new centroid of cluster 1 is the mean of its rows
        let mean = Spi::get_one::<f64>("SELECT avg(f[1]::float8) FROM km_step WHERE id % 3 = 0").unwrap().unwrap();
        let got = Spi::get_one::<f64>(&format!("SELECT ((kmeans_step(f, {c})).centroids)[1][1] FROM km_step")).unwrap().unwrap();
        assert!((got - mean).abs() < 1e-9, "{got} vs {mean}");
        // float8[] features give the same step as real[] widened
        let widened = kmeans_text(&format!("SELECT kmeans_step(f::float8[], {c})::text FROM km_step"));
        assert_eq!(widened, serial);
    }

    #[pg_test]
    fn kmeans_assign_runs_in_parallel_workers() {
        kmeans_blobs("km_par", false);
        Spi::run("SELECT kmeans_fit('kp', 'km_par', 'f', 3, seed => 1)").unwrap();
        let q = "SELECT sum(kmeans_assign('kp', f) * id)::text FROM km_par";
        Spi::run("SET LOCAL max_parallel_workers_per_gather = 0").unwrap();
        let serial = kmeans_text(q);
        kmeans_force_parallel();
        assert!(kmeans_plan(q).contains("Gather"));
        assert_eq!(kmeans_text(q), serial);
        // three clean blobs: the clusters are the residues of id mod 3
        let groups = Spi::get_one::<i64>(
            "SELECT count(DISTINCT (id % 3, kmeans_assign('kp', f))) FROM km_par",
        )
        .unwrap();
        assert_eq!(groups, Some(3));
    }

    /// A model fitted through a profile assigns customer rows with the transform
    /// stored at fit time, even after the profile is refitted.
    #[pg_test]
    fn kmeans_profile_model_assigns_rows() {
        Spi::run(
            "CREATE TABLE km_customers (id int, spend float8, orders int);
             INSERT INTO km_customers SELECT i, (i % 2) * 100 + i % 7, (i % 2) * 10 + i % 3 FROM generate_series(1, 200) i;",
        )
        .unwrap();
        Spi::run(r#"SELECT profile_fit('kmp', 'km_customers', '{"features": [{"column": "spend"}, {"column": "orders"}]}')"#).unwrap();
        let summary = kmeans_text("SELECT row(k, dims, rows)::text FROM kmeans_fit('kmm', 'km_customers', NULL, 2, profile => 'kmp')");
        assert_eq!(summary, "(2,2,200)");
        let same = Spi::get_one::<i64>(
            "SELECT count(*) FROM km_customers c WHERE kmeans_assign('kmm', c) = kmeans_assign('kmm', profile_vector('kmp', c))",
        )
        .unwrap();
        assert_eq!(same, Some(200));
        let odd_together = Spi::get_one::<i64>("SELECT count(DISTINCT kmeans_assign('kmm', c)) FROM km_customers c WHERE id % 2 = 1").unwrap();
        assert_eq!(odd_together, Some(1));
        let before = kmeans_text("SELECT kmeans_assign_with_distance('kmm', c)::text FROM km_customers c WHERE id = 5");
        // a refit of the profile with another transform does not change the model's
        Spi::run(r#"SELECT profile_fit('kmp', 'km_customers', '{"features": [{"column": "spend", "transform": "none"}, {"column": "orders", "transform": "none"}]}')"#).unwrap();
        assert_eq!(before, kmeans_text("SELECT kmeans_assign_with_distance('kmm', c)::text FROM km_customers c WHERE id = 5"));
        // a column model refuses rows
        Spi::run("CREATE TABLE km_v (f real[]); INSERT INTO km_v VALUES ('{1}'), ('{2}')").unwrap();
        Spi::run("SELECT kmeans_fit('kmc', 'km_v', 'f', 1)").unwrap();
        let (state, _) = error_of("SELECT kmeans_assign('kmc', c) FROM km_customers c").unwrap();
        assert_eq!(state, "42804");
    }

    #[pg_test]
    fn kmeans_bad_input_is_reported() {
        Spi::run(
            "CREATE TABLE km_bad (f real[]); INSERT INTO km_bad VALUES ('{1,2}'), ('{3,NULL}');
             CREATE TABLE km_nan (f float8[]); INSERT INTO km_nan VALUES ('{1,2}'), ('{3,Infinity}');
             CREATE TABLE km_mixed (f real[]); INSERT INTO km_mixed VALUES ('{1,2}'), ('{3,4,5}');
             CREATE TABLE km_const (f real[]); INSERT INTO km_const SELECT '{7,7}' FROM generate_series(1, 5);
             CREATE TABLE km_empty (f real[]);
             CREATE TABLE km_text (f text);",
        )
        .unwrap();
        let cases = [
            ("SELECT kmeans_fit('b', 'km_bad', 'f', 1)", "22023", "feature array in row 2 of km_bad has a NULL element at position 2"),
            ("SELECT kmeans_fit('b', 'km_nan', 'f', 1)", "22023", "feature array in row 2 of km_nan has Infinity at position 2"),
            ("SELECT kmeans_fit('b', 'km_mixed', 'f', 1)", "22023", "feature array in row 2 of km_mixed has 3 elements, earlier rows have 2"),
            ("SELECT kmeans_fit('b', 'km_const', 'f', 0)", "22023", "k must be at least 1, not 0"),
            ("SELECT kmeans_fit('b', 'km_const', 'f', 2)", "22023", "k = 2 is more than the 1 distinct feature vector in km_const"),
            ("SELECT kmeans_fit('b', 'km_empty', 'f', 1)", "22023", "km_empty has no feature vectors to fit on (0 rows with NULL features skipped)"),
            ("SELECT kmeans_fit('b', 'km_empty', 'nope', 1)", "42703", "column \"nope\" does not exist in km_empty"),
            ("SELECT kmeans_fit('b', 'km_text', 'f', 1)", "42804", "column \"f\" of km_text is text, not real[] or double precision[]"),
            ("SELECT kmeans_fit('b', 'km_const', 'f', 1, init => 'magic')", "22023", "unknown init \"magic\""),
            ("SELECT kmeans_fit(NULL, 'km_const', 'f', 1)", "22004", "model must not be null"),
            ("SELECT kmeans_assign('nope', '{1}'::real[])", "42704", "k-means model \"nope\" does not exist"),
            ("SELECT kmeans_drop('nope')", "42704", "k-means model \"nope\" does not exist"),
        ];
        for (sql, state, message) in cases {
            let got = error_of(sql).unwrap_or_else(|| panic!("no error from {sql}"));
            assert_eq!((got.0.as_str(), got.1.as_str()), (state, message), "{sql}");
        }
        // constant data with k = 1: the point itself, inertia 0
        assert_eq!(kmeans_text("SELECT row(inertia, converged)::text FROM kmeans_fit('c', 'km_const', 'f', 1)"), "(0,t)");
        assert_eq!(kmeans_text("SELECT centroids::text FROM kmeans_models WHERE name = 'c'"), "{{7,7}}");
        let (state, message) = error_of("SELECT kmeans_assign('c', '{1,2,3}'::real[])").unwrap();
        assert_eq!((state.as_str(), message.as_str()), ("22023", "features have 3 elements, but k-means model \"c\" has 2 dimensions"));
        // k × d too large for the memory limit: 54000 with both numbers
        Spi::run("SET LOCAL pg_segment.kmeans_memory_limit = '1MB'").unwrap();
        let (state, message) = error_of("SELECT kmeans_fit('big', 'km_const', 'f', 100000)").unwrap();
        assert_eq!(state, "54000");
        assert!(message.contains("needs about") && message.contains("(1.0 MB)"), "{message}");
    }

    #[pg_test]
    fn kmeans_select_k_scores_and_suggests() {
        kmeans_blobs("km_sel", false);
        let rows: Vec<(i32, bool, Option<f64>)> = Spi::connect(|c| {
            c.select("SELECT k, suggested, silhouette FROM kmeans_select_k('km_sel', 'f', 1, 5, sample_size => 3000) ORDER BY k", None, &[])
                .unwrap()
                .map(|r| (r.get::<i32>(1).unwrap().unwrap(), r.get::<bool>(2).unwrap().unwrap(), r.get::<f64>(3).unwrap()))
                .collect()
        });
        assert_eq!(rows.len(), 5);
        assert_eq!(rows[0].2, None); // k = 1 has no silhouette
        let suggested: Vec<i32> = rows.iter().filter(|r| r.1).map(|r| r.0).collect();
        assert_eq!(suggested, vec![3]);
    }
}
