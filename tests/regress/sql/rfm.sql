-- RFM (issue 3): rfm_agg, rfm_breaks, rfm_score, segment maps, rfm_segments,
-- and every documented bad input with its result or SQLSTATE.
CREATE SCHEMA rfm_regress;
SET search_path = rfm_regress, public;
SET TimeZone = 'UTC';

CREATE TABLE orders (customer_id bigint, ordered_at timestamptz, amount numeric(10,2));
INSERT INTO orders VALUES
    (1, '2025-01-01 08:00', 10.00), (1, '2025-01-01 20:00', 5.00),   -- two orders on one day
    (1, '2025-01-04 09:00', 20.00), (1, '2025-01-07 06:00', 30.00),
    (1, '2025-02-01 00:00', 99.00),                                   -- after as_of: ignored
    (2, '2025-01-09 12:00', -4.00),                                   -- a refund
    (2, '2025-01-09 13:00', NULL),                                    -- NULL amount: an order without money
    (2, NULL, 7.00),                                                  -- NULL time: skipped
    (3, '2025-01-02 00:00', 0.00), (3, '2025-01-05 00:00', 0.00),     -- zero amounts
    (4, '2025-01-08 00:00', 12.50),
    (5, '2025-01-03 00:00', 40.00), (5, '2025-01-06 00:00', 60.00);

-- one row per customer as of 2025-01-10 12:00
SELECT customer_id, (r).*
FROM (SELECT customer_id, rfm_agg(ordered_at, amount, '2025-01-10 12:00') AS r FROM orders GROUP BY customer_id) s
ORDER BY customer_id;

-- as_of before all orders: frequency 0, monetary 0, the rest NULL; no rows at all: NULL
SELECT (rfm_agg(ordered_at, amount, '2024-01-01')).* FROM orders;
SELECT rfm_agg(ordered_at, amount, now()) IS NULL AS no_rows FROM orders WHERE false;

-- float8 amounts are summed exactly in micro-units; integers exactly
SELECT (rfm_agg(t, a, '2025-01-02')).monetary FROM (VALUES ('2025-01-01'::timestamptz, 0.1::float8), ('2025-01-01', 0.2)) v(t, a);
SELECT (rfm_agg(t, a, '2025-01-02')).avg_order_value FROM (VALUES ('2025-01-01'::timestamptz, 1), ('2025-01-01', 2)) v(t, a);

-- timestamp without time zone: wall-clock days; the same instants as timestamptz
-- follow the session TimeZone (New York: 23:30 EST on the 8th and 03:30 EDT on the 9th)
SET TimeZone = 'America/New_York';
SELECT (r).btyd_frequency, (r).btyd_recency, (r).btyd_t, (r).first_order_at
FROM (SELECT rfm_agg(t, 1, '2025-03-10 00:00') r FROM (VALUES ('2025-03-08 23:30'::timestamp), ('2025-03-09 03:30')) v(t)) s;
SELECT (r).btyd_frequency, (r).btyd_recency, (r).btyd_t
FROM (SELECT rfm_agg(t, 1, '2025-03-10 00:00') r FROM (VALUES ('2025-03-09 04:30+00'::timestamptz), ('2025-03-09 07:30+00')) v(t)) s;
SET TimeZone = 'UTC';

-- bad input
SELECT rfm_agg(ordered_at, amount, NULL::timestamptz) FROM orders;
\echo :LAST_ERROR_SQLSTATE
SELECT rfm_agg(ordered_at, 'NaN'::numeric, now()) FROM orders;
\echo :LAST_ERROR_SQLSTATE
SELECT rfm_agg('infinity'::timestamptz, amount, 'infinity') FROM orders;
\echo :LAST_ERROR_SQLSTATE
SELECT rfm_agg('-infinity'::timestamptz, amount, now()) FROM orders;
\echo :LAST_ERROR_SQLSTATE
SELECT rfm_agg(ordered_at, amount, now() - customer_id * interval '1 day') FROM orders;
\echo :LAST_ERROR_SQLSTATE
SELECT rfm_agg(ordered_at, 1e40, now()) FROM orders;
\echo :LAST_ERROR_SQLSTATE

