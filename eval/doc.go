// Package eval holds the evaluation protocols of MMSelfSup's benchmarks
// (weighted kNN; linear, SVM and low-shot evaluation build on it).
//
// # Threads
//
// Functions that use libtorch must be called on a goroutine locked to its
// OS thread (model.Pinned), as gotch's error slot is per thread.
package eval
