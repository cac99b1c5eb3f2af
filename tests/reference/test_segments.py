"""segment_refresh's statistics equal pandas / numpy on the same labels.

Random labels for 5,000 customers (some NULL), refreshed, relabelled (some
customers move, some segments appear or vanish, some customers leave), and
refreshed again. The reference side computes sizes, shares, relative change,
the PSI (shares floored at 1e-4), the flags and the migration matrix
(pandas.crosstab) from the same two label vectors.
"""

import numpy as np
import pandas as pd
import pytest

from conftest import connect

N = 5000
FLOOR = 1e-4


def labels(rng, segments, p):
    out = rng.choice(segments, size=N, p=p).astype(object)
    out[rng.random(N) < 0.03] = None  # unlabelled
    return out


@pytest.fixture(scope="module")
def runs(dbname):
    rng = np.random.default_rng(7)
    first = labels(rng, ["a", "b", "c", "d"], [0.4, 0.3, 0.2, 0.1])
    second = first.copy()
    move = rng.random(N) < 0.2
    second[move] = rng.choice(["a", "b", "e"], size=move.sum(), p=[0.2, 0.5, 0.3])  # 'e' is new
    second[second == "d"] = "c"  # 'd' vanishes
    second[rng.random(N) < 0.02] = None  # some leave
    with connect(dbname, autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        c.execute("CREATE TABLE r_customers (id integer PRIMARY KEY, label text)")
        with c.cursor().copy("COPY r_customers FROM STDIN") as cp:
            for i, lab in enumerate(first):
                cp.write_row((i, lab))
        c.execute("SELECT segmentation_create('ref', 'r_customers', 'id', label_column => 'label', "
                  "max_size_change => 0.3, min_segment_size => 700, psi_threshold => 0.1)")
        run1 = c.execute("CALL segment_refresh('ref', '2024-01-01')").fetchone()[0]
        c.execute("CREATE TEMP TABLE relabel (id integer, label text)")
        with c.cursor().copy("COPY relabel FROM STDIN") as cp:
            for i, lab in enumerate(second):
                cp.write_row((i, lab))
        c.execute("UPDATE r_customers r SET label = x.label FROM relabel x WHERE x.id = r.id")
        run2 = c.execute("CALL segment_refresh('ref', '2024-02-01')").fetchone()[0]
    return dbname, run1, run2, first, second


def reference_stats(first, second, max_change=0.3, min_size=700):
    prev = pd.Series(first).dropna().value_counts()
    cur = pd.Series(second).dropna().value_counts()
    segs = sorted(set(prev.index) | set(cur.index))
    prev, cur = prev.reindex(segs, fill_value=0), cur.reindex(segs, fill_value=0)
    prev_share, share = prev / prev.sum(), cur / cur.sum()
    p, s = np.maximum(prev_share, FLOOR), np.maximum(share, FLOOR)
    psi = (s - p) * np.log(s / p)
    change = (cur - prev) / prev.where(prev > 0)
    flags = {}
    for seg in segs:
        f = []
        if prev[seg] == 0 and cur[seg] > 0:
            f.append("new")
        if prev[seg] > 0 and cur[seg] == 0:
            f.append("gone")
        if prev[seg] > 0 and abs(change[seg]) > max_change:
            f.append("size_change")
        if 0 < cur[seg] < min_size:
            f.append("below_min_size")
        flags[seg] = f
    return pd.DataFrame({"size": cur, "share": share, "prev_size": prev, "change": change, "psi": psi}), flags


def test_sizes_shares_change_psi_and_flags_equal_pandas(runs):
    dbname, _, run2, first, second = runs
    ref, ref_flags = reference_stats(first, second)
    with connect(dbname, autocommit=True) as c:
        rows = c.execute(
            "SELECT segment, size, share, prev_size, size_change, psi, flags FROM segment_run_segments "
            "WHERE run_id = %s ORDER BY segment", [run2]
        ).fetchall()
        run_psi, run_flags = c.execute("SELECT psi, flags FROM segment_runs WHERE run_id = %s", [run2]).fetchone()
    assert [r[0] for r in rows] == list(ref.index) == ["a", "b", "c", "d", "e"]
    for seg, size, share, prev_size, change, psi, flags in rows:
        want = ref.loc[seg]
        assert size == want["size"] and prev_size == want["prev_size"]
        assert share == pytest.approx(want["share"], rel=1e-12)
        if np.isnan(want["change"]):
            assert change is None
        else:
            assert change == pytest.approx(want["change"], rel=1e-12)
        assert psi == pytest.approx(want["psi"], rel=1e-9)
        assert flags == ref_flags[seg]
    assert run_psi == pytest.approx(ref["psi"].sum(), rel=1e-9)
    assert run_psi > 0.1 and run_flags[0] == "psi"
    assert set(run_flags[1:]) == {f for fl in ref_flags.values() for f in fl}


def test_transitions_equal_pandas_crosstab(runs):
    dbname, run1, run2, first, second = runs
    frame = pd.DataFrame({"from": pd.Series(first).fillna("-"), "to": pd.Series(second).fillna("-")})
    frame = frame[(frame["from"] != "-") | (frame["to"] != "-")]  # unlabelled in both runs: in neither
    ref = frame.groupby(["from", "to"]).size().to_dict()
    with connect(dbname, autocommit=True) as c:
        got = {
            (f or "-", t or "-"): n
            for f, t, n in c.execute(
                "SELECT from_segment, to_segment, customers FROM segment_transitions WHERE run_id = %s", [run2]
            ).fetchall()
        }
        between = {
            (f or "-", t or "-"): n
            for f, t, n in c.execute("SELECT * FROM segment_transitions_between('ref', %s, %s)", [run1, run2]).fetchall()
        }
        members = dict(c.execute("SELECT customer_key::int, segment FROM segment_membership WHERE segmentation = 'ref'"
                                 ).fetchall())
    assert got == ref
    assert between == ref
    assert members == {i: lab for i, lab in enumerate(second) if lab is not None}
