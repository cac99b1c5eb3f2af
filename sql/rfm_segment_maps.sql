-- RFM segment maps (issue 3): score ranges → segment names, as editable data.
-- A map's rules are matched by priority (lowest first); a cell no rule holds
-- gets the map's fallback. pg_dump keeps users' maps (pg_extension_config_dump);
-- the 'standard' map is recreated by CREATE EXTENSION, so copy it to change it.

CREATE TABLE rfm_segment_maps (
    name        text PRIMARY KEY,
    bins        integer NOT NULL DEFAULT 5 CHECK (bins BETWEEN 2 AND 100),
    fallback    text NOT NULL DEFAULT 'Other',
    description text
);

CREATE TABLE rfm_segment_map_rules (
    map         text NOT NULL REFERENCES rfm_segment_maps (name) ON UPDATE CASCADE ON DELETE CASCADE,
    priority    integer NOT NULL,
    segment     text NOT NULL,
    r_min       integer NOT NULL,
    r_max       integer NOT NULL,
    f_min       integer NOT NULL,
    f_max       integer NOT NULL,
    m_min       integer NOT NULL DEFAULT 1,
    m_max       integer NOT NULL DEFAULT 100,
    description text,
    PRIMARY KEY (map, priority),
    CHECK (r_min <= r_max AND f_min <= f_max AND m_min <= m_max)
);

INSERT INTO rfm_segment_maps (name, bins, fallback, description) VALUES
  ('standard', 5, 'Other', 'the widely used 11-segment map on the R x F grid (quintile scores; M does not change the segment)');

INSERT INTO rfm_segment_map_rules (map, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max, description) VALUES
  ('standard',  10, 'Champions',          5, 5, 4, 5, 1, 5, 'bought recently, buy often'),
  ('standard',  20, 'Loyal Customers',    3, 4, 4, 5, 1, 5, 'buy often, fairly recently'),
  ('standard',  30, 'Potential Loyalist', 4, 5, 2, 3, 1, 5, 'recent customers with a few orders'),
  ('standard',  40, 'New Customers',      5, 5, 1, 1, 1, 5, 'bought very recently, once'),
  ('standard',  50, 'Promising',          4, 4, 1, 1, 1, 5, 'recent first-time buyers'),
  ('standard',  60, 'Need Attention',     3, 3, 3, 3, 1, 5, 'middling recency and frequency'),
  ('standard',  70, 'About To Sleep',     3, 3, 1, 2, 1, 5, 'fading, few orders'),
  ('standard',  80, 'At Risk',            1, 2, 3, 4, 1, 5, 'bought often, but long ago'),
  ('standard',  90, 'Can''t Lose Them',   1, 2, 5, 5, 1, 5, 'were among the most frequent, long gone'),
  ('standard', 100, 'Hibernating',        2, 2, 1, 2, 1, 5, 'long ago, few orders'),
  ('standard', 101, 'Hibernating',        1, 1, 2, 2, 1, 5, 'longest ago, two-order tier'),
  ('standard', 110, 'Lost',               1, 1, 1, 1, 1, 5, 'longest ago, fewest orders');

SELECT pg_catalog.pg_extension_config_dump('rfm_segment_maps', 'WHERE name <> ''standard''');
SELECT pg_catalog.pg_extension_config_dump('rfm_segment_map_rules', 'WHERE map <> ''standard''');

-- After a statement edits maps or rules: a NOTICE per problem of each changed
-- map that has rules (a map being built, with no rules yet, is skipped).
CREATE FUNCTION rfm_segment_maps_report()
RETURNS trigger LANGUAGE plpgsql SET search_path = @extschema@, pg_catalog AS $$
DECLARE
    m text;
    p record;
