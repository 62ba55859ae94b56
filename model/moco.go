package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MoCo is "Momentum Contrast for Unsupervised Visual Representation
// Learning" (He et al., 2020) and its v2 (Chen et al., 2020), as MMSelfSup
// 0.9.0's mmselfsup/models/algorithms/moco.py (algorithms.md §§1-2): a query
// encoder, a key encoder updated by EMA (m = 0.999) before the keys are
// computed, a queue of queue_len normalised keys, and InfoNCE over
// [⟨q,k⟩, q·queue].
//
// Deviations, on purpose:
//   - The key encoder starts as a copy of the initialised query encoder, as
//     in the paper. MMSelfSup copies before init_weights, so its two
//     encoders start different (algorithms.md §0.5).
//   - Batch-shuffle BN needs several processes; on one process MMSelfSup's
//     shuffle is a no-op. flowssl emulates it: keys are computed on a random
//     permutation of the batch split into shuffle_bn_groups sub-batches
//     (default 2 when the batch divides), so the key encoder's BN statistics
//     come from a different set of samples than the query's, then the keys
//     are put back in order. shuffle_bn_groups: 1 is MMSelfSup on one GPU.
//
// On several nodes (SetCollective with World > 1) the keys are computed as
// MMSelfSup's _batch_shuffle_ddp / _batch_unshuffle_ddp do: every rank's
// key images are gathered, rank 0 draws a permutation of the global batch
// and broadcasts it, each rank encodes its slice of the permuted batch
// (its BN statistics come from samples of every rank), the keys are
// gathered and each rank takes its own samples' keys back; the queue then
// takes every rank's keys (concat_all_gather). shuffle_bn_groups is not
// used there: each rank's slice is one BN batch, as on MMSelfSup's GPUs.
type MoCo struct {
	q, k     encoder
	head     *ContrastiveHead
	queue    *ts.Tensor // feat_dim × queue_len, owned by the VarStore
	queuePtr *ts.Tensor // int64 [1]
	pairs    [][2]*ts.Tensor
	coll     Collective // multi-node runs: keys of every rank enter the queue
	queueSettings
}

// SetCollective implements CollectiveUser: with several ranks, the keys
// are computed on the shuffled global batch and the queue takes every
// rank's keys (MMSelfSup's batch shuffle and concat_all_gather).
func (m *MoCo) SetCollective(c Collective) { m.coll = c }

// queueSettings are the keys MoCo and DenseCL share: the key queue, the
// EMA coefficient and the shuffle-BN emulation.
type queueSettings struct {
	queueLen  int
	featDim   int
	momentum  float64
	bnGroups  int
	bnDefault bool // shuffle_bn_groups not given: fall back to 1 when the batch does not split
}

// parseQueueSettings reads and checks model.queue_len, feat_dim, momentum
// and shuffle_bn_groups.
func parseQueueSettings(cfg map[string]any) (queueSettings, error) {
	var q queueSettings
	var err error
	if q.queueLen, err = intKey(cfg, "queue_len", 65536); err != nil {
		return q, err
	}
	if q.featDim, err = intKey(cfg, "feat_dim", 128); err != nil {
		return q, err
	}
	if q.momentum, err = floatKey(cfg, "momentum", 0.999); err != nil {
		return q, err
	}
	_, given := cfg["shuffle_bn_groups"]
	q.bnDefault = !given
	if q.bnGroups, err = intKey(cfg, "shuffle_bn_groups", 2); err != nil {
		return q, err
	}
	switch {
	case q.queueLen <= 0 || q.featDim <= 0:
		return q, fmt.Errorf("model: queue_len %d and feat_dim %d must be positive", q.queueLen, q.featDim)
	case q.momentum < 0 || q.momentum > 1:
		return q, fmt.Errorf("model.momentum: %g outside [0, 1]", q.momentum)
	case q.bnGroups < 1:
		return q, fmt.Errorf("model.shuffle_bn_groups: %d must be ≥ 1", q.bnGroups)
	}
	return q, nil
}

func init() { RegisterAlgorithm("MoCo", buildMoCo) }

