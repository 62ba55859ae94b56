package memory

import (
	"fmt"
	"math/rand/v2"

	"github.com/flowssl/flowssl/internal/torchx"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// SimpleMemoryConfig is MMSelfSup's SimpleMemory(length, feat_dim,
// momentum) (models/memories/simple_memory.py), NPID's memory bank.
type SimpleMemoryConfig struct {
	Length   int     `yaml:"length"`
	FeatDim  int     `yaml:"feat_dim"`
	Momentum float64 `yaml:"momentum"`
}

// Validate checks the sizes and that momentum is in [0, 1].
func (c SimpleMemoryConfig) Validate() error {
	if c.Length < 1 || c.FeatDim < 1 {
		return fmt.Errorf("memory: SimpleMemory length %d and feat_dim %d must be ≥ 1", c.Length, c.FeatDim)
	}
	if c.Momentum < 0 || c.Momentum > 1 {
		return fmt.Errorf("memory: SimpleMemory momentum %g outside [0, 1]", c.Momentum)
	}
	return nil
}

// SimpleMemory holds one L2-normalised feature per dataset sample
// (components.md §5.1) and a uniform alias sampler over the rows.
type SimpleMemory struct {
	cfg     SimpleMemoryConfig
	device  gotch.Device
	bank    *ts.Tensor // Length×FeatDim float32
	sampler *Alias
}

// NewSimpleMemory allocates the bank on device, rows N(0,1) from rng then
// L2-normalised.
func NewSimpleMemory(cfg SimpleMemoryConfig, device gotch.Device, rng *rand.Rand) (*SimpleMemory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ones := make([]float64, cfg.Length)
	for i := range ones {
		ones[i] = 1
	}
	al, err := NewAlias(ones)
	if err != nil {
		return nil, err
	}
	bank, err := ts.Zeros([]int64{int64(cfg.Length), int64(cfg.FeatDim)}, gotch.Float, device)
	if err != nil {
		return nil, fmt.Errorf("memory: SimpleMemory bank: %w", err)
	}
	if err := randnRows(bank, cfg.Length, cfg.FeatDim, device, rng); err != nil {
		_ = bank.Drop()
		return nil, fmt.Errorf("memory: SimpleMemory init: %w", err)
	}
	return &SimpleMemory{cfg: cfg, device: device, bank: bank, sampler: al}, nil
}

// Bank is the feature bank (borrowed; valid until Close).
func (m *SimpleMemory) Bank() *ts.Tensor { return m.bank }

// Sampler is the uniform alias sampler over the rows.
func (m *SimpleMemory) Sampler() *Alias { return m.sampler }

// Negatives draws negNum row indices per sample from the alias sampler
// (len(idx)·negNum, sample-major). With ensureNeg, draws equal to the
// sample's own index are redrawn until none remain (npid.py's ensure_neg).
// It touches no tensor, so any goroutine may call it.
func (m *SimpleMemory) Negatives(idx []int64, negNum int, ensureNeg bool, rng *rand.Rand) ([]int64, error) {
	if err := checkIndices(idx, m.cfg.Length); err != nil {
		return nil, fmt.Errorf("memory: NPID negatives: %w", err)
	}
	if negNum < 1 {
		return nil, fmt.Errorf("memory: NPID neg_num %d must be ≥ 1", negNum)
	}
	if ensureNeg && m.cfg.Length < 2 {
		return nil, fmt.Errorf("memory: ensure_neg needs at least 2 rows, have %d", m.cfg.Length)
	}
	neg := m.sampler.Draw(len(idx)*negNum, rng)
	if !ensureNeg {
		return neg, nil
	}
	var wrong []int
	for i, v := range neg {
		if v == idx[i/negNum] {
			wrong = append(wrong, i)
		}
	}
	for len(wrong) > 0 {
		redraw := m.sampler.Draw(len(wrong), rng)
		still := wrong[:0]
		for j, i := range wrong {
			neg[i] = redraw[j]
			if neg[i] == idx[i/negNum] {
				still = append(still, i)
			}
		}
		wrong = still
	}
	return neg, nil
}

// Logits returns NPID's pos (B×1) = ⟨M[idx_b], f_b⟩ and neg (B×K) =
// ⟨M[neg_bk], f_b⟩ for feat B×FeatDim (already normalised by the caller)
// and neg from Negatives (B·K). Gradients flow to feat only. The caller
// owns both results.
func (m *SimpleMemory) Logits(feat *ts.Tensor, idx, neg []int64) (pos, negl *ts.Tensor, err error) {
	err = torchx.Run(func(s *torchx.Scope) error {
		b := len(idx)
		if err := checkIndices(idx, m.cfg.Length); err != nil {
			return err
		}
		feat := onDevice(s, feat, b, m.cfg.FeatDim, m.device)
		if len(neg) == 0 || len(neg)%b != 0 {
			return fmt.Errorf("%d negatives for %d samples", len(neg), b)
		}
		if err := checkIndices(neg, m.cfg.Length); err != nil {
			return fmt.Errorf("negatives: %w", err)
		}
		k := int64(len(neg) / b)
		it := s.T(torchx.FromInt64sOn(idx, m.device, int64(b)))
		nt := s.T(torchx.FromInt64sOn(neg, m.device, int64(len(neg))))
		pf := s.T(m.bank.IndexSelect(0, it, false)) // B×C
		pos = s.Keep(s.T(s.T(pf.Mul(feat, false)).SumDimIntlist([]int64{1}, true, gotch.Float, false)))
		nf := s.T(s.T(m.bank.IndexSelect(0, nt, false)).View([]int64{int64(b), k, int64(m.cfg.FeatDim)}, false)) // B×K×C
		fu := s.T(feat.Unsqueeze(2, false))                                                                      // B×C×1
		negl = s.Keep(s.T(s.T(nf.Bmm(fu, false)).SqueezeDim(2, false)))
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("memory: NPID logits: %w", err)
	}
	return pos, negl, nil
}

// NegativeRNG is the generator NPID's negatives of iteration iter are
// drawn from: a function of (seed, iter) only, so the draws do not depend
// on which thread draws them or on where a run was resumed.
func NegativeRNG(seed int64, iter int) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed)^0x6e706964, uint64(iter)))
}

