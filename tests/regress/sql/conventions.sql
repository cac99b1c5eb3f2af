-- Conventions every pg_segment object follows (DESIGN.md): a COMMENT ON each
-- function, aggregate, table, view and type; functions are SECURITY INVOKER.
-- Both queries must return no rows.

-- objects without a comment
SELECT pg_describe_object(d.classid, d.objid, 0) AS missing_comment
FROM pg_depend d
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_segment')
  AND d.classid IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_type'::regclass)
  AND obj_description(d.objid, d.classid::regclass::text) IS NULL
ORDER BY 1;

-- SECURITY DEFINER functions (there must be none)
SELECT p.oid::regprocedure AS security_definer
FROM pg_proc p
JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pg_segment')
  AND p.prosecdef
ORDER BY 1;
