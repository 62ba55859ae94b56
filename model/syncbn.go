package model

import (
	"fmt"
	"sync"

	"github.com/sugarme/gotch"
	lib "github.com/sugarme/gotch/libtch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/internal/torchx"
)

// SyncBNGroup is the SyncBN layers of one model on several nodes.
//
// Forward (train mode): every layer all-reduces its local count and mean,
// then its centred sum of squares around the global mean, and normalises
// with the global mean and (biased) variance; the running statistics take
// the global mean and the unbiased global variance, as torch's
// SyncBatchNorm.
//
// Backward: PyTorch's SyncBatchNorm all-reduces Σdy and Σdy·(x−μ) in the
// middle of the backward pass; gotch cannot run Go code inside libtorch's
// backward, so the same gradient is reached in passes. The global sums
// enter the graph as S_g = A + (S − sg(S)) (likewise for Σx²) where A is a
// leaf holding the all-reduced value and S the local sum: the first
// backward (graph kept) gives every parameter its gradient through this
// rank's own samples, and A's gradient g_r = ∂L_r/∂S_g. Then, from the
// last layer to the first, the leaf gradients are all-reduced to
// G = Σ_r g_r and the missing cross-rank term is back-propagated from the
// surrogate (G − g_r)·S through the layers below; that pass also completes
// the leaf gradients of the lower layers before their turn. The cost is
// one partial backward per SyncBN layer.
type SyncBNGroup struct {
	coll    Collective
	records []syncRecord
}

// syncRecord is one train-mode SyncBN forward awaiting its backward.
type syncRecord struct {
	leaves [2]*ts.Tensor // global mean and variance: leaves
	local  [2]*ts.Tensor // this rank's terms of them, with their graph
}

var (
	syncMu     sync.Mutex
	syncGroups = map[*nn.VarStore]*SyncBNGroup{}
)

// syncGroupOf is the group of p's VarStore, created on first use.
func syncGroupOf(p *nn.Path) *SyncBNGroup {
	vs := varStoreOf(p)
	syncMu.Lock()
	defer syncMu.Unlock()
	g := syncGroups[vs]
	if g == nil {
		g = &SyncBNGroup{}
		syncGroups[vs] = g
	}
	return g
}

// EnableSyncBN makes the SyncBN layers built in vs reduce their statistics
// over c's ranks. It returns nil when vs has no SyncBN layer or c is a
// single rank (SyncBN is then BN over the local batch).
func EnableSyncBN(vs *nn.VarStore, c Collective) *SyncBNGroup {
	syncMu.Lock()
	defer syncMu.Unlock()
	g := syncGroups[vs]
	if g == nil || !multi(c) {
		return nil
	}
	g.coll = c
	return g
}

func (g *SyncBNGroup) active() bool { return g != nil && multi(g.coll) }

// statShape is [1, C, 1, …] for broadcasting per-channel stats over x.
func statShape(x *ts.Tensor, c int64) ([]int64, []int64, int64, error) {
	dims, err := x.Size()
	if err != nil {
		return nil, nil, 0, err
	}
	if len(dims) < 2 || dims[1] != c {
		return nil, nil, 0, fmt.Errorf("SyncBN: input %v, want N×%d×…", dims, c)
	}
	shape := make([]int64, len(dims))
	var red []int64
	count := int64(1)
	for i := range dims {
		shape[i] = 1
		if i != 1 {
			red = append(red, int64(i))
			count *= dims[i]
		}
	}
	shape[1] = c
	return shape, red, count, nil
}