// Gather returns, for each sample b, its own bank row M[idx_b] followed
// by its negatives' rows M[neg_bk] (neg from Negatives, sample-major), as
// one B×(1+K)×FeatDim copy without gradient that the caller owns. It is
// what NPID's step needs from the bank, so a memory owned by another thread
// can hand the rows over and the step computes the logits (with gradient to
// its features) itself.
func (m *SimpleMemory) Gather(idx, neg []int64) (*ts.Tensor, error) {
	var out *ts.Tensor
	err := torchx.WithoutGrad(func() error {
		return torchx.Run(func(s *torchx.Scope) error {
			b := len(idx)
			if err := checkIndices(idx, m.cfg.Length); err != nil {
				return err
			}
			if len(neg) == 0 || len(neg)%b != 0 {
				return fmt.Errorf("%d negatives for %d samples", len(neg), b)
			}
			if err := checkIndices(neg, m.cfg.Length); err != nil {
				return fmt.Errorf("negatives: %w", err)
			}
			k := len(neg) / b
			all := make([]int64, 0, b*(1+k))
			for i, v := range idx {
				all = append(all, v)
				all = append(all, neg[i*k:(i+1)*k]...)
			}
			at := s.T(torchx.FromInt64sOn(all, m.device, int64(len(all))))
			rows := s.T(m.bank.IndexSelect(0, at, false))
			out = s.Keep(s.T(rows.View([]int64{int64(b), int64(1 + k), int64(m.cfg.FeatDim)}, false)))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("memory: NPID gather: %w", err)
	}
	return out, nil
}

// Update is SimpleMemory.update without gradient: f ← norm(feat);
// M[idx] ← norm((1 − momentum)·M[idx] + momentum·f). "momentum" weighs the
// new feature. With duplicate indices the last row wins.
func (m *SimpleMemory) Update(idx []int64, feat *ts.Tensor) error {
	err := torchx.WithoutGrad(func() error {
		return torchx.Run(func(s *torchx.Scope) error {
			if err := checkIndices(idx, m.cfg.Length); err != nil {
				return err
			}
			feat := onDevice(s, feat, len(idx), m.cfg.FeatDim, m.device)
			f := normalize(s, s.T(feat.Detach(false)), 0)
			it := s.T(torchx.FromInt64sOn(idx, m.device, int64(len(idx))))
			old := s.T(m.bank.IndexSelect(0, it, false))
			mix := s.T(s.T(old.MulScalar(s.Float(1-m.cfg.Momentum), false)).Add(s.T(f.MulScalar(s.Float(m.cfg.Momentum), false)), false))
			return writeRows(s, m.bank, idx, normalize(s, mix, 0), m.device)
		})
	})
	if err != nil {
		return fmt.Errorf("memory: NPID update: %w", err)
	}
	return nil
}

// writeRows copies rows[p] into dst[idx[p]], the last duplicate winning.
func writeRows(s *torchx.Scope, dst *ts.Tensor, idx []int64, rows *ts.Tensor, device gotch.Device) error {
	pos := lastWins(idx)
	uniq := make([]int64, len(pos))
	for j, p := range pos {
		uniq[j] = idx[p]
	}
	if len(pos) != len(idx) {
		pt := s.T(torchx.FromInt64sOn(pos, device, int64(len(pos))))
		rows = s.T(rows.IndexSelect(0, pt, false))
	}
	ut := s.T(torchx.FromInt64sOn(uniq, device, int64(len(uniq))))
	return dst.IndexCopy_(0, ut, rows)
}

// State returns a copy of the bank under MMSelfSup's attribute name
// "feature_bank" (MMSelfSup does not checkpoint it; flowssl may). The
// caller owns the tensors (DropState).
func (m *SimpleMemory) State() (map[string]*ts.Tensor, error) {
	return cloneState(map[string]*ts.Tensor{"feature_bank": m.bank})
}

// LoadState copies "feature_bank" (same shape, float32) into the bank.
func (m *SimpleMemory) LoadState(state map[string]*ts.Tensor) error {
	if err := loadInto(state, "feature_bank", m.bank); err != nil {
		return fmt.Errorf("memory: SimpleMemory: %w", err)
	}
	return nil
}

// Close drops the bank.
func (m *SimpleMemory) Close() {
	if m.bank != nil {
		_ = m.bank.Drop()
		m.bank = nil
	}
}
