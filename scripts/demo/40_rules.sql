-- Segment rules on CDNOW (issue 6): a lifecycle ruleset over a per-customer
-- summary of the orders, evaluated natively by segment_assign(); segment
-- sizes, why one customer got its segment, and how the rules overlap.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- one row per customer: orders, spend, first and last order (data ends 1998-06-30)
CREATE TEMP VIEW customer_summary AS
SELECT c.customer_id,
       c.cohort,
       count(*)::int                              AS orders,
       sum(o.amount)                              AS total,
       max(o.ordered_at)                          AS last_order_at,
       ('1998-07-01'::date - max(o.ordered_at)::date) AS recency_days
FROM customers c JOIN orders o USING (customer_id)
GROUP BY c.customer_id, c.cohort;

SELECT segment_ruleset_create('cdnow_lifecycle', '[
    {"segment": "Champions", "when": "orders >= 10 AND total >= 500 AND recency_days <= 90"},
    {"segment": "Loyal",     "when": "orders >= 5 AND recency_days <= 180"},
    {"segment": "Big spender at risk", "when": "total >= 300 AND recency_days > 180"},
    {"segment": "Recent",    "when": "recency_days <= 90"},
    {"segment": "One-off",   "when": "orders = 1"},
    {"segment": "Lapsing",   "when": "last_order_at < timestamptz ''1998-07-01'' - interval ''1 year''"}
]', default_segment => 'Occasional', input => 'customer_summary'::regtype, replace => true) > 0 AS created;

\echo
\echo '== Rules: lifecycle segment sizes (segment_assign per customer) =='
SELECT segment_assign('cdnow_lifecycle', s) AS segment, count(*) AS customers,
       round(avg(total), 2) AS avg_total, round(avg(orders), 1) AS avg_orders
FROM customer_summary s GROUP BY 1 ORDER BY 2 DESC;

\echo
\echo '== Rules: why customer 3 is where it is (segment_explain) =='
SELECT jsonb_pretty(segment_explain('cdnow_lifecycle', s)) FROM customer_summary s WHERE customer_id = 3;

\echo
\echo '== Rules: rule quality (segment_ruleset_check: won, shadowed, overlaps) =='
SELECT kind, rule, segment, other_segment, customers, won, shadowed, never_matched
FROM segment_ruleset_check('cdnow_lifecycle', 'customer_summary');
