"""profile_fit / profile_vector equal scikit-learn on the same data.

The reference is a ColumnTransformer built from scikit-learn's own pieces
(StandardScaler, MinMaxScaler, RobustScaler, FunctionTransformer(np.log1p, feature_names_out="one-to-one"),
SimpleImputer, OneHotEncoder with max_categories / min_frequency /
handle_unknown, MultiLabelBinarizer), fitted on the rows pg_segment fits on.
Both sides are computed in the test; vectors are compared position by
position (pg_segment returns real, so within float32 precision).
"""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MinMaxScaler,
    MultiLabelBinarizer,
    OneHotEncoder,
    RobustScaler,
    StandardScaler,
)

ROWS = 600
CITIES = ["Austin", "Boston", "Chicago", "Denver", "El Paso", "Fresno", "Gary", "Houston"]
TAGS = ["eco", "gift", "mobile", "newsletter", "vip"]


def make_data(seed=7):
    rng = np.random.default_rng(seed)
    x_normal = rng.normal(40, 12, ROWS)
    x_heavy = np.round(rng.lognormal(3.5, 1.0, ROWS), 2)
    x_gappy = rng.normal(5, 2, ROWS)
    x_gappy[rng.random(ROWS) < 0.12] = np.nan
    # Zipf-like cities with distinct counts, so top-N has no ties at its cut
    weights = np.array([0.30, 0.22, 0.16, 0.11, 0.08, 0.06, 0.04, 0.03])
    city = rng.choice(CITIES, ROWS, p=weights)
    gender = rng.choice(["F", "M", "X"], ROWS, p=[0.5, 0.45, 0.05]).astype(object)
    gender[rng.random(ROWS) < 0.07] = None
    opt_in = (rng.random(ROWS) < 0.65).astype(object)
    opt_in[rng.random(ROWS) < 0.05] = None
    tags = [sorted(set(rng.choice(TAGS, rng.integers(0, 4)))) for _ in range(ROWS)]
    tags = [t if rng.random() > 0.05 else None for t in tags]
    return pd.DataFrame(
        {
            "id": np.arange(1, ROWS + 1),
            "x_normal": x_normal,
            "x_heavy": x_heavy,
            "x_gappy": x_gappy,
            "x_const": np.full(ROWS, 3.25),
            "city": city,
            "gender": gender,
            "opt_in": opt_in,
            "tags": tags,
        }
    )


SPEC = {
    "features": [
        {"column": "x_normal", "transform": "zscore"},
        {"column": "x_heavy", "name": "heavy_minmax", "transform": "minmax"},
        {"column": "x_heavy", "name": "heavy_robust", "transform": "robust"},
        {"column": "x_heavy", "name": "heavy_log", "transform": ["log1p", "zscore"]},
        {"column": "x_gappy", "name": "gappy_mean", "transform": "zscore", "missing": "mean"},
        {"column": "x_gappy", "name": "gappy_median", "transform": "robust", "missing": "median",
         "quantile_range": [10, 90]},
        {"column": "x_const", "transform": "zscore"},
        {"column": "city", "name": "city_top4", "top": 4},
        {"column": "city", "name": "city_all", "other": False},
        {"column": "city", "name": "city_min", "min_frequency": 40},
        {"column": "gender", "missing": "constant", "fill_value": "missing", "other": False},
        {"column": "opt_in", "missing": "most_frequent"},
    ]
}


def reference(df):
    """The same transform built from scikit-learn, fitted on df."""
    return ColumnTransformer(
        [
            ("x_normal", StandardScaler(), ["x_normal"]),
            ("heavy_minmax", MinMaxScaler(), ["x_heavy"]),
            ("heavy_robust", RobustScaler(), ["x_heavy"]),
            ("heavy_log", make_pipeline(FunctionTransformer(np.log1p, feature_names_out="one-to-one"), StandardScaler()), ["x_heavy"]),
            ("gappy_mean", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), ["x_gappy"]),
            ("gappy_median",
             make_pipeline(SimpleImputer(strategy="median"), RobustScaler(quantile_range=(10, 90))), ["x_gappy"]),
            ("x_const", StandardScaler(), ["x_const"]),
            # top 4 + 'other' == max_categories 5 (it counts the infrequent column)
            ("city_top4", OneHotEncoder(max_categories=5, handle_unknown="infrequent_if_exist",
                                        sparse_output=False), ["city"]),
            ("city_all", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["city"]),
            ("city_min", OneHotEncoder(min_frequency=40, handle_unknown="infrequent_if_exist",
                                       sparse_output=False), ["city"]),
            ("gender", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                                     OneHotEncoder(handle_unknown="ignore", sparse_output=False)), ["gender"]),
            ("opt_in", SimpleImputer(strategy="most_frequent"), ["opt_in"]),
        ]
    )


def sklearn_frame(df):
    out = df.copy()
    out["gender"] = out["gender"].astype(object).where(out["gender"].notna(), np.nan)
    out["opt_in"] = out["opt_in"].map({True: 1.0, False: 0.0})
    return out