func buildMoCo(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head", "queue_len", "feat_dim", "momentum", "shuffle_bn_groups", "pretrained"); err != nil {
		return nil, err
	}
	q, err := parseQueueSettings(cfg)
	if err != nil {
		return nil, err
	}
	m := &MoCo{queueSettings: q}
	root := vs.Root()
	var head Head
	if m.q, head, err = buildEncoderAndHead(root, cfg, "encoder_q.0", "encoder_q.1"); err != nil {
		return nil, err
	}
	var ok bool
	if m.head, ok = head.(*ContrastiveHead); !ok {
		return nil, fmt.Errorf("model.head: MoCo needs a ContrastiveHead, got %s", head.HeadType())
	}
	bc, _ := subConfig(cfg, "backbone", true)
	nc, _ := subConfig(cfg, "neck", true)
	if m.k.backbone, err = BuildBackbone(subPath(root, "encoder_k.0"), bc); err != nil {
		return nil, err
	}
	if m.k.neck, err = BuildNeck(subPath(root, "encoder_k.1"), nc); err != nil {
		return nil, err
	}
	for alias, target := range map[string]string{"backbone": "encoder_q.0", "neck": "encoder_q.1"} {
		if err := AliasPrefix(vs, alias, target); err != nil {
			return nil, err
		}
	}
	q0, err := ts.Randn([]int64{int64(m.featDim), int64(m.queueLen)}, gotch.Float, vs.Device())
	if err != nil {
		return nil, err
	}
	s := NewScope()
	defer s.Close()
	s.Track(q0)
	qn, err := l2normalize(s, q0, 0, 1e-12, true) // F.normalize(queue, dim=0)
	if err != nil {
		return nil, err
	}
	if m.queue, err = AddBuffer(root, "queue", qn); err != nil {
		return nil, err
	}
	p0, err := s.TrackErr(ts.Zeros([]int64{1}, gotch.Int64, vs.Device()))
	if err != nil {
		return nil, err
	}
	if m.queuePtr, err = AddBuffer(root, "queue_ptr", p0); err != nil {
		return nil, err
	}
	if m.pairs, err = copyTarget(vs, "encoder_q", "encoder_k"); err != nil {
		return nil, fmt.Errorf("MoCo key encoder: %w", err)
	}
	return m, nil
}

// Type names the algorithm.
func (m *MoCo) Type() string { return "MoCo" }

// Features is the pooled output of the query backbone.
func (m *MoCo) Features(x *ts.Tensor) (*ts.Tensor, error) { return pooledFeatures(m.q.backbone, x) }

// Notes reports the shuffle-BN emulation once.
func (m *MoCo) Notes() []string {
	return []string{fmt.Sprintf("MoCo: batch-shuffle BN emulated on one process with %d sub-batches (shuffle_bn_groups; 1 = MMSelfSup on one GPU)", m.bnGroups)}
}

// momentumUpdate is θ_k ← m·θ_k + (1−m)·θ_q over parameters. The new
// value is computed into a temporary and copied in with copy_, which keeps
// the VarStore's handle (gotch's generated in-place ops replace it).
func (m *MoCo) momentumUpdate() error {
	return emaUpdate(m.pairs, m.momentum)
}

// emaUpdate sets every target (pair[1]) to m·target + (1−m)·online (pair[0]).
func emaUpdate(pairs [][2]*ts.Tensor, m float64) error {
	a, b := ts.FloatScalar(1-m), ts.FloatScalar(m)
	defer a.MustDrop()
	defer b.MustDrop()
	return WithoutGrad(func() error {
		for _, p := range pairs {
			q, k := p[0], p[1]
			upd, err := q.MulScalar(a, false)
			if err != nil {
				return err
			}
			old, err := k.MulScalar(b, false)
			if err != nil {
				upd.MustDrop()
				return err
			}
			sum, err := old.Add(upd, true)
			upd.MustDrop()
			if err != nil {
				return err
			}
			k.Copy_(sum)
			sum.MustDrop()
			if err := ts.TorchErr(); err != nil {
				return err
			}
		}
		return nil
	})
}

