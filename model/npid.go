package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/memory"
)

// NPID is "Unsupervised Feature Learning via Non-Parametric Instance
// Discrimination" (Wu et al., 2018), as MMSelfSup 0.9.0's
// mmselfsup/models/algorithms/npid.py (algorithms.md §4): backbone and
// LinearNeck give f = norm(neck(backbone(x))); the loss is the
// ContrastiveHead's full softmax over ⟨M[idx], f⟩ and neg_num negatives
// ⟨M[neg], f⟩ (drawn uniformly with the alias method, redrawn while equal
// to the sample itself when ensure_neg) at T = 0.07; then M[idx] ←
// norm((1 − m)·M[idx] + m·f).
//
// The memory bank (memory.SimpleMemory) is not part of the algorithm: it
// is reached through an NPIDBank, which the trainer provides (actors' Memory
// actor, on its own thread) and tests may provide directly (DirectNPIDBank).
// TrainStep fails until SetBank has been called.
type NPID struct {
	enc       encoder
	head      *ContrastiveHead
	negNum    int
	ensureNeg bool
	memCfg    memory.SimpleMemoryConfig
	bank      NPIDBank
}

// NPIDBank is what NPID's step needs of its memory bank.
//
// Ordering contract (MMSelfSup's): Rows for iteration i sees the bank after
// every Update of iterations < i, and Update of iteration i lands before
// Rows of iteration i+1 reads the bank. Update may return before the bank
// has been written (it must not hold up the step).
type NPIDBank interface {
	// Rows returns the B×(1+K)×D bank rows for the batch with dataset
	// indices idx at iteration iter: row 0 of sample b is M[idx_b], rows
	// 1..K its K = neg_num negatives (ensure_neg as configured). The
	// negatives depend only on (seed, iter, idx), so a resumed run draws
	// what the uninterrupted one did. No gradient; the caller owns it.
	Rows(iter int, idx []int64) (*ts.Tensor, error)
	// Update hands over feat (B×D, normalised, detached; the bank takes
	// ownership) for M[idx] ← norm((1 − m)·M[idx] + m·norm(feat)).
	Update(iter int, idx []int64, feat *ts.Tensor) error
}

func init() { RegisterAlgorithm("NPID", buildNPID) }

func buildNPID(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head", "memory_bank", "neg_num", "ensure_neg", "pretrained"); err != nil {
		return nil, err
	}
	m := &NPID{}
	var err error
	if m.negNum, err = intKey(cfg, "neg_num", 65536); err != nil {
		return nil, err
	}
	if m.negNum < 1 {
		return nil, fmt.Errorf("model.neg_num: %d must be ≥ 1", m.negNum)
	}
	if v, ok := cfg["ensure_neg"]; ok && v != nil {
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("model.ensure_neg: want a bool, got %v", v)
		}
		m.ensureNeg = b
	}
	mc, err := subConfig(cfg, "memory_bank", true)
	if err != nil {
		return nil, err
	}
	if m.memCfg, err = parseSimpleMemory(mc); err != nil {
		return nil, err
	}
	var head Head
	if m.enc, head, err = buildEncoderAndHead(vs.Root(), cfg, "backbone", "neck"); err != nil {
		return nil, err
	}
	var ok bool
	if m.head, ok = head.(*ContrastiveHead); !ok {
		return nil, fmt.Errorf("model.head: NPID needs a ContrastiveHead, got %s", head.HeadType())
	}
	return m, nil
}

// parseSimpleMemory reads model.memory_bank (type SimpleMemory).
func parseSimpleMemory(mc map[string]any) (memory.SimpleMemoryConfig, error) {
	c := memory.SimpleMemoryConfig{Momentum: 0.5}
	if t, _ := mc["type"].(string); t != "SimpleMemory" {
		return c, fmt.Errorf("model.memory_bank.type: %v, NPID needs SimpleMemory", mc["type"])
	}
	for k := range mc {
		switch k {
		case "type", "length", "feat_dim", "momentum":
		default:
			return c, fmt.Errorf("model.memory_bank.%s: unknown key for SimpleMemory (known: length, feat_dim, momentum)", k)
		}
	}
	var err error
	if c.Length, err = intKey(mc, "length", 0); err != nil {
		return c, fmt.Errorf("memory_bank: %w", err)
	}
	if c.FeatDim, err = intKey(mc, "feat_dim", 0); err != nil {
		return c, fmt.Errorf("memory_bank: %w", err)
	}
	if c.Momentum, err = floatKey(mc, "momentum", 0.5); err != nil {
		return c, fmt.Errorf("memory_bank: %w", err)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("model.memory_bank: %w", err)
	}
	return c, nil
}

