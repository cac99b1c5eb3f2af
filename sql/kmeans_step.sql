-- kmeans_step (issue 5): one Lloyd step as an aggregate, for refining a model
-- over a partitioned or distributed (Citus) table. The state is a bytea of
-- 128-bit fixed-point sums (src/kmeans/step.rs), summed as integers, so serial,
-- parallel and partitioned plans give identical results; it crosses to and
-- from parallel workers as it is (no serial/deserial pair needed).

CREATE TYPE kmeans_step_result AS (
    centroids double precision[],
    counts    bigint[],
    inertia   double precision,
    shift     double precision
);

CREATE FUNCTION kmeans_step_transition(state bytea, features real[], centroids double precision[])
RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'kmeans_step_transition_wrapper';

CREATE FUNCTION kmeans_step_transition(state bytea, features double precision[], centroids double precision[])
RETURNS bytea LANGUAGE c IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'kmeans_step_transition_wrapper';

CREATE FUNCTION kmeans_step_combine(a bytea, b bytea)
RETURNS bytea LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'kmeans_step_combine_wrapper';

CREATE FUNCTION kmeans_step_final(state bytea)
RETURNS kmeans_step_result LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'kmeans_step_final_wrapper';

CREATE AGGREGATE kmeans_step(features real[], centroids double precision[]) (
    SFUNC = kmeans_step_transition,
    STYPE = bytea,
    COMBINEFUNC = kmeans_step_combine,
    FINALFUNC = kmeans_step_final,
    PARALLEL = SAFE
);

CREATE AGGREGATE kmeans_step(features double precision[], centroids double precision[]) (
    SFUNC = kmeans_step_transition,
    STYPE = bytea,
    COMBINEFUNC = kmeans_step_combine,
    FINALFUNC = kmeans_step_final,
    PARALLEL = SAFE
);

COMMENT ON TYPE kmeans_step_result IS
  'one Lloyd step (kmeans_step): new centroids (k × d; a cluster without rows keeps its centroid), rows per cluster, inertia against the old centroids, and the sum of squared centroid moves';
COMMENT ON FUNCTION kmeans_step_transition(bytea, real[], double precision[]) IS
  'transition function of kmeans_step: adds a row to its nearest centroid''s fixed-point sums';
COMMENT ON FUNCTION kmeans_step_transition(bytea, double precision[], double precision[]) IS
  'transition function of kmeans_step (float8[] features)';
COMMENT ON FUNCTION kmeans_step_combine(bytea, bytea) IS
  'combine function of kmeans_step: adds two partial states (integer sums, so any order gives the same result)';
COMMENT ON FUNCTION kmeans_step_final(bytea) IS
  'final function of kmeans_step: the kmeans_step_result of a state';
COMMENT ON AGGREGATE kmeans_step(real[], double precision[]) IS
  'one Lloyd step over real[] vectors from the given k × d centroids: per-cluster counts and new centroids, identical in serial, parallel and partitioned plans';
COMMENT ON AGGREGATE kmeans_step(double precision[], double precision[]) IS
  'one Lloyd step over float8[] vectors from the given k × d centroids';
