package memory

import (
	"math"
	"math/rand/v2"
	"testing"
)

func newODC(t *testing.T, length, dim, classes, minCluster int) *ODCMemory {
	t.Helper()
	m, err := NewODCMemory(ODCMemoryConfig{Length: length, FeatDim: dim, Momentum: 0.5, NumClasses: classes, MinCluster: minCluster}, testDevice)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// goMeans is the per-class mean of rows (dim wide) in Go.
func goMeans(rows []float64, labels []int64, k, dim int) []float64 {
	sum := make([]float64, k*dim)
	cnt := make([]float64, k)
	for i, l := range labels {
		cnt[l]++
		for j := 0; j < dim; j++ {
			sum[int(l)*dim+j] += rows[i*dim+j]
		}
	}
	for c := 0; c < k; c++ {
		for j := 0; j < dim; j++ {
			sum[c*dim+j] /= cnt[c]
		}
	}
	return sum
}

// TestODCInitAndUpdate follows init_memory and update_samples_memory with
// values computed in Go: normalised bank (x/(‖x‖+1e-10)), class-mean
// centroids, momentum mix, argmax relabelling and the change ratio.
func TestODCInitAndUpdate(t *testing.T) {
	lock(t)
	const length, dim, k = 6, 2, 3
	m := newODC(t, length, dim, k, 1)
	feat := []float64{2, 0, 3, 0.1, 0, 1, 0.1, 2, -1, 0, -2, -0.2}
	labels := []int64{0, 0, 1, 1, 2, 2}
	if err := m.InitMemory(tensor(t, f32(feat), length, dim), labels); err != nil {
		t.Fatal(err)
	}
	var bank []float64
	for i := 0; i < length; i++ {
		bank = append(bank, unit(feat[i*dim:(i+1)*dim], 1e-10)...)
	}
	close(t, "feature bank", values(t, m.Features()), bank, 1e-6)
	cent := goMeans(bank, labels, k, dim)
	close(t, "centroids", values(t, m.Centroids()), cent, 1e-6)

	// Sample 1 (label 0) is pulled towards class 1; sample 4 stays in 2.
	idx := []int64{1, 4}
	upd := []float64{0.1, 3, -5, 0.5}
	ratio, err := m.UpdateSamples(idx, tensor(t, f32(upd), 2, dim))
	if err != nil {
		t.Fatal(err)
	}
	newLabels := append([]int64(nil), labels...)
	changed := 0
	for p, i := range idx {
		f := unit(upd[p*dim:(p+1)*dim], 1e-10)
		mix := []float64{0.5*bank[int(i)*dim] + 0.5*f[0], 0.5*bank[int(i)*dim+1] + 0.5*f[1]}
		nb := unit(mix, 1e-10)
		copy(bank[int(i)*dim:], nb)
		best, bs := int64(0), -1e9
		for c := 0; c < k; c++ {
			if s := cent[c*dim]*nb[0] + cent[c*dim+1]*nb[1]; s > bs {
				best, bs = int64(c), s
			}
		}
		if best != labels[i] {
			changed++
		}
		newLabels[i] = best
	}
	if newLabels[1] != 1 || newLabels[4] != 2 {
		t.Fatalf("test setup: expected labels 1 and 2, computed %v", newLabels)
	}
	if want := float64(changed) / 2; ratio != want {
		t.Fatalf("change ratio %g, want %g", ratio, want)
	}
	close(t, "bank after update", values(t, m.Features()), bank, 1e-6)
	got, err := m.LabelBank()
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != newLabels[i] {
			t.Fatalf("labels %v, want %v", got, newLabels)
		}
	}
	lt, err := m.Labels([]int64{1, 0})
	if err != nil {
		t.Fatal(err)
	}
	close(t, "Labels", values(t, lt), []float64{1, 0}, 0)
	_ = lt.Drop()

	// Centroids are not touched by the update, then recomputed on request.
	close(t, "centroids before update", values(t, m.Centroids()), cent, 1e-6)
	if err := m.UpdateCentroids(nil); err != nil {
		t.Fatal(err)
	}
	close(t, "recomputed centroids", values(t, m.Centroids()), goMeans(bank, newLabels, k, dim), 1e-6)

	w, err := m.Reweight(0.5)
	if err != nil {
		t.Fatal(err)
	}
	// Label bank [0 1 1 1 2 2] → sizes 1, 3, 2 → w ∝ 1, 1/√3, 1/√2.
	ws := []float64{1, 1 / math.Sqrt(3), 1 / math.Sqrt(2)}
	tot := ws[0] + ws[1] + ws[2]
	close(t, "reweight", []float64{float64(w[0]), float64(w[1]), float64(w[2])}, []float64{ws[0] / tot, ws[1] / tot, ws[2] / tot}, 1e-6)
	if err := m.InitMemory(tensor(t, f32(feat), length, dim), []int64{0, 0, 1, 1, 1, 1}); err == nil {
		t.Fatal("init with an empty class accepted")
	}
}