BEGIN
    FOR m IN EXECUTE format('SELECT DISTINCT %I FROM changed ORDER BY 1',
                            CASE TG_TABLE_NAME WHEN 'rfm_segment_maps' THEN 'name' ELSE 'map' END) LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM rfm_segment_map_rules r WHERE r.map = m);
        FOR p IN SELECT * FROM rfm_segment_map_check(m) LOOP
            RAISE NOTICE 'rfm segment map "%": %', m,
                CASE WHEN p.problem = 'gap' THEN format('gap of %s cells (they get the fallback %L), e.g. %s', p.cells, p.segment, p.example)
                     WHEN p.problem = 'overlap' THEN format('rule %s (%s) overlaps earlier rules on %s cells, e.g. %s', p.priority, p.segment, p.cells, p.example)
                     ELSE format('rule %s (%s) is %s: %s', p.priority, p.segment, p.problem, p.example) END
                USING HINT = 'SELECT * FROM rfm_segment_map_check(map) lists the problems; rules match by priority, lowest first';
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER rfm_segment_map_rules_inserted AFTER INSERT ON rfm_segment_map_rules
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION rfm_segment_maps_report();
CREATE TRIGGER rfm_segment_map_rules_updated AFTER UPDATE ON rfm_segment_map_rules
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION rfm_segment_maps_report();
CREATE TRIGGER rfm_segment_map_rules_deleted AFTER DELETE ON rfm_segment_map_rules
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION rfm_segment_maps_report();
CREATE TRIGGER rfm_segment_maps_updated AFTER UPDATE ON rfm_segment_maps
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION rfm_segment_maps_report();

CREATE FUNCTION rfm_segment_name(r integer, f integer, m integer, map text DEFAULT 'standard')
RETURNS text LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'rfm_segment_name_wrapper';

CREATE FUNCTION rfm_segment_map_check(map text)
RETURNS TABLE (problem text, priority integer, segment text, cells bigint, example text)
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'rfm_segment_map_check_wrapper';

CREATE FUNCTION rfm_segment_map_copy(source text, target text, description text DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql SET search_path = @extschema@, pg_catalog AS $$
DECLARE
    copied integer;
BEGIN
    IF source IS NULL OR target IS NULL THEN
        RAISE EXCEPTION 'source and target must not be null' USING ERRCODE = '22004',
            HINT = 'pass the name of an existing map and a new name, e.g. rfm_segment_map_copy(''standard'', ''mine'')';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM rfm_segment_maps s WHERE s.name = source) THEN
        RAISE EXCEPTION 'rfm segment map "%" does not exist', source USING ERRCODE = '42704',
            HINT = 'SELECT name FROM rfm_segment_maps lists the maps; ''standard'' ships with pg_segment';
    END IF;
    IF EXISTS (SELECT 1 FROM rfm_segment_maps s WHERE s.name = target) THEN
        RAISE EXCEPTION 'rfm segment map "%" already exists', target USING ERRCODE = '42710',
            HINT = 'pick another name, or DELETE FROM rfm_segment_maps WHERE name = ... first';
    END IF;
    INSERT INTO rfm_segment_maps (name, bins, fallback, description)
    SELECT target, s.bins, s.fallback, coalesce(rfm_segment_map_copy.description, 'copy of ' || source)
    FROM rfm_segment_maps s WHERE s.name = source;
    INSERT INTO rfm_segment_map_rules (map, priority, segment, r_min, r_max, f_min, f_max, m_min, m_max, description)
    SELECT target, r.priority, r.segment, r.r_min, r.r_max, r.f_min, r.f_max, r.m_min, r.m_max, r.description
    FROM rfm_segment_map_rules r WHERE r.map = source;
    GET DIAGNOSTICS copied = ROW_COUNT;
    RETURN copied;
END
$$;

COMMENT ON TABLE rfm_segment_maps IS
  'RFM segment maps: name, the score scale (bins), the fallback segment of cells no rule holds; edit freely (pg_dump keeps all but ''standard'')';
COMMENT ON TABLE rfm_segment_map_rules IS
  'rules of the RFM segment maps: inclusive r/f/m score ranges -> segment, matched by priority (lowest first); changes are checked for gaps and overlaps (NOTICE)';
COMMENT ON FUNCTION rfm_segment_maps_report() IS
  'trigger function: after a statement edits rfm segment maps, a NOTICE per gap, overlap or unreachable rule (rfm_segment_map_check)';
COMMENT ON FUNCTION rfm_segment_name(integer, integer, integer, text) IS
  'segment name of r/f/m scores under a map (default ''standard''): the first rule by priority whose ranges hold all three, else the map''s fallback; NULL score gives NULL';
COMMENT ON FUNCTION rfm_segment_map_check(text) IS
  'problems of an RFM segment map: gap (cells no rule holds, they get the fallback), overlap (cells a rule shares with an earlier rule of another segment), unreachable rules, ranges outside 1..bins; no rows when the map is clean';
COMMENT ON FUNCTION rfm_segment_map_copy(text, text, text) IS
  'copies an RFM segment map and its rules under a new name (to edit it); returns the number of rules copied';
