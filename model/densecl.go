package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// DenseCL is "Dense Contrastive Learning for Self-Supervised Visual
// Pre-Training" (Wang et al., 2021), as MMSelfSup 0.9.0's
// mmselfsup/models/algorithms/densecl.py (algorithms.md §3): MoCo's query
// and key encoders (keys encoder_q.0/1, encoder_k.0/1, alias backbone, no
// neck alias) with a DenseCLNeck that returns a global projection g, a
// dense grid d (N×D×S²) and its average; two queues (queue, queue2, each
// feat_dim × queue_len with their pointers). The global loss is MoCo's
// InfoNCE; the dense loss matches each query location s with the key
// location argmax_t ⟨b_q[:, s], b_k[:, t]⟩ of the normalised backbone
// features and contrasts ⟨q_grid[:, s], k_grid[:, j(s)]⟩ against
// q_grid[:, s]·queue2. Losses: loss_single = (1−λ)·L_single,
// loss_dense = λ·L_dense (both summed). k enters queue, the averaged dense
// key k2 enters queue2.
//
// SetLossLambda lets the runner's DenseCLHook hold λ at 0 for the first
// start_iters iterations (the reference config does not enable it).
//
// Deviations, on purpose, as in MoCo: the key encoder starts as a copy of
// the initialised query encoder (MMSelfSup copies before init_weights,
// algorithms.md §0.5), and batch-shuffle BN is emulated on one process
// with shuffle_bn_groups sub-batches (default 2 when the batch divides;
// 1 = MMSelfSup on one GPU).
//
// On several nodes (SetCollective with World > 1) the key view goes
// through MMSelfSup's batch shuffle across the ranks (see MoCo; the four
// key outputs are unshuffled), and both queues take every rank's keys
// (concat_all_gather before each enqueue).
type DenseCL struct {
	q, k       encoder
	head       *ContrastiveHead
	queue      *ts.Tensor // feat_dim × queue_len, owned by the VarStore
	queuePtr   *ts.Tensor // int64 [1]
	queue2     *ts.Tensor
	queue2Ptr  *ts.Tensor
	pairs      [][2]*ts.Tensor
	lossLambda float64
	coll       Collective // multi-node runs: batch shuffle, both queues gathered
	queueSettings
}

// SetCollective implements CollectiveUser.
func (m *DenseCL) SetCollective(c Collective) { m.coll = c }

func init() { RegisterAlgorithm("DenseCL", buildDenseCL) }

func buildDenseCL(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head", "queue_len", "feat_dim", "momentum", "loss_lambda", "shuffle_bn_groups"); err != nil {
		return nil, err
	}
	q, err := parseQueueSettings(cfg)
	if err != nil {
		return nil, err
	}
	m := &DenseCL{queueSettings: q}
	if m.lossLambda, err = floatKey(cfg, "loss_lambda", 0.5); err != nil {
		return nil, err
	}
	if err := checkMomentum("loss_lambda", m.lossLambda); err != nil {
		return nil, err
	}
	root := vs.Root()
	// The model's own buffers come first in PyTorch's state_dict.
	if m.queue, m.queuePtr, err = addQueue(root, "queue", "queue_ptr", m.featDim, m.queueLen); err != nil {
		return nil, err
	}
	if m.queue2, m.queue2Ptr, err = addQueue(root, "queue2", "queue2_ptr", m.featDim, m.queueLen); err != nil {
		return nil, err
	}
	var head Head
	if m.q, head, err = buildEncoderAndHead(root, cfg, "encoder_q.0", "encoder_q.1"); err != nil {
		return nil, err
	}
	var ok bool
	if m.head, ok = head.(*ContrastiveHead); !ok {
		return nil, fmt.Errorf("model.head: DenseCL needs a ContrastiveHead, got %s", head.HeadType())
	}
	if _, ok := m.q.neck.(*DenseCLNeck); !ok {
		return nil, fmt.Errorf("model.neck: DenseCL needs a DenseCLNeck")
	}
	bc, _ := subConfig(cfg, "backbone", true)
	nc, _ := subConfig(cfg, "neck", true)
	if m.k.backbone, err = BuildBackbone(subPath(root, "encoder_k.0"), bc); err != nil {
		return nil, err
	}
	if m.k.neck, err = BuildNeck(subPath(root, "encoder_k.1"), nc); err != nil {
		return nil, err
	}
	if err := aliasAll(vs, "backbone", "encoder_q.0"); err != nil {
		return nil, err
	}
	if m.pairs, err = copyTarget(vs, "encoder_q", "encoder_k"); err != nil {
		return nil, fmt.Errorf("DenseCL: %w", err)
	}
	return m, nil
}

