-- behaviour_agg (issue 4): behaviour features from an events table as of a
-- point in time; NULL and infinity policies; session time zone.
CREATE SCHEMA profile_behaviour_regress;
SET search_path = profile_behaviour_regress, public;
SET timezone = 'UTC';

CREATE TABLE events (customer_id bigint, occurred_at timestamptz, event_type text, category text, channel text);
INSERT INTO events VALUES
    (1, '2025-01-01 08:00+00', 'visit', 'jazz', 'web'),
    (1, '2025-01-01 08:10+00', 'order', 'jazz', 'web'),
    (1, '2024-12-25 20:00+00', 'visit', 'rock', 'app'),
    (1, '2024-11-20 20:30+00', 'visit', NULL,   'app'),
    (1, '2024-09-01 09:00+00', NULL,    'jazz', NULL),
    (1, '2025-01-05 09:00+00', 'order', 'pop',  'store'),   -- after as_of: ignored
    (2, '2024-12-31 23:00+00', 'visit', 'pop',  'web'),
    (2, NULL,                  'visit', 'pop',  'web'),      -- no time: skipped
    (3, '2025-03-01 10:00+00', 'order', 'pop',  'web');      -- only future events

\x on
SELECT customer_id, (behaviour_agg(occurred_at, event_type, category, channel, '2025-01-02 00:00+00')).*
FROM events GROUP BY customer_id ORDER BY customer_id;
\x off

-- days and hours are local to the session time zone (08:00 UTC is 03:00 in New York)
SET timezone = 'America/New_York';
SELECT customer_id, (b).peak_hour, (b).active_days, (b).active_days_30d
FROM (SELECT customer_id, behaviour_agg(occurred_at, event_type, category, channel, '2025-01-02 00:00+00') AS b
      FROM events GROUP BY customer_id) s
ORDER BY customer_id;
SET timezone = 'UTC';

-- no rows: NULL, like other aggregates
SELECT behaviour_agg(occurred_at, event_type, category, channel, '2025-01-02') IS NULL AS no_rows
FROM events WHERE false;

-- bad input
SELECT behaviour_agg(occurred_at, event_type, category, channel, NULL) FROM events;
\echo :LAST_ERROR_SQLSTATE
SELECT behaviour_agg(occurred_at, event_type, category, channel, 'infinity') FROM events;
\echo :LAST_ERROR_SQLSTATE
SELECT behaviour_agg(occurred_at, event_type, category, channel, occurred_at) FROM events WHERE occurred_at IS NOT NULL;
\echo :LAST_ERROR_SQLSTATE
SELECT behaviour_agg('-infinity', 'visit', NULL, NULL, '2025-01-01');
\echo :LAST_ERROR_SQLSTATE
SELECT behaviour_agg_final('\x00010203'::bytea);
\echo :LAST_ERROR_SQLSTATE

RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA profile_behaviour_regress CASCADE;
RESET client_min_messages;
