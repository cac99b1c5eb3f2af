\echo '== RFM segments of CDNOW as of 1998-06-30 (rfm_segments) =='
SELECT segment, count(*) AS customers,
       round(avg(recency_days)) AS avg_recency_days,
       round(avg(frequency), 1) AS avg_orders,
       round(avg(monetary), 2) AS avg_monetary
FROM rfm_segments('orders', NULL::bigint, as_of => '1998-06-30')
GROUP BY segment ORDER BY avg(r_score + f_score) DESC, segment;

\echo '== one customer: rfm_agg with the BTYD fields lifetimes uses =='
SELECT customer_id, (r).frequency, (r).monetary, (r).recency_days,
       (r).btyd_frequency, (r).btyd_recency, (r).btyd_t, round((r).btyd_monetary_value::numeric, 2) AS btyd_monetary_value
FROM (SELECT customer_id, rfm_agg(ordered_at, amount, '1998-06-30') AS r FROM orders WHERE customer_id = 3 GROUP BY customer_id) s;
