-- Loads the CDNOW transaction log (staged in cdnow_raw by demo.sh) into the
-- customers and orders tables that the rest of the demo segments.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE TABLE customers (
    customer_id  bigint PRIMARY KEY,
    first_order  date NOT NULL,
    cohort       text NOT NULL          -- month of the first order, e.g. '1997-01'
);

CREATE TABLE orders (
    order_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id  bigint NOT NULL REFERENCES customers,
    ordered_at   timestamptz NOT NULL,
    cds          integer NOT NULL,
    amount       numeric(10,2) NOT NULL
);

INSERT INTO customers (customer_id, first_order, cohort)
SELECT customer_id, min(day), to_char(min(day), 'YYYY-MM')
FROM (SELECT customer_id::bigint, to_date(day, 'YYYYMMDD') AS day FROM cdnow_raw) r
GROUP BY customer_id;

INSERT INTO orders (customer_id, ordered_at, cds, amount)
SELECT customer_id::bigint, to_date(day, 'YYYYMMDD')::timestamptz, cds, amount
FROM cdnow_raw
ORDER BY customer_id::bigint, day;

CREATE INDEX ON orders (customer_id);
ANALYZE customers;
ANALYZE orders;
DROP TABLE cdnow_raw;

\echo
\echo '== CDNOW sample data =='
SELECT count(DISTINCT customer_id) AS customers,
       count(*)                    AS orders,
       min(ordered_at)::date       AS first_order,
       max(ordered_at)::date       AS last_order,
       sum(cds)                    AS cds_sold,
       sum(amount)                 AS revenue
FROM orders;
