-- The catalog of segment rulesets (issue 6). pg_dump keeps its rows
-- (pg_extension_config_dump), so a restore keeps every ruleset.

CREATE SEQUENCE segment_ruleset_versions;

CREATE TABLE segment_rulesets (
    name             text PRIMARY KEY CHECK (name <> ''),
    rules            jsonb NOT NULL CHECK (jsonb_typeof(rules) = 'array'),
    default_segment  text,
    input            regtype,
    attributes       jsonb NOT NULL CHECK (jsonb_typeof(attributes) = 'object'),
    depends_on       text[] NOT NULL DEFAULT '{}',
    version          bigint NOT NULL DEFAULT nextval('segment_ruleset_versions'),
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_by       name NOT NULL DEFAULT current_user
);

SELECT pg_catalog.pg_extension_config_dump('segment_rulesets', '');
SELECT pg_catalog.pg_extension_config_dump('segment_ruleset_versions', '');

COMMENT ON TABLE segment_rulesets IS
  'segment rulesets: ordered rules (first match wins) over typed attributes; read it, write it only through segment_ruleset_create() and segment_ruleset_drop()';
COMMENT ON COLUMN segment_rulesets.rules IS 'ordered array of {"segment": ..., "when": ...} as passed to segment_ruleset_create()';
COMMENT ON COLUMN segment_rulesets.default_segment IS 'the segment of a customer no rule matches (NULL: none)';
COMMENT ON COLUMN segment_rulesets.input IS 'the row type the attributes were taken from, if one was given';
COMMENT ON COLUMN segment_rulesets.attributes IS 'attribute name → type the rules were checked against';
COMMENT ON COLUMN segment_rulesets.depends_on IS 'rulesets referenced with segment(''name'')';
COMMENT ON COLUMN segment_rulesets.version IS 'changes on every create or replace; compiled rulesets are cached per backend by version';
COMMENT ON SEQUENCE segment_ruleset_versions IS 'source of segment_rulesets.version';
