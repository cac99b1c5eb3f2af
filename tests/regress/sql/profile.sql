-- Customer profiles (issue 4): profile_fit, profile_vector, profile_layout,
-- refit and drop, and every documented bad input with its SQLSTATE.
CREATE SCHEMA profile_regress;
SET search_path = profile_regress, public;

CREATE TABLE customers (
    customer_id bigint PRIMARY KEY,
    age         integer,
    spend       numeric(10,2),
    city        text,
    opt_in      boolean,
    tags        text[],
    signup      date,
    gender      char(2),
    constant    integer,
    nothing     float8
);
INSERT INTO customers VALUES
    (1, 25, 100.00, 'Boston',  true,  '{vip,eco}',  '2024-01-01', 'F', 7, NULL),
    (2, 35,  20.00, 'Austin',  false, '{eco}',      '2024-02-01', 'M', 7, NULL),
    (3, 45,   NULL, 'Boston',  NULL,  NULL,         '2024-03-01', NULL, 7, NULL),
    (4, NULL, 60.00, 'Chicago', true, '{}',         '2024-04-01', 'F', 7, NULL),
    (5, 55, 300.00, NULL,      false, '{vip,NULL}', '2024-05-01', 'M', 7, NULL);

-- every kind of feature; age: z-score after mean imputation (mean 40, std 10)
SELECT profile_fit('regress', 'customers', '{"features": [
    {"column": "age"},
    {"column": "spend", "transform": ["log1p", "zscore"], "clip": [-1.5, 1.5]},
    {"column": "city", "top": 1},
    {"column": "opt_in"},
    {"column": "tags"},
    {"column": "gender", "missing": "constant", "fill_value": "unknown", "other": false}
]}') AS dimensions;

SELECT position, feature, source, kind, value, transform FROM profile_layout('regress') ORDER BY position;
SELECT statistics FROM profile_layout('regress') WHERE feature IN ('age', 'city=Boston', 'gender=unknown') ORDER BY position;
SELECT customer_id, profile_vector('regress', c) FROM customers c ORDER BY customer_id;
SELECT name, relation, features, dimensions, rows_fitted FROM profile_specs WHERE name = 'regress';

-- the jsonb overload: missing keys are NULL; an unseen city goes to 'other'
SELECT profile_vector('regress', '{"age": 40, "city": "Paris", "tags": ["vip", "new"], "gender": "X"}'::jsonb);
-- a NULL customer row gives NULL
SELECT profile_vector('regress', NULL::customers) IS NULL AS null_row;
-- a view with the same column names, in another order, gives the same vectors
CREATE VIEW customers_v AS SELECT gender, tags, opt_in, city, spend, age, customer_id FROM customers;
SELECT bool_and(profile_vector('regress', v) = profile_vector('regress', c)) AS same
FROM customers_v v JOIN customers c USING (customer_id);

-- zero variance: a constant column and an all-NULL column give 0, never NaN
SELECT profile_fit('regress_flat', 'customers', '{"features": [
    {"column": "constant", "transform": "zscore"},
    {"column": "constant", "name": "constant_minmax", "transform": "minmax"},
    {"column": "nothing", "transform": "robust"}
]}') AS dimensions;
SELECT DISTINCT profile_vector('regress_flat', c) FROM customers c;

-- unseen categories: "other" position, ignored, or an error
SELECT profile_fit('regress_unseen', 'customers', '{"features": [
    {"column": "city", "name": "to_other"},
    {"column": "city", "name": "ignored", "other": false},
    {"column": "city", "name": "strict", "unseen": "error", "other": false}
]}') AS dimensions;
SELECT profile_vector('regress_unseen', '{"city": "Austin"}'::jsonb);
SELECT profile_vector('regress_unseen', '{"city": "Paris"}'::jsonb);
\echo :LAST_ERROR_SQLSTATE

-- "missing": "error" refuses NULLs at fit time and at vector time
SELECT profile_fit('regress_strict', 'customers', '{"features": [{"column": "age", "missing": "error"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('regress_strict', 'customers', '{"features": [{"column": "customer_id", "missing": "error"}]}') AS dimensions;
SELECT profile_vector('regress_strict', '{}'::jsonb);
\echo :LAST_ERROR_SQLSTATE

-- a refit replaces the stored transform atomically and gets a new fit_id
SELECT fit_id AS first_fit FROM profile_specs WHERE name = 'regress_strict' \gset
SELECT profile_fit('regress_strict', 'customers', '{"features": [{"column": "customer_id", "transform": "minmax"}]}') AS dimensions;
SELECT fit_id <> :first_fit AS new_fit_id, spec FROM profile_specs WHERE name = 'regress_strict';
SELECT customer_id, profile_vector('regress_strict', c) FROM customers c ORDER BY 1;
SELECT profile_refit('regress_strict') AS dimensions;

-- bad specs
SELECT profile_fit('bad', 'customers', '{"features": [{"column": "income"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'customers', '{"features": [{"column": "city", "type": "numeric"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'customers', '{"features": [{"column": "signup"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'customers', '{"features": [{"column": "age", "transform": "sqrt"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'customers', '{"features": [{"column": "age", "scale": 2}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'customers', '{"features": [{"column": "city", "missing": "mean"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'customers', '{"columns": ["age"]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'customers', '"age"');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'customers', '{"features": [age]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'customers', '{"features": [age]}'::jsonb);
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'customers', '{"features": [{"column": "spend", "transform": "log1p"}, {"column": "spend"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'customers_pkey', '{"features": [{"column": "age"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit('bad', 'no_such_table', '{"features": [{"column": "age"}]}');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_fit(NULL, 'customers', '{"features": [{"column": "age"}]}');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE nobody (age integer);
SELECT profile_fit('bad', 'nobody', '{"features": [{"column": "age"}]}');
\echo :LAST_ERROR_SQLSTATE
SET pg_segment.profile_max_categories = 2;
SELECT profile_fit('bad', 'customers', '{"features": [{"column": "city"}]}');
\echo :LAST_ERROR_SQLSTATE
RESET pg_segment.profile_max_categories;
SELECT count(*) AS bad_profiles FROM profile_specs WHERE name = 'bad';

-- bad vector calls
SELECT profile_vector('nope', c) FROM customers c;
\echo :LAST_ERROR_SQLSTATE
SELECT profile_vector(NULL, c) FROM customers c;
\echo :LAST_ERROR_SQLSTATE
SELECT profile_vector('regress', 42);
\echo :LAST_ERROR_SQLSTATE
SELECT profile_vector('regress', t) FROM (SELECT 1 AS age) t;
\echo :LAST_ERROR_SQLSTATE
SELECT profile_vector('regress', t) FROM (SELECT age, spend::text AS spend, city, opt_in, tags, gender FROM customers) t;
\echo :LAST_ERROR_SQLSTATE
SELECT profile_vector('regress', '{"age": "old"}'::jsonb);
\echo :LAST_ERROR_SQLSTATE
SELECT profile_vector('regress', '[1, 2]'::jsonb);
\echo :LAST_ERROR_SQLSTATE
SELECT profile_vector('regress', '{"age": 1e300}'::jsonb);
\echo :LAST_ERROR_SQLSTATE

-- drop
SELECT profile_drop('nope');
\echo :LAST_ERROR_SQLSTATE
SELECT profile_drop('nope', if_exists => true) AS dropped;
SELECT profile_drop(name) AS dropped FROM profile_specs WHERE name LIKE 'regress%' ORDER BY name;
SELECT count(*) AS left_over FROM profile_specs;

RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA profile_regress CASCADE;
RESET client_min_messages;
