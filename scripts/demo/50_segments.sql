-- Segment operations on CDNOW (issue 7): named segmentations refreshed as of
-- two dates, then the run log, the summary, the history (size change, PSI,
-- flags) and the migration matrix between the two runs.
--   cdnow_rfm       RFM segment names (rfm_segments over the orders)
--   cdnow_lifecycle a ruleset over the enriched row (RFM fields of each customer)
--   cdnow_clusters  the k-means model of 30_kmeans.sql over customer_features
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

\o /dev/null
SELECT segmentation_create('cdnow_rfm', 'customers', 'customer_id', orders => 'orders',
                           max_size_change => 0.25, min_segment_size => 500) AS input_view;

-- The ruleset reads the segmentation's input row (customer columns + RFM
-- fields as of each refresh), so it is created after the segmentation.
SELECT segmentation_create('cdnow_lifecycle', 'customers', 'customer_id', orders => 'orders',
                           ruleset => 'cdnow_segment_lifecycle') AS input_view;
SELECT segment_ruleset_create('cdnow_segment_lifecycle', '[
    {"segment": "not yet a customer", "when": "frequency IS NULL"},
    {"segment": "lapsed",             "when": "recency_days > 180"},
    {"segment": "top spender",        "when": "monetary >= 200"},
    {"segment": "repeat",             "when": "frequency >= 2"}]',
    default_segment => 'one-time', input => 'segment_input_cdnow_lifecycle'::regtype) IS NOT NULL AS ruleset_created;

CALL segment_refresh('cdnow_rfm', '1997-12-31');
CALL segment_refresh('cdnow_rfm', '1998-06-30');
CALL segment_refresh('cdnow_lifecycle', '1997-12-31');
CALL segment_refresh('cdnow_lifecycle', '1998-06-30');

SELECT segmentation_create('cdnow_clusters', 'customer_features', 'customer_id',
                           kmeans_model => 'cdnow_rfm', kmeans_features => 'features') AS input_view;
CALL segment_refresh('cdnow_clusters', '1998-06-30');
\o

\echo
\echo '== Segment runs (segment_runs) =='
SELECT segmentation, as_of::date, status, rows, unlabelled, segments, round(psi::numeric, 4) AS psi,
       date_trunc('millisecond', duration) AS duration
FROM segment_runs WHERE segmentation LIKE 'cdnow%' ORDER BY run_id;

\echo
\echo '== RFM segments as of 1998-06-30 (segment_summary) =='
SELECT segment, customers, round(share::numeric, 3) AS share, previous_customers,
       round(change::numeric, 3) AS change, round(avg_recency_days::numeric) AS recency_days,
       round(avg_frequency::numeric, 1) AS frequency, round(avg_monetary::numeric, 2) AS monetary, flags
FROM segment_summary WHERE segmentation = 'cdnow_rfm' ORDER BY customers DESC;

\echo
\echo '== Personas of the RFM segments as of 1998-06-30 (segment_personas over segment_membership) =='
-- Any label source works: here the current RFM segment of each customer,
-- joined to the attributes that 20_profile.sql derived from the orders.
CREATE VIEW cdnow_rfm_personas_input AS
SELECT p.*, m.segment AS rfm_segment
FROM customer_profile p
JOIN segment_membership m ON m.segmentation = 'cdnow_rfm' AND m.customer_key = p.customer_id::text;
SELECT segment, customers, round(100 * share::numeric, 1) AS "share %", representative, summary
FROM segment_personas('cdnow_rfm_personas_input', 'rfm_segment', 'customer_id',
                      attributes => ARRAY['spend', 'orders', 'days_since_last', 'avg_order_value', 'usual_basket'])
ORDER BY customers DESC;

\echo
\echo '== k-means clusters (segment_summary) =='
SELECT segment, customers, round(share::numeric, 3) AS share
FROM segment_summary WHERE segmentation = 'cdnow_clusters' ORDER BY segment;

\echo
\echo '== Lifecycle history (segment_history) =='
SELECT as_of::date, segment, customers, round(share::numeric, 3) AS share, change_customers,
       round(psi::numeric, 4) AS psi, flags
FROM segment_history WHERE segmentation = 'cdnow_lifecycle' ORDER BY as_of, segment;

\echo
\echo '== Lifecycle moves, 1997-12-31 -> 1998-06-30 (segment_transitions) =='
SELECT from_segment, to_segment, customers
FROM segment_transitions WHERE segmentation = 'cdnow_lifecycle' ORDER BY customers DESC;

\echo
\echo '== Biggest RFM moves, 1997-12-31 -> 1998-06-30 (segment_transitions) =='
SELECT from_segment, to_segment, customers
FROM segment_transitions WHERE segmentation = 'cdnow_rfm' AND from_segment IS DISTINCT FROM to_segment
ORDER BY customers DESC LIMIT 10;

\echo
\echo '== Alerts (segment_alerts) =='
SELECT segmentation, segment, customers, previous_customers, round(change::numeric, 3) AS change, flags
FROM segment_alerts WHERE segmentation LIKE 'cdnow%' ORDER BY segmentation, segment;
