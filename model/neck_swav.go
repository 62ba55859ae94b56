package model

import (
	"fmt"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// SwAVNeckConfig is MMSelfSup's SwAVNeck (necks/swav_neck.py).
type SwAVNeckConfig struct {
	InChannels  int            `yaml:"in_channels"`
	HidChannels int            `yaml:"hid_channels"`
	OutChannels int            `yaml:"out_channels"`
	WithAvgPool bool           `yaml:"with_avg_pool"`
	WithL2Norm  bool           `yaml:"with_l2norm"`
	NormCfg     map[string]any `yaml:"norm_cfg"`
	InitCfg     any            `yaml:"init_cfg"`
}

// Validate checks the sizes. hid_channels 0 means a single fc and
// out_channels 0 no projection, as in MMSelfSup. Without avg-pool
// MMSelfSup's forward concatenates an empty list, so it is refused.
func (c *SwAVNeckConfig) Validate() error {
	if err := positive("in_channels", c.InChannels); err != nil {
		return err
	}
	if c.HidChannels < 0 || c.OutChannels < 0 {
		return fmt.Errorf("hid_channels %d / out_channels %d must be ≥ 0", c.HidChannels, c.OutChannels)
	}
	if !c.WithAvgPool {
		return fmt.Errorf("with_avg_pool=False is unusable (MMSelfSup's forward then has no features)")
	}
	return nil
}

// SwAVNeck pools each crop group, concatenates them along the batch and
// projects: fc → BN → ReLU → fc, then L2-normalises. Keys follow PyTorch's
// double registration of the BN: neck.bn.* and neck.projection_neck.{0,1,3}.*
// (projection_neck.1 aliases bn).
type SwAVNeck struct {
	cfg      SwAVNeckConfig
	fc0, fc3 *linear // fc3 nil when hid_channels = 0 (fc0 is then the only fc)
	bn       *batchNorm
	notes    []string
}

// NewSwAVNeck builds the neck under p.
func NewSwAVNeck(p *nn.Path, c SwAVNeckConfig) (*SwAVNeck, error) {
	path := configPath(p, "neck")
	norm, err := parseNorm(path+".norm_cfg", c.NormCfg, defaultNorm("SyncBN"))
	if err != nil {
		return nil, err
	}
	n := &SwAVNeck{cfg: c}
	var layers []initLayer
	switch {
	case c.OutChannels == 0:
	case c.HidChannels == 0:
		if n.fc0, err = newLinear(p.Sub("projection_neck"), int64(c.InChannels), int64(c.OutChannels), true, torchDefault); err != nil {
			return nil, err
		}
		layers = append(layers, n.fc0)
	default:
		if note := norm.note(path + ".norm_cfg"); note != "" {
			n.notes = append(n.notes, note)
		}
		if n.bn, err = newBatchNorm(p.Sub("bn"), int64(c.HidChannels), norm); err != nil {
			return nil, err
		}
		pn := p.Sub("projection_neck")
		if n.fc0, err = newLinear(pn.Sub("0"), int64(c.InChannels), int64(c.HidChannels), true, torchDefault); err != nil {
			return nil, err
		}
		if err := AliasPrefix(varStoreOf(p), pathName(pn, "1"), pathName(p, "bn")); err != nil {
			return nil, err
		}
		if n.fc3, err = newLinear(pn.Sub("3"), int64(c.HidChannels), int64(c.OutChannels), true, torchDefault); err != nil {
			return nil, err
		}
		layers = append(layers, n.bn, n.fc0, n.fc3)
	}
	return n, neckInit(path, c.InitCfg, bnOnes, layers)
}

// Notes reports SyncBN acting as BN.
func (n *SwAVNeck) Notes() []string { return n.notes }

// Forward takes the backbone output of each crop-size group (N_g×C×H×W,
// views stacked along the batch) and returns [z] with z = Σ N_g × out.
func (n *SwAVNeck) Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("SwAVNeck: no inputs")
	}
	pooled := make([]ts.Tensor, 0, len(xs))
	defer func() {
		for i := range pooled {
			pooled[i].MustDrop()
		}
	}()
	for i, x := range xs {
		if err := checkFeatureInput(fmt.Sprintf("SwAVNeck input %d", i), x, int64(n.cfg.InChannels), true); err != nil {
			return nil, err
		}
		pooled = append(pooled, *poolFlatten(x, true))
	}
	h := ts.MustCat(pooled, 0)
	if n.fc0 != nil {
		h = dropAfter(h, n.fc0.forward(h))
	}
	if n.bn != nil {
		h = dropAfter(h, n.bn.forward(h, train))
		relu_(h)
		h = dropAfter(h, n.fc3.forward(h))
	}
	if n.cfg.WithL2Norm {
		h = dropAfter(h, l2Normalize(h))
	}
	return []*ts.Tensor{h}, nil
}

func init() {
	RegisterNeck("SwAVNeck", func(p *nn.Path, m map[string]any) (Neck, error) {
		return buildFrom(p, "neck", m, &SwAVNeckConfig{WithAvgPool: true, WithL2Norm: true}, func(c *SwAVNeckConfig) (Neck, error) { return NewSwAVNeck(p, *c) })
	})
}
