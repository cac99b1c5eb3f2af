-- rfm_breaks / rfm_score (issue 3): exact quantile cut points and scores.
-- The state of rfm_breaks is a bytea of the values, appended in place; it
-- crosses to parallel workers as it is (combine concatenates).

CREATE FUNCTION rfm_breaks_step(state bytea, value double precision, bins integer)
RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'rfm_breaks_step_wrapper';

CREATE FUNCTION rfm_breaks_combine(a bytea, b bytea)
RETURNS bytea LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'rfm_breaks_combine_wrapper';

CREATE FUNCTION rfm_breaks_final(state bytea)
RETURNS double precision[] LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'rfm_breaks_final_wrapper';

CREATE AGGREGATE rfm_breaks(value double precision, bins integer) (
    SFUNC = rfm_breaks_step, STYPE = bytea,
    COMBINEFUNC = rfm_breaks_combine, FINALFUNC = rfm_breaks_final,
    PARALLEL = SAFE);

CREATE FUNCTION rfm_score(value double precision, breaks double precision[], reverse boolean DEFAULT false)
RETURNS integer LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'rfm_score_wrapper';

COMMENT ON FUNCTION rfm_breaks_step(bytea, double precision, integer) IS
  'transition function of rfm_breaks: appends one value (NULLs skipped)';
COMMENT ON FUNCTION rfm_breaks_combine(bytea, bytea) IS
  'combine function of rfm_breaks: concatenates two partial states (parallel workers)';
COMMENT ON FUNCTION rfm_breaks_final(bytea) IS
  'final function of rfm_breaks: the exact cut points, with a NOTICE when ties leave scores empty';
COMMENT ON AGGREGATE rfm_breaks(double precision, integer) IS
  'exact quantile cut points (bins - 1 of them) for rfm_score: equal to NTILE(bins) for distinct values, ties always share a score; NULLs skipped, no values gives NULL';
COMMENT ON FUNCTION rfm_score(double precision, double precision[], boolean) IS
  'score 1..n+1 of a value given n ascending cut points (rfm_breaks or business thresholds, each the inclusive upper bound of its score); reverse => true scores the smallest values highest (recency)';
