-- rfm_agg (issue 3): one customer's orders summarised as of a point in time.
-- The state is a bytea updated in place (src/rfm/state.rs); it crosses to and
-- from parallel workers as it is, so the aggregate is PARALLEL SAFE with a
-- combine function and needs no serial/deserial pair. One C transition
-- function serves every signature (it reads its argument types).

CREATE TYPE rfm AS (
    first_order_at      timestamptz,
    last_order_at       timestamptz,
    recency_days        double precision,
    frequency           bigint,
    monetary            numeric,
    avg_order_value     numeric,
    tenure_days         double precision,
    btyd_frequency      integer,
    btyd_recency        double precision,
    btyd_t              double precision,
    btyd_monetary_value double precision
);

CREATE FUNCTION rfm_agg_combine(a bytea, b bytea)
RETURNS bytea LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'rfm_agg_combine_wrapper';

-- STABLE: timestamp (without time zone) results are read in the session TimeZone.
CREATE FUNCTION rfm_agg_final(state bytea)
RETURNS rfm LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'rfm_agg_final_wrapper';

COMMENT ON TYPE rfm IS
  'RFM summary of one customer as of a point in time (rfm_agg): first/last order, recency in days, frequency (orders), monetary total and average, tenure in days, and the BTYD fields of lifetimes'' summary_data_from_transaction_data(freq=''D'')';
COMMENT ON FUNCTION rfm_agg_combine(bytea, bytea) IS
  'combine function of rfm_agg: merges two partial states of the same as_of (parallel workers)';
COMMENT ON FUNCTION rfm_agg_final(bytea) IS
  'final function of rfm_agg: the rfm row of a state';

-- For every order time type and amount type: a transition function and two
-- aggregates, rfm_agg(occurred_at, amount, as_of) and rfm_agg(occurred_at, amount)
-- (as_of = the transaction's start: now() / localtimestamp).
-- STABLE: local calendar days follow the session TimeZone; as_of defaults to now().
DO $do$
DECLARE
    ts text;
    amount text;
BEGIN
    FOREACH ts IN ARRAY ARRAY['timestamptz', 'timestamp'] LOOP
        FOREACH amount IN ARRAY ARRAY['numeric', 'double precision', 'bigint', 'integer'] LOOP
            EXECUTE format($f$
                CREATE FUNCTION rfm_agg_step(state bytea, occurred_at %1$s, amount %2$s, as_of %1$s)
                RETURNS bytea LANGUAGE c STABLE PARALLEL SAFE
                AS 'MODULE_PATHNAME', 'rfm_agg_step_wrapper';
                CREATE FUNCTION rfm_agg_step(state bytea, occurred_at %1$s, amount %2$s)
                RETURNS bytea LANGUAGE c STABLE PARALLEL SAFE
                AS 'MODULE_PATHNAME', 'rfm_agg_step_wrapper';
                CREATE AGGREGATE rfm_agg(occurred_at %1$s, amount %2$s, as_of %1$s) (
                    SFUNC = rfm_agg_step, STYPE = bytea,
                    COMBINEFUNC = rfm_agg_combine, FINALFUNC = rfm_agg_final,
                    PARALLEL = SAFE);
                CREATE AGGREGATE rfm_agg(occurred_at %1$s, amount %2$s) (
                    SFUNC = rfm_agg_step, STYPE = bytea,
                    COMBINEFUNC = rfm_agg_combine, FINALFUNC = rfm_agg_final,
                    PARALLEL = SAFE);
                COMMENT ON FUNCTION rfm_agg_step(bytea, %1$s, %2$s, %1$s) IS
                  'transition function of rfm_agg: adds one order to the state (orders after as_of are ignored)';
                COMMENT ON FUNCTION rfm_agg_step(bytea, %1$s, %2$s) IS
                  'transition function of rfm_agg without as_of: adds one order (orders after the transaction start are ignored)';
                COMMENT ON AGGREGATE rfm_agg(%1$s, %2$s, %1$s) IS
                  'RFM summary (type rfm) of one customer''s orders (occurred_at, amount) as of a point in time; orders after as_of are ignored';
                COMMENT ON AGGREGATE rfm_agg(%1$s, %2$s) IS
                  'RFM summary (type rfm) of one customer''s orders (occurred_at, amount) as of now(); orders after it are ignored';
            $f$, ts, amount);
        END LOOP;
    END LOOP;
END
$do$;
