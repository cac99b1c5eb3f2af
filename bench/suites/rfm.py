"""RFM: rfm_segments end to end vs the hand-written SQL and vs pandas.

All three compute, per customer with orders up to as_of: recency, frequency
and monetary, quintile scores 1..5 (recency: more recent is higher) and the
standard 11-segment name, and the query returns a small checksum so no side
pays for sending a million rows to the client.

- ours: `rfm_segments('orders', NULL::bigint, as_of => ...)` (one scan,
  dense per-customer accumulation, exact O(n) cut points, no GROUP BY/sort).
- hand SQL: `GROUP BY customer_id` + three `NTILE(5)` windows + `CASE`.
- pandas: `COPY ... TO STDOUT` + `read_csv` + `groupby().agg()` + `qcut` on
  ranks (NTILE's tiles) + the same segment mapping.
"""

import io

import numpy as np
import pandas as pd

from runner import Case

NEEDS_EVENTS = False
AS_OF = "2025-01-01"

SEGMENT_CASE = """CASE
    WHEN r = 5 AND f >= 4 THEN 'Champions'
    WHEN r BETWEEN 3 AND 4 AND f >= 4 THEN 'Loyal Customers'
    WHEN r >= 4 AND f BETWEEN 2 AND 3 THEN 'Potential Loyalist'
    WHEN r = 5 AND f = 1 THEN 'New Customers'
    WHEN r = 4 AND f = 1 THEN 'Promising'
    WHEN r = 3 AND f = 3 THEN 'Need Attention'
    WHEN r = 3 AND f <= 2 THEN 'About To Sleep'
    WHEN r <= 2 AND f BETWEEN 3 AND 4 THEN 'At Risk'
    WHEN r <= 2 AND f = 5 THEN 'Can''t Lose Them'
    WHEN r = 2 AND f <= 2 THEN 'Hibernating'
    WHEN r = 1 AND f = 2 THEN 'Hibernating'
    ELSE 'Lost' END"""

OURS = f"""SELECT count(*), sum(r_score + f_score + m_score), count(DISTINCT segment)
FROM rfm_segments('orders', NULL::bigint, as_of => '{AS_OF}')"""

HAND = f"""WITH s AS (
    SELECT customer_id, max(ordered_at) AS last_order_at, count(*) AS frequency, sum(amount) AS monetary
    FROM orders WHERE ordered_at <= '{AS_OF}' GROUP BY customer_id
), scored AS (
    SELECT customer_id, ntile(5) OVER (ORDER BY last_order_at) AS r, ntile(5) OVER (ORDER BY frequency) AS f,
           ntile(5) OVER (ORDER BY monetary) AS m
    FROM s
)
SELECT count(*), sum(r + f + m), count(DISTINCT segment)
FROM (SELECT r, f, m, {SEGMENT_CASE} AS segment FROM scored) x"""


def segment(r, f):
    out = np.full(r.shape, "Lost", dtype=object)
    rules = [
        ((r == 5) & (f >= 4), "Champions"),
        (((r == 3) | (r == 4)) & (f >= 4), "Loyal Customers"),
        ((r >= 4) & (f >= 2) & (f <= 3), "Potential Loyalist"),
        ((r == 5) & (f == 1), "New Customers"),
        ((r == 4) & (f == 1), "Promising"),
        ((r == 3) & (f == 3), "Need Attention"),
        ((r == 3) & (f <= 2), "About To Sleep"),
        ((r <= 2) & (f >= 3) & (f <= 4), "At Risk"),
        ((r <= 2) & (f == 5), "Can't Lose Them"),
        ((r == 2) & (f <= 2), "Hibernating"),
        ((r == 1) & (f == 2), "Hibernating"),
    ]
    for mask, name in reversed(rules):  # the first matching rule wins
        out[mask] = name
    return out


def pandas_rfm(conn):
    buf = io.BytesIO()
    query = f"SELECT customer_id, ordered_at, amount FROM orders WHERE ordered_at <= '{AS_OF}'"
    with conn.cursor().copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
        for chunk in copy:
            buf.write(chunk)
    buf.seek(0)
    df = pd.read_csv(buf, names=["customer_id", "ordered_at", "amount"], parse_dates=["ordered_at"])
    s = df.groupby("customer_id").agg(last=("ordered_at", "max"), frequency=("ordered_at", "size"),
                                       monetary=("amount", "sum"))
    as_of = pd.Timestamp(AS_OF, tz="UTC")
    s["recency_days"] = (as_of - s["last"]).dt.total_seconds() / 86400
    tiles = lambda v: pd.qcut(v.rank(method="first"), 5, labels=False) + 1  # noqa: E731  NTILE's tiles
    r = 6 - tiles(s["recency_days"]).to_numpy()
    f = tiles(s["frequency"]).to_numpy()
    m = tiles(s["monetary"]).to_numpy()
    s["segment"] = segment(r, f)
    return len(s), int((r + f + m).sum()), s["segment"].nunique()


def cases(ctx):
    conn = ctx.connect(autocommit=True)
    conn.execute("SET client_min_messages = warning")
    results = {}

    def ours():
        results["ours"] = conn.execute(OURS).fetchone()

    def hand():
        results["hand"] = conn.execute(HAND).fetchone()

    def peer():
        results["pandas"] = pandas_rfm(conn)

    def setup():
        ours()
        hand()
        # the same customers on both sides (scores differ only where NTILE splits ties)
        assert results["ours"][0] == results["hand"][0], results

    yield Case("rfm_segments vs GROUP BY + 3 NTILE(5) + CASE", ours, hand, "hand-written SQL", goal=0.3, setup=setup)
    yield Case("rfm_segments vs COPY + pandas groupby + qcut", ours, peer, "COPY + pandas")
