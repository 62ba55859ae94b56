package cluster

import (
	"math/rand/v2"
	"os/exec"
	"runtime"
	"testing"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// lock pins the test goroutine: gotch errors and grad mode are per thread.
func lock(t *testing.T) {
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread)
}

// blobs draws n points around each of k centres placed far apart in d
// dims (Gaussian noise σ), returning row-major data and the true labels.
func blobs(rng *rand.Rand, k, n, d int, spread, sigma float64) ([]float32, []int64) {
	centres := make([]float64, k*d)
	for i := range centres {
		centres[i] = rng.NormFloat64() * spread
	}
	data := make([]float32, 0, k*n*d)
	labels := make([]int64, 0, k*n)
	for i := 0; i < k*n; i++ {
		c := i % k
		for j := 0; j < d; j++ {
			data = append(data, float32(centres[c*d+j]+rng.NormFloat64()*sigma))
		}
		labels = append(labels, int64(c))
	}
	return data, labels
}

func tensor(t *testing.T, data []float32, shape ...int64) *ts.Tensor {
	t.Helper()
	x, err := torchx.FromFloat32sOn(data, testDevice, shape...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = x.Drop() })
	return x
}

// purity is the fraction of samples whose found cluster's majority true
// class is their own.
func purity(found, truth []int64) float64 {
	count := map[[2]int64]int{}
	for i := range found {
		count[[2]int64{found[i], truth[i]}]++
	}
	best := map[int64]int{}
	for key, n := range count {
		best[key[0]] = max(best[key[0]], n)
	}
	tot := 0
	for _, n := range best {
		tot += n
	}
	return float64(tot) / float64(len(found))
}

// python returns /usr/bin/python3 or skips when it lacks torch.
func python(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("%s lacks torch/numpy (%v): reference check skipped", py, err)
	}
	return py
}

// testDevice runs the tensor code on the GPU when libtorch sees one.
var testDevice = gotch.CudaIfAvailable()
