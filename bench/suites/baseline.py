"""Baseline: what leaving the database costs before any peer computes anything.

Reading the orders inside PostgreSQL (a scan) vs exporting them to pandas with
COPY — the first step of every export-to-Python workflow.
"""

import io

import pandas as pd

from runner import Case

NEEDS_EVENTS = False


def cases(ctx):
    conn = ctx.connect(autocommit=True)

    def scan_in_database():
        conn.execute("SELECT count(*), sum(amount), max(ordered_at) FROM orders").fetchone()

    def export_to_pandas():
        buf = io.BytesIO()
        with conn.cursor().copy("COPY orders (customer_id, ordered_at, amount) TO STDOUT (FORMAT csv)") as copy:
            for chunk in copy:
                buf.write(chunk)
        buf.seek(0)
        df = pd.read_csv(buf, names=["customer_id", "ordered_at", "amount"], parse_dates=["ordered_at"])
        df["amount"].sum()

    yield Case("scan orders vs COPY to pandas", scan_in_database, export_to_pandas, "COPY + pandas.read_csv")
