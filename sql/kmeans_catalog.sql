-- The catalog of fitted k-means models (issue 5). pg_dump keeps its rows
-- (pg_extension_config_dump), so a restore keeps every model.

CREATE SEQUENCE kmeans_model_versions;

CREATE TABLE kmeans_models (
    name              text PRIMARY KEY CHECK (name <> ''),
    relation          regclass NOT NULL,
    features          text,
    profile           text,
    profile_fit_id    bigint,
    profile_fitted_at timestamptz,
    profile_transform jsonb,
    k                 integer NOT NULL CHECK (k >= 1),
    dims              integer NOT NULL CHECK (dims >= 1),
    centroids         double precision[] NOT NULL,
    sizes             bigint[] NOT NULL,
    inertia           double precision NOT NULL,
    iterations        integer NOT NULL,
    converged         boolean NOT NULL,
    rows_fitted       bigint NOT NULL,
    rows_skipped      bigint NOT NULL,
    options           jsonb NOT NULL,
    elapsed_ms        double precision NOT NULL,
    version           bigint NOT NULL DEFAULT nextval('kmeans_model_versions'),
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    created_by        name NOT NULL DEFAULT current_user,
    CHECK ((features IS NULL) <> (profile IS NULL))
);

SELECT pg_catalog.pg_extension_config_dump('kmeans_models', '');
SELECT pg_catalog.pg_extension_config_dump('kmeans_model_versions', '');

COMMENT ON TABLE kmeans_models IS
  'fitted k-means models: one row per kmeans_fit() name with centroids, cluster sizes, inertia and how the fit went; read it, write it only through kmeans_fit() and kmeans_drop()';
COMMENT ON COLUMN kmeans_models.features IS 'the real[] / float8[] column the model was fitted on (NULL when fitted through a profile)';
COMMENT ON COLUMN kmeans_models.profile IS 'the profile whose vectors the model was fitted on (NULL when fitted on a column)';
COMMENT ON COLUMN kmeans_models.profile_transform IS 'the fitted profile as it was at fit time; kmeans_assign(model, customer) applies exactly this transform';
COMMENT ON COLUMN kmeans_models.centroids IS 'k × dims array; row c is the centroid of cluster c (clusters are numbered 1..k)';
COMMENT ON COLUMN kmeans_models.sizes IS 'rows per cluster at the end of the fit';
COMMENT ON COLUMN kmeans_models.inertia IS 'sum of squared Euclidean distances of the rows to their centroid';
COMMENT ON COLUMN kmeans_models.version IS 'changes on every fit; kmeans_assign caches a model per backend and reloads it when this changes';
COMMENT ON SEQUENCE kmeans_model_versions IS 'source of kmeans_models.version';

CREATE TYPE kmeans_assignment AS (cluster integer, distance double precision);
COMMENT ON TYPE kmeans_assignment IS
  'what kmeans_assign_with_distance returns: the cluster (1..k) and the Euclidean distance to its centroid';
