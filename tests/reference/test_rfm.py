"""rfm_agg / rfm_segments equal the peer libraries on the CDNOW transaction log.

BTYD fields (frequency, recency, T, monetary_value) are compared for every
customer with lifetimes' summary_data_from_transaction_data(freq='D'),
computed in the test from the same file the lifetimes wheel ships; recency
in days, order count and monetary total with a pandas groupby.
"""

import os
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
import pytest

AS_OF = "1998-06-30"


def cdnow():
    import lifetimes

    path = os.path.join(os.path.dirname(lifetimes.__file__), "datasets", "CDNOW_master.txt")
    df = pd.read_csv(path, sep=r"\s+", header=0, names=["customer_id", "date", "cds", "amount"],
                     dtype={"customer_id": np.int64, "date": str, "cds": np.int64, "amount": str})
    df["date"] = pd.to_datetime(df["date"], format="%Y%m%d")
    return df


@pytest.fixture(scope="module")
def data(dbname):
    from conftest import connect

    df = cdnow()
    with connect(dbname, autocommit=True) as c:
        c.execute("CREATE TABLE orders (customer_id bigint, ordered_at timestamptz, amount numeric(10,2))")
        with c.cursor().copy("COPY orders FROM STDIN") as copy:
            for r in df.itertuples(index=False):
                copy.write_row([int(r.customer_id), r.date.strftime("%Y-%m-%d"), r.amount])
        c.execute("ANALYZE orders")
    return df


def fetch(conn, sql):
    cur = conn.execute(sql)
    cols = [d.name for d in cur.description]
    return pd.DataFrame(cur.fetchall(), columns=cols).set_index(cols[0]).sort_index()


def test_cdnow_is_the_full_log(conn, data):
    assert len(data) == 69659
    assert conn.execute("SELECT count(*), count(DISTINCT customer_id) FROM orders").fetchone() == (69659, 23570)


def test_btyd_fields_equal_lifetimes(conn, data):
    from lifetimes.utils import summary_data_from_transaction_data

    peer = data.assign(amount=data["amount"].astype(float))
    ref = summary_data_from_transaction_data(peer, "customer_id", "date", monetary_value_col="amount",
                                             observation_period_end=AS_OF, freq="D").sort_index()
    ours = fetch(conn, f"""SELECT customer_id, (r).btyd_frequency AS frequency, (r).btyd_recency AS recency,
                                  (r).btyd_t AS "T", (r).btyd_monetary_value AS monetary_value
                           FROM (SELECT customer_id, rfm_agg(ordered_at, amount, '{AS_OF}') r
                                 FROM orders GROUP BY customer_id) s""")
    assert len(ours) == len(ref) == 23570
    assert (ours.index == ref.index).all()
    np.testing.assert_array_equal(ours["frequency"].to_numpy(), ref["frequency"].to_numpy())
    np.testing.assert_array_equal(ours["recency"].to_numpy(), ref["recency"].to_numpy())
    np.testing.assert_array_equal(ours["T"].to_numpy(), ref["T"].to_numpy())
    np.testing.assert_allclose(ours["monetary_value"].to_numpy(), ref["monetary_value"].to_numpy(), rtol=1e-12, atol=1e-9)
    # the one-call function gives the same BTYD fields
    seg = fetch(conn, f"""SELECT customer, btyd_frequency, btyd_recency, btyd_t, btyd_monetary_value
                          FROM rfm_segments('orders', NULL::bigint, as_of => '{AS_OF}')""")
    np.testing.assert_array_equal(seg["btyd_frequency"].to_numpy(), ref["frequency"].to_numpy())
    np.testing.assert_array_equal(seg["btyd_t"].to_numpy(), ref["T"].to_numpy())
    np.testing.assert_allclose(seg["btyd_monetary_value"].to_numpy(), ref["monetary_value"].to_numpy(), rtol=1e-12, atol=1e-9)


