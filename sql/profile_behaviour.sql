-- behaviour_agg (issue 4): behaviour features of a customer from an events
-- table, as of a point in time. The state is a bytea updated in place (see
-- src/profile/behaviour/state.rs); it crosses to and from parallel workers as
-- it is, so the aggregate is PARALLEL SAFE with a combine function and needs no
-- serial/deserial pair.

CREATE TYPE behaviour AS (
    as_of              timestamptz,
    events             bigint,
    events_7d          bigint,
    events_30d         bigint,
    events_90d         bigint,
    orders             bigint,
    orders_7d          bigint,
    orders_30d         bigint,
    orders_90d         bigint,
    visits             bigint,
    visits_7d          bigint,
    visits_30d         bigint,
    visits_90d         bigint,
    conversion         double precision,
    conversion_90d     double precision,
    active_days        integer,
    active_days_30d    integer,
    first_event_at     timestamptz,
    last_event_at      timestamptz,
    days_since_last    integer,
    favourite_category text,
    favourite_share    double precision,
    peak_hour          integer,
    top_channel        text,
    channel_mix        jsonb,
    event_counts       jsonb
);

-- STABLE: local days and hours follow the session TimeZone.
CREATE FUNCTION behaviour_agg_step(state bytea, occurred_at timestamptz, event_type text,
                                   category text, channel text, as_of timestamptz)
RETURNS bytea LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'behaviour_agg_step_wrapper';

CREATE FUNCTION behaviour_agg_combine(a bytea, b bytea)
RETURNS bytea LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'behaviour_agg_combine_wrapper';

CREATE FUNCTION behaviour_agg_final(state bytea)
RETURNS behaviour LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'behaviour_agg_final_wrapper';

CREATE AGGREGATE behaviour_agg(occurred_at timestamptz, event_type text, category text,
                               channel text, as_of timestamptz) (
    SFUNC = behaviour_agg_step,
    STYPE = bytea,
    COMBINEFUNC = behaviour_agg_combine,
    FINALFUNC = behaviour_agg_final,
    PARALLEL = SAFE
);

COMMENT ON TYPE behaviour IS
  'behaviour features of one customer as of a point in time (behaviour_agg): event, order and visit counts over all time and the last 7/30/90 days, conversion, active days, recency, favourite category, peak hour, channel mix';
COMMENT ON FUNCTION behaviour_agg_step(bytea, timestamptz, text, text, text, timestamptz) IS
  'transition function of behaviour_agg: adds one event to the state (events after as_of are ignored)';
COMMENT ON FUNCTION behaviour_agg_combine(bytea, bytea) IS
  'combine function of behaviour_agg: merges two partial states of the same as_of (parallel workers)';
COMMENT ON FUNCTION behaviour_agg_final(bytea) IS
  'final function of behaviour_agg: the behaviour row of a state';
COMMENT ON AGGREGATE behaviour_agg(timestamptz, text, text, text, timestamptz) IS
  'behaviour features of a customer from events (occurred_at, event_type, category, channel) as of a point in time; event types ''order'' and ''visit'' drive the order, visit and conversion columns';
