-- segment_personas (issue 4): every segment described against all customers.
CREATE SCHEMA profile_personas_regress;
SET search_path = profile_personas_regress, public;

CREATE TABLE people (id int PRIMARY KEY, tier text, spend float8, orders int, city text, tags text[], joined date);
INSERT INTO people VALUES
    (1, 'gold',   100, 9, 'Boston', '{vip}',     '2024-01-01'),
    (2, 'gold',    80, 7, 'Boston', '{vip,eco}', '2024-01-02'),
    (3, 'gold',    93, 8, 'Austin', '{}',        '2024-01-03'),
    (4, 'bronze',  10, 1, 'Austin', NULL,        '2024-01-04'),
    (5, 'bronze', NULL, 2, 'Austin', '{eco}',    '2024-01-05'),
    (6, 'bronze',  20, 1, NULL,     '{}',        '2024-01-06'),
    (7, NULL,      50, 4, 'Denver', '{}',        '2024-01-07');

\x on
SELECT * FROM segment_personas('people', 'tier', 'id');
\x off

-- the plain-column form for BI tools
SELECT segment, attribute, kind, value, customers, round(share::numeric, 4) AS share,
       round(lift::numeric, 4) AS lift, mean, median, round(std_diff::numeric, 4) AS std_diff
FROM segment_persona_attributes('people', 'tier', 'id', ARRAY['spend', 'city'])
ORDER BY segment NULLS LAST, attribute, value NULLS FIRST;

-- representatives in a profile's vector space
SELECT profile_fit('personas_regress', 'people', '{"features": [{"column": "spend"}, {"column": "orders"}]}') AS dimensions;
SELECT segment, representative FROM segment_personas('people', 'tier', 'id', profile => 'personas_regress') ORDER BY segment;
SELECT profile_drop('personas_regress');

-- bad input
SELECT * FROM segment_personas('people', 'nope');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segment_personas('people', 'tier', 'nope');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segment_personas('people', 'tier', 'id', ARRAY['nope']);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segment_personas('people', 'tier', 'id', ARRAY['tier']);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segment_personas('people', 'tier', 'id', profile => 'nope');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segment_personas(NULL, 'tier');
\echo :LAST_ERROR_SQLSTATE
CREATE TABLE nobody (id int, tier text);
SELECT count(*) AS personas FROM segment_personas('nobody', 'tier', 'id');

RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA profile_personas_regress CASCADE;
RESET client_min_messages;
