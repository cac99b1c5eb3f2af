-- Segment rules (issue 6): rulesets, segment_assign / matches / explain,
-- segment_ruleset_check, references, versions, and every documented error
-- with its SQLSTATE and position.
CREATE SCHEMA rules_regress;
SET search_path = rules_regress, public;
\set VERBOSITY default

CREATE TABLE customers (
    customer_id   bigint PRIMARY KEY,
    monetary      numeric(10,2),
    orders        integer,
    last_order_at timestamptz,
    city          text,
    tags          text[],
    opt_in        boolean
);
-- now() is the transaction start; fixed dates keep the output stable.
INSERT INTO customers VALUES
    (1, 1500.00, 12, '2024-06-10', 'Boston', '{vip}',     true),
    (2,  200.00,  3, '2023-01-01', 'Austin', '{}',        false),
    (3,    NULL,  1, '2024-06-01', NULL,     NULL,        NULL),
    (4,   50.00,  0, NULL,         'Boise',  '{new,eco}', false),
    (5,  300.00,  5, '2024-03-01', 'Denver', '{vip,eco}', true);

SELECT segment_ruleset_create('lifecycle', '[
    {"segment": "VIP",     "when": "monetary >= 1000 AND last_order_at >= timestamptz ''2024-06-15'' - interval ''90 days''"},
    {"segment": "Dormant", "when": "last_order_at < ''2024-06-15''::date - 180"},
    {"segment": "Active",  "when": "last_order_at >= timestamptz ''2024-06-15'' - interval ''90 days''"},
    {"segment": "Green",   "when": "''eco'' = ANY(tags) OR city LIKE ''B%''"}
]', default_segment => 'Other', input => 'customers'::regtype) > 0 AS created;

SELECT name, rules -> 0 ->> 'segment' AS first, default_segment, input, depends_on,
       attributes ->> 'monetary' AS monetary_type
FROM segment_rulesets;

SELECT customer_id, segment_assign('lifecycle', c), segment_matches('lifecycle', c)
FROM customers c ORDER BY customer_id;

-- jsonb customers: absent keys are NULL
SELECT segment_assign('lifecycle', '{"monetary": 2000, "last_order_at": "2024-06-01"}'::jsonb) AS vip,
       segment_assign('lifecycle', '{"city": "Bristol"}'::jsonb) AS green,
       segment_assign('lifecycle', '{}'::jsonb) AS other,
       segment_assign('lifecycle', NULL::customers) AS null_row;

-- why customer 5 is Green: each earlier rule, its values and failed conditions
SELECT jsonb_pretty(segment_explain('lifecycle', c)) FROM customers c WHERE customer_id = 5;

SELECT * FROM segment_ruleset_check('lifecycle', 'customers');

-- a ruleset over an explicit attribute list, referencing another ruleset
SELECT segment_ruleset_create('campaign', '[
    {"segment": "Win back VIP", "when": "segment(''lifecycle'') = ''Dormant'' AND monetary > 100"},
    {"segment": "Newsletter",   "when": "opt_in IS TRUE"}
]', attributes => '{"monetary": "numeric", "opt_in": "boolean"}') > 0 AS created;
SELECT customer_id, segment_assign('campaign', c) FROM customers c ORDER BY customer_id;
SELECT depends_on FROM segment_rulesets WHERE name = 'campaign';

-- replace bumps the version
CREATE TEMP TABLE v AS SELECT version FROM segment_rulesets WHERE name = 'lifecycle';
SELECT segment_ruleset_create('lifecycle', '[{"segment": "Big", "when": "monetary BETWEEN 250 AND 5000"},
                                             {"segment": "Dormant", "when": "orders = 3"}]',
                              'Small', 'customers', replace => true) > (SELECT version FROM v) AS bumped;
SELECT customer_id, segment_assign('lifecycle', c) FROM customers c ORDER BY customer_id;

-- errors
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "monetry >= 1000"}]', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "orders > 1"}, {"segment": "B", "when": "orders > 1 AND city >= 10"}]', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "orders > (SELECT 1)"}]', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "pg_sleep(10) IS NULL"}]', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "orders > 1; DROP TABLE customers"}]', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "orders >"}]', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "city::regclass IS NULL"}]', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "orders + 1"}]', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', format('[{"segment": "A", "when": "%s orders > 1 %s"}]', repeat('(', 10000), repeat(')', 10000))::jsonb, input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "segment(''bad'') = ''A''"}]', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('lifecycle', '[{"segment": "A", "when": "segment(''campaign'') = ''A''"}]', input => 'customers', replace => true);
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('lifecycle', '[{"segment": "A", "when": "true"}]', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '{"segment": "A"}', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "true"}]');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "x"}]', attributes => '{"x": "jsonb"}');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('bad', '[{"segment": "A", "when": "true"}]', input => 'integer');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create(NULL, '[]', input => 'customers');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_assign('nope', c) FROM customers c;
\echo :LAST_ERROR_SQLSTATE
SELECT segment_assign('lifecycle', 42);
\echo :LAST_ERROR_SQLSTATE
SELECT segment_assign('lifecycle', '{"monetary": "lots"}'::jsonb);
\echo :LAST_ERROR_SQLSTATE
SELECT segment_assign('lifecycle', r) FROM (SELECT 1 AS customer_id, 'x'::text AS orders) r;
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_create('ratio', '[{"segment": "R", "when": "monetary / orders > 100"}]', input => 'customers') > 0 AS created;
SELECT segment_assign('ratio', c) FROM customers c;
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_drop('lifecycle');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM segment_ruleset_check('ratio', 'pg_class_oid_index');
\echo :LAST_ERROR_SQLSTATE

-- drop
SELECT segment_ruleset_drop('campaign'), segment_ruleset_drop('campaign', if_exists => true);
SELECT segment_ruleset_drop('campaign');
\echo :LAST_ERROR_SQLSTATE
SELECT segment_ruleset_drop('lifecycle'), segment_ruleset_drop('ratio');
SELECT count(*) FROM segment_rulesets;

DROP SCHEMA rules_regress CASCADE;
