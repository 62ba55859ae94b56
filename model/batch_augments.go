package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

// BatchAugmentConfig is one entry of model.train_cfg.augments: mmcls 0.x's
// BatchMixup, BatchCutMix or Identity (mmcls/models/utils/augment/).
type BatchAugmentConfig struct {
	Type       string    `yaml:"type"`
	Alpha      float64   `yaml:"alpha"`
	NumClasses int       `yaml:"num_classes"`
	Prob       float64   `yaml:"prob"`
	MinMax     []float64 `yaml:"cutmix_minmax"` // BatchCutMix only
	CorrectLam bool      `yaml:"correct_lam"`   // BatchCutMix only
}

// Batch augment kinds.
const (
	augMixup    = "BatchMixup"
	augCutMix   = "BatchCutMix"
	augIdentity = "Identity"
)

// Validate checks the arguments as mmcls's constructors assert them.
func (c *BatchAugmentConfig) Validate() error {
	switch c.Type {
	case augMixup, augCutMix:
		if !(c.Alpha > 0) {
			return fmt.Errorf("alpha %g must be > 0", c.Alpha)
		}
	case augIdentity:
	default:
		return fmt.Errorf("type %q not supported (have: %s, %s, %s)", c.Type, augMixup, augCutMix, augIdentity)
	}
	if c.NumClasses < 1 {
		return fmt.Errorf("num_classes %d must be ≥ 1", c.NumClasses)
	}
	if c.Prob < 0 || c.Prob > 1 {
		return fmt.Errorf("prob %g outside [0, 1]", c.Prob)
	}
	if c.MinMax != nil {
		if c.Type != augCutMix {
			return fmt.Errorf("cutmix_minmax: only for %s", augCutMix)
		}
		if len(c.MinMax) != 2 || c.MinMax[0] < 0 || c.MinMax[0] >= c.MinMax[1] || c.MinMax[1] > 1 {
			return fmt.Errorf("cutmix_minmax %v: want [min, max] with 0 ≤ min < max ≤ 1", c.MinMax)
		}
	}
	return nil
}

// BatchAugments is mmcls's Augments: per batch exactly one augment is
// drawn with the probabilities given (an Identity with the remaining
// probability is added when they sum below 1), and the labels leave as
// N×num_classes float soft targets.
//
// # Determinism
//
// mmcls draws from Python's and NumPy's global generators. Here each batch
// takes two int64 words from libtorch's CPU generator (which the runner
// seeds from the run's seed and the iteration) and seeds a PCG stream with
// them; the choice, λ, the permutation and the CutMix box all come from
// that stream, so a batch's mixing depends only on (seed, iteration).
//
// # Departures
//
// mmcls adds the Identity only when there are several augments; with a
// single augment whose prob is below 1 NumPy's choice raises. Here the
// Identity is added in that case too.
type BatchAugments struct {
	augs       []BatchAugmentConfig
	probs      []float64
	numClasses int
}

