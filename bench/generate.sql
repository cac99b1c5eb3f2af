-- Deterministic synthetic customer data for benchmarks and scale tests.
--
--   \i bench/generate.sql
--   CALL bench_generate(customers => 100000, seed => 42, with_events => true);
--
-- Creates (replacing) customers, orders and events in the current schema.
-- Every value derives from hashint8extended(key, seed), never from random(),
-- so the same (customers, seed) gives the same rows whatever the plan or the
-- number of parallel workers.
--
-- Shape: about 10 orders per customer with a heavy tail (exponential x
-- lognormal activity), lognormal spend per customer, a holiday peak
-- (Nov 15 - Dec 31), evening-skewed hours, 25% of customers going dormant
-- part-way, a 2-year window 2023-01-01 .. 2025-01-01 (use as_of 2025-01-01),
-- and profile attributes: birth year, gender (with NULLs), city (Zipf),
-- signup channel, language, e-mail opt-in and tags.

-- u(key, stream, seed): a uniform number in [0, 1), 53 bits.
CREATE OR REPLACE FUNCTION bench_u(k bigint, stream integer, seed bigint)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT ((hashint8extended(k * 131 + stream, seed) >> 11) & 9007199254740991)::float8 / 9007199254740992.0 $$;

-- n(key, stream, seed): a standard normal number (Box-Muller).
CREATE OR REPLACE FUNCTION bench_n(k bigint, stream integer, seed bigint)
RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT sqrt(-2.0 * ln(1.0 - bench_u(k, stream, seed))) * cos(2.0 * pi() * bench_u(k, stream + 1000, seed)) $$;

-- pick(list, u): the element of list at quantile u under the given cumulative weights.
CREATE OR REPLACE FUNCTION bench_pick(items text[], cumulative float8[], u float8)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT items[coalesce((SELECT min(i) FROM generate_subscripts(cumulative, 1) i WHERE u < cumulative[i]),
                         array_length(items, 1))] $$;

CREATE OR REPLACE PROCEDURE bench_generate(customers bigint DEFAULT 100000, seed bigint DEFAULT 42,
                                           with_events boolean DEFAULT true)
LANGUAGE plpgsql AS $proc$
DECLARE
    window_start constant timestamptz := '2023-01-01 00:00:00+00';
    window_days  constant integer := 731;          -- to 2025-01-01
    cities constant text[] := ARRAY['New York','Los Angeles','Chicago','Houston','Phoenix','Philadelphia',
        'San Antonio','San Diego','Dallas','Austin','Jacksonville','Fort Worth','Columbus','Charlotte',
        'Indianapolis','San Francisco','Seattle','Denver','Washington','Boston','Nashville','Detroit',
        'Portland','Las Vegas','Memphis','Louisville','Baltimore','Milwaukee','Albuquerque','Tucson'];
    categories constant text[] := ARRAY['rock','pop','jazz','classical','hip-hop','country','electronic',
        'folk','soul','metal','blues','soundtrack'];
