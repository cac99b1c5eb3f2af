"""Rules: segment_assign with the 11-rule RFM map and a few attribute rules vs
the equivalent hand-written CASE expression, in the same query.

Input: one row per customer with r, f, m scores 1-5 (deterministic from the
customer id, so the suite does not depend on the RFM area) and the customer's
city, birth year, signup channel, e-mail opt-in and tags. Both sides run the
same GROUP BY over the same table; the results are checked equal in setup.

- all rows: the plan PostgreSQL picks (parallel workers included);
- one process: max_parallel_workers_per_gather = 0.
"""

import json

from runner import Case

NEEDS_EVENTS = False

RULES = [
    ("VIP", "'vip' = ANY(tags) AND m >= 4"),
    ("Local newsletter", "city = 'Boston' AND email_opt_in"),
    ("Young app users", "birth_year >= 2000 AND signup_channel = 'app'"),
    ("Champions", "r >= 4 AND f >= 4"),
    ("Loyal", "r >= 3 AND f >= 4"),
    ("Potential loyalist", "r >= 4 AND f BETWEEN 2 AND 3"),
    ("New customers", "r = 5 AND f = 1"),
    ("Promising", "r = 4 AND f = 1"),
    ("Need attention", "r = 3 AND f = 3"),
    ("About to sleep", "r = 3 AND f <= 2"),
    ("Cannot lose them", "r <= 2 AND f = 5"),
    ("At risk", "r <= 2 AND f BETWEEN 3 AND 4"),
    ("Hibernating", "r = 2 AND f <= 2"),
    ("Lost", "r = 1 AND f <= 2"),
]

CASE_SQL = "CASE " + " ".join(f"WHEN {w} THEN '{s}'" for s, w in RULES) + " ELSE 'Other' END"


def cases(ctx):
    conn = ctx.connect(autocommit=True)

    def setup():
        conn.execute("DROP TABLE IF EXISTS bench_rules_input")
        conn.execute(
            """CREATE TABLE bench_rules_input AS
               SELECT customer_id,
                      1 + abs(hashint8(customer_id)) % 5 AS r,
                      1 + abs(hashint8(customer_id + 1000000007)) % 5 AS f,
                      1 + abs(hashint8(customer_id + 2000000014)) % 5 AS m,
                      city, birth_year, signup_channel, email_opt_in, tags
               FROM customers"""
        )
        conn.execute("VACUUM ANALYZE bench_rules_input")
        rules = json.dumps([{"segment": s, "when": w} for s, w in RULES])
        conn.execute(
            "SELECT segment_ruleset_create('bench_rfm', %s::jsonb, 'Other', 'bench_rules_input'::regtype, replace => true)",
            [rules],
        )
        ours = conn.execute(OURS).fetchall()
        peer = conn.execute(PEER).fetchall()
        assert ours == peer, (ours, peer)

    OURS = "SELECT segment_assign('bench_rfm', t) AS s, count(*) FROM bench_rules_input t GROUP BY 1 ORDER BY 1"
    PEER = f"SELECT {CASE_SQL} AS s, count(*) FROM bench_rules_input t GROUP BY 1 ORDER BY 1"

    def ours():
        conn.execute(OURS).fetchall()

    def peer():
        conn.execute(PEER).fetchall()

    def serial(query):
        def run():
            with conn.transaction():
                conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
                conn.execute(query).fetchall()
        return run

    yield Case("segment_assign vs CASE, 14 rules", ours, peer, "hand-written CASE", goal=1.5, setup=setup)
    yield Case("the same, one process", serial(OURS), serial(PEER), "hand-written CASE", goal=1.5)