// TestODCSmallClusters: a class below min_cluster is emptied into the most
// similar non-small class and re-seeded with half of the largest class
// split by 2-means; with identical features the random half is used.
func TestODCSmallClusters(t *testing.T) {
	lock(t)
	const dim, k = 2, 3
	// class 0: 6 points in two tight groups (far apart), class 1: 3 points,
	// class 2: 1 point near class 1.
	feat := []float64{
		1, 0.05, 1, 0.06, 1, 0.04, // class 0, group A (direction ≈ x)
		0.05, 1, 0.06, 1, 0.04, 1, // class 0, group B (direction ≈ y)
		-1, 0.1, -1, 0.2, -1, 0, // class 1
		-1, 0.15, // class 2 (small)
	}
	labels := []int64{0, 0, 0, 0, 0, 0, 1, 1, 1, 2}
	m := newODC(t, len(labels), dim, k, 3)
	if err := m.InitMemory(tensor(t, f32(feat), int64(len(labels)), dim), labels); err != nil {
		t.Fatal(err)
	}
	rep, err := m.DealWithSmallClusters(rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Small.Count() != 1 || !rep.Small.Test(2) || rep.Moved != 1 || rep.RandomSplits != 0 {
		t.Fatalf("report small %v moved %d random %d", rep.Small, rep.Moved, rep.RandomSplits)
	}
	got, _ := m.LabelBank()
	if got[9] != 1 {
		t.Fatalf("small-class sample went to %d, want 1 (most similar centroid)", got[9])
	}
	// Class 0 (largest, 6) is split by 2-means along its two groups: one
	// group keeps 0, the other becomes class 2.
	a, b := got[0], got[3]
	if a == b || (a != 0 && a != 2) || (b != 0 && b != 2) {
		t.Fatalf("labels %v: class 0's groups not split into 0 and 2", got)
	}
	for i := 0; i < 3; i++ {
		if got[i] != a || got[3+i] != b {
			t.Fatalf("labels %v: a group was cut", got)
		}
	}
	// Centroids of both affected classes are their members' means.
	bank := values(t, m.Features())
	cent := values(t, m.Centroids())
	want := goMeans(bank, got, k, dim)
	close(t, "centroid 0", cent[0:2], want[0:2], 1e-6)
	close(t, "centroid 2", cent[4:6], want[4:6], 1e-6)
	st, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Empty != 0 || st.Min != 3 || st.Max != 4 {
		t.Fatalf("stats %+v, want sizes 3, 4, 3", st)
	}

	// Identical features: 2-means cannot split, the random half is used.
	same := make([]float32, 2*8)
	for i := range same {
		same[i] = 1
	}
	m2 := newODC(t, 8, dim, 2, 2)
	if err := m2.InitMemory(tensor(t, same, 8, dim), []int64{0, 0, 0, 0, 0, 0, 0, 1}); err != nil {
		t.Fatal(err)
	}
	rep, err = m2.DealWithSmallClusters(rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := m2.Histogram()
	if rep.RandomSplits != 1 || h[0] != 4 || h[1] != 4 {
		t.Fatalf("random fallback: splits %d, histogram %v, want 1 and [4 4]", rep.RandomSplits, h)
	}
}

// TestODCStateRoundTrip: a memory restored from State behaves identically.
func TestODCStateRoundTrip(t *testing.T) {
	lock(t)
	const length, dim, k = 12, 3, 3
	rng := rand.New(rand.NewPCG(7, 7))
	feat := make([]float32, length*dim)
	labels := make([]int64, length)
	for i := range feat {
		feat[i] = float32(rng.NormFloat64())
	}
	for i := range labels {
		labels[i] = int64(i % k)
	}
	a := newODC(t, length, dim, k, 1)
	if err := a.InitMemory(tensor(t, feat, length, dim), labels); err != nil {
		t.Fatal(err)
	}
	st, err := a.State()
	if err != nil {
		t.Fatal(err)
	}
	defer DropState(st)
	if len(st) != 3 {
		t.Fatalf("state keys %v", st)
	}
	b := newODC(t, length, dim, k, 1)
	if _, err := b.UpdateSamples([]int64{0}, tensor(t, feat[:dim], 1, dim)); err == nil {
		t.Fatal("update before init accepted")
	}
	if err := b.LoadState(st); err != nil {
		t.Fatal(err)
	}
	upd := tensor(t, feat[3*dim:6*dim], 3, dim)
	ra, err := a.UpdateSamples([]int64{1, 5, 7}, upd)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := b.UpdateSamples([]int64{1, 5, 7}, upd)
	if err != nil {
		t.Fatal(err)
	}
	if ra != rb {
		t.Fatalf("change ratios %g vs %g", ra, rb)
	}
	close(t, "features", values(t, b.Features()), values(t, a.Features()), 0)
	close(t, "labels", values(t, b.LabelsTensor()), values(t, a.LabelsTensor()), 0)
	close(t, "centroids", values(t, b.Centroids()), values(t, a.Centroids()), 0)
	delete(st, "centroids")
	if err := b.LoadState(st); err == nil {
		t.Fatal("state without centroids accepted")
	}
}