BEGIN
    IF customers < 1 OR customers > 100000000 THEN
        RAISE EXCEPTION 'customers must be between 1 and 100000000' USING ERRCODE = '22023';
    END IF;
    DROP TABLE IF EXISTS events, orders, customers;

    -- latent per-customer traits, used to derive the visible rows
    CREATE TEMP TABLE bench_latent ON COMMIT DROP AS
    SELECT c AS customer_id,
           window_start + (floor(bench_u(c, 1, seed) * (window_days - 30)) || ' days')::interval AS signup_at,
           bench_u(c, 2, seed) < 0.25 AS dormant,
           -- activity: exponential x lognormal, normalised so the mean order count is about 10
           1 + least(500, floor(9.0 * exp(0.8 * bench_n(c, 3, seed)) / exp(0.32)
                                * -ln(1.0 - bench_u(c, 4, seed))))::integer AS n_orders,
           exp(3.4 + 0.9 * bench_n(c, 5, seed)) AS base_spend,
           1 + floor(bench_u(c, 6, seed) * 12)::integer AS favourite_category,
           bench_pick(ARRAY['web','app','store'], ARRAY[0.5, 0.85, 1.0], bench_u(c, 7, seed)) AS channel
    FROM generate_series(1::bigint, customers) c;

    CREATE TABLE customers AS
    SELECT l.customer_id,
           l.signup_at,
           (1985 + round(12 * bench_n(l.customer_id, 10, seed)))::integer AS birth_year,
           CASE WHEN bench_u(l.customer_id, 11, seed) < 0.04 THEN NULL
                WHEN bench_u(l.customer_id, 12, seed) < 0.5 THEN 'F' ELSE 'M' END AS gender,
           cities[1 + floor(30 * power(bench_u(l.customer_id, 13, seed), 2.5))::integer] AS city,
           bench_pick(ARRAY['web','app','store','referral'], ARRAY[0.45, 0.75, 0.90, 1.0],
                      bench_u(l.customer_id, 14, seed)) AS signup_channel,
           bench_pick(ARRAY['en','es','de','fr','zh','ja'], ARRAY[0.60, 0.75, 0.83, 0.90, 0.96, 1.0],
                      bench_u(l.customer_id, 15, seed)) AS language,
           bench_u(l.customer_id, 16, seed) < 0.65 AS email_opt_in,
           array_remove(ARRAY[
               CASE WHEN bench_u(l.customer_id, 20, seed) < 0.40 THEN 'newsletter' END,
               CASE WHEN bench_u(l.customer_id, 21, seed) < 0.05 THEN 'vip' END,
               CASE WHEN bench_u(l.customer_id, 22, seed) < 0.35 THEN 'mobile' END,
               CASE WHEN bench_u(l.customer_id, 23, seed) < 0.20 THEN 'discount_seeker' END,
               CASE WHEN bench_u(l.customer_id, 24, seed) < 0.10 THEN 'gift_buyer' END,
               CASE WHEN bench_u(l.customer_id, 25, seed) < 0.08 THEN 'eco' END], NULL) AS tags
    FROM bench_latent l;
    ALTER TABLE customers ADD PRIMARY KEY (customer_id);

    -- orders: n_orders per customer between signup and (dormant ? a stop day : window end)
    CREATE TABLE orders AS
    WITH per_customer AS (
        SELECT l.*,
               extract(epoch FROM window_start + window_days * interval '1 day' - l.signup_at) / 86400.0 AS span_days,
               CASE WHEN l.dormant THEN 0.2 + 0.6 * bench_u(l.customer_id, 30, seed) ELSE 1.0 END AS active_share
        FROM bench_latent l
    ), raw AS (
        SELECT p.customer_id, p.customer_id * 1000 + i AS k, p.base_spend, p.favourite_category, p.channel,
               p.signup_at + (floor(bench_u(p.customer_id * 1000 + i, 31, seed) * p.span_days * p.active_share)
                              || ' days')::interval AS day
        FROM per_customer p, generate_series(1, p.n_orders) i
    ), seasonal AS (
        -- a quarter of the orders move into the holiday season of their year, when it is still in range
        SELECT r.*,
               CASE WHEN bench_u(r.k, 32, seed) < 0.25
                     AND make_timestamptz(extract(year FROM r.day)::integer, 11, 15, 0, 0, 0, 'UTC')
                         + (floor(bench_u(r.k, 33, seed) * 47) || ' days')::interval
                         BETWEEN r.day - interval '200 days' AND r.day + interval '46 days'
                     AND make_timestamptz(extract(year FROM r.day)::integer, 11, 15, 0, 0, 0, 'UTC')
                         < window_start + window_days * interval '1 day' - interval '47 days'
                    THEN make_timestamptz(extract(year FROM r.day)::integer, 11, 15, 0, 0, 0, 'UTC')
                         + (floor(bench_u(r.k, 33, seed) * 47) || ' days')::interval
                    ELSE r.day END AS seasonal_day
        FROM raw r
    )
    SELECT row_number() OVER (ORDER BY s.customer_id, s.k) AS order_id,
           s.customer_id,
           greatest(s.seasonal_day, date_trunc('day', l.signup_at))
             + ((8 + floor(15 * sqrt(bench_u(s.k, 34, seed))))::integer % 24 || ' hours')::interval
             + (floor(60 * bench_u(s.k, 35, seed)) || ' minutes')::interval AS ordered_at,
           round((s.base_spend * exp(0.4 * bench_n(s.k, 36, seed)))::numeric, 2) AS amount,
           1 + floor(-ln(1.0 - bench_u(s.k, 37, seed)) * 1.5)::integer AS items,
           CASE WHEN bench_u(s.k, 38, seed) < 0.6 THEN categories[s.favourite_category]
                ELSE categories[1 + floor(bench_u(s.k, 39, seed) * 12)::integer] END AS category,
           CASE WHEN bench_u(s.k, 40, seed) < 0.7 THEN s.channel
                ELSE bench_pick(ARRAY['web','app','store'], ARRAY[0.34, 0.67, 1.0], bench_u(s.k, 41, seed)) END AS channel
    FROM seasonal s JOIN bench_latent l USING (customer_id);
    ALTER TABLE orders ADD PRIMARY KEY (order_id);

    IF with_events THEN
        -- every order is an 'order' event preceded by a 'visit' (and half the time a
        -- 'cart'); customers also visit without buying, about 1.5 visits per order.
        CREATE TABLE events AS
        SELECT o.customer_id, o.ordered_at AS occurred_at, 'order'::text AS event_type,
               o.category, o.channel, o.amount
        FROM orders o
        UNION ALL
        SELECT o.customer_id, o.ordered_at - interval '20 minutes', 'visit', o.category, o.channel, NULL
        FROM orders o
        UNION ALL
        SELECT o.customer_id, o.ordered_at - interval '5 minutes', 'cart', o.category, o.channel, NULL
        FROM orders o WHERE bench_u(o.order_id, 50, seed) < 0.5
        UNION ALL
        SELECT l.customer_id,
               l.signup_at + (floor(bench_u(l.customer_id * 1000 + v, 51, seed) * 700 * 24 * 60) || ' minutes')::interval,
               'visit',
               categories[1 + floor(bench_u(l.customer_id * 1000 + v, 52, seed) * 12)::integer],
               l.channel, NULL
        FROM bench_latent l, generate_series(1, floor(l.n_orders * 1.5 * bench_u(l.customer_id, 53, seed))::integer) v
        WHERE l.signup_at + (floor(bench_u(l.customer_id * 1000 + v, 51, seed) * 700 * 24 * 60) || ' minutes')::interval
              < window_start + window_days * interval '1 day';
    END IF;
    ANALYZE customers;
    ANALYZE orders;
    IF with_events THEN ANALYZE events; END IF;
END
$proc$;