def test_btyd_fields_point_in_time(conn, data):
    """Orders after as_of are ignored, as lifetimes' observation_period_end does."""
    from lifetimes.utils import summary_data_from_transaction_data

    as_of = "1997-09-30"
    peer = data.assign(amount=data["amount"].astype(float))
    ref = summary_data_from_transaction_data(peer, "customer_id", "date", monetary_value_col="amount",
                                             observation_period_end=as_of, freq="D").sort_index()
    ours = fetch(conn, f"""SELECT customer, btyd_frequency, btyd_recency, btyd_t, btyd_monetary_value
                           FROM rfm_segments('orders', NULL::bigint, as_of => '{as_of}')""")
    assert (ours.index == ref.index).all()
    np.testing.assert_array_equal(ours["btyd_frequency"].to_numpy(), ref["frequency"].to_numpy())
    np.testing.assert_array_equal(ours["btyd_recency"].to_numpy(), ref["recency"].to_numpy())
    np.testing.assert_array_equal(ours["btyd_t"].to_numpy(), ref["T"].to_numpy())
    np.testing.assert_allclose(ours["btyd_monetary_value"].to_numpy(), ref["monetary_value"].to_numpy(), rtol=1e-12, atol=1e-9)


def test_recency_frequency_monetary_equal_pandas(conn, data):
    as_of = pd.Timestamp(AS_OF)
    g = data.assign(amount=data["amount"].map(Decimal)).groupby("customer_id")
    ref = pd.DataFrame({
        "recency_days": (as_of - g["date"].max()).dt.days.astype(float),
        "tenure_days": (as_of - g["date"].min()).dt.days.astype(float),
        "frequency": g.size(),
        "monetary": g["amount"].sum(),
    }).sort_index()
    ours = fetch(conn, f"""SELECT customer, recency_days, tenure_days, frequency, monetary, avg_order_value
                           FROM rfm_segments('orders', NULL::bigint, as_of => '{AS_OF}')""")
    np.testing.assert_array_equal(ours["recency_days"].to_numpy(), ref["recency_days"].to_numpy())
    np.testing.assert_array_equal(ours["tenure_days"].to_numpy(), ref["tenure_days"].to_numpy())
    np.testing.assert_array_equal(ours["frequency"].to_numpy(), ref["frequency"].to_numpy())
    assert list(ours["monetary"]) == list(ref["monetary"])  # exact decimals
    mean = [(m / n).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP) for m, n in zip(ref["monetary"], ref["frequency"])]
    assert list(ours["avg_order_value"]) == mean


def test_scores_follow_the_documented_quantiles(conn, data):
    """Scores recomputed with numpy from the documented cut-point rule."""
    ours = fetch(conn, f"""SELECT customer, recency_days, frequency, monetary::float8 AS monetary, r_score, f_score, m_score, rfm_cell
                           FROM rfm_segments('orders', NULL::bigint, as_of => '{AS_OF}')""")
    n, bins = len(ours), 5

    def scores(values, reverse=False):
        s = np.sort(values)
        cuts = [s[i * (n // bins) + min(i, n % bins) - 1] for i in range(1, bins)]
        score = 1 + np.searchsorted(cuts, values, side="left")
        return bins + 1 - score if reverse else score

    np.testing.assert_array_equal(ours["r_score"].to_numpy(), scores(ours["recency_days"].to_numpy(), True))
    np.testing.assert_array_equal(ours["f_score"].to_numpy(), scores(ours["frequency"].to_numpy().astype(float)))
    np.testing.assert_array_equal(ours["m_score"].to_numpy(), scores(ours["monetary"].to_numpy()))
    # with distinct values the scores are NTILE's: pandas qcut on ranks gives the same tiles
    m = ours["monetary"].rank(method="first").to_numpy()
    assert ours["rfm_cell"].str.len().eq(3).all()
    assert np.unique(m).size == n