-- quantile cut points: equal to NTILE for distinct values; ties share a score
SELECT rfm_breaks(x, 4) FROM generate_series(1, 10) x;
SELECT x, rfm_score(x, (SELECT rfm_breaks(y, 4) FROM generate_series(1, 10) y)) AS score,
       ntile(4) OVER (ORDER BY x) AS ntile
FROM generate_series(1, 10) x ORDER BY x;
SELECT rfm_breaks(x, 5) FROM unnest('{1,1,1,1,1,1,2,3,4,5}'::float8[]) x;
SELECT rfm_breaks(x, 5) FROM unnest('{7,7,7}'::float8[]) x;             -- all identical
SELECT rfm_breaks(x, 5) IS NULL AS empty FROM unnest('{}'::float8[]) x;
-- business thresholds; reverse => true scores small values (recent) high
SELECT d, rfm_score(d, '{30,90,180,365}', reverse => true) AS r FROM unnest('{0,30,31,200,1000}'::float8[]) d;
SELECT rfm_score(NULL, '{1,2}') IS NULL AS null_value;
SELECT rfm_breaks(x, 1) FROM generate_series(1, 3) x;
\echo :LAST_ERROR_SQLSTATE
SELECT rfm_breaks(x, 101) FROM generate_series(1, 3) x;
\echo :LAST_ERROR_SQLSTATE
SELECT rfm_score(1, '{3,2}');
\echo :LAST_ERROR_SQLSTATE
SELECT rfm_score('NaN', '{1,2}');
\echo :LAST_ERROR_SQLSTATE

-- segment maps: the standard map is clean; its score ranges
SELECT * FROM rfm_segment_map_check('standard');
SELECT priority, segment, r_min, r_max, f_min, f_max, m_min, m_max FROM rfm_segment_map_rules WHERE map = 'standard' ORDER BY priority;
SELECT rfm_segment_name(5, 5, 5), rfm_segment_name(1, 5, 3), rfm_segment_name(3, 3, 1, 'standard');
-- a copy, edited: gaps and overlaps are reported as the rules change
SELECT rfm_segment_map_copy('standard', 'mine');
DELETE FROM rfm_segment_map_rules WHERE map = 'mine' AND segment = 'Lost';
INSERT INTO rfm_segment_map_rules (map, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max)
VALUES ('mine', 1, 'Whales', 5, 5, 5, 5, 5, 5);
SELECT * FROM rfm_segment_map_check('mine');
SELECT rfm_segment_name(1, 1, 1, 'mine'), rfm_segment_name(5, 5, 5, 'mine');
SELECT rfm_segment_name(1, 1, 1, 'nope');
\echo :LAST_ERROR_SQLSTATE
SELECT rfm_segment_name(0, 1, 1);
\echo :LAST_ERROR_SQLSTATE

-- rfm_segments: the whole job in one call
SELECT customer, recency_days, frequency, monetary, r_score, f_score, m_score, rfm_cell, segment
FROM rfm_segments('orders', NULL::bigint, as_of => '2025-01-10 12:00') ORDER BY customer;
-- keys of another type join back without a cast
CREATE TABLE text_orders AS SELECT 'c' || customer_id AS customer, ordered_at::timestamp AS at, amount::float8 AS amount FROM orders;
SELECT customer, frequency, monetary, rfm_cell
FROM rfm_segments('text_orders', NULL::text, 'customer', 'at', as_of => '2025-01-10 12:00', map => NULL) ORDER BY customer;
-- a single customer; an empty table
SELECT customer, r_score, f_score, m_score, segment FROM rfm_segments('orders', NULL::bigint, as_of => '2025-01-01 23:00');
CREATE TABLE no_orders (LIKE orders);
SELECT count(*) FROM rfm_segments('no_orders', NULL::bigint);
-- errors name what is wrong
SELECT * FROM rfm_segments('missing', NULL::bigint);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM rfm_segments('orders', NULL::bigint, 'customer');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM rfm_segments('orders', NULL::bigint, bins => 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM rfm_segments('orders', NULL::bigint, bins => 3);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM rfm_segments('orders', NULL::numeric);
\echo :LAST_ERROR_SQLSTATE

DROP SCHEMA rfm_regress CASCADE;
DELETE FROM rfm_segment_maps WHERE name = 'mine';
