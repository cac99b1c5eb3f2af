-- Segment operations (issue 7): named segmentations, the run log, membership
-- history, drift statistics, BI views and the segment_refresh procedure.
--
-- Every table is registered with pg_extension_config_dump, so pg_dump keeps
-- users' definitions and history. Tables have no foreign keys between them
-- (restore order does not matter); segmentation_drop deletes a name's rows
-- from all of them. Views are security_invoker: readers need SELECT on the
-- tables underneath (README "Segment operations" shows the grants).

-- The drift functions are defined in Rust (src/segments/sql.rs).
COMMENT ON FUNCTION segment_psi(float8, float8) IS
  'one segment''s population stability index term between two runs: (share - prev_share) * ln(share / prev_share), shares floored at 1e-4; shares must be in [0, 1]';
COMMENT ON FUNCTION segment_size_change(bigint, bigint) IS
  'relative size change (size - prev_size) / prev_size; NULL when prev_size is 0';
COMMENT ON FUNCTION segment_flags(bigint, bigint, float8, bigint) IS
  'health flags of a segment: new, gone, size_change (relative change above max_size_change), below_min_size; prev_size NULL = first run';
COMMENT ON FUNCTION segment_in_transaction_block() IS
  'true inside an explicit transaction block, where segment_refresh runs as one transaction instead of committing between its steps';

CREATE SEQUENCE segment_run_ids;
SELECT pg_catalog.pg_extension_config_dump('segment_run_ids', '');
COMMENT ON SEQUENCE segment_run_ids IS 'source of segment_runs.run_id (increasing: a later run has a larger id)';

CREATE TABLE segmentations (
    name               text PRIMARY KEY CHECK (name ~ '^[a-z_][a-z0-9_]{0,47}$'),
    customers          regclass NOT NULL,
    customer_key       text NOT NULL,
    label_source       text NOT NULL CHECK (label_source IN ('ruleset', 'kmeans', 'rfm', 'column')),
    label_column       text,
    orders             regclass,
    order_customer_key text NOT NULL,
    order_time         text NOT NULL,
    order_amount       text NOT NULL,
    rfm_bins           integer NOT NULL,
    rfm_map            text NOT NULL,
    kmeans_model       text,
    kmeans_features    text,
    ruleset            text,
    keep_runs          integer NOT NULL CHECK (keep_runs >= 1),
    max_size_change    float8 NOT NULL CHECK (max_size_change >= 0),
    min_segment_size   integer NOT NULL CHECK (min_segment_size >= 0),
    psi_threshold      float8 NOT NULL CHECK (psi_threshold >= 0),
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         name NOT NULL DEFAULT current_user
);
SELECT pg_catalog.pg_extension_config_dump('segmentations', '');
COMMENT ON TABLE segmentations IS
  'named segmentations: where customers and orders live and which label source (ruleset, k-means model, RFM, or a column) segment_refresh uses; write it only through segmentation_create() and segmentation_drop()';
COMMENT ON COLUMN segmentations.label_source IS 'the label source chosen at creation, in priority ruleset > kmeans > rfm (orders) > column';

CREATE TABLE segment_runs (
    run_id        bigint PRIMARY KEY DEFAULT nextval('segment_run_ids'),
    segmentation  text NOT NULL,
    as_of         timestamptz NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at   timestamptz,
    duration      interval,
    status        text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'skipped', 'abandoned')),
    phase         text NOT NULL DEFAULT 'start',
    rows          bigint,
    unlabelled    bigint,
    segments      integer,
    psi           float8,
    flags         text[] NOT NULL DEFAULT '{}',
    error         text,
    backend_pid   integer NOT NULL DEFAULT pg_backend_pid(),
    run_by        name NOT NULL DEFAULT current_user
);
CREATE INDEX segment_runs_segmentation ON segment_runs (segmentation, run_id);
SELECT pg_catalog.pg_extension_config_dump('segment_runs', '');
COMMENT ON TABLE segment_runs IS
  'one row per segment_refresh call: status running, succeeded, failed, skipped (another refresh held the lock) or abandoned (its backend ended mid-run), phase reached, rows written, error text, duration, run PSI and flags';