// addQueue registers a feat_dim × queue_len buffer of random unit columns
// (F.normalize(randn, dim=0)) and its int64 [1] pointer.
func addQueue(root *nn.Path, name, ptrName string, featDim, queueLen int) (*ts.Tensor, *ts.Tensor, error) {
	s := NewScope()
	defer s.Close()
	q0, err := s.TrackErr(ts.Randn([]int64{int64(featDim), int64(queueLen)}, gotch.Float, root.Device()))
	if err != nil {
		return nil, nil, err
	}
	qn, err := l2normalize(s, q0, 0, 1e-12, true)
	if err != nil {
		return nil, nil, err
	}
	q, err := AddBuffer(root, name, qn)
	if err != nil {
		return nil, nil, err
	}
	p0, err := s.TrackErr(ts.Zeros([]int64{1}, gotch.Int64, root.Device()))
	if err != nil {
		return nil, nil, err
	}
	p, err := AddBuffer(root, ptrName, p0)
	if err != nil {
		return nil, nil, err
	}
	return q, p, nil
}

// Type names the algorithm.
func (m *DenseCL) Type() string { return "DenseCL" }

// Features is the pooled output of the query backbone.
func (m *DenseCL) Features(x *ts.Tensor) (*ts.Tensor, error) { return pooledFeatures(m.q.backbone, x) }

// LossLambda is the current weight λ of the dense loss.
func (m *DenseCL) LossLambda() float64 { return m.lossLambda }

// SetLossLambda sets λ (DenseCLHook: 0 before start_iters, then the
// config's loss_lambda).
func (m *DenseCL) SetLossLambda(l float64) { m.lossLambda = l }

// Notes reports the shuffle-BN emulation once.
func (m *DenseCL) Notes() []string {
	return []string{fmt.Sprintf("DenseCL: batch-shuffle BN emulated on one process with %d sub-batches (shuffle_bn_groups; 1 = MMSelfSup on one GPU)", m.bnGroups)}
}

// denseOut is one encoder's normalised outputs.
type denseOut struct {
	g    *ts.Tensor // N×D, global projection
	grid *ts.Tensor // N×D×S², dense projection
	avg  *ts.Tensor // N×D, averaged dense projection
	bb   *ts.Tensor // N×C×S², backbone features
}

// forwardDense runs backbone and DenseCLNeck and L2-normalises every
// output along its feature dim (F.normalize(·, dim=1)); all into s.
func forwardDense(s *Scope, e encoder, x *ts.Tensor) (denseOut, error) {
	var o denseOut
	feats, err := e.backbone.Forward(x, true)
	if err != nil {
		return o, err
	}
	s.TrackAll(feats)
	last := feats[len(feats)-1]
	outs, err := e.neck.Forward([]*ts.Tensor{last}, true)
	if err != nil {
		return o, err
	}
	s.TrackAll(outs)
	if len(outs) != 3 {
		return o, fmt.Errorf("DenseCL neck returned %d outputs, want 3", len(outs))
	}
	bb, err := s.TrackErr(last.Flatten(2, -1, false)) // N×C×S²
	if err != nil {
		return o, err
	}
	for _, p := range []struct {
		dst **ts.Tensor
		src *ts.Tensor
	}{{&o.g, outs[0]}, {&o.grid, outs[1]}, {&o.avg, outs[2]}, {&o.bb, bb}} {
		if *p.dst, err = l2normalize(s, p.src, 1, 1e-12, true); err != nil {
			return o, err
		}
	}
	return o, nil
}

