-- Segmentations over the other label sources (issue 7 with issues 3 and 5):
-- RFM segments from orders, and k-means clusters. Each membership is checked
-- against the source function called directly (rfm_segments, kmeans_assign),
-- so the refresh plumbing (input view, as_of, key join) is what is tested.
CREATE SCHEMA segments_sources;
SET search_path = segments_sources, public;
SET client_min_messages = warning;
SET timezone = 'UTC';
\set SHOW_CONTEXT never

CREATE TABLE customers (customer_id integer PRIMARY KEY, features real[]);
INSERT INTO customers
SELECT i, ARRAY[CASE WHEN i <= 20 THEN 0 ELSE 10 END + (i % 3) * 0.1, (i % 5) * 0.1]::real[]
FROM generate_series(1, 40) i;
-- customer i orders 1 + i % 4 times, the last one (i % 9) * 20 days before 2024-06-30, amounts 10 * i
CREATE TABLE orders (customer_id integer, ordered_at timestamptz, amount numeric(10,2));
INSERT INTO orders
SELECT i, timestamptz '2024-06-30' - make_interval(days => (i % 9) * 20 + 30 * n), 10 * i
FROM generate_series(1, 36) i, generate_series(0, 3) n
WHERE n <= i % 4;

-- RFM: the segment of each customer with orders up to as_of; 37..40 have none (unlabelled)
SELECT segmentation_create('by_rfm', 'customers', 'customer_id', orders => 'orders');
CALL segment_refresh('by_rfm', '2024-06-30');
SELECT status, rows, unlabelled FROM segment_runs WHERE segmentation = 'by_rfm';
-- identical to rfm_segments at the same as_of: no differing customer
SELECT count(*) AS differing
FROM (SELECT customer_key, segment FROM segment_membership WHERE segmentation = 'by_rfm') m
FULL JOIN rfm_segments('orders', NULL::integer, 'customer_id', 'ordered_at', 'amount', '2024-06-30', 5, 'standard') r
  ON r.customer::text = m.customer_key
WHERE m.segment IS DISTINCT FROM r.segment;
-- the summary's metrics are the averages of the RFM fields per segment
SELECT count(*) AS differing
FROM segment_summary s
JOIN (SELECT segment, avg(recency_days) AS r, avg(frequency) AS f, avg(monetary)::float8 AS m
      FROM rfm_segments('orders', NULL::integer, 'customer_id', 'ordered_at', 'amount', '2024-06-30', 5, 'standard')
      GROUP BY segment) x USING (segment)
WHERE s.segmentation = 'by_rfm'
  AND (abs(s.avg_recency_days - x.r) > 1e-9 OR abs(s.avg_frequency - x.f) > 1e-9 OR abs(s.avg_monetary - x.m) > 1e-6);
SELECT sum(customers) AS customers, round(sum(share)::numeric, 6) AS share FROM segment_summary WHERE segmentation = 'by_rfm';
-- a later as_of moves customers: the run is compared with the first one
CALL segment_refresh('by_rfm', '2024-12-31');
SELECT count(*) AS differing
FROM (SELECT customer_key, segment FROM segment_membership WHERE segmentation = 'by_rfm') m
FULL JOIN rfm_segments('orders', NULL::integer, 'customer_id', 'ordered_at', 'amount', '2024-12-31', 5, 'standard') r
  ON r.customer::text = m.customer_key
WHERE m.segment IS DISTINCT FROM r.segment;
SELECT sum(customers) AS moved_or_stayed FROM segment_transitions WHERE segmentation = 'by_rfm';

-- k-means: label 'cluster <id>' from kmeans_assign over the features column
SELECT count(*) > 0 AS fitted FROM kmeans_fit('seg_km', 'customers', 'features', 2, seed => 1);
SELECT segmentation_create('by_cluster', 'customers', 'customer_id', kmeans_model => 'seg_km', kmeans_features => 'features');
CALL segment_refresh('by_cluster');
SELECT count(*) AS differing
FROM segment_membership m JOIN customers c ON c.customer_id::text = m.customer_key
WHERE m.segmentation = 'by_cluster' AND m.segment <> 'cluster ' || kmeans_assign('seg_km', c.features);
-- the two well-separated groups of 20 are the two clusters
SELECT customers FROM segment_summary WHERE segmentation = 'by_cluster' ORDER BY segment;

-- rules over the enriched row (RFM fields + customer columns): the ruleset is
-- created after the segmentation, against its input view's row type
SELECT segmentation_create('by_rules', 'customers', 'customer_id', orders => 'orders', ruleset => 'seg_rules');
SELECT segment_ruleset_create('seg_rules',
    '[{"segment": "frequent", "when": "frequency >= 3"}, {"segment": "recent", "when": "recency_days < 60"}]',
    default_segment => 'other', input => 'segment_input_by_rules'::regtype) IS NOT NULL AS created;
CALL segment_refresh('by_rules', '2024-06-30');
-- the same rules as a SQL CASE over rfm_segments (NULL fields of customers without orders match no rule)
SELECT count(*) AS differing
FROM (SELECT * FROM segment_membership WHERE segmentation = 'by_rules') m
FULL JOIN (SELECT c.customer_id::text AS customer_key,
                  CASE WHEN r.frequency >= 3 THEN 'frequent' WHEN r.recency_days < 60 THEN 'recent' ELSE 'other' END AS segment
           FROM customers c
           LEFT JOIN rfm_segments('orders', NULL::integer, 'customer_id', 'ordered_at', 'amount', '2024-06-30', 5, 'standard') r
             ON r.customer = c.customer_id) x
  ON x.customer_key = m.customer_key
WHERE m.segment IS DISTINCT FROM x.segment;
-- frequent: i % 4 in (2, 3) -> 18; recent: the other 18 with i % 9 in (0, 1, 2) -> 6; other: 12 + 4 without orders
SELECT segment, customers FROM segment_summary WHERE segmentation = 'by_rules' ORDER BY segment;

SELECT segmentation_drop('by_rfm'), segmentation_drop('by_cluster'), segmentation_drop('by_rules'),
       kmeans_drop('seg_km');
RESET client_min_messages;
DROP SCHEMA segments_sources CASCADE;
