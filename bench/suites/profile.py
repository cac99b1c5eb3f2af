"""Profiles: profile_fit / profile_vector vs exporting the customers and using
the same scikit-learn ColumnTransformer.

The transform on both sides (checked equal on 2,000 customers in setup):
birth_year z-score (mean imputation), gender one-hot with NULL → 'unknown',
city top 10 + other, signup_channel and language one-hot, email_opt_in 0/1,
tags multi-hot.

What is timed:
- fit: `SELECT profile_fit(...)` (reads the table, fits, stores in the catalog)
  vs COPY customers TO STDOUT (CSV) + pandas.read_csv + ColumnTransformer.fit.
- transform: `SELECT sum(cardinality(profile_vector('bench_profile', c))) FROM
  customers c` (every customer's vector computed where the rows are; the plan
  PostgreSQL picks, parallel workers included) vs COPY + read_csv +
  ColumnTransformer.transform of the already fitted transformer.
- transform, one process: the same with max_parallel_workers_per_gather = 0.
"""

import io

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from runner import Case

NEEDS_EVENTS = False

COLUMNS = ["customer_id", "birth_year", "gender", "city", "signup_channel", "language", "email_opt_in", "tags"]

SPEC = """{"features": [
  {"column": "birth_year", "transform": "zscore", "missing": "mean"},
  {"column": "gender", "missing": "constant", "fill_value": "unknown", "other": false},
  {"column": "city", "top": 10},
  {"column": "signup_channel", "other": false},
  {"column": "language", "other": false},
  {"column": "email_opt_in", "missing": "most_frequent"},
  {"column": "tags", "other": false}
]}"""


def parse_tags(text):
    """A PostgreSQL text[] in CSV ('{vip,eco}') as a list of tags."""
    inner = text[1:-1] if isinstance(text, str) else ""
    return [t.strip('"') for t in inner.split(",")] if inner else []


def column_transformer():
    return ColumnTransformer(
        [
            ("birth_year", make_pipeline(SimpleImputer(strategy="mean"), StandardScaler()), ["birth_year"]),
            ("gender", make_pipeline(SimpleImputer(strategy="constant", fill_value="unknown"),
                                     OneHotEncoder(handle_unknown="ignore", sparse_output=False)), ["gender"]),
            ("city", OneHotEncoder(max_categories=11, handle_unknown="infrequent_if_exist", sparse_output=False),
             ["city"]),
            ("signup_channel", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["signup_channel"]),
            ("language", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["language"]),
            ("email_opt_in", SimpleImputer(strategy="most_frequent"), ["email_opt_in"]),
            ("tags", CountVectorizer(analyzer=parse_tags, binary=True, lowercase=False), "tags"),
        ],
        sparse_threshold=0.0,
    )


def export(conn, limit=None):
    """COPY the customers out and read them as pandas would."""
    buf = io.BytesIO()
    query = f"SELECT {', '.join(COLUMNS)} FROM customers ORDER BY customer_id" + (f" LIMIT {limit}" if limit else "")
    with conn.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
        for chunk in copy:
            buf.write(chunk)
    buf.seek(0)
    df = pd.read_csv(buf, names=COLUMNS, keep_default_na=False, na_values=[""])
    df["email_opt_in"] = df["email_opt_in"].map({"t": 1.0, "f": 0.0})
    df["gender"] = df["gender"].astype(object)
    return df


def cases(ctx):
    conn = ctx.connect(autocommit=True)
    conn.execute("SET client_min_messages = warning")
    fitted = {}

    def fit_ours():
        conn.execute("SELECT profile_fit('bench_profile', 'customers', %s::jsonb)", [SPEC]).fetchone()

    def fit_peer():
        fitted["ct"] = column_transformer().fit(export(conn))

    def setup():
        fit_ours()
        fit_peer()
        # both sides compute the same vectors
        sample = export(conn, limit=2000)
        theirs = fitted["ct"].transform(sample)
        ours = np.array(
            [r[0] for r in conn.execute(
                "SELECT profile_vector('bench_profile', c) FROM customers c ORDER BY customer_id LIMIT 2000")],
            dtype=np.float64,
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)

    def transform_ours():
        conn.execute("SELECT sum(cardinality(profile_vector('bench_profile', c))) FROM customers c").fetchone()

    def transform_ours_serial():
        conn.execute("SET max_parallel_workers_per_gather = 0")
        try:
            transform_ours()
        finally:
            conn.execute("RESET max_parallel_workers_per_gather")

    def transform_peer():
        fitted["ct"].transform(export(conn))

    yield Case("fit: profile_fit vs COPY + ColumnTransformer.fit", fit_ours, fit_peer,
               "COPY + pandas + sklearn fit", setup=setup)
    yield Case("transform: profile_vector for every customer", transform_ours, transform_peer,
               "COPY + pandas + sklearn transform")
    yield Case("transform, one process (no parallel workers)", transform_ours_serial, transform_peer,
               "COPY + pandas + sklearn transform")