// ParseBatchAugments reads model.train_cfg.augments: a dict or a list of
// dicts. Errors name the entry's key path.
func ParseBatchAugments(v any) (*BatchAugments, error) {
	const path = "model.train_cfg.augments"
	var items []any
	switch x := v.(type) {
	case map[string]any:
		items = []any{x}
	case []any:
		items = x
	default:
		return nil, fmt.Errorf("%s: want a dict or a list of dicts, got %T", path, v)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("%s: empty list", path)
	}
	b := &BatchAugments{}
	sum, hasIdentity := 0.0, false
	for i, it := range items {
		p := fmt.Sprintf("%s.%d", path, i)
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want a dict, got %T", p, it)
		}
		typ, _ := m["type"].(string)
		c := BatchAugmentConfig{Type: strings.TrimPrefix(typ, "mmcls."), Prob: 1, CorrectLam: true}
		if err := decodeConfig(p, m, &c); err != nil {
			return nil, err
		}
		c.Type = strings.TrimPrefix(c.Type, "mmcls.")
		if c.Type != augCutMix {
			for _, k := range []string{"cutmix_minmax", "correct_lam"} {
				if _, ok := m[k]; ok {
					return nil, fmt.Errorf("%s.%s: only for %s", p, k, augCutMix)
				}
			}
		}
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if i == 0 {
			b.numClasses = c.NumClasses
		} else if c.NumClasses != b.numClasses {
			return nil, fmt.Errorf("%s.num_classes: %d, but entry 0 has %d", p, c.NumClasses, b.numClasses)
		}
		hasIdentity = hasIdentity || c.Type == augIdentity
		sum += c.Prob
		b.augs = append(b.augs, c)
		b.probs = append(b.probs, c.Prob)
	}
	const tol = 1e-9
	switch {
	case hasIdentity && math.Abs(sum-1) > tol:
		return nil, fmt.Errorf("%s: with an Identity the probs must sum to 1, got %g", path, sum)
	case sum > 1+tol:
		return nil, fmt.Errorf("%s: probs sum to %g > 1", path, sum)
	case !hasIdentity && sum < 1-tol:
		b.augs = append(b.augs, BatchAugmentConfig{Type: augIdentity, NumClasses: b.numClasses, Prob: 1 - sum})
		b.probs = append(b.probs, 1-sum)
	}
	return b, nil
}

// NumClasses is the classes of the soft targets.
func (b *BatchAugments) NumClasses() int { return b.numClasses }

// MixPlan is one batch's draw: the augment, λ (after CutMix's area
// correction), the permutation π and the CutMix box rows [Y0, Y1) ×
// columns [X0, X1).
type MixPlan struct {
	Kind           string
	Lam            float64
	Perm           []int64
	Y0, Y1, X0, X1 int64
}

// Plan draws batch n×h×w's augment from rng (the NumPy calls of mmcls in
// their order: choice, beta, permutation, box).
func (b *BatchAugments) Plan(rng *rand.Rand, n, h, w int64) MixPlan {
	u, k := rng.Float64(), len(b.augs)-1
	for i, acc := 0, 0.0; i < len(b.probs); i++ {
		if acc += b.probs[i]; u < acc {
			k = i
			break
		}
	}
	c := b.augs[k]
	pl := MixPlan{Kind: c.Type, Lam: 1}
	if c.Type == augIdentity {
		return pl
	}
	pl.Lam = betaSample(rng, c.Alpha, c.Alpha)
	pl.Perm = make([]int64, n)
	for i, j := range rng.Perm(int(n)) {
		pl.Perm[i] = int64(j)
	}
	if c.Type == augCutMix {
		if c.MinMax != nil {
			// rand_bbox_minmax: box sides uniform in [min, max)·size, placed inside.
			ch := randRange(rng, int64(float64(h)*c.MinMax[0]), int64(float64(h)*c.MinMax[1]))
			cw := randRange(rng, int64(float64(w)*c.MinMax[0]), int64(float64(w)*c.MinMax[1]))
			pl.Y0 = randRange(rng, 0, h-ch)
			pl.X0 = randRange(rng, 0, w-cw)
			pl.Y1, pl.X1 = pl.Y0+ch, pl.X0+cw
		} else {
			pl.Y0, pl.Y1, pl.X0, pl.X1 = cutMixBox(rng, h, w, pl.Lam)
		}
		if c.CorrectLam || c.MinMax != nil {
			pl.Lam = 1 - float64((pl.Y1-pl.Y0)*(pl.X1-pl.X0))/float64(h*w)
		}
	}
	return pl
}

// cutMixBox is mmcls's rand_bbox (margin 0): the centre (cy, cx) uniform
// over the pixels, drawn in that order, then cutMixBoxAt.
func cutMixBox(rng *rand.Rand, h, w int64, lam float64) (y0, y1, x0, x1 int64) {
	cy := randRange(rng, 0, h)
	cx := randRange(rng, 0, w)
	return cutMixBoxAt(h, w, lam, cy, cx)
}