COMMENT ON COLUMN segment_runs.rows IS 'customers written to segment_members (those with a non-NULL label and key)';
COMMENT ON COLUMN segment_runs.unlabelled IS 'customers read whose label or key was NULL (not members of any segment)';
COMMENT ON COLUMN segment_runs.psi IS 'population stability index of the run against the previous succeeded run (sum of segment_run_segments.psi); NULL on the first run';
COMMENT ON COLUMN segment_runs.flags IS '''psi'' when psi exceeds the psi_threshold, plus every flag any of its segments got';

CREATE TABLE segment_members (
    segmentation  text NOT NULL,
    run_id        bigint NOT NULL,
    customer_key  text NOT NULL,
    segment       text NOT NULL,
    since         timestamptz NOT NULL,
    recency_days  float8,
    frequency     float8,
    monetary      float8,
    PRIMARY KEY (run_id, customer_key)
);
SELECT pg_catalog.pg_extension_config_dump('segment_members', '');
COMMENT ON TABLE segment_members IS
  'segment of every labelled customer in each retained run; read the latest succeeded run through the segment_membership view';
COMMENT ON COLUMN segment_members.since IS 'as_of of the first run of the unbroken stretch of runs in which the customer has had this segment';

CREATE TABLE segment_run_segments (
    run_id            bigint NOT NULL,
    segmentation      text NOT NULL,
    segment           text NOT NULL,
    size              bigint NOT NULL,
    share             float8 NOT NULL,
    prev_run_id       bigint,
    prev_size         bigint,
    prev_share        float8,
    size_change       float8,
    psi               float8,
    flags             text[] NOT NULL DEFAULT '{}',
    avg_recency_days  float8,
    avg_frequency     float8,
    avg_monetary      float8,
    PRIMARY KEY (run_id, segment)
);
SELECT pg_catalog.pg_extension_config_dump('segment_run_segments', '');
COMMENT ON TABLE segment_run_segments IS
  'per run per segment: size, share, change against the previous succeeded run, PSI term, health flags and average RFM metrics; a segment that emptied appears once with size 0';

CREATE TABLE segment_run_transitions (
    run_id        bigint NOT NULL,
    segmentation  text NOT NULL,
    prev_run_id   bigint NOT NULL,
    from_segment  text,
    to_segment    text,
    customers     bigint NOT NULL
);
CREATE INDEX segment_run_transitions_run ON segment_run_transitions (run_id);
SELECT pg_catalog.pg_extension_config_dump('segment_run_transitions', '');
COMMENT ON TABLE segment_run_transitions IS
  'migration matrix between a run and the previous succeeded run: customers per (from_segment, to_segment); NULL from_segment = not a member before, NULL to_segment = no longer a member';

-- The as_of a segment_input_<name> view computes RFM fields at: the
-- pg_segment.as_of setting (segment_refresh sets it for its transaction), else now().
CREATE FUNCTION segment_as_of() RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
RETURN coalesce(nullif(current_setting('pg_segment.as_of', true), '')::timestamptz, now());
COMMENT ON FUNCTION segment_as_of() IS
  'the pg_segment.as_of setting as timestamptz, or now() when it is unset or empty; the as_of of RFM fields in segment_input_<name> views';

------------------------------------------------------------------------------
-- Definitions
------------------------------------------------------------------------------

-- The column's type, or 42703 naming the relation and the argument.
CREATE FUNCTION segment_column_type(rel regclass, col text, argument text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
BEGIN
    IF col IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = format('%s must not be null', argument),
            HINT = 'pass the name of a column';
    END IF;
    SELECT format_type(a.atttypid, a.atttypmod) INTO t
    FROM pg_attribute a
    WHERE a.attrelid = rel AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
    IF t IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '42703',
            MESSAGE = format('column "%s" (%s) does not exist in %s', col, argument, rel),
            HINT = format('pass the name of a column of %s, spelled as in its definition', rel);
    END IF;
    RETURN t;
END
$$;
COMMENT ON FUNCTION segment_column_type(regclass, text, text) IS
  'internal: the type of column col of rel, or 42703 naming the argument that named it';

CREATE FUNCTION segmentation_create(
    name text,
    customers regclass,
    customer_key text,
    label_column text DEFAULT NULL,
    orders regclass DEFAULT NULL,
    order_customer_key text DEFAULT 'customer_id',
    order_time text DEFAULT 'ordered_at',
    order_amount text DEFAULT 'amount',
    rfm_bins integer DEFAULT 5,
    rfm_map text DEFAULT 'standard',
    kmeans_model text DEFAULT NULL,
    kmeans_features text DEFAULT NULL,
    ruleset text DEFAULT NULL,
    keep_runs integer DEFAULT 30,
    max_size_change float8 DEFAULT 0.25,
    min_segment_size integer DEFAULT 1,
    psi_threshold float8 DEFAULT 0.2,
    replace boolean DEFAULT false
) RETURNS regclass
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    source text;
    key_type text;
    view_name text := 'segment_input_' || name;
    body text;
BEGIN
    IF name IS NULL OR customers IS NULL OR customer_key IS NULL OR replace IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004',
            MESSAGE = 'name, customers, customer_key and replace must not be null',
            HINT = 'pass a segmentation name, the customers table and its key column';
    END IF;
    IF name !~ '^[a-z_][a-z0-9_]{0,47}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('invalid segmentation name "%s"', name),
            HINT = 'use 1 to 48 lowercase letters, digits and underscores, starting with a letter or underscore';
    END IF;
    IF keep_runs IS NULL OR keep_runs < 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('keep_runs must be at least 1, got %s', keep_runs),
            HINT = 'keep_runs is how many succeeded runs keep their membership and statistics';
    END IF;
    IF max_size_change IS NULL OR max_size_change = 'NaN' OR max_size_change < 0
       OR psi_threshold IS NULL OR psi_threshold = 'NaN' OR psi_threshold < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('max_size_change and psi_threshold must be non-negative numbers, got %s and %s', max_size_change, psi_threshold),
            HINT = 'e.g. max_size_change => 0.25 (25%), psi_threshold => 0.2';
    END IF;
    IF min_segment_size IS NULL OR min_segment_size < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('min_segment_size must not be negative, got %s', min_segment_size),
            HINT = 'segments with fewer members are flagged below_min_size';
    END IF;
    IF EXISTS (SELECT 1 FROM @extschema@.segmentations s WHERE s.name = segmentation_create.name) AND NOT replace THEN
        RAISE EXCEPTION USING ERRCODE = '42710', MESSAGE = format('segmentation "%s" already exists', name),
            HINT = 'pass replace => true to redefine it (its history is kept), or choose another name';
    END IF;
    IF NOT has_any_column_privilege(customers, 'SELECT') THEN
        RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = format('permission denied to read customers table %s', customers),
            HINT = 'a segmentation runs with its caller''s rights: GRANT SELECT on the table to this role';
    END IF;

    key_type := @extschema@.segment_column_type(customers, customer_key, 'customer_key');
    IF label_column IS NOT NULL THEN
        PERFORM @extschema@.segment_column_type(customers, label_column, 'label_column');
    END IF;
    IF orders IS NOT NULL THEN
        IF NOT has_any_column_privilege(orders, 'SELECT') THEN
            RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = format('permission denied to read orders table %s', orders),
                HINT = 'GRANT SELECT on the orders table to this role';
        END IF;
        PERFORM @extschema@.segment_column_type(orders, order_customer_key, 'order_customer_key');
        PERFORM @extschema@.segment_column_type(orders, order_time, 'order_time');
        PERFORM @extschema@.segment_column_type(orders, order_amount, 'order_amount');
        IF rfm_bins IS NULL OR rfm_map IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'rfm_bins and rfm_map must not be null',
                HINT = 'the defaults are rfm_bins => 5, rfm_map => ''standard''';
        END IF;
    END IF;
    IF (kmeans_model IS NULL) <> (kmeans_features IS NULL) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'kmeans_model and kmeans_features go together',
            HINT = 'pass both the model name and the customers column holding its feature vector (real[]), or neither';
    END IF;
    IF kmeans_features IS NOT NULL THEN
        PERFORM @extschema@.segment_column_type(customers, kmeans_features, 'kmeans_features');
    END IF;

    source := CASE
        WHEN ruleset IS NOT NULL THEN 'ruleset'
        WHEN kmeans_model IS NOT NULL THEN 'kmeans'
        WHEN orders IS NOT NULL THEN 'rfm'
        WHEN label_column IS NOT NULL THEN 'column'
    END;
    IF source IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('segmentation "%s" has no label source', name),
            HINT = 'pass ruleset, kmeans_model (with kmeans_features), orders (RFM segments) or label_column';
    END IF;

    -- The enriched row every label source reads: customer columns, RFM fields
    -- at segment_as_of(), and the k-means cluster. security_invoker, so the
    -- refresher's privileges and row-level security apply to the sources.
    body := 'SELECT c.*';
    IF orders IS NOT NULL THEN
        body := body || ', r.first_order_at, r.last_order_at, r.recency_days, r.frequency, r.monetary, '
            || 'r.avg_order_value, r.tenure_days, r.btyd_frequency, r.btyd_recency, r.btyd_t, '
            || 'r.btyd_monetary_value, r.r_score, r.f_score, r.m_score, r.rfm_cell, r.segment AS rfm_segment';
    END IF;
    IF kmeans_model IS NOT NULL THEN
        body := body || format(', @extschema@.kmeans_assign(%L, c.%I::real[]) AS cluster', kmeans_model, kmeans_features);
    END IF;
    body := body || format(' FROM %s c', customers);
    IF orders IS NOT NULL THEN
        body := body || format(
            ' LEFT JOIN @extschema@.rfm_segments(%L::regclass, NULL::%s, %L, %L, %L, @extschema@.segment_as_of(), %s, %L) r'
            ' ON r.customer = c.%I',
            orders::text, key_type, order_customer_key, order_time, order_amount, rfm_bins, rfm_map, customer_key);
    END IF;
    EXECUTE format('CREATE OR REPLACE VIEW @extschema@.%I WITH (security_invoker = true) AS %s', view_name, body);
    EXECUTE format('COMMENT ON VIEW @extschema@.%I IS %L', view_name,
        format('input rows of segmentation %s (customer columns, RFM fields at pg_segment.as_of, cluster); the row type for its ruleset', name));

    INSERT INTO @extschema@.segmentations AS s (name, customers, customer_key, label_source, label_column, orders,
        order_customer_key, order_time, order_amount, rfm_bins, rfm_map, kmeans_model, kmeans_features, ruleset,
        keep_runs, max_size_change, min_segment_size, psi_threshold)
    VALUES (name, customers, customer_key, source, label_column, orders, order_customer_key, order_time, order_amount,
        rfm_bins, rfm_map, kmeans_model, kmeans_features, ruleset, keep_runs, max_size_change, min_segment_size, psi_threshold)
    ON CONFLICT ON CONSTRAINT segmentations_pkey DO UPDATE SET
        customers = excluded.customers, customer_key = excluded.customer_key, label_source = excluded.label_source,
        label_column = excluded.label_column, orders = excluded.orders, order_customer_key = excluded.order_customer_key,
        order_time = excluded.order_time, order_amount = excluded.order_amount, rfm_bins = excluded.rfm_bins,
        rfm_map = excluded.rfm_map, kmeans_model = excluded.kmeans_model, kmeans_features = excluded.kmeans_features,
        ruleset = excluded.ruleset, keep_runs = excluded.keep_runs, max_size_change = excluded.max_size_change,
        min_segment_size = excluded.min_segment_size, psi_threshold = excluded.psi_threshold,
        created_at = now(), created_by = current_user;
    RETURN format('@extschema@.%I', view_name)::regclass;
