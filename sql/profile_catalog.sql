-- The catalog of fitted profiles (issue 4). pg_dump keeps its rows
-- (pg_extension_config_dump), so a restore keeps every fitted profile.

CREATE SEQUENCE profile_fit_ids;

CREATE TABLE profile_specs (
    name         text PRIMARY KEY CHECK (name <> ''),
    relation     regclass NOT NULL,
    spec         jsonb NOT NULL,
    fitted       jsonb NOT NULL,
    features     integer NOT NULL,
    dimensions   integer NOT NULL,
    rows_fitted  bigint NOT NULL,
    fit_id       bigint NOT NULL DEFAULT nextval('profile_fit_ids'),
    fitted_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    fitted_by    name NOT NULL DEFAULT current_user
);

SELECT pg_catalog.pg_extension_config_dump('profile_specs', '');
SELECT pg_catalog.pg_extension_config_dump('profile_fit_ids', '');

COMMENT ON TABLE profile_specs IS
  'fitted customer profiles: one row per profile_fit() name, with the spec as written and the fitted statistics; read it, write it only through profile_fit() and profile_drop()';
COMMENT ON COLUMN profile_specs.spec IS 'the spec passed to profile_fit(), as written';
COMMENT ON COLUMN profile_specs.fitted IS 'fitted statistics (imputation values, scaler parameters, vocabularies) that profile_vector() applies';
COMMENT ON COLUMN profile_specs.fit_id IS 'changes on every fit; models trained on a profile can store it to notice a refit';
COMMENT ON SEQUENCE profile_fit_ids IS 'source of profile_specs.fit_id';
