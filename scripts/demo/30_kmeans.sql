-- k-means on CDNOW (issue 5): one feature vector per customer from the orders
-- (log1p frequency, log1p monetary, recency in years; z-scored), choose k with
-- kmeans_select_k, fit k = 4, show cluster sizes and centroids, and assign.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE TABLE customer_features AS
WITH rfm AS (
    SELECT customer_id,
           ln(1 + count(*))                                                   AS frequency,
           ln(1 + sum(amount)::float8)                                        AS monetary,
           extract(epoch FROM '1998-07-01'::timestamptz - max(ordered_at)) / 86400 / 365.25 AS recency
    FROM orders GROUP BY customer_id
)
SELECT customer_id,
       ARRAY[(frequency - avg(frequency) OVER ()) / stddev_pop(frequency) OVER (),
             (monetary  - avg(monetary)  OVER ()) / stddev_pop(monetary)  OVER (),
             (recency   - avg(recency)   OVER ()) / stddev_pop(recency)   OVER ()]::real[] AS features
FROM rfm;
ALTER TABLE customer_features ADD PRIMARY KEY (customer_id);
ANALYZE customer_features;
COMMENT ON TABLE customer_features IS 'demo: z-scored log1p frequency, log1p monetary and recency (years) per CDNOW customer';

\echo
\echo '== k-means: choosing k on a 10,000-customer sample (kmeans_select_k) =='
SELECT k, round(inertia::numeric, 1) AS inertia, round(silhouette::numeric, 3) AS silhouette,
       round(calinski_harabasz::numeric, 1) AS calinski_harabasz, round(davies_bouldin::numeric, 3) AS davies_bouldin,
       suggested
FROM kmeans_select_k('customer_features', 'features', 2, 6, seed => 1) ORDER BY k;

\echo
\echo '== k-means: kmeans_fit k = 4 on every customer (k-means++, best of 10 seedings) =='
SELECT model, k, dims, rows, round(inertia::numeric, 1) AS inertia, iterations, converged
FROM kmeans_fit('cdnow_rfm', 'customer_features', 'features', 4, seed => 1, n_init => 10);

\echo
\echo '== k-means: cluster sizes and centroids (z-scores of frequency, monetary, recency) =='
SELECT c AS cluster, m.sizes[c] AS customers,
       round(m.centroids[c][1]::numeric, 2) AS frequency_z,
       round(m.centroids[c][2]::numeric, 2) AS monetary_z,
       round(m.centroids[c][3]::numeric, 2) AS recency_z
FROM kmeans_models m, generate_series(1, m.k) c
WHERE m.name = 'cdnow_rfm' ORDER BY c;

\echo
\echo '== k-means: what the clusters mean in plain numbers (kmeans_assign on every customer) =='
SELECT kmeans_assign('cdnow_rfm', f.features) AS cluster, count(*) AS customers,
       round(avg(o.orders), 1) AS avg_orders, round(avg(o.spend), 2) AS avg_spend,
       round(avg(o.days_since_last)) AS avg_days_since_last
FROM customer_features f
JOIN (SELECT customer_id, count(*) AS orders, sum(amount) AS spend,
             extract(day FROM '1998-07-01'::timestamptz - max(ordered_at)) AS days_since_last
      FROM orders GROUP BY customer_id) o USING (customer_id)
GROUP BY 1 ORDER BY 1;

\echo
\echo '== k-means: one Lloyd step over the table as an aggregate (kmeans_step; parallel-safe) =='
SELECT (s).counts, round((s).shift::numeric, 6) AS centroid_shift
FROM (SELECT kmeans_step(features, (SELECT centroids FROM kmeans_models WHERE name = 'cdnow_rfm')) AS s
      FROM customer_features) t;
