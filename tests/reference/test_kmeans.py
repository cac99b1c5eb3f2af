"""kmeans_fit / kmeans_select_k against scikit-learn on the same data.

Both sides see exactly the same points: the features are rounded to float32
(pg_segment fits on a float32 matrix) and scikit-learn gets those values.
- same initial centroids: inertia within 1e-4 (relative) of KMeans(init=...);
- k-means++ with n_init = 10: inertia within 1% of KMeans(n_init=10) (or lower)
  on well-separated blobs, Iris, Wine and Digits (loaders bundled with sklearn);
- kmeans_select_k's Calinski-Harabasz and Davies-Bouldin equal sklearn.metrics
  on the same labels, and the simplified silhouette equals its formula in numpy.
"""

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, load_iris, load_wine, make_blobs
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score


def datasets():
    blobs, _ = make_blobs(n_samples=3000, centers=5, n_features=8, cluster_std=1.5, random_state=0)
    return {
        "blobs": (blobs, 5),
        "iris": (load_iris().data, 3),
        "wine": (load_wine().data, 3),
        "digits": (load_digits().data, 10),
    }


DATA = datasets()


@pytest.fixture(scope="module")
def tables(dbname):
    """One table per dataset: (id, f real[]) in row order."""
    from conftest import connect

    with connect(dbname, autocommit=True) as c:
        c.execute("SET client_min_messages = warning")
        for name, (x, _) in DATA.items():
            c.execute(f"CREATE TABLE ref_{name} (id int, f real[])")
            with c.cursor().copy(f"COPY ref_{name} (id, f) FROM STDIN") as copy:
                for i, row in enumerate(x.astype(np.float32)):
                    copy.write_row([i, "{" + ",".join(repr(float(v)) for v in row) + "}"])
            c.execute(f"ANALYZE ref_{name}")
    return dbname


def as_f32(x):
    return x.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("name", list(DATA))
def test_same_init_reaches_sklearn_inertia(conn, tables, name):
    x, k = DATA[name]
    x = as_f32(x)
    rng = np.random.default_rng(42)
    init = x[rng.choice(len(x), k, replace=False)]
    theirs = KMeans(n_clusters=k, init=init, n_init=1, max_iter=300, tol=1e-4, algorithm="lloyd").fit(x)
    conn.execute("SET client_min_messages = warning")
    row = conn.execute(
        f"SELECT inertia, iterations, converged FROM kmeans_fit('ref_{name}', 'ref_{name}', 'f', %s, "
        "init_centroids => %s::float8[])",
        [k, init.tolist()],
    ).fetchone()
    ours = row[0]
    assert abs(ours - theirs.inertia_) / theirs.inertia_ < 1e-4, (ours, theirs.inertia_)
    assert row[2] is True
    # the same clusters: labels from kmeans_assign agree with sklearn's
    labels = np.array([r[0] for r in conn.execute(f"SELECT kmeans_assign('ref_{name}', f) FROM ref_{name} ORDER BY id")])
    assert (labels - 1 == theirs.labels_).mean() > 0.999
    centroids = np.array(conn.execute("SELECT centroids FROM kmeans_models WHERE name = %s", [f"ref_{name}"]).fetchone()[0])
    np.testing.assert_allclose(centroids, theirs.cluster_centers_, rtol=1e-4, atol=1e-4 * np.abs(x).max())


@pytest.mark.parametrize("name", list(DATA))
def test_kmeans_plus_plus_n_init_10_within_one_percent(conn, tables, name):
    x, k = DATA[name]
    x = as_f32(x)
    theirs = KMeans(n_clusters=k, n_init=10, random_state=0, algorithm="lloyd").fit(x).inertia_
    conn.execute("SET client_min_messages = warning")
    ours = conn.execute(
        f"SELECT inertia FROM kmeans_fit('pp_{name}', 'ref_{name}', 'f', %s, n_init => 10, seed => 0)", [k]
    ).fetchone()[0]
    print(f"{name}: pg_segment {ours:.6g} sklearn {theirs:.6g} ratio {ours / theirs:.5f}")
    assert ours <= theirs * 1.01, (ours, theirs)


@pytest.mark.parametrize("name", ["iris", "wine", "blobs"])
def test_select_k_scores_equal_sklearn_metrics(conn, tables, name):
    x, _ = DATA[name]
    x = as_f32(x)
    conn.execute("SET client_min_messages = warning")
    k = 3
    scored = conn.execute(
        f"SELECT inertia, silhouette, calinski_harabasz, davies_bouldin FROM kmeans_select_k('ref_{name}', 'f', {k}, {k}, "
        "seed => 5, n_init => 2)"
    ).fetchone()
    # the same fit (same seed and runs, the whole table as the sample) gives the labels
    conn.execute(f"SELECT kmeans_fit('sk_{name}', 'ref_{name}', 'f', {k}, seed => 5, n_init => 2)")
    labels = np.array([r[0] for r in conn.execute(f"SELECT kmeans_assign('sk_{name}', f) FROM ref_{name} ORDER BY id")])
    centroids = np.array(conn.execute("SELECT centroids FROM kmeans_models WHERE name = %s", [f"sk_{name}"]).fetchone()[0])
    dist = np.sqrt(((x[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2))
    a = dist[np.arange(len(x)), labels - 1]
    dist[np.arange(len(x)), labels - 1] = np.inf
    b = dist.min(axis=1)
    silhouette = np.mean((b - a) / np.maximum(a, b))
    assert scored[0] == pytest.approx((a**2).sum(), rel=1e-5)
    assert scored[1] == pytest.approx(silhouette, rel=1e-6)
    assert scored[2] == pytest.approx(calinski_harabasz_score(x, labels), rel=1e-6)
    assert scored[3] == pytest.approx(davies_bouldin_score(x, labels), rel=1e-6)
