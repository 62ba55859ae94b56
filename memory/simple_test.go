package memory

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sugarme/gotch/ts"
)

func newSimple(t *testing.T, length, dim int, momentum float64) *SimpleMemory {
	t.Helper()
	m, err := NewSimpleMemory(SimpleMemoryConfig{Length: length, FeatDim: dim, Momentum: momentum}, testDevice, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)
	return m
}

// TestSimpleMemoryUpdate checks M[idx] ← norm((1−m)·M[idx] + m·norm(f))
// against a Go computation, duplicate indices (last wins) and untouched
// rows, for momentum 0.5 (NPID) and 0.2.
func TestSimpleMemoryUpdate(t *testing.T) {
	lock(t)
	const length, dim = 20, 4
	for _, mom := range []float64{0.5, 0.2} {
		m := newSimple(t, length, dim, mom)
		before := values(t, m.Bank())
		for r := 0; r < length; r++ { // init rows are unit vectors
			var s float64
			for j := 0; j < dim; j++ {
				s += before[r*dim+j] * before[r*dim+j]
			}
			if math.Abs(s-1) > 1e-5 {
				t.Fatalf("init row %d norm² %g", r, s)
			}
		}
		idx := []int64{3, 7, 3}
		feat := []float64{1, 2, 3, 4, -1, 0, 0, 2, 0, 5, 0, 0}
		if err := m.Update(idx, tensor(t, f32(feat), 3, dim)); err != nil {
			t.Fatal(err)
		}
		want := append([]float64(nil), before...)
		for p, i := range idx { // sequential writes: last duplicate wins
			f := unit(feat[p*dim:(p+1)*dim], 0)
			mix := make([]float64, dim)
			for j := range mix {
				mix[j] = (1-mom)*before[int(i)*dim+j] + mom*f[j]
			}
			copy(want[int(i)*dim:], unit(mix, 0))
		}
		close(t, "bank", values(t, m.Bank()), want, 1e-6)
	}
}

// TestSimpleMemoryNegatives: ensure_neg removes every self index; draws
// are uniform over the rows.
func TestSimpleMemoryNegatives(t *testing.T) {
	lock(t)
	const length = 10
	m := newSimple(t, length, 2, 0.5)
	rng := rand.New(rand.NewPCG(9, 9))
	idx := []int64{0, 4, 9}
	count := make([]int, length)
	const negNum = 20000
	for _, ensure := range []bool{false, true} {
		neg, err := m.Negatives(idx, negNum, ensure, rng)
		if err != nil {
			t.Fatal(err)
		}
		if len(neg) != len(idx)*negNum {
			t.Fatalf("%d negatives", len(neg))
		}
		self := 0
		for p, v := range neg {
			if v == idx[p/negNum] {
				self++
			}
			if !ensure {
				count[v]++
			}
		}
		if ensure && self != 0 {
			t.Fatalf("ensure_neg left %d self indices", self)
		}
		if !ensure && self == 0 {
			t.Fatal("uniform draws never hit the sample itself (expected ≈ 1/10)")
		}
	}
	for k, c := range count {
		if f := float64(c) / (3 * negNum); math.Abs(f-0.1) > 0.01 {
			t.Fatalf("row %d drawn with frequency %.4f, want 0.1", k, f)
		}
	}
	if _, err := m.Negatives([]int64{10}, 1, false, rng); err == nil {
		t.Fatal("index outside the bank accepted")
	}
}

// TestSimpleMemoryLogits compares pos/neg logits with Go dot products.
func TestSimpleMemoryLogits(t *testing.T) {
	lock(t)
	const dim = 3
	m := newSimple(t, 6, dim, 0.5)
	bank := values(t, m.Bank())
	feat := []float64{1, 0, 0, 0.6, 0.8, 0}
	idx := []int64{2, 5}
	neg := []int64{0, 1, 2, 3, 4, 4}
	pos, nl, err := m.Logits(tensor(t, f32(feat), 2, dim), idx, neg)
	if err != nil {
		t.Fatal(err)
	}
	defer pos.Drop()
	defer nl.Drop()
	dot := func(r int64, b int) float64 {
		var s float64
		for j := 0; j < dim; j++ {
			s += bank[int(r)*dim+j] * feat[b*dim+j]
		}
		return s
	}
	close(t, "pos", values(t, pos), []float64{dot(2, 0), dot(5, 1)}, 1e-6)
	var wn []float64
	for p, r := range neg {
		wn = append(wn, dot(r, p/3))
	}
	close(t, "neg", values(t, nl), wn, 1e-6)
	if d := nl.MustSize(); d[0] != 2 || d[1] != 3 {
		t.Fatalf("neg shape %v", d)
	}
}

// TestSimpleMemoryGather: row 0 of each sample is its own bank row, rows
// 1..K its negatives' rows (B×(1+K)×D); NegativeRNG depends only on (seed,
// iter).
func TestSimpleMemoryGather(t *testing.T) {
	lock(t)
	const dim = 3
	m := newSimple(t, 6, dim, 0.5)
	bank := values(t, m.Bank())
	idx := []int64{2, 5}
	neg := []int64{0, 1, 2, 3, 4, 4}
	g, err := m.Gather(idx, neg)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Drop()
	if d := g.MustSize(); len(d) != 3 || d[0] != 2 || d[1] != 4 || d[2] != dim {
		t.Fatalf("gathered shape %v, want [2 4 3]", d)
	}
	var want []float64
	for b, i := range idx {
		for _, r := range append([]int64{i}, neg[b*3:(b+1)*3]...) {
			want = append(want, bank[int(r)*dim:(int(r)+1)*dim]...)
		}
	}
	close(t, "gathered rows", values(t, g), want, 0)
	if _, err := m.Gather(idx, neg[:5]); err == nil {
		t.Fatal("5 negatives for 2 samples accepted")
	}
	a, b := NegativeRNG(3, 7).Uint64(), NegativeRNG(3, 7).Uint64()
	if a != b || a == NegativeRNG(3, 8).Uint64() {
		t.Fatal("NegativeRNG is not a function of (seed, iter)")
	}
}

func TestSimpleMemoryState(t *testing.T) {
	lock(t)
	a := newSimple(t, 5, 2, 0.5)
	st, err := a.State()
	if err != nil {
		t.Fatal(err)
	}
	defer DropState(st)
	b, err := NewSimpleMemory(SimpleMemoryConfig{Length: 5, FeatDim: 2, Momentum: 0.5}, testDevice, rand.New(rand.NewPCG(2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.LoadState(st); err != nil {
		t.Fatal(err)
	}
	close(t, "restored bank", values(t, b.Bank()), values(t, a.Bank()), 0)
	bad := map[string]*ts.Tensor{"feature_bank": tensor(t, make([]float32, 4), 2, 2)}
	if err := b.LoadState(bad); err == nil {
		t.Fatal("wrong-shape state accepted")
	}
}