// Type names the algorithm.
func (m *NPID) Type() string { return "NPID" }

// Features is the pooled backbone output.
func (m *NPID) Features(x *ts.Tensor) (*ts.Tensor, error) { return pooledFeatures(m.enc.backbone, x) }

// MemoryConfig is model.memory_bank.
func (m *NPID) MemoryConfig() memory.SimpleMemoryConfig { return m.memCfg }

// NegNum is model.neg_num.
func (m *NPID) NegNum() int { return m.negNum }

// EnsureNeg is model.ensure_neg.
func (m *NPID) EnsureNeg() bool { return m.ensureNeg }

// SetBank attaches the memory bank the steps use.
func (m *NPID) SetBank(b NPIDBank) { m.bank = b }

// TrainStep is forward_train(img, idx) for one view: the loss, then the
// bank update handed to the bank (MMSelfSup updates inside the forward,
// before backward; the update only reads the detached features).
func (m *NPID) TrainStep(in *StepInput) (*Losses, error) {
	idx, err := singleViewIndices("NPID", "SingleViewDataset", in)
	if err != nil {
		return nil, err
	}
	if m.bank == nil {
		return nil, fmt.Errorf("NPID: no memory bank attached")
	}
	s := NewScope()
	defer s.Close()
	f, err := m.enc.forward(s, in.Views[0], true)
	if err != nil {
		return nil, err
	}
	if f, err = l2normalize(s, f, 1, 1e-12, true); err != nil {
		return nil, err
	}
	rows, err := s.TrackErr(m.bank.Rows(in.Iter, idx))
	if err != nil {
		return nil, fmt.Errorf("NPID memory bank: %w", err)
	}
	pos, neg, err := npidLogits(s, rows, f)
	if err != nil {
		return nil, err
	}
	losses, err := m.head.Loss(pos, neg)
	if err != nil {
		return nil, err
	}
	// A detached handle on f's storage: the bank may write after this
	// step's scope has dropped f, and nothing writes f in place.
	fd, err := f.Detach(false)
	if err != nil {
		losses.Drop()
		return nil, err
	}
	if err := m.bank.Update(in.Iter, idx, fd); err != nil {
		losses.Drop()
		return nil, fmt.Errorf("NPID memory update: %w", err)
	}
	return losses, nil
}

// npidLogits splits ⟨rows_bj, f_b⟩ (B×(1+K)) into pos (B×1) and neg (B×K):
// npid.py's einsum and bmm in one bmm.
func npidLogits(s *Scope, rows, f *ts.Tensor) (pos, neg *ts.Tensor, err error) {
	fu, err := s.TrackErr(f.Unsqueeze(2, false)) // B×D×1
	if err != nil {
		return nil, nil, err
	}
	all, err := s.TrackErr(rows.Bmm(fu, false)) // B×(1+K)×1
	if err != nil {
		return nil, nil, fmt.Errorf("NPID logits: rows and features: %w", err)
	}
	if all, err = s.TrackErr(all.SqueezeDim(2, false)); err != nil {
		return nil, nil, err
	}
	d, err := all.Size()
	if err != nil {
		return nil, nil, err
	}
	k := d[1] - 1
	if pos, err = s.TrackErr(all.Narrow(1, 0, 1, false)); err != nil {
		return nil, nil, err
	}
	if neg, err = s.TrackErr(all.Narrow(1, 1, k, false)); err != nil {
		return nil, nil, err
	}
	return pos, neg, nil
}

// DirectNPIDBank is an NPIDBank over a SimpleMemory owned by the caller's
// thread: Update writes at once. Tests and single-threaded use; training
// runs the bank in a Memory actor.
type DirectNPIDBank struct {
	Mem       *memory.SimpleMemory
	NegNum    int
	EnsureNeg bool
	Seed      int64
}

// Rows draws the negatives from NPIDNegativeRNG(Seed, iter) and gathers.
func (d *DirectNPIDBank) Rows(iter int, idx []int64) (*ts.Tensor, error) {
	neg, err := d.Mem.Negatives(idx, d.NegNum, d.EnsureNeg, memory.NegativeRNG(d.Seed, iter))
	if err != nil {
		return nil, err
	}
	return d.Mem.Gather(idx, neg)
}

// Update writes the bank now and drops feat.
func (d *DirectNPIDBank) Update(_ int, idx []int64, feat *ts.Tensor) error {
	defer feat.MustDrop()
	return d.Mem.Update(idx, feat)
}
