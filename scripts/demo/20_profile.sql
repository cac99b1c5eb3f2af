-- Customer profiles on CDNOW (issue 4): derive customer attributes from the
-- orders (behaviour_agg and plain SQL), fit a profile, show its layout and a
-- few vectors, then describe spend tiers as personas.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

-- the orders as events: basket size (CDs per order) plays the category
CREATE TABLE customer_profile AS
WITH behaviour AS (
    SELECT customer_id,
           behaviour_agg(ordered_at, 'order',
                         CASE WHEN cds = 1 THEN '1 CD' WHEN cds <= 3 THEN '2-3 CDs' ELSE '4+ CDs' END,
                         NULL, '1998-07-01') AS b
    FROM orders GROUP BY customer_id
), money AS (
    SELECT customer_id, sum(amount) AS spend, round(avg(amount), 2) AS avg_order_value,
           round(sum(cds)::numeric / count(*), 2) AS cds_per_order
    FROM orders GROUP BY customer_id
)
SELECT c.customer_id,
       (b).orders,
       m.spend,
       m.avg_order_value,
       m.cds_per_order,
       (b).days_since_last,
       (b).active_days,
       (b).orders_90d,
       (b).favourite_category AS usual_basket,
       c.cohort,
       (b).orders > 1         AS repeat_buyer
FROM customers c
JOIN money m USING (customer_id)
JOIN behaviour USING (customer_id);
ALTER TABLE customer_profile ADD PRIMARY KEY (customer_id);

\echo
\echo '== Profiles: attributes derived from the orders (behaviour_agg as of 1998-07-01) =='
SELECT * FROM customer_profile ORDER BY customer_id LIMIT 5;

\echo
\echo '== Profiles: profile_fit stores the fitted transform (returns the vector length) =='
SELECT profile_fit('cdnow', 'customer_profile', '{"features": [
    {"column": "orders",          "transform": ["log1p", "zscore"]},
    {"column": "spend",           "transform": ["log1p", "zscore"]},
    {"column": "avg_order_value", "transform": "robust", "clip": [-3, 3]},
    {"column": "cds_per_order",   "transform": "zscore"},
    {"column": "days_since_last", "transform": "minmax"},
    {"column": "usual_basket",    "other": false},
    {"column": "cohort",          "other": false},
    {"column": "repeat_buyer"}
]}') AS dimensions;

\echo
\echo '== Profiles: the layout of every vector position =='
SELECT position, feature, source, kind, transform,
       coalesce(statistics->'steps'->-1, statistics - 'unseen') AS fitted
FROM profile_layout('cdnow') ORDER BY position;

\echo
\echo '== Profiles: a few customers as vectors (profile_vector) =='
SELECT customer_id, profile_vector('cdnow', p) AS vector
FROM customer_profile p ORDER BY customer_id LIMIT 5;

\echo
\echo '== Profiles: personas of spend tiers (segment_personas) =='
CREATE VIEW customer_tiers AS
SELECT p.*, CASE WHEN spend >= 500 THEN 'top (>= $500)'
                 WHEN spend >= 100 THEN 'regular ($100-499)'
                 ELSE 'light (< $100)' END AS tier
FROM customer_profile p;
SELECT segment, customers, round(100 * share::numeric, 1) AS "share %", representative, summary
FROM segment_personas('customer_tiers', 'tier', 'customer_id', profile => 'cdnow');

\echo
\echo '== Profiles: what sets each tier apart (segment_persona_attributes, top 2 per tier) =='
SELECT segment, attribute, coalesce(value, '') AS value,
       round(mean::numeric, 2) AS mean, round(population_mean::numeric, 2) AS everyone,
       round(100 * share::numeric, 1) AS "share %", round(lift::numeric, 2) AS lift,
       round(std_diff::numeric, 2) AS std_diff
FROM (SELECT *, row_number() OVER (PARTITION BY segment ORDER BY abs(std_diff) DESC, attribute, value) AS rank
      FROM segment_persona_attributes('customer_tiers', 'tier', 'customer_id')) a
WHERE rank <= 2
ORDER BY segment, rank;
