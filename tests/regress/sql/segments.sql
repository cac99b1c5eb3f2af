-- Segment operations (issue 7): definitions, refresh with history, drift and
-- flags, transitions, retention, failed runs, BI views, and every documented
-- bad input with its SQLSTATE. Expected values are computed by hand in the
-- comments. Run ids are shown relative to the first run (the sequence is shared).
CREATE SCHEMA segments_regress;
SET search_path = segments_regress, public;
SET client_min_messages = warning;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

CREATE TABLE customers (id integer, tier text, region text);
INSERT INTO customers VALUES
    (1, 'gold', 'n'), (2, 'gold', 'n'), (3, 'gold', 's'), (4, 'gold', 's'), (5, 'gold', 's'),
    (6, 'silver', 'n'), (7, 'silver', 'n'), (8, 'silver', 's'), (9, 'bronze', 's'), (10, NULL, 'n');

-- the definition returns its input view (the row type a ruleset would use)
SELECT segmentation_create('tiers', 'customers', 'id', label_column => 'tier',
                           keep_runs => 2, min_segment_size => 2, psi_threshold => 0.1);
SELECT name, customers, customer_key, label_source, label_column, keep_runs, max_size_change,
       min_segment_size, psi_threshold
FROM segmentations;
SELECT count(*) FROM segment_input_tiers;

-- run 1 as of 2024-01-01: gold 5, silver 3, bronze 1 of 9 labelled; customer 10 unlabelled
CALL segment_refresh('tiers', '2024-01-01 00:00+00');
SELECT status, phase, rows, unlabelled, segments, psi, flags, error, finished_at >= started_at AS timed
FROM segment_runs ORDER BY run_id;
-- shares 5/9 = 0.5556, 3/9 = 0.3333, 1/9 = 0.1111; bronze (1 < 2) is below_min_size
SELECT segment, customers, round(share::numeric, 4) AS share, previous_customers, change, flags
FROM segment_summary ORDER BY segment;
SELECT customer_key, segment, since FROM segment_membership ORDER BY customer_key::int;

-- run 2 as of 2024-02-01: 4 and 5 go silver, 9 goes gold, 10 becomes bronze
UPDATE customers SET tier = 'silver' WHERE id IN (4, 5);
UPDATE customers SET tier = 'gold' WHERE id = 9;
UPDATE customers SET tier = 'bronze' WHERE id = 10;
CALL segment_refresh('tiers', '2024-02-01 00:00+00');
-- gold 5 -> 4: change -0.2 (within 0.25); silver 3 -> 5: +0.6667 (size_change); bronze 1 -> 1
-- psi terms: gold (0.4 - 5/9) ln(0.4 / (5/9)) = 0.051101, silver (0.5 - 1/3) ln(1.5) = 0.067578,
--            bronze (0.1 - 1/9) ln(0.9) = 0.001171; run psi 0.119849 > 0.1 -> 'psi'
SELECT segment, customers, round(share::numeric, 4) AS share, previous_customers, change_customers,
       round(change::numeric, 4) AS change, round(psi::numeric, 6) AS psi, flags
FROM segment_history
WHERE run_id = (SELECT max(run_id) FROM segment_runs)
ORDER BY segment;
SELECT status, rows, unlabelled, segments, round(psi::numeric, 6) AS psi, flags
FROM segment_runs ORDER BY run_id;
-- since: unchanged segments keep 2024-01-01, movers get 2024-02-01
SELECT customer_key, segment, since FROM segment_membership ORDER BY customer_key::int;
-- migration matrix run 1 -> run 2
SELECT from_segment, to_segment, customers, previous_as_of, as_of
FROM segment_transitions ORDER BY from_segment NULLS FIRST, to_segment NULLS FIRST;
SELECT * FROM segment_transitions_between('tiers',
    (SELECT min(run_id) FROM segment_runs), (SELECT max(run_id) FROM segment_runs));
SELECT segment, customers, previous_customers, round(change::numeric, 4) AS change, flags
FROM segment_alerts ORDER BY segment;

-- a duplicate key fails the run: logged as failed with the error, membership unchanged
INSERT INTO customers VALUES (1, 'bronze', 'n');
\set VERBOSITY terse
CALL segment_refresh('tiers', '2024-03-01 00:00+00');
\set VERBOSITY default
SELECT status, phase, rows, error FROM segment_runs ORDER BY run_id DESC LIMIT 1;
SELECT segment, count(*) FROM segment_membership GROUP BY segment ORDER BY segment;