// cutMixBoxAt is rand_bbox's box for centre (cy, cx): sides
// int(size·√(1−λ)), each edge centre ± side//2 clipped to [0, size].
func cutMixBoxAt(h, w int64, lam float64, cy, cx int64) (y0, y1, x0, x1 int64) {
	ratio := math.Sqrt(1 - lam)
	ch, cw := int64(float64(h)*ratio), int64(float64(w)*ratio)
	clip := func(v, hi int64) int64 { return min(max(v, 0), hi) }
	return clip(cy-ch/2, h), clip(cy+ch/2, h), clip(cx-cw/2, w), clip(cx+cw/2, w)
}

// randRange is NumPy's randint(lo, hi): uniform in [lo, hi); lo when the
// range is empty (NumPy would raise; the callers' ranges are never empty
// for sizes ≥ 1 except a zero-size minmax box).
func randRange(rng *rand.Rand, lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + rng.Int64N(hi-lo)
}

// betaSample draws Beta(a, b) as X/(X+Y) with X ~ Gamma(a), Y ~ Gamma(b).
func betaSample(rng *rand.Rand, a, b float64) float64 {
	x, y := gammaSample(rng, a), gammaSample(rng, b)
	if x+y == 0 {
		return 0.5 // both underflowed (tiny shapes): the symmetric midpoint
	}
	return x / (x + y)
}

// gammaSample draws Gamma(k, 1) by Marsaglia and Tsang's method, with
// Gamma(k) = Gamma(k+1)·U^(1/k) for k < 1.
func gammaSample(rng *rand.Rand, k float64) float64 {
	if k < 1 {
		u := rng.Float64()
		for u == 0 {
			u = rng.Float64()
		}
		return gammaSample(rng, k+1) * math.Pow(u, 1/k)
	}
	d := k - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || (u > 0 && math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v))) {
			return d * v
		}
	}
}

// batchRNG seeds a PCG stream from two words of libtorch's CPU generator.
func batchRNG() (*rand.Rand, error) {
	t, err := ts.Randint(math.MaxInt64, []int64{2}, gotch.Int64, gotch.CPU)
	if err != nil {
		return nil, fmt.Errorf("batch augments: drawing the seed: %w", err)
	}
	defer t.MustDrop()
	w := t.Int64Values()
	return rand.New(rand.NewPCG(uint64(w[0]), uint64(w[1]))), nil
}

// Apply draws this batch's plan and mixes x (N×C×H×W, borrowed) and labels
// (N int64, borrowed). It returns the mixed images and the N×num_classes
// float soft targets; the caller owns both.
func (b *BatchAugments) Apply(x, labels *ts.Tensor) (*ts.Tensor, *ts.Tensor, MixPlan, error) {
	dims, err := x.Size()
	if err != nil {
		return nil, nil, MixPlan{}, fmt.Errorf("batch augments: %w", err)
	}
	if len(dims) != 4 {
		return nil, nil, MixPlan{}, fmt.Errorf("batch augments: images %v, want N×C×H×W", dims)
	}
	rng, err := batchRNG()
	if err != nil {
		return nil, nil, MixPlan{}, err
	}
	pl := b.Plan(rng, dims[0], dims[2], dims[3])
	xm, y, err := MixBatch(x, labels, int64(b.numClasses), pl)
	return xm, y, pl, err
}

