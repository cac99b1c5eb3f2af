-- CREATE EXTENSION in a chosen schema puts every object there; DROP EXTENSION
-- removes everything it created. (pg_regress loaded pg_segment into public.)
SELECT extname, extversion = pg_segment_version() AS version_matches,
       extnamespace::regnamespace AS schema, extrelocatable
FROM pg_extension WHERE extname = 'pg_segment';

DROP EXTENSION pg_segment;
CREATE SCHEMA seg;
CREATE EXTENSION pg_segment SCHEMA seg;
SELECT seg.pg_segment_version() = extversion AS version_matches
FROM pg_extension WHERE extname = 'pg_segment';

-- every member object lives in seg (objects without a schema, such as casts, are fine)
SELECT count(*) > 0 AS has_members,
       count(*) FILTER (WHERE o.schema IS DISTINCT FROM 'seg' AND o.schema IS NOT NULL) AS outside_seg
FROM pg_depend d, pg_identify_object(d.classid, d.objid, d.objsubid) o
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_segment');

-- a second CREATE fails clearly; the client receives the SQLSTATE
CREATE EXTENSION pg_segment;
\echo :LAST_ERROR_SQLSTATE

DROP EXTENSION pg_segment;
SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'seg'::regnamespace) AS relations,
       (SELECT count(*) FROM pg_proc WHERE pronamespace = 'seg'::regnamespace) AS functions,
       (SELECT count(*) FROM pg_type WHERE typnamespace = 'seg'::regnamespace) AS types;
DROP SCHEMA seg;

-- back to the default: the first schema on search_path
CREATE EXTENSION pg_segment;
SELECT extnamespace::regnamespace AS schema FROM pg_extension WHERE extname = 'pg_segment';
