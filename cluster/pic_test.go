package cluster

import (
	"math/rand/v2"
	"testing"
)

// TestPICRecoversBlobs: power iteration clustering of separated blobs puts
// no two blobs in one cluster (purity 1) and finds few clusters.
func TestPICRecoversBlobs(t *testing.T) {
	lock(t)
	rng := rand.New(rand.NewPCG(21, 2))
	data, truth := blobs(rng, 3, 60, 8, 5, 0.3)
	p := NewPIC()
	p.PCADim = -1
	res, err := p.Cluster(tensor(t, data, int64(len(truth)), 8), rng)
	if err != nil {
		t.Fatal(err)
	}
	if pur := purity(res.Labels, truth); pur < 0.95 {
		t.Fatalf("purity %.3f", pur)
	}
	if res.K < 3 || res.K > 12 {
		t.Fatalf("%d clusters for 3 blobs", res.K)
	}
	for c, n := range res.Sizes() {
		if n == 0 {
			t.Fatalf("cluster %d empty", c)
		}
		if n == 1 {
			t.Fatalf("singleton cluster %d left although distribute_singletons", c)
		}
	}
}

// TestPICMaxima follows find_maxima_cluster on a path graph 0–1–2–3–4 with
// v peaking at node 1 and node 4: two clusters {0,1,2}, {3,4}.
func TestPICMaxima(t *testing.T) {
	g := &csr{
		ptr:  []int{0, 1, 3, 5, 7, 8},
		col:  []int32{1, 0, 2, 1, 3, 2, 4, 3},
		data: []float32{1, 1, 1, 1, 1, 1, 1, 1},
	}
	v := []float32{0.1, 0.3, 0.2, 0.15, 0.25}
	got := g.maximaClusters(v)
	want := []int{0, 0, 0, 1, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("clusters %v, want %v", got, want)
		}
	}
	// Singleton distribution: node 2 alone, nearest neighbours 2→1 (in a
	// 2-member cluster) get it merged there.
	idx := []int64{0, 1, 1, 0, 2, 1, 3, 4, 4, 3}
	res := picResult([]int{0, 0, 1, 2, 2}, idx, 2, true)
	wantL := []int64{0, 0, 0, 1, 1}
	for i := range wantL {
		if res.Labels[i] != wantL[i] || res.K != 2 {
			t.Fatalf("labels %v K %d, want %v K 2", res.Labels, res.K, wantL)
		}
	}
}

// TestResultSets checks the bitset views of a clustering.
func TestResultSets(t *testing.T) {
	r := &Result{Labels: []int64{2, 0, 2, 2, 0}, K: 4}
	if m := r.Member(2); m.Count() != 3 || !m.Test(0) || !m.Test(2) || !m.Test(3) || m.Test(1) {
		t.Fatalf("member set %v", m)
	}
	if e := r.Empty(); e.Count() != 2 || !e.Test(1) || !e.Test(3) {
		t.Fatalf("empty set %v", e)
	}
	if s := SmallClusters(r.Sizes(), 3); s.Count() != 3 || s.Test(2) {
		t.Fatalf("small set %v", s)
	}
	st := r.Stats()
	if st.Empty != 2 || st.Min != 0 || st.Max != 3 || st.Imbalance != 4*13.0/25 {
		t.Fatalf("stats %+v", st)
	}
	l := r.Lists()
	if len(l[0]) != 2 || l[0][0] != 1 || l[0][1] != 4 || len(l[1]) != 0 {
		t.Fatalf("lists %v", l)
	}
}
