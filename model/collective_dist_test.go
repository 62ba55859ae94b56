package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/internal/torchx"
)

// memGroup is an in-process stand-in for actors/dist: world ranks on
// goroutines meet at every collective (the n-th call of every rank is the
// same collective). It records rank 0's broadcasts.
type memGroup struct {
	mu        sync.Mutex
	cond      *sync.Cond
	world     int
	ops       map[int]*memOp
	err       error
	broadcast [][]byte
}

type memOp struct {
	kind    string
	rows    [][]float32
	bytes   []byte
	arrived int
}

type memRank struct {
	g    *memGroup
	rank int
	seq  int
}

func newMemGroup(world int) []*memRank {
	g := &memGroup{world: world, ops: map[int]*memOp{}}
	g.cond = sync.NewCond(&g.mu)
	out := make([]*memRank, world)
	for r := range out {
		out[r] = &memRank{g: g, rank: r}
	}
	return out
}

func (r *memRank) Rank() int  { return r.rank }
func (r *memRank) World() int { return r.g.world }

// meet deposits this rank's contribution and waits for every rank's.
func (r *memRank) meet(kind string, row []float32, b []byte) (*memOp, error) {
	g := r.g
	g.mu.Lock()
	defer g.mu.Unlock()
	r.seq++
	o := g.ops[r.seq]
	if o == nil {
		o = &memOp{kind: kind, rows: make([][]float32, g.world)}
		g.ops[r.seq] = o
	}
	if o.kind != kind {
		g.err = fmt.Errorf("collective %d: rank %d calls %s, a peer %s", r.seq, r.rank, kind, o.kind)
	}
	o.rows[r.rank] = append([]float32(nil), row...)
	if r.rank == 0 && kind == "broadcast" {
		o.bytes = append([]byte(nil), b...)
		g.broadcast = append(g.broadcast, o.bytes)
	}
	o.arrived++
	g.cond.Broadcast()
	for o.arrived < g.world && g.err == nil {
		g.cond.Wait()
	}
	return o, g.err
}

func (r *memRank) AllGather(row []float32) ([][]float32, error) {
	o, err := r.meet("gather", row, nil)
	if err != nil {
		return nil, err
	}
	for _, x := range o.rows {
		if len(x) != len(row) {
			return nil, fmt.Errorf("all-gather: rows of %d and %d", len(x), len(row))
		}
	}
	return o.rows, nil
}

func (r *memRank) AllReduceMean(buf []float32) error {
	o, err := r.meet("reduce", buf, nil)
	if err != nil {
		return err
	}
	for i := range buf {
		s := o.rows[0][i]
		for _, x := range o.rows[1:] {
			s += x[i]
		}
		buf[i] = s / float32(r.g.world)
	}
	return nil
}

func (r *memRank) Broadcast(b []byte) ([]byte, error) {
	o, err := r.meet("broadcast", nil, b)
	return o.bytes, err
}

func (g *memGroup) fail(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = err
	}
	g.cond.Broadcast()
}

