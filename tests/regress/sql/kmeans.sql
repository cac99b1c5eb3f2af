-- k-means (issue 5): kmeans_fit, the kmeans_models catalog, kmeans_assign and
-- its distance variant, kmeans_select_k, the kmeans_step aggregate, and every
-- documented bad input with its SQLSTATE.
CREATE SCHEMA kmeans_regress;
SET search_path = kmeans_regress, public;

-- two pairs of points and a NULL row: (0,0) (0,1) | (10,0) (10,1)
CREATE TABLE points (id int, f real[], g float8[]);
INSERT INTO points VALUES
    (1, '{0,0}',  '{0,0}'),
    (2, '{0,1}',  '{0,1}'),
    (3, '{10,0}', '{10,0}'),
    (4, '{10,1}', '{10,1}'),
    (5, NULL,     NULL);

-- from given centroids one step reaches (0,0.5) and (10,0.5); inertia = 4 × 0.25
SELECT model, k, dims, rows, inertia, iterations, converged
FROM kmeans_fit('pairs', 'points', 'f', 2, init_centroids => ARRAY[[0,0],[10,0]]);
SELECT name, relation, features, profile, k, dims, centroids, sizes, inertia, iterations, converged,
       rows_fitted, rows_skipped, options - 'threads' AS options
FROM kmeans_models;

-- assignment: clusters are numbered 1..k, ties go to the lower one
SELECT id, kmeans_assign('pairs', f) AS by_real, kmeans_assign('pairs', g) AS by_float8,
       kmeans_assign_with_distance('pairs', f) AS with_distance
FROM points ORDER BY id;
SELECT kmeans_assign('pairs', '{5,0.5}'::real[]) AS tie, (kmeans_assign_with_distance('pairs', '{13,4.5}'::float8[])).*;

-- k-means++ (the default) finds the same optimum; float8[] columns work too
SELECT k, inertia, converged FROM kmeans_fit('pairs_pp', 'points', 'g', 2, seed => 3, n_init => 4);
SELECT centroids = '{{0,0.5},{10,0.5}}' OR centroids = '{{10,0.5},{0,0.5}}' AS same_optimum
FROM kmeans_models WHERE name = 'pairs_pp';
-- random init, and k = 1 on constant data
SELECT k, inertia FROM kmeans_fit('pairs_random', 'points', 'f', 2, init => 'random', seed => 1, n_init => 5);
CREATE TABLE constant AS SELECT '{7,7}'::real[] AS f FROM generate_series(1, 5);
SELECT k, rows, inertia, converged FROM kmeans_fit('constant', 'constant', 'f', 1);

-- refit replaces the model atomically (new version, one row)
SELECT version AS v1 FROM kmeans_models WHERE name = 'pairs' \gset
SELECT iterations FROM kmeans_fit('pairs', 'points', 'f', 2, init_centroids => ARRAY[[10,0],[0,0]]);
SELECT count(*), bool_and(version > :v1) AS new_version, min(centroids::text) AS centroids
FROM kmeans_models WHERE name = 'pairs';
SELECT kmeans_assign('pairs', '{0,0}'::real[]) AS now_cluster_2;

-- choosing k on three separated groups of 30 points
CREATE TABLE groups AS
SELECT i, ARRAY[(i % 3) * 10 + (i % 5) * 0.1, (i % 3) * 10 - (i % 7) * 0.1]::real[] AS f
FROM generate_series(1, 90) i;
SELECT k, round(inertia::numeric, 4) AS inertia, round(silhouette::numeric, 4) AS silhouette,
       round(calinski_harabasz::numeric, 1) AS calinski_harabasz, round(davies_bouldin::numeric, 4) AS davies_bouldin, suggested
FROM kmeans_select_k('groups', 'f', 1, 5) ORDER BY k;
-- a row with NULL features is skipped: not counted among the rows sampled from
SELECT count(*) FROM kmeans_select_k('points', 'f', 1, 2);

-- one Lloyd step as an aggregate: counts and new centroids from given centroids
SELECT (s).centroids, (s).counts, (s).inertia, (s).shift
FROM (SELECT kmeans_step(f, ARRAY[[0,0],[10,0],[50,50]]) AS s FROM points) t;
SELECT kmeans_step(g, ARRAY[[0,0],[10,0]]) FROM points WHERE id > 100;

-- drop
SELECT kmeans_drop('pairs_random');
SELECT kmeans_drop('pairs_random', if_exists => true);

-- bad input
CREATE TABLE null_element (f real[]);
INSERT INTO null_element VALUES ('{1,2}'), ('{3,NULL}');
SELECT kmeans_fit('bad', 'null_element', 'f', 1);
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE not_finite (f float8[]);
INSERT INTO not_finite VALUES ('{1,2}'), ('{NaN,2}');
SELECT kmeans_fit('bad', 'not_finite', 'f', 1);
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE mixed (f real[]);
INSERT INTO mixed VALUES ('{1,2}'), ('{1,2,3}');
SELECT kmeans_fit('bad', 'mixed', 'f', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_fit('bad', 'points', 'f', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_fit('bad', 'points', 'f', 5);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_fit('bad', 'constant', 'f', 2);
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE empty (f real[]);
SELECT kmeans_fit('bad', 'empty', 'f', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_fit('bad', 'points', 'nope', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_fit('bad', 'points', 'id', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_fit('bad', 'points', 'f', 2, init_centroids => ARRAY[[0,0,0]]);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_fit('bad', 'points', 'f', 2, tol => -1);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_fit('bad', 'points', NULL, 2);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_assign('nope', '{1,2}'::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_assign('pairs', '{1,2,3}'::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_assign('pairs', '{1,NaN}'::real[]);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_assign('pairs', p) FROM points p LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_drop('nope');
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_select_k('groups', 'f', 4, 2);
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_step(f, ARRAY[1,2]::float8[]) FROM points;
\echo :LAST_ERROR_SQLSTATE
SELECT kmeans_step(f, ARRAY[[1,2,3]]::float8[]) FROM points;
\echo :LAST_ERROR_SQLSTATE
-- k × d too large for the memory limit
ANALYZE groups;
SET pg_segment.kmeans_memory_limit = '1MB';
SELECT kmeans_fit('bad', 'groups', 'f', 100000);
\echo :LAST_ERROR_SQLSTATE
RESET pg_segment.kmeans_memory_limit;

SELECT name FROM kmeans_models ORDER BY name;
SELECT count(kmeans_drop(name)) AS dropped FROM kmeans_models;
RESET search_path;
DROP SCHEMA kmeans_regress CASCADE;