@pytest.fixture(scope="module")
def fitted(dbname):
    from conftest import connect

    df = make_data()
    with connect(dbname, autocommit=True) as c:
        c.execute(
            "CREATE TABLE ref_customers (id int PRIMARY KEY, x_normal float8, x_heavy numeric(12,2), "
            "x_gappy float8, x_const float8, city text, gender text, opt_in boolean, tags text[])"
        )
        with c.cursor().copy(
            "COPY ref_customers (id, x_normal, x_heavy, x_gappy, x_const, city, gender, opt_in, tags) FROM STDIN"
        ) as copy:
            for r in df.itertuples(index=False):
                copy.write_row(
                    [
                        int(r.id),
                        float(r.x_normal),
                        float(r.x_heavy),
                        None if np.isnan(r.x_gappy) else float(r.x_gappy),
                        float(r.x_const),
                        r.city,
                        None if pd.isna(r.gender) else r.gender,
                        None if pd.isna(r.opt_in) else bool(r.opt_in),
                        r.tags,
                    ]
                )
        dims = c.execute(
            "SELECT profile_fit('ref', 'ref_customers', %s::jsonb)", [json.dumps(SPEC)]
        ).fetchone()[0]
    ct = reference(df).fit(sklearn_frame(df))
    return df, ct, dims


def vectors(conn, name, table="ref_customers"):
    rows = conn.execute(f"SELECT profile_vector(%s, c) FROM {table} c ORDER BY id", [name]).fetchall()
    return np.array([r[0] for r in rows], dtype=np.float64)


def test_dimensions_and_feature_names_match(conn, fitted):
    """Positions carry the names get_feature_names_out gives, in the same order."""
    _, ct, dims = fitted
    names = ct.get_feature_names_out()
    assert dims == len(names)
    columns = {name: cols[0] for name, _, cols in ct.transformers_ if name != "remainder"}
    expected = []
    for n in names:
        transformer, rest = n.split("__", 1)
        column = columns[transformer]
        if rest == column:
            expected.append(transformer)
        else:
            category = rest[len(column) + 1:]
            expected.append(f"{transformer}=" + ("(other)" if category == "infrequent_sklearn" else category))
    ours = [r[0] for r in conn.execute("SELECT feature FROM profile_layout('ref') ORDER BY position")]
    assert ours == expected


def test_vectors_equal_column_transformer(conn, fitted):
    df, ct, _ = fitted
    ours = vectors(conn, "ref")
    theirs = ct.transform(sklearn_frame(df)).astype(np.float64)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
    # the constant column is 0 everywhere, never NaN
    assert np.isfinite(ours).all()


def test_fitted_statistics_equal_scaler_attributes(conn, fitted):
    _, ct, _ = fitted
    stats = dict(
        conn.execute("SELECT feature, statistics FROM profile_layout('ref') WHERE kind = 'numeric'").fetchall()
    )
    std = ct.named_transformers_["x_normal"]
    assert stats["x_normal"]["steps"][0]["mean"] == pytest.approx(std.mean_[0], rel=1e-12)
    assert stats["x_normal"]["steps"][0]["std"] == pytest.approx(std.scale_[0], rel=1e-12)
    mm = ct.named_transformers_["heavy_minmax"]
    assert stats["heavy_minmax"]["steps"][0]["min"] == pytest.approx(mm.data_min_[0], rel=1e-15)
    assert stats["heavy_minmax"]["steps"][0]["max"] == pytest.approx(mm.data_max_[0], rel=1e-15)
    rb = ct.named_transformers_["heavy_robust"]
    assert stats["heavy_robust"]["steps"][0]["median"] == pytest.approx(rb.center_[0], rel=1e-15)
    assert stats["heavy_robust"]["steps"][0]["iqr"] == pytest.approx(rb.scale_[0], rel=1e-12)
    imp = ct.named_transformers_["gappy_median"].named_steps["simpleimputer"]
    assert stats["gappy_median"]["impute"] == pytest.approx(imp.statistics_[0], rel=1e-15)
    const = ct.named_transformers_["x_const"]
    assert const.scale_[0] == 1.0 and stats["x_const"]["steps"][0]["std"] == 1.0


def test_unseen_categories_follow_handle_unknown(conn, fitted):
    """New customers (jsonb) with categories never seen at fit time."""
    df, ct, _ = fitted
    new = pd.DataFrame(
        {
            "x_normal": [41.0, 10.0],
            "x_heavy": [30.0, 1000.0],
            "x_gappy": [np.nan, 4.0],
            "x_const": [3.25, 3.25],
            "city": ["Zanzibar", "Gary"],
            "gender": ["Q", None],
            "opt_in": [None, True],
        }
    )
    theirs = ct.transform(sklearn_frame(new)).astype(np.float64)
    ours = []
    for r in new.to_dict("records"):
        payload = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        ours.append(conn.execute("SELECT profile_vector('ref', %s::jsonb)", [json.dumps(payload)]).fetchone()[0])
    np.testing.assert_allclose(np.array(ours, dtype=np.float64), theirs, rtol=1e-6, atol=1e-6)


def test_tags_equal_multilabelbinarizer(conn, fitted):
    df, _, _ = fitted
    conn.execute(
        "SELECT profile_fit('ref_tags', 'ref_customers', '{\"features\": [{\"column\": \"tags\"}]}')"
    )
    ours = vectors(conn, "ref_tags")
    mlb = MultiLabelBinarizer()
    theirs = mlb.fit_transform([t or [] for t in df["tags"]]).astype(np.float64)
    layout = [r[0] for r in conn.execute("SELECT value FROM profile_layout('ref_tags') ORDER BY position")]
    assert layout == list(mlb.classes_)
    np.testing.assert_array_equal(ours, theirs)