// runRanks runs f for every rank concurrently, each on its own pinned OS
// thread (gotch's error state is per thread), and fails the test with the
// first error.
func runRanks(t *testing.T, ranks []*memRank, f func(r *memRank) error) {
	t.Helper()
	errs := make([]error, len(ranks))
	var wg sync.WaitGroup
	for i, r := range ranks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if _, err := SetGradMode(true); err != nil {
				errs[i] = err
			} else {
				errs[i] = f(r)
			}
			if errs[i] != nil {
				r.g.fail(fmt.Errorf("rank %d failed", i))
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func permOf(t *testing.T, blob []byte) []int64 {
	t.Helper()
	p := make([]int64, len(blob)/8)
	for i := range p {
		p[i] = int64(binary.LittleEndian.Uint64(blob[8*i:]))
	}
	return p
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var m float64
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// queueColumns returns columns [0, n) of a D×L queue as n×D rows.
func queueColumns(t *testing.T, q *ts.Tensor, n int64) []float32 {
	t.Helper()
	c := q.MustNarrow(1, 0, n, false).MustT(true).MustContiguous(true)
	defer c.MustDrop()
	v, err := torchx.Float32s(c)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// shuffledKeys is what MMSelfSup's batch shuffle computes for a global
// batch xAll over len(perm)/per ranks: slice g of xAll[perm] encoded by
// keys (one BN batch per slice), concatenated, unshuffled (argsort).
func shuffledKeys(t *testing.T, xAll *ts.Tensor, perm []int64, per int64, keys func(*ts.Tensor) *ts.Tensor) *ts.Tensor {
	t.Helper()
	pt, err := torchx.FromInt64s(perm, int64(len(perm)))
	if err != nil {
		t.Fatal(err)
	}
	defer pt.MustDrop()
	xs := xAll.MustIndexSelect(0, pt, false)
	defer xs.MustDrop()
	var parts []ts.Tensor
	for g := int64(0); g*per < int64(len(perm)); g++ {
		sub := xs.MustNarrow(0, g*per, per, false)
		k := keys(sub)
		sub.MustDrop()
		parts = append(parts, *k)
	}
	cat := ts.MustCat(parts, 0)
	for i := range parts {
		parts[i].MustDrop()
	}
	inv := pt.MustArgsort(0, false, false)
	defer inv.MustDrop()
	return cat.MustIndexSelect(0, inv, true)
}

// mixes reports whether the first half of perm draws samples of both ranks.
func mixes(perm []int64) bool {
	half := int64(len(perm) / 2)
	lo := 0
	for _, p := range perm[:half] {
		if p < half {
			lo++
		}
	}
	return lo != 0 && lo != int(half)
}

// Two ranks of 4 run MoCo's key encoder on the shuffled global batch of 8
// (MMSelfSup's _batch_shuffle_ddp / _batch_unshuffle_ddp): rank 0's
// permutation is broadcast, every queue holds the keys one process gets
// by encoding the two slices of the permuted batch and unshuffling them,
// and those differ from the keys of a rank-local BN batch.
func TestMoCoBatchShuffleAcrossRanks(t *testing.T) {
	const b = 4
	ranks := newMemGroup(2)
	models := make([]*MoCo, 2)
	var xq, xk [2]*ts.Tensor
	onPinned(t, func() error {
		for r := range models {
			ManualSeed(3)
			a, _ := algoBuild(t, mocoCfg(16, 0.99))
			models[r] = a.(*MoCo)
			models[r].SetCollective(ranks[r])
		}
		ManualSeed(11)
		for r := 0; r < 2; r++ {
			xq[r] = ts.MustRandn([]int64{b, 3, 32, 32}, gotch.Float, gotch.CPU)
			xk[r] = ts.MustRandn([]int64{b, 3, 32, 32}, gotch.Float, gotch.CPU)
		}
		ManualSeed(5) // rank 0's permutation
		return nil
	})
	defer algoDropAll(append(xq[:], xk[:]...))
	runRanks(t, ranks, func(r *memRank) error {
		l, err := models[r.rank].TrainStep(&StepInput{Views: []*ts.Tensor{xq[r.rank], xk[r.rank]}})
		if err != nil {
			return fmt.Errorf("rank %d: %w", r.rank, err)
		}
		l.Drop()
		return nil
	})
	onPinned(t, func() error {
		g := ranks[0].g
		if len(g.broadcast) != 1 || len(g.broadcast[0]) != 8*2*b {
			t.Fatalf("broadcasts %d (first %d bytes), want one permutation of %d", len(g.broadcast), len(g.broadcast[0]), 2*b)
		}
		perm := permOf(t, g.broadcast[0])
		if !mixes(perm) {
			t.Fatalf("permutation %v keeps each rank's samples together: pick another seed", perm)
		}
		for r, m := range models {
			if p := m.queuePtr.Int64Values()[0]; p != 2*b {
				t.Fatalf("rank %d queue_ptr %d, want %d", r, p, 2*b)
			}
		}
		q0, q1 := queueColumns(t, models[0].queue, 2*b), queueColumns(t, models[1].queue, 2*b)
		if d := maxAbsDiff(q0, q1); d != 0 {
			t.Fatalf("the ranks' queues differ by %g", d)
		}
		m := models[0]
		enc := func(x *ts.Tensor) *ts.Tensor {
			var out *ts.Tensor
			if err := WithoutGrad(func() error {
				s := NewScope()
				defer s.Close()
				k, err := m.k.forward(s, x, true)
				if err == nil {
					k, err = l2normalize(s, k, 1, 1e-12, true)
				}
				if err == nil {
					out, err = torchx.Clone(k)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return out
		}
		xAll := ts.MustCat([]ts.Tensor{*xk[0], *xk[1]}, 0)
		defer xAll.MustDrop()
		want := shuffledKeys(t, xAll, perm, b, enc)
		defer want.MustDrop()
		wv, _ := torchx.Float32s(want)
		d := maxAbsDiff(q0, wv)
		t.Logf("queue vs shuffled-global-batch keys: max |Δ| = %.3g", d)
		if d > 1e-5 {
			t.Fatalf("queue differs from the keys of the shuffled global batch by %g", d)
		}
		local := enc(xk[0])
		defer local.MustDrop()
		lv, _ := torchx.Float32s(local)
		if d := maxAbsDiff(q0[:b*16], lv); d < 1e-3 {
			t.Fatalf("rank 0's keys equal those of its local BN batch (Δ %g): no cross-rank shuffle", d)
		}
		return nil
	})
}

// DenseCL on two ranks: the key view is shuffled across the ranks and
// both queues take every rank's keys — queue holds the unshuffled global
// projections, queue2 the averaged dense keys, the same on both ranks.
func TestDenseCLBatchShuffleAcrossRanks(t *testing.T) {
	const b = 2
	ranks := newMemGroup(2)
	models := make([]*DenseCL, 2)
	var xq, xk [2]*ts.Tensor
	onPinned(t, func() error {
		for r := range models {
			ManualSeed(3)
			a, _ := algoBuild(t, denseclCfg(nil))
			models[r] = a.(*DenseCL)
			models[r].SetCollective(ranks[r])
		}
		ManualSeed(12)
		for r := 0; r < 2; r++ {
			xq[r] = ts.MustRandn([]int64{b, 3, 64, 64}, gotch.Float, gotch.CPU)
			xk[r] = ts.MustRandn([]int64{b, 3, 64, 64}, gotch.Float, gotch.CPU)
		}
		ManualSeed(1)
		return nil
	})
	defer algoDropAll(append(xq[:], xk[:]...))
	runRanks(t, ranks, func(r *memRank) error {
		l, err := models[r.rank].TrainStep(&StepInput{Views: []*ts.Tensor{xq[r.rank], xk[r.rank]}})
		if err != nil {
			return fmt.Errorf("rank %d: %w", r.rank, err)
		}
		l.Drop()
		return nil
	})
	onPinned(t, func() error {
		g := ranks[0].g
		if len(g.broadcast) != 1 {
			t.Fatalf("%d broadcasts, want one permutation", len(g.broadcast))
		}
		perm := permOf(t, g.broadcast[0])
		if !mixes(perm) {
			t.Fatalf("permutation %v keeps each rank's samples together: pick another seed", perm)
		}
		m := models[0]
		xAll := ts.MustCat([]ts.Tensor{*xk[0], *xk[1]}, 0)
		defer xAll.MustDrop()
		for i, which := range []struct {
			queue func(*DenseCL) (*ts.Tensor, *ts.Tensor)
			pick  func(denseOut) *ts.Tensor
		}{
			{func(d *DenseCL) (*ts.Tensor, *ts.Tensor) { return d.queue, d.queuePtr }, func(o denseOut) *ts.Tensor { return o.g }},
			{func(d *DenseCL) (*ts.Tensor, *ts.Tensor) { return d.queue2, d.queue2Ptr }, func(o denseOut) *ts.Tensor { return o.avg }},
		} {
			q0, p0 := which.queue(models[0])
			q1, p1 := which.queue(models[1])
			if a, c := p0.Int64Values()[0], p1.Int64Values()[0]; a != 2*b || c != 2*b {
				t.Fatalf("queue %d pointers %d and %d, want %d", i+1, a, c, 2*b)
			}
			c0, c1 := queueColumns(t, q0, 2*b), queueColumns(t, q1, 2*b)
			if d := maxAbsDiff(c0, c1); d != 0 {
				t.Fatalf("queue %d differs between the ranks by %g", i+1, d)
			}
			want := shuffledKeys(t, xAll, perm, b, func(x *ts.Tensor) *ts.Tensor {
				var out *ts.Tensor
				if err := WithoutGrad(func() error {
					s := NewScope()
					defer s.Close()
					o, err := forwardDense(s, m.k, x)
					if err == nil {
						out, err = torchx.Clone(which.pick(o))
					}
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return out
			})
			wv, _ := torchx.Float32s(want)
			want.MustDrop()
			if d := maxAbsDiff(c0, wv); d > 1e-5 {
				t.Fatalf("queue %d differs from the shuffled global batch's keys by %g", i+1, d)
			}
		}
		return nil
	})
}

// Sinkhorn-Knopp over two ranks of 5 rows each gives the assignments one
// process gets from all 10 rows; each rank alone would not.
func TestDistributedSinkhornMatchesOneProcess(t *testing.T) {
	const b, k = 5, 7
	var scores *ts.Tensor
	var want []float32
	onPinned(t, func() error {
		ManualSeed(2)
		scores = ts.MustRandn([]int64{2 * b, k}, gotch.Float, gotch.CPU)
		q, err := Sinkhorn(scores, 3, 0.05)
		if err != nil {
			return err
		}
		defer q.MustDrop()
		want, err = torchx.Float32s(q)
		return err
	})
	defer scores.MustDrop()
	got := make([][]float32, 2)
	var alone []float32
	ranks := newMemGroup(2)
	runRanks(t, ranks, func(r *memRank) error {
		part := scores.MustNarrow(0, int64(r.rank)*b, b, false)
		defer part.MustDrop()
		q, err := DistributedSinkhorn(r, part, 3, 0.05)
		if err != nil {
			return err
		}
		defer q.MustDrop()
		if got[r.rank], err = torchx.Float32s(q); err != nil {
			return err
		}
		if r.rank == 0 {
			a, err := Sinkhorn(part, 3, 0.05)
			if err != nil {
				return err
			}
			defer a.MustDrop()
			alone, err = torchx.Float32s(a)
			return err
		}
		return nil
	})
	all := append(append([]float32(nil), got[0]...), got[1]...)
	d := maxAbsDiff(all, want)
	t.Logf("world 2 × %d rows vs world 1 × %d rows: max |ΔQ| = %.3g", b, 2*b, d)
	if d > 1e-5 {
		t.Fatalf("two-rank Sinkhorn differs from one process by %g\n got %v\nwant %v", d, all, want)
	}
	if d := maxAbsDiff(alone, want[:b*k]); d < 1e-3 {
		t.Fatalf("rank 0's rows alone give the global assignments (Δ %g): the test cannot see the reduction", d)
	}
	// 1 total + 3 iterations of row sums, no zero rows.
	if n := ranks[0].seq; n != 4 {
		t.Fatalf("%d collectives, want 4 all-reduces", n)
	}
}

var _ CollectiveUser = (*SwAV)(nil)
var _ CollectiveUser = (*DenseCL)(nil)

// MoCo v3's head on two ranks of 3 contrasts each query against the keys
// of both ranks with labels offset by 3·rank: the ranks' mean loss is the
// loss of one process with all 6 (predictor in eval mode, so its output
// does not depend on the batch).
func TestMoCoV3HeadGathersKeysAcrossRanks(t *testing.T) {
	const b = 3
	ranks := newMemGroup(2)
	heads := make([]*MoCoV3Head, 2)
	var base, mom *ts.Tensor
	var want float64
	onPinned(t, func() error {
		for r := range heads {
			ManualSeed(4)
			a, _ := algoBuild(t, mocov3Cfg())
			heads[r] = a.(*MoCoV3).head
		}
		ManualSeed(9)
		base = ts.MustRandn([]int64{2 * b, 16}, gotch.Float, gotch.CPU)
		mom = ts.MustRandn([]int64{2 * b, 16}, gotch.Float, gotch.CPU)
		l, err := heads[0].Loss(base, mom, false)
		if err != nil {
			return err
		}
		defer l.Drop()
		want = l.Values()["loss"]
		heads[0].SetCollective(ranks[0])
		heads[1].SetCollective(ranks[1])
		return nil
	})
	defer base.MustDrop()
	defer mom.MustDrop()
	got := make([]float64, 2)
	runRanks(t, ranks, func(r *memRank) error {
		bq := base.MustNarrow(0, int64(r.rank)*b, b, false)
		defer bq.MustDrop()
		mk := mom.MustNarrow(0, int64(r.rank)*b, b, false)
		defer mk.MustDrop()
		l, err := heads[r.rank].Loss(bq, mk, false)
		if err != nil {
			return err
		}
		defer l.Drop()
		got[r.rank] = l.Values()["loss"]
		return nil
	})
	mean := (got[0] + got[1]) / 2
	t.Logf("ranks %.6f %.6f, mean %.6f; one process %.6f", got[0], got[1], mean, want)
	if math.Abs(mean-want) > 1e-5*math.Max(1, math.Abs(want)) {
		t.Fatalf("two-rank MoCo v3 loss %g, one process %g", mean, want)
	}
}

var _ CollectiveUser = (*MoCoV3)(nil)

// GatherLayer on two ranks: the values are both ranks' rows in rank
// order; the gradient reaching this rank's x is its own slice of the
// incoming gradient only (MMSelfSup's GatherLayer backward).
func TestGatherLayerKeepsTheLocalGradient(t *testing.T) {
	ranks := newMemGroup(2)
	vals := make([][]float32, 2)
	grads := make([][]float32, 2)
	runRanks(t, ranks, func(r *memRank) error {
		s := NewScope()
		defer s.Close()
		x0, err := torchx.FromFloat32s([]float32{float32(r.rank + 1), float32(10 * (r.rank + 1))}, 2, 1)
		if err != nil {
			return err
		}
		x := s.Track(x0.MustSetRequiresGrad(true, true))
		all, err := GatherLayer(s, r, x)
		if err != nil {
			return err
		}
		if vals[r.rank], err = torchx.Float32s(all); err != nil {
			return err
		}
		// loss = Σ_i (i+1)·all_i: incoming gradient i+1 at row i.
		w, err := torchx.FromFloat32s([]float32{1, 2, 3, 4}, 4, 1)
		if err != nil {
			return err
		}
		prod := s.Track(all.MustMul(s.Track(w), false))
		loss := s.Track(prod.MustSum(gotch.Float, false))
		if err := loss.Backward(); err != nil {
			return err
		}
		g := s.Track(x.MustGrad(false))
		grads[r.rank], err = torchx.Float32s(g)
		return err
	})
	for r := range vals {
		if fmt.Sprint(vals[r]) != "[1 10 2 20]" {
			t.Fatalf("rank %d gathered %v, want [1 10 2 20]", r, vals[r])
		}
	}
	if fmt.Sprint(grads[0]) != "[1 2]" || fmt.Sprint(grads[1]) != "[3 4]" {
		t.Fatalf("gradients %v and %v, want each rank's slice [1 2] and [3 4]", grads[0], grads[1])
	}
}

// SimCLR on two ranks of 2: both compute the same NT-Xent loss over the
// 8 projections of the global batch, which differs from the loss over a
// rank's own 4.
func TestSimCLRLossOverEveryRank(t *testing.T) {
	ranks := newMemGroup(2)
	models := make([]*SimCLR, 2)
	var views [2][]*ts.Tensor
	var local float64
	onPinned(t, func() error {
		for r := range models {
			ManualSeed(6)
			vs := nn.NewVarStore(gotch.CPU)
			a, err := BuildAlgorithm(vs, simclrCfg())
			if err != nil {
				return err
			}
			models[r] = a.(*SimCLR)
		}
		ManualSeed(8)
		views[0], views[1] = randViews(2, 32), randViews(2, 32)
		local = stepValues(t, models[0], &StepInput{Views: views[0]})["loss"]
		models[0].SetCollective(ranks[0])
		models[1].SetCollective(ranks[1])
		return nil
	})
	defer algoDropAll(append(views[0], views[1]...))
	got := make([]float64, 2)
	runRanks(t, ranks, func(r *memRank) error {
		l, err := models[r.rank].TrainStep(&StepInput{Views: views[r.rank]})
		if err != nil {
			return err
		}
		defer l.Drop()
		got[r.rank] = l.Values()["loss"]
		return nil
	})
	t.Logf("ranks %.6f %.6f; rank 0 alone %.6f", got[0], got[1], local)
	if math.Abs(got[0]-got[1]) > 1e-6 {
		t.Fatalf("the ranks' global losses differ: %g vs %g", got[0], got[1])
	}
	if math.Abs(got[0]-local) < 1e-4 {
		t.Fatalf("global loss %g equals rank 0's local loss %g: nothing gathered", got[0], local)
	}
}

var _ CollectiveUser = (*SimCLR)(nil)

// Barlow Twins' head on two ranks of 3: C is summed over the ranks, so
// both ranks' loss is one process's loss over all 6 rows, and each rank's
// gradient for its rows is one process's gradient for them (head BN in
// eval mode, whose output does not depend on the batch).
func TestBarlowTwinsHeadAllReducesC(t *testing.T) {
	const b, c = 3, 4
	ranks := newMemGroup(2)
	heads := make([]*LatentCrossCorrelationHead, 3)
	var z1, z2 *ts.Tensor
	var want float64
	var wantGrad []float32
	onPinned(t, func() error {
		for i := range heads {
			vs := nn.NewVarStore(gotch.CPU)
			h, err := NewLatentCrossCorrelationHead(vs.Root().Sub("head"), LatentCrossCorrelationHeadConfig{InChannels: c, Lambd: 0.05})
			if err != nil {
				return err
			}
			heads[i] = h
		}
		ManualSeed(10)
		z1 = ts.MustRandn([]int64{2 * b, c}, gotch.Float, gotch.CPU)
		z2 = ts.MustRandn([]int64{2 * b, c}, gotch.Float, gotch.CPU)
		x := z1.MustDetach(false).MustSetRequiresGrad(true, true)
		defer x.MustDrop()
		l, err := heads[2].Loss(x, z2, false)
		if err != nil {
			return err
		}
		defer l.Drop()
		want = l.Values()["loss"]
		if err := l.Get("loss").Backward(); err != nil {
			return err
		}
		g := x.MustGrad(false)
		defer g.MustDrop()
		wantGrad, err = torchx.Float32s(g)
		return err
	})
	defer z1.MustDrop()
	defer z2.MustDrop()
	heads[0].SetCollective(ranks[0])
	heads[1].SetCollective(ranks[1])
	got := make([]float64, 2)
	grads := make([][]float32, 2)
	runRanks(t, ranks, func(r *memRank) error {
		x := z1.MustNarrow(0, int64(r.rank)*b, b, false).MustDetach(true).MustSetRequiresGrad(true, true)
		defer x.MustDrop()
		y := z2.MustNarrow(0, int64(r.rank)*b, b, false)
		defer y.MustDrop()
		l, err := heads[r.rank].Loss(x, y, false)
		if err != nil {
			return err
		}
		defer l.Drop()
		got[r.rank] = l.Values()["loss"]
		if err := l.Get("loss").Backward(); err != nil {
			return err
		}
		g := x.MustGrad(false)
		defer g.MustDrop()
		grads[r.rank], err = torchx.Float32s(g)
		return err
	})
	t.Logf("ranks %.6f %.6f; one process %.6f", got[0], got[1], want)
	for r := range got {
		if math.Abs(got[r]-want) > 1e-5*math.Max(1, want) {
			t.Fatalf("rank %d loss %g, one process %g", r, got[r], want)
		}
		if d := maxAbsDiff(grads[r], wantGrad[r*b*c:(r+1)*b*c]); d > 1e-6 {
			t.Fatalf("rank %d gradient differs from one process's rows by %g", r, d)
		}
	}
}

var _ CollectiveUser = (*BarlowTwins)(nil)