// TrainStep computes the InfoNCE loss for views [query, key] and enqueues
// the keys.
func (m *MoCo) TrainStep(in *StepInput) (*Losses, error) {
	if len(in.Views) != 2 {
		return nil, fmt.Errorf("MoCo: %d views, want 2", len(in.Views))
	}
	s := NewScope()
	defer s.Close()
	dims, err := in.Views[0].Size()
	if err != nil {
		return nil, err
	}
	n := int(dims[0])
	if m.queueLen%n != 0 {
		return nil, fmt.Errorf("MoCo: queue_len %d is not a multiple of the batch size %d", m.queueLen, n)
	}
	q, err := m.q.forward(s, in.Views[0], true)
	if err != nil {
		return nil, err
	}
	if q, err = l2normalize(s, q, 1, 1e-12, true); err != nil {
		return nil, err
	}
	if err := m.momentumUpdate(); err != nil {
		return nil, fmt.Errorf("MoCo momentum update: %w", err)
	}
	var k *ts.Tensor
	err = WithoutGrad(func() error {
		var err error
		k, err = m.keys(s, in.Views[1], n)
		return err
	})
	if err != nil {
		return nil, err
	}
	pos, err := s.TrackErr(q.Mul(k, false))
	if err != nil {
		return nil, err
	}
	if pos, err = s.TrackErr(pos.SumDimIntlist([]int64{1}, true, gotch.Float, false)); err != nil { // N×1
		return nil, err
	}
	// A copy, as MMSelfSup's queue.clone().detach(): the enqueue below
	// writes the queue in place before backward needs these values.
	qd, err := s.TrackErr(m.queue.ZerosLike(false))
	if err != nil {
		return nil, err
	}
	qd.Copy_(m.queue)
	neg, err := s.TrackErr(q.Mm(qd, false)) // N×queue_len
	if err != nil {
		return nil, err
	}
	losses, err := m.head.Loss(pos, neg)
	if err != nil {
		return nil, err
	}
	if m.coll != nil && m.coll.World() > 1 {
		if k, err = s.TrackErr(ConcatAllGather(m.coll, k)); err != nil {
			losses.Drop()
			return nil, err
		}
		if n *= m.coll.World(); m.queueLen%n != 0 {
			losses.Drop()
			return nil, fmt.Errorf("MoCo: queue_len %d is not a multiple of the batch size over all ranks %d", m.queueLen, n)
		}
	}
	if err := m.enqueue(s, k, n); err != nil {
		losses.Drop()
		return nil, err
	}
	return losses, nil
}

// keys encodes the key view with batch-shuffle BN (no grad): across the
// ranks on several nodes, emulated with sub-batches on one process.
func (m *MoCo) keys(s *Scope, x *ts.Tensor, n int) (*ts.Tensor, error) {
	if multi(m.coll) {
		xs, unshuffle, err := shuffleDDP(s, m.coll, x)
		if err != nil {
			return nil, fmt.Errorf("MoCo: %w", err)
		}
		k, err := m.k.forward(s, xs, true)
		if err != nil {
			return nil, err
		}
		if k, err = l2normalize(s, k, 1, 1e-12, true); err != nil {
			return nil, err
		}
		return unshuffleDDP(s, m.coll, k, unshuffle)
	}
	groups := m.bnGroups
	if m.bnDefault && n%groups != 0 {
		groups = 1
	}
	if n%groups != 0 {
		return nil, fmt.Errorf("MoCo: batch %d does not split into shuffle_bn_groups=%d", n, groups)
	}
	if groups == 1 {
		k, err := m.k.forward(s, x, true)
		if err != nil {
			return nil, err
		}
		return l2normalize(s, k, 1, 1e-12, true)
	}
	perm, err := s.TrackErr(ts.Randperm(int64(n), gotch.Int64, x.MustDevice()))
	if err != nil {
		return nil, err
	}
	xs, err := s.TrackErr(x.IndexSelect(0, perm, false))
	if err != nil {
		return nil, err
	}
	per := int64(n / groups)
	parts := make([]ts.Tensor, 0, groups)
	for g := 0; g < groups; g++ {
		sub, err := s.TrackErr(xs.Narrow(0, int64(g)*per, per, false))
		if err != nil {
			return nil, err
		}
		k, err := m.k.forward(s, sub, true)
		if err != nil {
			return nil, err
		}
		parts = append(parts, *k)
	}
	kcat, err := s.TrackErr(ts.Cat(parts, 0))
	if err != nil {
		return nil, err
	}
	inv, err := s.TrackErr(perm.Argsort(0, false, false))
	if err != nil {
		return nil, err
	}
	k, err := s.TrackErr(kcat.IndexSelect(0, inv, false))
	if err != nil {
		return nil, err
	}
	return l2normalize(s, k, 1, 1e-12, true)
}

// enqueue writes kᵀ into the queue at queue_ptr and advances it.
func (m *MoCo) enqueue(s *Scope, k *ts.Tensor, n int) error {
	ptr := int(m.queuePtr.Int64Values()[0])
	return WithoutGrad(func() error {
		kt, err := s.TrackErr(k.Transpose(0, 1, false))
		if err != nil {
			return err
		}
		slot, err := s.TrackErr(m.queue.Narrow(1, int64(ptr), int64(n), false))
		if err != nil {
			return err
		}
		slot.Copy_(kt)
		if err := ts.TorchErr(); err != nil {
			return fmt.Errorf("MoCo enqueue: %w", err)
		}
		next, err := ts.OfSlice([]int64{int64((ptr + n) % m.queueLen)})
		if err != nil {
			return err
		}
		m.queuePtr.Copy_(next) // copy_, not fill_: keeps the VarStore's handle
		next.MustDrop()
		return nil
	})
}