END
$$;
COMMENT ON FUNCTION segmentation_create(text, regclass, text, text, regclass, text, text, text, integer, text, text, text, text, integer, float8, integer, float8, boolean) IS
  'defines (or with replace => true redefines) a named segmentation and creates its input view segment_input_<name>, which it returns; the label source is ruleset, else kmeans_model, else orders (RFM segment), else label_column';

CREATE FUNCTION segmentation_drop(name text, if_exists boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'name must not be null', HINT = 'pass a segmentation name';
    END IF;
    DELETE FROM @extschema@.segmentations s WHERE s.name = segmentation_drop.name;
    IF NOT FOUND THEN
        IF coalesce(if_exists, false) THEN
            RETURN false;
        END IF;
        RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('segmentation "%s" does not exist', name),
            HINT = 'see SELECT name FROM segmentations, or pass if_exists => true';
    END IF;
    DELETE FROM @extschema@.segment_members m WHERE m.segmentation = name;
    DELETE FROM @extschema@.segment_run_segments r WHERE r.segmentation = name;
    DELETE FROM @extschema@.segment_run_transitions t WHERE t.segmentation = name;
    DELETE FROM @extschema@.segment_runs r WHERE r.segmentation = name;
    EXECUTE format('DROP VIEW IF EXISTS @extschema@.%I', 'segment_input_' || name);
    RETURN true;
END
$$;
COMMENT ON FUNCTION segmentation_drop(text, boolean) IS
  'drops a segmentation with its run log, membership history and input view; true if it existed';

------------------------------------------------------------------------------
-- Refresh
------------------------------------------------------------------------------

-- No SET clause (search_path is pinned by qualifying every name instead):
-- PostgreSQL forbids COMMIT in procedures that have one.
CREATE PROCEDURE segment_refresh(
    name text,
    as_of timestamptz DEFAULT now(),
    INOUT run_id bigint DEFAULT NULL,
    INOUT status text DEFAULT NULL
)
LANGUAGE plpgsql SECURITY INVOKER
AS $proc$
DECLARE
    seg @extschema@.segmentations;
    in_block boolean;
    lock_key bigint;
    got_lock boolean;
    v_run bigint;
    prev_run bigint;
    v_phase text := 'start';
    label_expr text;
    metrics text;
    n_read bigint;
    n_rows bigint;
    run_psi float8;
    run_flags text[];
    n_segments integer;
    keep_from bigint;
    failed boolean := false;
    e_state text;
    e_msg text;
    e_detail text;
    e_hint text;
    e_constraint text;
BEGIN
    IF name IS NULL OR as_of IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'name and as_of must not be null',
            HINT = 'CALL segment_refresh(''name'') refreshes as of now()';
    END IF;
    SELECT * INTO seg FROM @extschema@.segmentations s WHERE s.name OPERATOR(pg_catalog.=) segment_refresh.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = pg_catalog.format('segmentation "%s" does not exist', name),
            HINT = 'create it with segmentation_create(); SELECT name FROM segmentations lists them';
    END IF;
    -- Privileges are checked before anything is logged: a clear 42501 instead
    -- of a failed run.
    IF NOT pg_catalog.has_any_column_privilege(seg.customers, 'SELECT') THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = pg_catalog.format('permission denied to read customers table %s of segmentation "%s"', seg.customers, name),
            HINT = 'segment_refresh runs with the caller''s rights: GRANT SELECT on the table to this role';
    END IF;
    IF seg.orders IS NOT NULL AND NOT pg_catalog.has_any_column_privilege(seg.orders, 'SELECT') THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = pg_catalog.format('permission denied to read orders table %s of segmentation "%s"', seg.orders, name),
            HINT = 'GRANT SELECT on the orders table to this role';
    END IF;
    IF NOT pg_catalog.has_table_privilege(
            pg_catalog.format('@extschema@.%I', 'segment_input_' OPERATOR(pg_catalog.||) name), 'SELECT') THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = pg_catalog.format('permission denied to read the input view segment_input_%s', name),
            HINT = pg_catalog.format('GRANT SELECT ON segment_input_%s to this role (the view reads the sources with the caller''s rights)', name);
    END IF;
    IF NOT pg_catalog.has_table_privilege('@extschema@.segment_members', 'INSERT, DELETE')
       OR NOT pg_catalog.has_table_privilege('@extschema@.segment_runs', 'INSERT, UPDATE, DELETE') THEN
        RAISE EXCEPTION USING ERRCODE = '42501',
            MESSAGE = 'permission denied to write the results of segment_refresh',
            HINT = 'GRANT INSERT, UPDATE, DELETE on segment_runs, segment_members, segment_run_segments, segment_run_transitions and USAGE on sequence segment_run_ids to this role (README "Segment operations")';
    END IF;

    in_block := @extschema@.segment_in_transaction_block();
    IF NOT in_block THEN
        -- Fails with 2D000 in an atomic context (CALL from inside a function)
        -- before any lock is taken.
        COMMIT;
    END IF;

    -- One refresh per segmentation at a time; the second one does not wait.
    lock_key := pg_catalog.hashtextextended('pg_segment.segment_refresh:' OPERATOR(pg_catalog.||) name, 0);
    IF in_block THEN
        got_lock := pg_catalog.pg_try_advisory_xact_lock(lock_key);
    ELSE
        got_lock := pg_catalog.pg_try_advisory_lock(lock_key);
    END IF;
    IF NOT got_lock THEN
        INSERT INTO @extschema@.segment_runs AS r (segmentation, as_of, status, phase, finished_at, duration, error)
        VALUES (name, as_of, 'skipped', 'start', pg_catalog.clock_timestamp(), interval '0',
                'another refresh of this segmentation was running')
        RETURNING r.run_id INTO v_run;
        run_id := v_run;
        status := 'skipped';
        RAISE NOTICE 'segment_refresh(%): skipped, another refresh of it is running', name;
        RETURN;
    END IF;

    -- We hold the lock, so a committed 'running' run of this segmentation has
    -- lost its backend (killed, or the server stopped): mark it abandoned.
    UPDATE @extschema@.segment_runs AS r
    SET status = 'abandoned', finished_at = pg_catalog.clock_timestamp(),
        error = 'the session running this refresh ended before it finished (found by run ' OPERATOR(pg_catalog.||) 'a later refresh)'
    WHERE r.segmentation OPERATOR(pg_catalog.=) name AND r.status OPERATOR(pg_catalog.=) 'running';

    INSERT INTO @extschema@.segment_runs AS r (segmentation, as_of, status, phase)
    VALUES (name, as_of, 'running', 'start')
    RETURNING r.run_id INTO v_run;
    run_id := v_run;
    IF NOT in_block THEN
        COMMIT; -- the run is visible as 'running' from here on
    END IF;

    BEGIN
        v_phase := 'labels';
        RAISE NOTICE 'segment_refresh(%): run %, computing labels (source %)', name, v_run, seg.label_source;
        PERFORM pg_catalog.set_config('pg_segment.as_of', as_of::text, true);
        SELECT max(r.run_id) INTO prev_run FROM @extschema@.segment_runs r
        WHERE r.segmentation OPERATOR(pg_catalog.=) name AND r.status OPERATOR(pg_catalog.=) 'succeeded';

        label_expr := CASE seg.label_source
            WHEN 'ruleset' THEN pg_catalog.format('@extschema@.segment_assign(%L, v)', seg.ruleset)
            WHEN 'kmeans' THEN '''cluster '' OPERATOR(pg_catalog.||) v.cluster::text'
            WHEN 'rfm' THEN 'v.rfm_segment::text'
            ELSE pg_catalog.format('v.%I::text', seg.label_column)
        END;
        metrics := CASE WHEN seg.orders IS NULL
            THEN 'NULL::float8 AS recency_days, NULL::float8 AS frequency, NULL::float8 AS monetary'
            ELSE 'v.recency_days::float8 AS recency_days, v.frequency::float8 AS frequency, v.monetary::float8 AS monetary' END;
        EXECUTE pg_catalog.format($q$
            WITH n AS MATERIALIZED (
                SELECT v.%I::text AS customer_key, %s AS segment, %s
                FROM @extschema@.%I v
            ), ins AS (
                INSERT INTO @extschema@.segment_members
                    (segmentation, run_id, customer_key, segment, since, recency_days, frequency, monetary)
                SELECT $1, $2, n.customer_key, n.segment,
                       CASE WHEN p.segment OPERATOR(pg_catalog.=) n.segment THEN p.since ELSE $3 END,
                       n.recency_days, n.frequency, n.monetary
                FROM n
                LEFT JOIN @extschema@.segment_members p
                  ON p.run_id OPERATOR(pg_catalog.=) $4 AND p.customer_key OPERATOR(pg_catalog.=) n.customer_key
                WHERE n.customer_key IS NOT NULL AND n.segment IS NOT NULL
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM n), (SELECT count(*) FROM ins)
        $q$, seg.customer_key, label_expr, metrics, 'segment_input_' OPERATOR(pg_catalog.||) name)
        USING name, v_run, as_of, prev_run
        INTO n_read, n_rows;

        v_phase := 'statistics';
        RAISE NOTICE 'segment_refresh(%): run %, % customers labelled, computing statistics', name, v_run, n_rows;
        INSERT INTO @extschema@.segment_run_segments AS t
            (run_id, segmentation, segment, size, share, prev_run_id, prev_size, prev_share, size_change, psi, flags,
             avg_recency_days, avg_frequency, avg_monetary)
        SELECT v_run, name, s.segment, s.size, s.share, prev_run, s.prev_size, s.prev_share,
               @extschema@.segment_size_change(s.prev_size, s.size),
               CASE WHEN prev_run IS NOT NULL THEN @extschema@.segment_psi(s.prev_share, s.share) END,
               @extschema@.segment_flags(s.prev_size, s.size, seg.max_size_change, seg.min_segment_size::bigint),
               s.avg_recency_days, s.avg_frequency, s.avg_monetary
        FROM (
            SELECT coalesce(c.segment, p.segment) AS segment,
                   coalesce(c.size, 0) AS size,
                   CASE WHEN n_rows OPERATOR(pg_catalog.>) 0
                        THEN coalesce(c.size, 0)::float8 OPERATOR(pg_catalog./) n_rows ELSE 0 END AS share,
                   CASE WHEN prev_run IS NOT NULL THEN coalesce(p.size, 0) END AS prev_size,
                   CASE WHEN prev_run IS NOT NULL THEN coalesce(p.share, 0) END AS prev_share,
                   c.avg_recency_days, c.avg_frequency, c.avg_monetary
            FROM (
                SELECT m.segment, count(*) AS size, avg(m.recency_days) AS avg_recency_days,
                       avg(m.frequency) AS avg_frequency, avg(m.monetary) AS avg_monetary
                FROM @extschema@.segment_members m
                WHERE m.run_id OPERATOR(pg_catalog.=) v_run
                GROUP BY m.segment
            ) c
            FULL JOIN (
                SELECT x.segment, x.size, x.share FROM @extschema@.segment_run_segments x
                WHERE x.run_id OPERATOR(pg_catalog.=) prev_run AND x.size OPERATOR(pg_catalog.>) 0
            ) p ON p.segment OPERATOR(pg_catalog.=) c.segment
        ) s;

        SELECT sum(t.psi), count(*) FILTER (WHERE t.size OPERATOR(pg_catalog.>) 0)
        INTO run_psi, n_segments
        FROM @extschema@.segment_run_segments t
        WHERE t.run_id OPERATOR(pg_catalog.=) v_run;
        SELECT coalesce(array_agg(DISTINCT f ORDER BY f), '{}')
        INTO run_flags
        FROM @extschema@.segment_run_segments t, pg_catalog.unnest(t.flags) AS f
        WHERE t.run_id OPERATOR(pg_catalog.=) v_run;
        IF run_psi OPERATOR(pg_catalog.>) seg.psi_threshold THEN
            run_flags := ARRAY['psi'] OPERATOR(pg_catalog.||) run_flags;
        END IF;

        IF prev_run IS NOT NULL THEN
            v_phase := 'transitions';
            INSERT INTO @extschema@.segment_run_transitions (run_id, segmentation, prev_run_id, from_segment, to_segment, customers)
            SELECT v_run, name, prev_run, p.segment, c.segment, count(*)
            FROM (SELECT m.customer_key, m.segment FROM @extschema@.segment_members m WHERE m.run_id OPERATOR(pg_catalog.=) v_run) c
            FULL JOIN (SELECT m.customer_key, m.segment FROM @extschema@.segment_members m WHERE m.run_id OPERATOR(pg_catalog.=) prev_run) p
              ON p.customer_key OPERATOR(pg_catalog.=) c.customer_key
            GROUP BY p.segment, c.segment;
        END IF;

        -- Retention: the newest keep_runs succeeded runs (this one included)
        -- keep their rows; older runs and their log rows go.
        v_phase := 'retention';
        SELECT min(k.run_id) INTO keep_from FROM (
            SELECT r.run_id FROM @extschema@.segment_runs r
            WHERE r.segmentation OPERATOR(pg_catalog.=) name
              AND (r.status OPERATOR(pg_catalog.=) 'succeeded' OR r.run_id OPERATOR(pg_catalog.=) v_run)
            ORDER BY r.run_id DESC LIMIT seg.keep_runs
        ) k;
        DELETE FROM @extschema@.segment_members m
        WHERE m.segmentation OPERATOR(pg_catalog.=) name AND m.run_id OPERATOR(pg_catalog.<) keep_from;
        DELETE FROM @extschema@.segment_run_segments t
        WHERE t.segmentation OPERATOR(pg_catalog.=) name AND t.run_id OPERATOR(pg_catalog.<) keep_from;
        DELETE FROM @extschema@.segment_run_transitions t
        WHERE t.segmentation OPERATOR(pg_catalog.=) name AND t.run_id OPERATOR(pg_catalog.<) keep_from;
        DELETE FROM @extschema@.segment_runs r
        WHERE r.segmentation OPERATOR(pg_catalog.=) name AND r.run_id OPERATOR(pg_catalog.<) keep_from
          AND r.status OPERATOR(pg_catalog.<>) 'running';

        v_phase := 'done';
        UPDATE @extschema@.segment_runs AS r
        SET status = 'succeeded', phase = 'done', finished_at = pg_catalog.clock_timestamp(),
            duration = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) r.started_at,
            rows = n_rows, unlabelled = n_read OPERATOR(pg_catalog.-) n_rows, segments = n_segments,
            psi = run_psi, flags = run_flags
        WHERE r.run_id OPERATOR(pg_catalog.=) v_run;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        -- Everything since the block began is rolled back; the variables are not.
        GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT,
            e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT, e_constraint = CONSTRAINT_NAME;
        failed := true;
    END;

    IF failed THEN
        IF e_state = '23505' AND e_constraint = 'segment_members_pkey' THEN
            e_state := '23505';
            e_msg := pg_catalog.format('customer key column "%s" of %s is not unique', seg.customer_key, seg.customers);
            e_hint := 'a segmentation needs one row per customer: use a unique key column, or a view with one row per key';
        END IF;
        UPDATE @extschema@.segment_runs AS r
        SET status = 'failed', phase = v_phase, finished_at = pg_catalog.clock_timestamp(),
            duration = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) r.started_at,
            error = e_msg
        WHERE r.run_id OPERATOR(pg_catalog.=) v_run;
        IF NOT in_block THEN
            COMMIT; -- keeps the 'failed' row; the error below ends the transaction after it
            PERFORM pg_catalog.pg_advisory_unlock(lock_key);
        END IF;
        run_id := v_run;
        status := 'failed';
        RAISE EXCEPTION USING ERRCODE = e_state, MESSAGE = e_msg,
            DETAIL = coalesce(nullif(e_detail, ''), pg_catalog.format('segment_refresh(%s) run %s failed in phase %s', name, v_run, v_phase)),
            HINT = coalesce(nullif(e_hint, ''), 'the run is logged as failed in segment_runs; the previous membership is unchanged');
    END IF;

    IF NOT in_block THEN
        COMMIT; -- readers switch to the new membership here, all at once
        PERFORM pg_catalog.pg_advisory_unlock(lock_key);
    END IF;
    run_id := v_run;
    status := 'succeeded';
    RAISE NOTICE 'segment_refresh(%): run % succeeded, % customers in % segments', name, v_run, n_rows, n_segments;
END
$proc$;
COMMENT ON PROCEDURE segment_refresh(text, timestamptz, bigint, text) IS
  'recomputes the membership of a segmentation as of as_of under a new run: logs it as running (committed), writes members, per-segment statistics, PSI, flags and transitions, then marks it succeeded in one commit; returns run_id and status (succeeded, or skipped when another refresh of the same segmentation holds its lock); on error marks the run failed and re-raises';

------------------------------------------------------------------------------
-- Views for BI tools: plain column types (text, bigint, float8, timestamptz),
-- flags as comma-separated text. They read the latest *succeeded* run, so a
-- refresh in progress, failed or killed never shows.
------------------------------------------------------------------------------

CREATE VIEW segment_latest_runs WITH (security_invoker = true) AS
SELECT r.segmentation, max(r.run_id) AS run_id
FROM segment_runs r
WHERE r.status = 'succeeded'
GROUP BY r.segmentation;
COMMENT ON VIEW segment_latest_runs IS 'the latest succeeded run of each segmentation (the one segment_membership and segment_summary show)';

CREATE VIEW segment_membership WITH (security_invoker = true) AS
SELECT m.segmentation, m.customer_key, m.segment, m.since
FROM segment_members m
JOIN segment_latest_runs l ON l.run_id = m.run_id;
COMMENT ON VIEW segment_membership IS
  'current segment of every labelled customer: segmentation, customer_key (text), segment, since (as_of of the run from which the customer has been in it), from the latest succeeded run';

CREATE VIEW segment_summary WITH (security_invoker = true) AS
SELECT t.segmentation, t.segment, t.size AS customers, t.share,
       t.prev_size AS previous_customers, t.size_change AS change,
       t.avg_recency_days, t.avg_frequency, t.avg_monetary,
       array_to_string(t.flags, ',') AS flags,
       r.run_id, r.as_of
FROM segment_run_segments t
JOIN segment_latest_runs l ON l.run_id = t.run_id
JOIN segment_runs r ON r.run_id = t.run_id
WHERE t.size > 0;
COMMENT ON VIEW segment_summary IS
  'segments of the latest succeeded run: customers, share of labelled customers, change against the previous run, average recency (days), frequency and monetary (NULL without orders), flags';

CREATE VIEW segment_history WITH (security_invoker = true) AS
SELECT t.segmentation, t.run_id, r.as_of, r.finished_at, t.segment, t.size AS customers, t.share,
       t.prev_run_id AS previous_run_id, t.prev_size AS previous_customers,
       t.size - t.prev_size AS change_customers, t.size_change AS change, t.psi,
       array_to_string(t.flags, ',') AS flags
FROM segment_run_segments t
JOIN segment_runs r ON r.run_id = t.run_id
WHERE r.status = 'succeeded';
COMMENT ON VIEW segment_history IS
  'per retained succeeded run per segment: customers, share, change against the previous succeeded run (absolute and relative), PSI term and flags';

CREATE VIEW segment_transitions WITH (security_invoker = true) AS
SELECT t.segmentation, t.run_id, r.as_of, t.prev_run_id AS previous_run_id, p.as_of AS previous_as_of,
       t.from_segment, t.to_segment, t.customers
FROM segment_run_transitions t
JOIN segment_runs r ON r.run_id = t.run_id
LEFT JOIN segment_runs p ON p.run_id = t.prev_run_id
WHERE r.status = 'succeeded';
COMMENT ON VIEW segment_transitions IS
  'migration matrix between each retained succeeded run and the one before it: customers moving from_segment -> to_segment (NULL from_segment: new member; NULL to_segment: no longer a member)';

CREATE VIEW segment_alerts WITH (security_invoker = true) AS
SELECT t.segmentation, t.run_id, r.as_of, t.segment, t.size AS customers, t.prev_size AS previous_customers,
       t.size_change AS change, t.share, t.psi, r.psi AS run_psi,
       array_to_string(t.flags, ',') AS flags
FROM segment_run_segments t
JOIN segment_latest_runs l ON l.run_id = t.run_id
JOIN segment_runs r ON r.run_id = t.run_id
WHERE cardinality(t.flags) > 0;
COMMENT ON VIEW segment_alerts IS
  'flagged segments of the latest succeeded run (new, gone, size_change above max_size_change, below_min_size), with the run PSI';

CREATE FUNCTION segment_transitions_between(name text, run_a bigint, run_b bigint)
RETURNS TABLE (from_segment text, to_segment text, customers bigint)
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY INVOKER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r bigint;
BEGIN
    IF name IS NULL OR run_a IS NULL OR run_b IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'name, run_a and run_b must not be null',
            HINT = 'pass a segmentation and two run ids from segment_runs';
    END IF;
    FOREACH r IN ARRAY ARRAY[run_a, run_b] LOOP
        IF NOT EXISTS (SELECT 1 FROM @extschema@.segment_runs x
                       WHERE x.run_id = r AND x.segmentation = name AND x.status = 'succeeded') THEN
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = format('run %s is not a retained succeeded run of segmentation "%s"', r, name),
                HINT = 'pick run ids from SELECT run_id FROM segment_runs WHERE status = ''succeeded''; keep_runs sets how many are retained';
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT a.segment, b.segment, count(*)
    FROM (SELECT m.customer_key, m.segment FROM @extschema@.segment_members m WHERE m.run_id = run_a) a
    FULL JOIN (SELECT m.customer_key, m.segment FROM @extschema@.segment_members m WHERE m.run_id = run_b) b
      ON a.customer_key = b.customer_key
    GROUP BY a.segment, b.segment
    ORDER BY a.segment NULLS FIRST, b.segment NULLS FIRST;
END
$$;
COMMENT ON FUNCTION segment_transitions_between(text, bigint, bigint) IS
  'customers per (from_segment in run_a, to_segment in run_b) for any two retained succeeded runs of a segmentation; NULL means not a member in that run';
