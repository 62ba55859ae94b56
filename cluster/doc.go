// Package cluster holds k-means, PIC, Sinkhorn-Knopp, uniform sampling and re-weighting.
//
// It re-implements the clustering utilities of MMSelfSup v0.9.0
// (utils/clustering.py, utils/distributed_sinkhorn.py, the uniform sampler
// of datasets/samplers/distributed_sampler.py and the models' set_reweight;
// components.md §§2.9, 5.2, 6). faiss is replaced by libtorch tensors, so
// the heavy parts (PCA, assignment, kNN, Sinkhorn) run on whatever device
// the features are on; the graph work of PIC and faiss's empty-cluster
// split run on the host.
//
// # Threads
//
// Every function that takes or returns a *ts.Tensor must be called from a
// goroutine locked to its OS thread (runtime.LockOSThread), the same thread
// that owns the tensors: gotch keeps its last error, and libtorch its grad
// mode, per thread. An actor calls these from its own pinned thread.
// Histogram, SizeStats, SmallClusters, Reweight, ReweightLabels and
// UniformIndices touch no tensor and may run anywhere.
//
// # Ownership
//
// Functions never drop or modify their inputs. Returned tensors (and a
// Result's Centroids, freed by Result.Close) belong to the caller.
// Intermediates are freed before return, also on error.
//
// # Errors
//
// No function calls log.Fatal or panics on bad input: gotch errors,
// shapes, NaNs and out-of-range labels come back as errors.
//
// # Determinism
//
// Every random draw (initial centroids, subsampling, split choice, sampler
// draws) comes from the *rand.Rand passed in; MMSelfSup's seeds (faiss's
// fixed 1234, numpy's epoch seed) are the caller's to choose. Results may
// still differ across devices by floating-point rounding.
//
// # Differences from MMSelfSup
//
//   - faiss's RNG streams are not reproduced, so labels match faiss in
//     distribution, not bit for bit.
//   - PCA always eigendecomposes the D×D scatter matrix (faiss switches to
//     the Gram matrix when N < D; the top components agree).
//   - PIC returns labels (MMSelfSup's PIC only fills images_lists).
//   - UniformIndices pads cyclically where MMSelfSup's assertion would fail
//     (fewer draws than half the total size, i.e. most clusters empty).
package cluster