// MixBatch applies plan pl to x (N×C×H×W) and labels (N int64, in [0,
// classes)), both borrowed, as mmcls does:
//   - Mixup: x' = λ·x + (1−λ)·x[π];
//   - CutMix: x' = x with the box replaced by x[π]'s box;
//   - Identity: x' = x (a shallow copy);
//
// and y = λ·onehot + (1−λ)·onehot[π] (float, N×classes). The caller owns
// both results.
func MixBatch(x, labels *ts.Tensor, classes int64, pl MixPlan) (xm, y *ts.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("batch augments (%s): %v", pl.Kind, r)
		}
	}()
	ls, err := labels.Size()
	if err != nil {
		return nil, nil, err
	}
	if len(ls) != 1 {
		return nil, nil, fmt.Errorf("batch augments: labels %v, want N", ls)
	}
	s := NewScope()
	defer s.Close()
	// The error form: labels outside [0, classes) must not end the process
	// (gotch's MustOneHot calls log.Fatal).
	oh, err := s.TrackErr(labels.OneHot(classes, false))
	if err != nil {
		return nil, nil, fmt.Errorf("batch augments: labels vs num_classes %d: %w", classes, err)
	}
	onehot := s.Track(oh.MustTotype(gotch.Float, false)) // N×K
	if pl.Kind == augIdentity {
		return s.Keep(x.MustShallowClone()), s.Keep(onehot), nil
	}
	if int64(len(pl.Perm)) != ls[0] {
		return nil, nil, fmt.Errorf("batch augments: permutation of %d for a batch of %d", len(pl.Perm), ls[0])
	}
	perm := s.Track(ts.MustOfSlice(pl.Perm).MustTo(x.MustDevice(), true))
	xp := s.Track(x.MustIndexSelect(0, perm, false)) // x[π]
	switch pl.Kind {
	case augMixup:
		a := s.Track(mulScalar(x, pl.Lam, false))
		xm = s.Track(a.MustAdd(s.Track(mulScalar(xp, 1-pl.Lam, false)), false))
	case augCutMix:
		xm = s.Track(x.MustEmptyLike(false))
		noGradDo(func() { xm.Copy_(x) })
		if err := ts.TorchErr(); err != nil {
			return nil, nil, fmt.Errorf("batch augments: copying the batch: %w", err)
		}
		if h, w := pl.Y1-pl.Y0, pl.X1-pl.X0; h > 0 && w > 0 {
			dst := s.Track(xm.MustNarrow(2, pl.Y0, h, false).MustNarrow(3, pl.X0, w, true))
			src := s.Track(xp.MustNarrow(2, pl.Y0, h, false).MustNarrow(3, pl.X0, w, true))
			noGradDo(func() { dst.Copy_(src) })
			if err := ts.TorchErr(); err != nil {
				return nil, nil, fmt.Errorf("batch augments: pasting the box: %w", err)
			}
		}
	default:
		return nil, nil, fmt.Errorf("batch augments: unknown kind %q", pl.Kind)
	}
	lperm := s.Track(perm.MustTo(onehot.MustDevice(), false))
	ohp := s.Track(onehot.MustIndexSelect(0, lperm, false)) // onehot[π]
	a := s.Track(mulScalar(onehot, pl.Lam, false))
	y = s.Track(a.MustAdd(s.Track(mulScalar(ohp, 1-pl.Lam, false)), false))
	s.Keep(xm)
	s.Keep(y)
	return xm, y, nil
}

// SoftTargetHead is a classifier head whose loss also takes N×C float
// one-hot-like targets (mmcls's LabelSmoothLoss accepts both), which is
// what batch Mixup/CutMix hand it.
type SoftTargetHead interface {
	SoftLoss(scores []*ts.Tensor, target *ts.Tensor) (*Losses, error)
}

// labelSmoothSoftCE is mmcls's LabelSmoothLoss(mode 'original') with
// reduction mean: t' = (1−ε)·target + ε/classes, loss = mean_n −Σ_c t'·
// log_softmax(scores). scores [N×C] and target [N×C] are borrowed; the
// result (a scalar) is the caller's.
func labelSmoothSoftCE(scores, target *ts.Tensor, eps float64, classes int64) (*ts.Tensor, error) {
	ss, err := scores.Size()
	if err != nil {
		return nil, err
	}
	tsz, err := target.Size()
	if err != nil {
		return nil, err
	}
	if len(ss) != 2 || ss[1] != classes || len(tsz) != 2 || tsz[0] != ss[0] || tsz[1] != ss[1] {
		return nil, fmt.Errorf("scores %v and targets %v, want N×%d both", ss, tsz, classes)
	}
	s := NewScope()
	defer s.Close()
	t := s.Track(addScalar(s.Track(mulScalar(target, 1-eps, false)), eps/float64(classes), false))
	logp := s.Track(scores.MustLogSoftmax(-1, gotch.Float, false))
	per := s.Track(s.Track(logp.MustMul(t, false)).MustSumDimIntlist([]int64{1}, false, gotch.Float, false)) // N
	return per.MustMean(gotch.Float, false).MustNeg(true), nil
}
