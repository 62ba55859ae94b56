package model

import (
	"fmt"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// SwAVHeadConfig is MMSelfSup's SwAVHead (heads/swav_head.py).
type SwAVHeadConfig struct {
	FeatDim            int     `yaml:"feat_dim"`
	SinkhornIterations int     `yaml:"sinkhorn_iterations"`
	Epsilon            float64 `yaml:"epsilon"`
	Temperature        float64 `yaml:"temperature"`
	CropsForAssign     []int   `yaml:"crops_for_assign"`
	NumCrops           []int   `yaml:"num_crops"`
	NumPrototypes      any     `yaml:"num_prototypes"` // int; a list (MultiPrototypes) is refused
	InitCfg            any     `yaml:"init_cfg"`

	numPrototypes int64
}

// Validate checks the sizes and that crops_for_assign index real crops.
func (c *SwAVHeadConfig) Validate() error {
	if err := positive("feat_dim", c.FeatDim); err != nil {
		return err
	}
	n, ok := configInt(c.NumPrototypes)
	if !ok {
		return fmt.Errorf("num_prototypes %v: a list (MultiPrototypes) is not supported by SwAVHead's forward; give an int", c.NumPrototypes)
	}
	if n < 1 {
		return fmt.Errorf("num_prototypes %d must be ≥ 1", n)
	}
	c.numPrototypes = n
	if c.Epsilon <= 0 || c.Temperature <= 0 || c.SinkhornIterations < 0 {
		return fmt.Errorf("epsilon %g, temperature %g must be > 0 and sinkhorn_iterations %d ≥ 0", c.Epsilon, c.Temperature, c.SinkhornIterations)
	}
	total := 0
	for _, v := range c.NumCrops {
		if v < 1 {
			return fmt.Errorf("num_crops %v: entries must be ≥ 1", c.NumCrops)
		}
		total += v
	}
	if total < 2 {
		return fmt.Errorf("num_crops %v: need at least 2 crops", c.NumCrops)
	}
	if len(c.CropsForAssign) == 0 {
		return fmt.Errorf("crops_for_assign is empty")
	}
	for _, id := range c.CropsForAssign {
		if id < 0 || id >= total {
			return fmt.Errorf("crops_for_assign %v: %d outside 0..%d", c.CropsForAssign, id, total-1)
		}
	}
	return nil
}

// SwAVHead holds the prototypes (bias-free Linear feat_dim → K, key
// head.prototypes.weight) and computes the swapped-prediction loss
// (algorithms.md §12) with an optional feature queue.
type SwAVHead struct {
	cfg        SwAVHeadConfig
	prototypes *linear
	totalCrops int64
	queue      *ts.Tensor // borrowed; len(crops_for_assign) × L × feat_dim
	useQueue   bool
	coll       Collective // multi-node runs: Sinkhorn over every rank's batch
}

// SetCollective makes the codes come from Sinkhorn-Knopp over the batches
// of every rank (DistributedSinkhorn); nil is one process.
func (h *SwAVHead) SetCollective(c Collective) { h.coll = c }

// NewSwAVHead builds the head under p (PyTorch default init).
func NewSwAVHead(p *nn.Path, c SwAVHeadConfig) (*SwAVHead, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	fc, err := newLinear(p.Sub("prototypes"), int64(c.FeatDim), c.numPrototypes, false, torchDefault)
	if err != nil {
		return nil, err
	}
	if err := neckInit(configPath(p, "head"), c.InitCfg, nil, []initLayer{fc}); err != nil {
		return nil, err
	}
	h := &SwAVHead{cfg: c, prototypes: fc}
	for _, v := range c.NumCrops {
		h.totalCrops += int64(v)
	}
	return h, nil
}

// HeadType names the registered type.
func (h *SwAVHead) HeadType() string { return "SwAVHead" }

// SetQueue hands the head SwAVHook's queue (borrowed, updated in place;
// len(crops_for_assign) × L × feat_dim, L a multiple of the batch) and
// resets use_queue, as the hook does each epoch. nil removes it.
func (h *SwAVHead) SetQueue(q *ts.Tensor) error {
	if q != nil {
		d, err := q.Size()
		if err != nil {
			return fmt.Errorf("SwAVHead queue: %w", err)
		}
		if len(d) != 3 || d[0] != int64(len(h.cfg.CropsForAssign)) || d[2] != int64(h.cfg.FeatDim) {
			return fmt.Errorf("SwAVHead queue shape %v, want %d×L×%d", d, len(h.cfg.CropsForAssign), h.cfg.FeatDim)
		}
	}
	h.queue, h.useQueue = q, false
	return nil
}

// UseQueue reports whether the queue already contributes to assignments.
func (h *SwAVHead) UseQueue() bool { return h.useQueue }

// Loss takes z ((Σ num_crops)·B × feat_dim, crop v in rows v·B…(v+1)·B−1)
// and returns {"loss"}. It first L2-normalises the prototypes in place.
func (h *SwAVHead) Loss(z *ts.Tensor) (*Losses, error) {
	dims, err := z.Size()
	if err != nil {
		return nil, fmt.Errorf("SwAVHead input: %w", err)
	}
	if len(dims) != 2 || dims[1] != int64(h.cfg.FeatDim) || dims[0]%h.totalCrops != 0 || dims[0] == 0 {
		return nil, fmt.Errorf("SwAVHead input shape %v, want (%d·B)×%d", dims, h.totalCrops, h.cfg.FeatDim)
	}
	bs := dims[0] / h.totalCrops
	if h.queue != nil && h.queue.MustSize()[1] < bs {
		return nil, fmt.Errorf("SwAVHead queue length %d < batch %d", h.queue.MustSize()[1], bs)
	}
	w := h.prototypes.w
	noGradDo(func() {
		nw := l2Normalize(w)
		w.Copy_(nw)
		nw.MustDrop()
	})
	output := h.prototypes.forward(z) // (V·B)×K
	defer output.MustDrop()
	emb := z.MustDetach(false)
	defer emb.MustDrop()
	var loss *ts.Tensor
	for i, crop := range h.cfg.CropsForAssign {
		c := int64(crop)
		q, err := h.assign(i, output, emb, c, bs) // B×K, no grad
		if err != nil {
			if loss != nil {
				loss.MustDrop()
			}
			return nil, err
		}
		var sub *ts.Tensor
		for v := int64(0); v < h.totalCrops; v++ {
			if v == c {
				continue
			}
			x := divScalar(output.MustNarrow(0, v*bs, bs, false), h.cfg.Temperature, true)
			ls := x.MustLogSoftmax(1, gotch.Float, true)
			term := q.MustMul(ls, false).MustSumDimIntlist([]int64{1}, false, gotch.Float, true).MustMean(gotch.Float, true)
			ls.MustDrop()
			if sub == nil {
				sub = term.MustNeg(true)
			} else {
				sub = sub.MustSub(term, true)
				term.MustDrop()
			}
		}
		q.MustDrop()
		sub = divScalar(sub, float64(h.totalCrops-1), true)
		if loss == nil {
			loss = sub
		} else {
			loss = loss.MustAdd(sub, true)
			sub.MustDrop()
		}
	}
	loss = divScalar(loss, float64(len(h.cfg.CropsForAssign)), true)
	l := NewLosses()
	l.Set("loss", loss)
	return l, nil
}

// assign computes crop c's codes without gradient, reading and then
// updating queue slot i as MMSelfSup does.
func (h *SwAVHead) assign(i int, output, emb *ts.Tensor, c, bs int64) (*ts.Tensor, error) {
	var q *ts.Tensor
	var err error
	noGradDo(func() {
		out := output.MustNarrow(0, c*bs, bs, false).MustDetach(true) // B×K
		if h.queue != nil {
			slot := h.queue.MustSelect(0, int64(i), false) // L×D view
			L := slot.MustSize()[0]
			if !h.useQueue {
				last := slot.MustSelect(0, L-1, false)
				nz := scalarOp(0, func(s *ts.Scalar) *ts.Tensor { return last.MustNe(s, true) })
				h.useQueue = anyTrue(nz)
			}
			if h.useQueue {
				qs := slot.MustMm(h.prototypes.w.MustT(false), false) // L×K
				out = dropAfter(out, ts.MustCat([]ts.Tensor{*qs, *out}, 0))
				qs.MustDrop()
			}
			if L > bs {
				head := slot.MustNarrowCopy(0, 0, L-bs, false)
				tail := slot.MustNarrow(0, bs, L-bs, false)
				tail.Copy_(head)
				tail.MustDrop()
				head.MustDrop()
			}
			first := slot.MustNarrow(0, 0, bs, false)
			src := emb.MustNarrow(0, c*bs, bs, false)
			first.Copy_(src)
			first.MustDrop()
			src.MustDrop()
			slot.MustDrop()
		}
		var all *ts.Tensor
		all, err = DistributedSinkhorn(h.coll, out, h.cfg.SinkhornIterations, h.cfg.Epsilon)
		out.MustDrop()
		if err != nil {
			return
		}
		n := all.MustSize()[0]
		q = all.MustNarrow(0, n-bs, bs, true)
	})
	return q, err
}

func init() {
	RegisterHead("SwAVHead", func(p *nn.Path, m map[string]any) (Head, error) {
		c := &SwAVHeadConfig{SinkhornIterations: 3, Epsilon: 0.05, Temperature: 0.1,
			CropsForAssign: []int{0, 1}, NumCrops: []int{2}, NumPrototypes: 3000}
		return buildFrom(p, "head", m, c, func(c *SwAVHeadConfig) (Head, error) { return NewSwAVHead(p, *c) })
	})
}
