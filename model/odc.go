package model

import (
	"fmt"
	"math"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/memory"
)

// ODC is "Online Deep Clustering for Unsupervised Representation Learning"
// (Zhan et al., 2020), as MMSelfSup 0.9.0's mmselfsup/models/algorithms/odc.py
// (algorithms.md §5): backbone → ODCNeck → ClsHead classifies each sample
// into its pseudo-label from the samples memory, with the loss re-weighted
// by (count_c + 1e-10)^(−0.5) normalised; the neck's detached output then
// updates the samples memory (momentum 0.5, re-labelling against the
// centroids).
//
// As for NPID, the memory (memory.ODCMemory) is reached through an
// ODCBank that the trainer provides (actors' Memory actor) and that also
// owns the memory's maintenance (ODCHook). TrainStep fails until SetBank.
//
// Deviation, on purpose: the update is not waited for, so the step logs as
// "change_ratio" the ratio of the previous iteration's update (0 at the
// first step); MMSelfSup logs the current one. Only the log differs.
type ODC struct {
	enc    encoder
	head   *ClsHead
	memCfg memory.ODCMemoryConfig
	bank   ODCBank
	weight *ts.Tensor // class weights of the current step (owned)
}

// ODCLabels is what the bank answers for one batch.
type ODCLabels struct {
	// Labels (N int64, any device; the caller owns it) are label_bank[idx].
	Labels *ts.Tensor
	// Weights (num_classes float32; the caller owns it) are the loss
	// re-weighting from the label bank, or nil for plain CE.
	Weights *ts.Tensor
	// ChangeRatio is the fraction of relabelled samples of the previous
	// iteration's update (NaN before the first).
	ChangeRatio float64
}

// ODCBank is what ODC's step needs of its memory. Its ordering contract is
// NPIDBank's: Labels for iteration i sees every Update (and the
// maintenance after it) of iterations < i; Update may return before the
// memory has been written.
type ODCBank interface {
	Labels(iter int, idx []int64) (ODCLabels, error)
	// Update hands over feat (N×D, detached; the bank takes ownership) for
	// update_samples_memory(idx, feat).
	Update(iter int, idx []int64, feat *ts.Tensor) error
}

func init() { RegisterAlgorithm("ODC", buildODC) }

func buildODC(vs *nn.VarStore, cfg map[string]any) (Algorithm, error) {
	if err := checkKeys(cfg, "backbone", "neck", "head", "memory_bank", "with_sobel", "pretrained"); err != nil {
		return nil, err
	}
	if v, ok := cfg["with_sobel"]; ok && v != nil && v != false {
		return nil, fmt.Errorf("model.with_sobel: %v; ODC runs without the Sobel layer (as MMSelfSup's ODC config)", v)
	}
	m := &ODC{}
	mc, err := subConfig(cfg, "memory_bank", true)
	if err != nil {
		return nil, err
	}
	if m.memCfg, err = parseODCMemory(mc); err != nil {
		return nil, err
	}
	var head Head
	if m.enc, head, err = buildEncoderAndHead(vs.Root(), cfg, "backbone", "neck"); err != nil {
		return nil, err
	}
	var ok bool
	if m.head, ok = head.(*ClsHead); !ok {
		return nil, fmt.Errorf("model.head: ODC needs a ClsHead, got %s", head.HeadType())
	}
	if m.head.cfg.NumClasses != m.memCfg.NumClasses {
		return nil, fmt.Errorf("model.head.num_classes %d differs from model.memory_bank.num_classes %d", m.head.cfg.NumClasses, m.memCfg.NumClasses)
	}
	return m, nil
}