// TrainStep computes loss_single and loss_dense for views [query, key] and
// enqueues the keys.
func (m *DenseCL) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 2 {
		return nil, fmt.Errorf("DenseCL: %d views, want 2", len(in.Views))
	}
	s := NewScope()
	defer s.Close()
	dims, err := imageDims("DenseCL view 0", in.Views[0])
	if err != nil {
		return nil, err
	}
	n := int(dims[0])
	if m.queueLen%n != 0 {
		return nil, fmt.Errorf("DenseCL: queue_len %d is not a multiple of the batch size %d", m.queueLen, n)
	}
	q, err := forwardDense(s, m.q, in.Views[0])
	if err != nil {
		return nil, err
	}
	if err := emaUpdate(m.pairs, m.momentum); err != nil {
		return nil, fmt.Errorf("DenseCL momentum update: %w", err)
	}
	var k denseOut
	if err := WithoutGrad(func() error {
		var err error
		k, err = m.keys(s, in.Views[1], n)
		return err
	}); err != nil {
		return nil, err
	}
	single, err := m.singleLogits(s, q, k)
	if err != nil {
		return nil, err
	}
	dense, err := m.denseLogits(s, q, k)
	if err != nil {
		return nil, err
	}
	out := NewLosses()
	for _, part := range []struct {
		name   string
		logits [2]*ts.Tensor
		weight float64
	}{{"loss_single", single, 1 - m.lossLambda}, {"loss_dense", dense, m.lossLambda}} {
		l, err := m.head.Loss(part.logits[0], part.logits[1])
		if err != nil {
			out.Drop()
			return nil, err
		}
		s.TrackLosses(l)
		sc := ts.FloatScalar(part.weight)
		w, err := l.Get("loss").MulScalar(sc, false)
		sc.MustDrop()
		if err != nil {
			out.Drop()
			return nil, err
		}
		out.Set(part.name, w)
	}
	if multi(m.coll) {
		if n *= m.coll.World(); m.queueLen%n != 0 {
			out.Drop()
			return nil, fmt.Errorf("DenseCL: queue_len %d is not a multiple of the batch size over all ranks %d", m.queueLen, n)
		}
	}
	for _, e := range []struct {
		queue, ptr, keys *ts.Tensor
	}{{m.queue, m.queuePtr, k.g}, {m.queue2, m.queue2Ptr, k.avg}} {
		keys := e.keys
		if multi(m.coll) {
			if keys, err = s.TrackErr(ConcatAllGather(m.coll, keys)); err != nil {
				out.Drop()
				return nil, fmt.Errorf("DenseCL enqueue: %w", err)
			}
		}
		if err := enqueueKeys(s, e.queue, e.ptr, keys, n, m.queueLen); err != nil {
			out.Drop()
			return nil, fmt.Errorf("DenseCL enqueue: %w", err)
		}
	}
	return out, nil
}

// singleLogits is MoCo's [⟨q,k⟩ (N×1), q·queue (N×K)].
func (m *DenseCL) singleLogits(s *Scope, q, k denseOut) ([2]*ts.Tensor, error) {
	var r [2]*ts.Tensor
	pos, err := s.TrackErr(q.g.Mul(k.g, false))
	if err != nil {
		return r, err
	}
	if r[0], err = s.TrackErr(pos.SumDimIntlist([]int64{1}, true, gotch.Float, false)); err != nil { // N×1
		return r, err
	}
	qd, err := queueSnapshot(s, m.queue)
	if err != nil {
		return r, err
	}
	r[1], err = s.TrackErr(q.g.Mm(qd, false)) // N×K
	return r, err
}

// denseLogits pairs every query location with its most similar key
// location (backbone features) and returns [pos ((N·S²)×1), neg
// ((N·S²)×K)], rows ordered n·S² + s.
func (m *DenseCL) denseLogits(s *Scope, q, k denseOut) ([2]*ts.Tensor, error) {
	var r [2]*ts.Tensor
	gd, err := q.grid.Size() // N×D×S²
	if err != nil {
		return r, err
	}
	qbt, err := s.TrackErr(q.bb.Permute([]int64{0, 2, 1}, false)) // N×S²×C
	if err != nil {
		return r, err
	}
	sim, err := s.TrackErr(qbt.Bmm(k.bb, false)) // N×S²×S²
	if err != nil {
		return r, err
	}
	ind, err := s.TrackErr(sim.Argmax([]int64{2}, false, false)) // N×S²
	if err != nil {
		return r, err
	}
	ind3, err := s.TrackErr(ind.Unsqueeze(1, false)) // N×1×S²
	if err != nil {
		return r, err
	}
	idx, err := s.TrackErr(ind3.Expand(gd, false, false)) // N×D×S²
	if err != nil {
		return r, err
	}
	kg, err := s.TrackErr(k.grid.Gather(2, idx, false, false)) // N×D×S²
	if err != nil {
		return r, err
	}
	prod, err := s.TrackErr(q.grid.Mul(kg, false))
	if err != nil {
		return r, err
	}
	pos, err := s.TrackErr(prod.SumDimIntlist([]int64{1}, false, gotch.Float, false)) // N×S²
	if err != nil {
		return r, err
	}
	if r[0], err = s.TrackErr(pos.Reshape([]int64{-1, 1}, false)); err != nil { // (N·S²)×1
		return r, err
	}
	qgt, err := s.TrackErr(q.grid.Permute([]int64{0, 2, 1}, false)) // N×S²×D
	if err != nil {
		return r, err
	}
	qg, err := s.TrackErr(qgt.Reshape([]int64{-1, gd[1]}, false)) // (N·S²)×D
	if err != nil {
		return r, err
	}
	qd, err := queueSnapshot(s, m.queue2)
	if err != nil {
		return r, err
	}
	r[1], err = s.TrackErr(qg.Mm(qd, false)) // (N·S²)×K
	return r, err
}