-- run 4 succeeds; keep_runs => 2 keeps runs 2 and 4 (run 1 and its log row go, the failed run stays)
DELETE FROM customers WHERE id = 1 AND tier = 'bronze';
UPDATE customers SET tier = 'gold' WHERE id = 10;
CALL segment_refresh('tiers', '2024-04-01 00:00+00');
SELECT run_id - (SELECT min(run_id) FROM segment_runs) AS run, status, rows FROM segment_runs ORDER BY run_id;
SELECT count(DISTINCT run_id) AS runs_with_members FROM segment_members;
SELECT count(DISTINCT run_id) AS runs_with_stats FROM segment_run_segments;
-- bronze emptied: listed once with size 0 and flagged gone (not in the summary, which lists live segments)
SELECT segment, customers, previous_customers, flags FROM segment_history
WHERE run_id = (SELECT max(run_id) FROM segment_runs) ORDER BY segment;
SELECT segment, customers FROM segment_summary ORDER BY segment;
SELECT customer_key, since FROM segment_membership WHERE segment = 'gold' ORDER BY customer_key::int;
-- transitions to an old run are gone with its membership
SELECT * FROM segment_transitions_between('tiers', (SELECT min(run_id) - 1 FROM segment_runs), (SELECT max(run_id) FROM segment_runs));

-- drift functions
SELECT round(segment_psi(0.5, 0.25)::numeric, 7) AS psi_half_to_quarter,
       round(segment_psi(0, 0.1)::numeric, 6) AS psi_new_segment,
       segment_psi(0.3, 0.3) AS psi_equal;
SELECT segment_size_change(100, 125), segment_size_change(100, 50), segment_size_change(0, 10);
SELECT segment_flags(NULL, 10, 0.25, 1), segment_flags(0, 3, 0.25, 1), segment_flags(8, 0, 0.25, 5),
       segment_flags(100, 125, 0.25, 1), segment_flags(100, 74, 0.25, 80);
SELECT segment_psi(0.1, 1.5);
SELECT segment_psi('NaN', 0.1);
SELECT segment_size_change(-1, 3);
SELECT segment_flags(1, NULL, 0.25, 1);
SELECT segment_flags(1, 2, -0.5, 1);

-- bad definitions
SELECT segmentation_create('tiers', 'customers', 'id', label_column => 'tier');
SELECT segmentation_create('Bad Name', 'customers', 'id', label_column => 'tier');
SELECT segmentation_create('x', 'no_such_table', 'id', label_column => 'tier');
SELECT segmentation_create('x', 'customers', 'no_such_key', label_column => 'tier');
SELECT segmentation_create('x', 'customers', 'id', label_column => 'no_such_label');
SELECT segmentation_create('x', 'customers', 'id');
SELECT segmentation_create('x', 'customers', 'id', label_column => 'tier', keep_runs => 0);
SELECT segmentation_create('x', 'customers', 'id', label_column => 'tier', max_size_change => 'NaN');
SELECT segmentation_create('x', 'customers', 'id', label_column => 'tier', min_segment_size => -1);
SELECT segmentation_create('x', 'customers', 'id', kmeans_model => 'm');
SELECT segmentation_create('x', 'customers', 'id', orders => 'customers', order_customer_key => 'id',
                           order_time => 'no_such_time');
SELECT segmentation_create(NULL, 'customers', 'id', label_column => 'tier');
SELECT count(*) AS definitions FROM segmentations;

-- bad refreshes
CALL segment_refresh('no_such_segmentation');
CALL segment_refresh(NULL);
CALL segment_refresh('tiers', NULL);

-- replace keeps the history; drop removes definition, history and input view
SELECT segmentation_create('tiers', 'customers', 'id', label_column => 'region', replace => true);
SELECT label_column, keep_runs FROM segmentations;
SELECT segmentation_drop('nope');
SELECT segmentation_drop('nope', if_exists => true);
SELECT segmentation_drop('tiers');
SELECT (SELECT count(*) FROM segmentations) AS definitions, (SELECT count(*) FROM segment_runs) AS runs,
       (SELECT count(*) FROM segment_members) AS members, (SELECT count(*) FROM segment_run_segments) AS stats,
       (SELECT count(*) FROM segment_run_transitions) AS transitions,
       to_regclass('segment_input_tiers') AS input_view;

RESET client_min_messages;
DROP SCHEMA segments_regress CASCADE;
