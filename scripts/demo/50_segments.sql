-- Segment operations on CDNOW (issue 7): a named segmentation refreshed as of
-- two dates, then the summary, the history (size change, PSI, flags) and the
-- migration matrix between the two runs.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- The label: each customer's activity as of the refresh date. segment_as_of()
-- is the as_of segment_refresh is running for (pg_segment.as_of), so one view
-- gives a different answer for each run.
CREATE VIEW customer_activity AS
SELECT c.customer_id,
       CASE WHEN count(o.customer_id) = 0 THEN 'not yet a customer'
            WHEN max(o.ordered_at) < segment_as_of() - interval '180 days' THEN 'lapsed'
            WHEN count(o.customer_id) = 1 THEN 'one-time'
            WHEN sum(o.amount) >= 200 THEN 'active, top spender'
            ELSE 'active, repeat' END AS activity
FROM customers c
LEFT JOIN orders o ON o.customer_id = c.customer_id AND o.ordered_at <= segment_as_of()
GROUP BY c.customer_id;

SELECT segmentation_create('cdnow', 'customer_activity', 'customer_id', label_column => 'activity',
                           max_size_change => 0.25, min_segment_size => 500) AS input_view;
CALL segment_refresh('cdnow', '1997-12-31');
CALL segment_refresh('cdnow', '1998-06-30');

\echo
\echo '== Segment runs (segment_runs) =='
SELECT run_id, as_of::date, status, rows, segments, round(psi::numeric, 4) AS psi, flags,
       date_trunc('millisecond', duration) AS duration
FROM segment_runs WHERE segmentation = 'cdnow' ORDER BY run_id;

\echo
\echo '== Segment summary as of 1998-06-30 (segment_summary) =='
SELECT segment, customers, round(share::numeric, 3) AS share, previous_customers,
       round(change::numeric, 3) AS change, flags
FROM segment_summary WHERE segmentation = 'cdnow' ORDER BY customers DESC;

\echo
\echo '== History (segment_history) =='
SELECT as_of::date, segment, customers, round(share::numeric, 3) AS share, change_customers,
       round(psi::numeric, 4) AS psi, flags
FROM segment_history WHERE segmentation = 'cdnow' ORDER BY as_of, segment;

\echo
\echo '== Customers moving between segments, 1997-12-31 -> 1998-06-30 (segment_transitions) =='
SELECT from_segment, to_segment, customers
FROM segment_transitions WHERE segmentation = 'cdnow' ORDER BY customers DESC;

\echo
\echo '== Alerts (segment_alerts) =='
SELECT segment, customers, previous_customers, round(change::numeric, 3) AS change, flags
FROM segment_alerts WHERE segmentation = 'cdnow' ORDER BY segment;