// queueSnapshot copies a queue, as MMSelfSup's queue.clone().detach(): the
// enqueue writes the queue in place before backward reads it.
func queueSnapshot(s *Scope, queue *ts.Tensor) (*ts.Tensor, error) {
	qd, err := s.TrackErr(queue.ZerosLike(false))
	if err != nil {
		return nil, err
	}
	qd.Copy_(queue)
	return qd, ts.TorchErr()
}

// keys encodes the key view without gradient with batch-shuffle BN: on
// several nodes across the ranks (MMSelfSup's _batch_shuffle_ddp); on one
// process emulated: the batch is permuted, split into groups encoded one
// by one, and the outputs put back in order.
func (m *DenseCL) keys(s *Scope, x *ts.Tensor, n int) (denseOut, error) {
	if multi(m.coll) {
		xs, unshuffle, err := shuffleDDP(s, m.coll, x)
		if err != nil {
			return denseOut{}, fmt.Errorf("DenseCL: %w", err)
		}
		o, err := forwardDense(s, m.k, xs)
		if err != nil {
			return denseOut{}, err
		}
		for _, t := range []**ts.Tensor{&o.g, &o.grid, &o.avg, &o.bb} {
			if *t, err = unshuffleDDP(s, m.coll, *t, unshuffle); err != nil {
				return denseOut{}, fmt.Errorf("DenseCL: %w", err)
			}
		}
		return o, nil
	}
	groups := m.bnGroups
	if m.bnDefault && n%groups != 0 {
		groups = 1
	}
	if n%groups != 0 {
		return denseOut{}, fmt.Errorf("DenseCL: batch %d does not split into shuffle_bn_groups=%d", n, groups)
	}
	if groups == 1 {
		return forwardDense(s, m.k, x)
	}
	dev, err := x.Device()
	if err != nil {
		return denseOut{}, err
	}
	perm, err := s.TrackErr(ts.Randperm(int64(n), gotch.Int64, dev))
	if err != nil {
		return denseOut{}, err
	}
	xs, err := s.TrackErr(x.IndexSelect(0, perm, false))
	if err != nil {
		return denseOut{}, err
	}
	per := int64(n / groups)
	var parts [4][]ts.Tensor
	for g := 0; g < groups; g++ {
		sub, err := s.TrackErr(xs.Narrow(0, int64(g)*per, per, false))
		if err != nil {
			return denseOut{}, err
		}
		o, err := forwardDense(s, m.k, sub)
		if err != nil {
			return denseOut{}, err
		}
		for i, t := range []*ts.Tensor{o.g, o.grid, o.avg, o.bb} {
			parts[i] = append(parts[i], *t)
		}
	}
	inv, err := s.TrackErr(perm.Argsort(0, false, false))
	if err != nil {
		return denseOut{}, err
	}
	var out [4]*ts.Tensor
	for i := range parts {
		cat, err := s.TrackErr(ts.Cat(parts[i], 0))
		if err != nil {
			return denseOut{}, err
		}
		if out[i], err = s.TrackErr(cat.IndexSelect(0, inv, false)); err != nil {
			return denseOut{}, err
		}
	}
	return denseOut{g: out[0], grid: out[1], avg: out[2], bb: out[3]}, nil
}

// enqueueKeys writes keysᵀ (keys N×D) into queue (D×queueLen) at *ptr and
// advances the pointer modulo queueLen.
func enqueueKeys(s *Scope, queue, ptr, keys *ts.Tensor, n, queueLen int) error {
	p := int(ptr.Int64Values()[0])
	return WithoutGrad(func() error {
		kt, err := s.TrackErr(keys.Transpose(0, 1, false))
		if err != nil {
			return err
		}
		slot, err := s.TrackErr(queue.Narrow(1, int64(p), int64(n), false))
		if err != nil {
			return err
		}
		slot.Copy_(kt)
		if err := ts.TorchErr(); err != nil {
			return err
		}
		next, err := ts.OfSlice([]int64{int64((p + n) % queueLen)})
		if err != nil {
			return err
		}
		ptr.Copy_(next) // copy_, not fill_: keeps the VarStore's handle
		next.MustDrop()
		return ts.TorchErr()
	})
}
