//! In-database k-means: the pgrx-free kernel (seeding, Lloyd iterations,
//! quality metrics, the exact kmeans_step state). SQL bindings live in `sql/`.

pub mod bounds; // Hamerly's bounds: the rows a Lloyd pass need not compute again
pub mod fit; // a whole fit: checks, n_init runs of seeding + Lloyd, memory estimate
pub mod huge_pages; // 2 MB pages for the large buffers: fewer page faults while filling them
pub mod kernel; // the matrix and the fused, threaded Lloyd pass
pub mod simd; // the AVX2 + FMA register-tiled nearest-centroid search the pass uses
pub mod simd512; // the AVX-512 nearest-centroid search, 16 rows at a time (k > 8)
pub mod metrics; // silhouette / Calinski–Harabasz / Davies–Bouldin, the suggested k
pub mod model; // a stored model: centroids text format, nearest-centroid assignment
pub mod rng; // seeded generator, samples, reservoir
pub mod seed; // k-means++ and random initial centroids
pub mod step; // kmeans_step's exact fixed-point state
pub mod sql;
