package augment

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// BEiTMaskGenerator is BEiT's block-wise masking (MMSelfSup's
// BEiTMaskGenerator, used by CAE): rectangles of random area and aspect
// ratio are added until exactly NumMasking cells of the Height×Width grid
// are masked.
type BEiTMaskGenerator struct {
	Height, Width            int
	NumMasking               int
	MinPatches, MaxPatches   int
	logAspectLo, logAspectHi float64
}

func init() {
	register("BEiTMaskGenerator", func(p *params) (Transform, error) {
		h, w, _ := p.size("input_size")
		t := &BEiTMaskGenerator{
			Height: h, Width: w,
			NumMasking: p.int("num_masking_patches", 0),
			MinPatches: p.int("min_num_patches", 4),
		}
		t.MaxPatches = p.int("max_num_patches", t.NumMasking)
		minAspect := p.float("min_aspect", 0.3)
		maxAspect := p.float("max_aspect", 0)
		if p.err != nil {
			return nil, p.err
		}
		if maxAspect == 0 {
			maxAspect = 1 / minAspect
		}
		if minAspect <= 0 || maxAspect < minAspect {
			return nil, fmt.Errorf("aspect range [%g, %g] is not positive and ordered", minAspect, maxAspect)
		}
		if t.NumMasking < 1 || t.NumMasking > h*w || t.MaxPatches < 1 {
			return nil, fmt.Errorf("num_masking_patches %d (max_num_patches %d) does not fit a %dx%d grid", t.NumMasking, t.MaxPatches, h, w)
		}
		t.logAspectLo, t.logAspectHi = math.Log(minAspect), math.Log(maxAspect)
		return t, nil
	})
}

// Name implements Transform.
func (t *BEiTMaskGenerator) Name() string { return "BEiTMaskGenerator" }

// Generate draws one mask with exactly NumMasking ones.
func (t *BEiTMaskGenerator) Generate(rng *rand.Rand) (*Mask, error) {
	m := &Mask{H: t.Height, W: t.Width, Data: make([]uint8, t.Height*t.Width)}
	count := 0
	// BEiT loops until the count is reached; a generous bound turns a
	// configuration that cannot converge into an error instead of a hang.
	for round := 0; count != t.NumMasking; round++ {
		if round > 100000 {
			return nil, fmt.Errorf("BEiTMaskGenerator: %d of %d patches masked after %d rounds", count, t.NumMasking, round)
		}
		budget := min(t.NumMasking-count, t.MaxPatches)
		count += t.block(m, budget, rng)
	}
	return m, nil
}

func (t *BEiTMaskGenerator) block(m *Mask, budget int, rng *rand.Rand) int {
	delta := 0
	for range 10 {
		area := uniform(rng, float64(t.MinPatches), float64(budget))
		aspect := math.Exp(uniform(rng, t.logAspectLo, t.logAspectHi))
		h := roundEven(math.Sqrt(area * aspect))
		w := roundEven(math.Sqrt(area / aspect))
		if w < t.Width && h < t.Height {
			top := randInt(rng, 0, t.Height-h)
			left := randInt(rng, 0, t.Width-w)
			masked := 0
			for y := top; y < top+h; y++ {
				for x := left; x < left+w; x++ {
					masked += int(m.Data[y*t.Width+x])
				}
			}
			if n := h*w - masked; 0 < n && n <= budget {
				for y := top; y < top+h; y++ {
					for x := left; x < left+w; x++ {
						if m.Data[y*t.Width+x] == 0 {
							m.Data[y*t.Width+x] = 1
							delta++
						}
					}
				}
			}
			if delta > 0 {
				break
			}
		}
	}
	return delta
}
