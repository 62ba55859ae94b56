package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// SimMIMMaskGenerator is MMSelfSup's (configs also call it
// BlockwiseMaskGenerator): ceil(ratio·n²) of the n×n blocks of MaskPatch
// pixels (n = InputSize/MaskPatch), chosen by a random permutation, are
// masked, and the block grid is expanded to the model's patch grid
// (InputSize/ModelPatch on each side).
type SimMIMMaskGenerator struct {
	InputSize, MaskPatch, ModelPatch int
	Ratio                            float64
}

func init() {
	b := func(p *params) (Transform, error) {
		t := &SimMIMMaskGenerator{
			InputSize:  p.int("input_size", 192),
			MaskPatch:  p.int("mask_patch_size", 32),
			ModelPatch: p.int("model_patch_size", 4),
			Ratio:      p.float("mask_ratio", 0.6),
		}
		if p.err != nil {
			return nil, p.err
		}
		if t.InputSize < 1 || t.MaskPatch < 1 || t.ModelPatch < 1 || t.InputSize%t.MaskPatch != 0 || t.MaskPatch%t.ModelPatch != 0 {
			return nil, fmt.Errorf("input_size %d must be a multiple of mask_patch_size %d, itself a multiple of model_patch_size %d",
				t.InputSize, t.MaskPatch, t.ModelPatch)
		}
		if t.Ratio < 0 || t.Ratio > 1 {
			p.fail("mask_ratio", "%g outside [0, 1]", t.Ratio)
		}
		return t, nil
	}
	register("SimMIMMaskGenerator", b)
	register("BlockwiseMaskGenerator", b)
}

// Name implements Transform.
func (t *SimMIMMaskGenerator) Name() string { return "SimMIMMaskGenerator" }

// Generate draws one mask of (InputSize/ModelPatch)² cells.
func (t *SimMIMMaskGenerator) Generate(rng *rand.Rand) *Mask {
	n := t.InputSize / t.MaskPatch
	scale := t.MaskPatch / t.ModelPatch
	count := int(math.Ceil(float64(n*n) * t.Ratio))
	grid := make([]bool, n*n)
	for _, k := range rng.Perm(n * n)[:count] {
		grid[k] = true
	}
	side := n * scale
	m := &Mask{H: side, W: side, Data: make([]uint8, side*side)}
	for y := range side {
		for x := range side {
			if grid[(y/scale)*n+x/scale] {
				m.Data[y*side+x] = 1
			}
		}
	}
	return m
}
