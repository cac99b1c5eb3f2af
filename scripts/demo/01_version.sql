\set ON_ERROR_STOP 1
\echo
\echo '== pg_segment =='
CREATE EXTENSION pg_segment;
SELECT pg_segment_version() AS version;
