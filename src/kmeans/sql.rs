//! SQL bindings of k-means: kmeans_fit, kmeans_assign, kmeans_select_k, kmeans_step.