// parseODCMemory reads model.memory_bank (type ODCMemory).
func parseODCMemory(mc map[string]any) (memory.ODCMemoryConfig, error) {
	c := memory.ODCMemoryConfig{Momentum: 0.5}
	if t, _ := mc["type"].(string); t != "ODCMemory" {
		return c, fmt.Errorf("model.memory_bank.type: %v, ODC needs ODCMemory", mc["type"])
	}
	for k, v := range mc {
		switch k {
		case "type", "length", "feat_dim", "momentum", "num_classes", "min_cluster":
		case "debug":
			if v != nil && v != false {
				return c, fmt.Errorf("model.memory_bank.debug: %v; only false is supported (MMSelfSup's debug prints)", v)
			}
		default:
			return c, fmt.Errorf("model.memory_bank.%s: unknown key for ODCMemory", k)
		}
	}
	var err error
	for _, kv := range []struct {
		key string
		dst *int
	}{{"length", &c.Length}, {"feat_dim", &c.FeatDim}, {"num_classes", &c.NumClasses}, {"min_cluster", &c.MinCluster}} {
		if *kv.dst, err = intKey(mc, kv.key, 0); err != nil {
			return c, fmt.Errorf("memory_bank: %w", err)
		}
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
func (m *ODC) Type() string { return "ODC" }

// Features is the pooled backbone output.
func (m *ODC) Features(x *ts.Tensor) (*ts.Tensor, error) { return pooledFeatures(m.enc.backbone, x) }

// ClusterFeatures is what DeepClusterHook extracts for ODC: the neck's
// output (N×out_channels) in eval mode (dropout off, BN running stats),
// without gradient. The caller owns it.
func (m *ODC) ClusterFeatures(x *ts.Tensor) (*ts.Tensor, error) {
	var out *ts.Tensor
	err := WithoutGrad(func() error {
		s := NewScope()
		defer s.Close()
		f, err := m.enc.forward(s, x, false)
		if err != nil {
			return err
		}
		out = s.Keep(f)
		return nil
	})
	return out, err
}

// MemoryConfig is model.memory_bank.
func (m *ODC) MemoryConfig() memory.ODCMemoryConfig { return m.memCfg }

// ResetHead re-initialises the classifier (DeepClusterHook does after a
// clustering).
func (m *ODC) ResetHead() error { return m.head.ResetParameters() }

// SetBank attaches the memory the steps use.
func (m *ODC) SetBank(b ODCBank) { m.bank = b }

// TrainStep is forward_train(img, idx): weighted CE against the memory's
// pseudo-labels, "acc" and the previous update's "change_ratio" logged,
// then the features handed to the memory.
func (m *ODC) TrainStep(in *StepInput) (*Losses, error) {
	idx, err := singleViewIndices("ODC", "DeepClusterDataset", in)
	if err != nil {
		return nil, err
	}
	if m.bank == nil {
		return nil, fmt.Errorf("ODC: no memory attached")
	}
	s := NewScope()
	defer s.Close()
	feat, err := m.enc.forward(s, in.Views[0], true)
	if err != nil {
		return nil, err
	}
	scores, err := m.head.Forward([]*ts.Tensor{feat}, true)
	if err != nil {
		return nil, err
	}
	s.TrackAll(scores)
	lab, err := m.bank.Labels(in.Iter, idx)
	if err != nil {
		return nil, fmt.Errorf("ODC memory: %w", err)
	}
	s.Track(lab.Labels)
	dev := scores[0].MustDevice()
	labels, err := s.TrackErr(lab.Labels.To(dev, false))
	if err != nil {
		return nil, err
	}
	if lab.Weights != nil {
		if m.weight != nil {
			m.weight.MustDrop()
		}
		if m.weight, err = lab.Weights.To(dev, false); err != nil {
			m.weight = nil
			lab.Weights.MustDrop()
			return nil, err
		}
		lab.Weights.MustDrop()
		m.head.SetClassWeights(m.weight)
	}
	losses, err := m.head.Loss(scores, labels)
	if err != nil {
		return nil, err
	}
	cr := lab.ChangeRatio
	if math.IsNaN(cr) {
		cr = 0
	}
	crt, err := ts.OfSlice([]float32{float32(cr)})
	if err != nil {
		losses.Drop()
		return nil, err
	}
	losses.Set("change_ratio", crt)
	fd, err := feat.Detach(false)
	if err != nil {
		losses.Drop()
		return nil, err
	}
	if err := m.bank.Update(in.Iter, idx, fd); err != nil {
		losses.Drop()
		return nil, fmt.Errorf("ODC memory update: %w", err)
	}
	return losses, nil
}

// DirectODCBank is an ODCBank over an ODCMemory owned by the caller's
// thread: Update writes at once (then re-weights with Pow). Tests and
// single-threaded use; training runs the memory in a Memory actor.
type DirectODCBank struct {
	Mem  *memory.ODCMemory
	Pow  float64
	last float64
	seen bool
}

// Labels reads label_bank[idx] and the re-weighting.
func (d *DirectODCBank) Labels(_ int, idx []int64) (ODCLabels, error) {
	l, err := d.Mem.Labels(idx)
	if err != nil {
		return ODCLabels{}, err
	}
	w, err := d.Mem.Reweight(d.Pow)
	if err != nil {
		l.MustDrop()
		return ODCLabels{}, err
	}
	wt, err := ts.OfSlice(w)
	if err != nil {
		l.MustDrop()
		return ODCLabels{}, err
	}
	cr := math.NaN()
	if d.seen {
		cr = d.last
	}
	return ODCLabels{Labels: l, Weights: wt, ChangeRatio: cr}, nil
}

// Update runs update_samples_memory now and drops feat.
func (d *DirectODCBank) Update(_ int, idx []int64, feat *ts.Tensor) error {
	defer feat.MustDrop()
	r, err := d.Mem.UpdateSamples(idx, feat)
	d.last, d.seen = r, true
	return err
}