// syncForward is the train-mode forward of a SyncBN layer on several
// nodes (see SyncBNGroup). The statistics are combined as torch's
// batch_norm_gather_stats_with_counts does, without E[x²]−E[x]²
// cancellation: the global mean μ = Σ_r n_r·m_r / N from every rank's
// count and mean, then the biased variance Σ_r (M2_r + n_r·(m_r − μ)²) / N
// from every rank's centred sum of squares (two all-reduces). Both are
// sums over ranks of a local term, which is what the backward needs.
func (bn *batchNorm) syncForward(x *ts.Tensor) (*ts.Tensor, error) {
	g := bn.sync
	s := NewScope()
	defer s.Close()
	shape, red, count, err := statShape(x, bn.c)
	if err != nil {
		return nil, err
	}
	xf := x
	if x.DType() != gotch.Float {
		if xf, err = s.TrackErr(x.Totype(gotch.Float, false)); err != nil {
			return nil, err
		}
	}
	dev, err := x.Device()
	if err != nil {
		return nil, err
	}
	// Counts and means: [n_r·m_r | n_r], summed.
	mLocal, err := s.TrackErr(xf.MeanDim(red, false, gotch.Float, false)) // C
	if err != nil {
		return nil, err
	}
	mv, err := hostFloat32s(mLocal)
	if err != nil {
		return nil, err
	}
	buf := make([]float32, 0, bn.c+1)
	for _, v := range mv {
		buf = append(buf, v*float32(count))
	}
	buf = append(buf, float32(count))
	if err := AllReduceSum(g.coll, buf); err != nil {
		return nil, fmt.Errorf("SyncBN mean: %w", err)
	}
	total := float64(buf[bn.c])
	muVals := make([]float32, bn.c)
	for i := range muVals {
		muVals[i] = float32(float64(buf[i]) / total)
	}
	mu, err := s.TrackErr(torchx.FromFloat32sOn(muVals, dev, bn.c))
	if err != nil {
		return nil, err
	}
	// Local terms with their graph: n_r·m_r/N and (M2_r + n_r·(m_r − μ)²)/N.
	meanTerm := s.Track(mulScalar(mLocal, float64(count)/total, false))
	mb := s.Track(mLocal.MustView(shape, false))
	cen := s.Track(xf.MustSub(mb, false))
	m2 := s.Track(cen.MustSquare(false).MustSumDimIntlist(red, false, gotch.Float, true))
	dm := s.Track(mLocal.MustSub(mu, false).MustSquare(true))
	varTerm := s.Track(divScalar(m2.MustAdd(s.Track(mulScalar(dm, float64(count), false)), false), total, true))
	vv, err := hostFloat32s(varTerm)
	if err != nil {
		return nil, err
	}
	if err := AllReduceSum(g.coll, vv); err != nil {
		return nil, fmt.Errorf("SyncBN variance: %w", err)
	}
	var rec syncRecord
	var glob [2]*ts.Tensor
	for i, v := range [][]float32{muVals, vv} {
		local := []*ts.Tensor{meanTerm, varTerm}[i]
		a, err := torchx.FromFloat32sOn(v, dev, bn.c)
		if err != nil {
			rec.drop()
			return nil, err
		}
		if a, err = a.SetRequiresGrad(true, true); err != nil {
			rec.drop()
			return nil, err
		}
		rec.leaves[i] = a
		d, err := s.TrackErr(local.Detach(false))
		if err != nil {
			rec.drop()
			return nil, err
		}
		diff, err := s.TrackErr(local.Sub(d, false)) // 0, with local's graph
		if err != nil {
			rec.drop()
			return nil, err
		}
		if glob[i], err = s.TrackErr(a.Add(diff, false)); err != nil {
			rec.drop()
			return nil, err
		}
		rec.local[i] = local
	}
	mean, variance := glob[0], glob[1]
	if err := bn.updateRunning(mean, variance, total); err != nil {
		rec.drop()
		return nil, err
	}
	std := s.Track(addScalar(variance, bn.eps, false).MustSqrt(true))
	mvw := s.Track(mean.MustView(shape, false))
	sv := s.Track(std.MustView(shape, false))
	y := s.Track(xf.MustSub(mvw, false).MustDiv(sv, true))
	if bn.w != nil {
		wv := s.Track(bn.w.MustView(shape, false))
		bv := s.Track(bn.b.MustView(shape, false))
		y = s.Track(y.MustMul(wv, false).MustAdd(bv, true))
	}
	if x.DType() != gotch.Float {
		y = s.Track(y.MustTotype(x.DType(), false))
	}
	out := s.Keep(y)
	if out.MustRequiresGrad() {
		s.Keep(rec.local[0])
		s.Keep(rec.local[1])
		g.records = append(g.records, rec)
	} else {
		rec.drop()
	}
	return out, nil
}

// updateRunning is torch's running-stat update with the global batch:
// mean, and the variance made unbiased over total elements.
func (bn *batchNorm) updateRunning(mean, variance *ts.Tensor, total float64) error {
	var err error
	noGradDo(func() {
		m := bn.momentum
		unbiased := variance.MustDetach(false)
		if total > 1 {
			unbiased = mulScalar(unbiased, total/(total-1), true)
		}
		for _, p := range []struct{ run, cur *ts.Tensor }{{bn.mean, mean}, {bn.variance, unbiased}} {
			a := mulScalar(p.run, 1-m, false)
			b := mulScalar(p.cur, m, false)
			n := a.MustAdd(b, true)
			b.MustDrop()
			p.run.Copy_(n)
			n.MustDrop()
		}
		unbiased.MustDrop()
		err = ts.TorchErr()
	})
	return err
}

func (r *syncRecord) drop() {
	for _, t := range r.leaves {
		if t != nil {
			t.MustDrop()
		}
	}
}

// Backward runs loss's backward with the cross-rank SyncBN terms (see
// SyncBNGroup); every rank calls it once per train-mode forward.
func (g *SyncBNGroup) Backward(loss *ts.Tensor) error {
	recs := g.records
	g.records = nil
	defer func() {
		for _, r := range recs {
			r.drop()
			r.local[0].MustDrop()
			r.local[1].MustDrop()
		}
	}()
	if err := backwardKeep(loss, len(recs) > 0); err != nil {
		return err
	}
	for k := len(recs) - 1; k >= 0; k-- {
		r := recs[k]
		var grads [2]*ts.Tensor
		var buf []float32
		for i, a := range r.leaves {
			gr, err := a.Grad(false)
			if err != nil {
				return err
			}
			ok, err := gr.Defined()
			if err != nil || !ok {
				gr.MustDrop()
				if gr, err = a.ZerosLike(false); err != nil {
					return err
				}
			}
			grads[i] = gr
			v, err := hostFloat32s(gr)
			if err != nil {
				return err
			}
			buf = append(buf, v...)
		}
		if err := AllReduceSum(g.coll, buf); err != nil {
			grads[0].MustDrop()
			grads[1].MustDrop()
			return fmt.Errorf("SyncBN gradients: %w", err)
		}
		err := func() error {
			s := NewScope()
			defer s.Close()
			s.Track(grads[0])
			s.Track(grads[1])
			c := int64(len(buf) / 2)
			dev, err := r.leaves[0].Device()
			if err != nil {
				return err
			}
			var surrogate *ts.Tensor
			for i := range r.leaves {
				tot, err := s.TrackErr(torchx.FromFloat32sOn(buf[int64(i)*c:int64(i+1)*c], dev, c))
				if err != nil {
					return err
				}
				coef := s.Track(tot.MustSub(grads[i], false)) // G − g_r
				term := s.Track(r.local[i].MustMul(coef, false).MustSum(gotch.Float, true))
				if surrogate == nil {
					surrogate = term
				} else {
					surrogate = s.Track(surrogate.MustAdd(term, false))
				}
			}
			if !surrogate.MustRequiresGrad() {
				return nil // nothing below this layer takes a gradient
			}
			return backwardKeep(surrogate, k > 0)
		}()
		if err != nil {
			return fmt.Errorf("SyncBN layer %d backward: %w", k, err)
		}
	}
	return nil
}

// backwardKeep is Tensor.Backward with keep_graph (gotch's Backward
// always frees it).
func backwardKeep(t *ts.Tensor, keep bool) error {
	k := 0
	if keep {
		k = 1
	}
	lib.AtBackward(lib.Ctensor(t.Ctensor()), k, 0)
	return ts.TorchErr()
}
