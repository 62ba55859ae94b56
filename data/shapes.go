package data

import (
	"fmt"

	"github.com/flowssl/flowssl/augment"
)

// ShapesConfig configures the built-in synthetic dataset.
type ShapesConfig struct {
	// NumSamples is the dataset length (num_samples).
	NumSamples int
	// Size is the image side in pixels (size, default 64).
	Size int
	// Seed selects the dataset (seed, default 0).
	Seed int
	// Offset is added to every index before drawing (offset), so that
	// datasets with the same seed and disjoint [Offset, Offset+NumSamples)
	// ranges share no image: train and val splits.
	Offset int
	// Channels is 3 (default) or 1 (PIL luma of the colour image).
	Channels int
}

// Shapes is the built-in synthetic dataset: ten classes of textured shapes
// (ShapeClassNames) drawn procedurally, sample i of class (Offset+i) mod 10.
// It needs no files and any Size. Each image is a pure function of (Seed,
// Offset+i, Size, Channels), bit-identical on every machine: the random
// draws come from a PCG seeded with both, and painting is integer
// arithmetic (see DrawShape).
type Shapes struct {
	cfg    ShapesConfig
	labels []int
}

var _ Source = (*Shapes)(nil)

var shapesKeys = []string{"num_samples", "size", "seed", "offset", "channels"}

func init() {
	register("Shapes", shapesKeys, parseShapes, func(c ShapesConfig) (Source, error) { return NewShapes(c) })
}

func parseShapes(p *params) (ShapesConfig, error) {
	var c ShapesConfig
	var err error
	if c.NumSamples, err = p.integer("num_samples", 0); err != nil {
		return c, err
	}
	if c.Size, err = p.integer("size", 64); err != nil {
		return c, err
	}
	if c.Seed, err = p.integer("seed", 0); err != nil {
		return c, err
	}
	if c.Offset, err = p.integer("offset", 0); err != nil {
		return c, err
	}
	if c.Channels, err = p.integer("channels", 3); err != nil {
		return c, err
	}
	switch {
	case c.NumSamples <= 0:
		return c, p.errf("num_samples", "%d: want a positive count", c.NumSamples)
	case c.Size < MinShapeSize || c.Size > MaxShapeSize:
		return c, p.errf("size", "%d: want %d..%d", c.Size, MinShapeSize, MaxShapeSize)
	case c.Offset < 0:
		return c, p.errf("offset", "%d: want >= 0", c.Offset)
	case c.Channels != 1 && c.Channels != 3:
		return c, p.errf("channels", "%d: want 1 or 3", c.Channels)
	}
	return c, nil
}

// Limits on ShapesConfig.Size: below 8 pixels no shape is recognisable,
// above 4096 the fixed-point arithmetic could overflow.
const (
	MinShapeSize = 8
	MaxShapeSize = 4096
)

// NewShapes checks c (Size 0 means 64, Channels 0 means 3) and returns the
// dataset.
func NewShapes(c ShapesConfig) (*Shapes, error) {
	if c.Size == 0 {
		c.Size = 64
	}
	if c.Channels == 0 {
		c.Channels = 3
	}
	switch {
	case c.NumSamples <= 0:
		return nil, fmt.Errorf("shapes: num_samples %d: want a positive count", c.NumSamples)
	case c.Size < MinShapeSize || c.Size > MaxShapeSize:
		return nil, fmt.Errorf("shapes: size %d: want %d..%d", c.Size, MinShapeSize, MaxShapeSize)
	case c.Offset < 0:
		return nil, fmt.Errorf("shapes: offset %d: want >= 0", c.Offset)
	case c.Channels != 1 && c.Channels != 3:
		return nil, fmt.Errorf("shapes: channels %d: want 1 or 3", c.Channels)
	}
	s := &Shapes{cfg: c, labels: make([]int, c.NumSamples)}
	for i := range s.labels {
		s.labels[i] = (c.Offset + i) % numShapeClasses
	}
	return s, nil
}

// Len is NumSamples.
func (s *Shapes) Len() int { return s.cfg.NumSamples }

// Labels returns (Offset+i) mod 10 for every i; do not mutate.
func (s *Shapes) Labels() []int { return s.labels }

// ClassNames returns the class names (shared; do not mutate).
func (s *Shapes) ClassNames() []string { return shapeClassNames }

// Get draws sample i.
func (s *Shapes) Get(i int) (Sample, error) {
	if i < 0 || i >= s.cfg.NumSamples {
		return Sample{}, fmt.Errorf("data: index %d out of range [0, %d)", i, s.cfg.NumSamples)
	}
	g := s.cfg.Offset + i
	im, label := DrawShape(uint64(s.cfg.Seed), g, s.cfg.Size, s.cfg.Channels)
	return Sample{
		Index: i,
		Label: label,
		Name:  fmt.Sprintf("shapes/seed=%d/size=%d#%d", s.cfg.Seed, s.cfg.Size, g),
		Image: im,
	}, nil
}

// DrawShape renders image index of the Shapes dataset with the given seed
// at size×size pixels with 1 or 3 channels, and returns it with its label,
// index mod 10. Per image it draws: the outline's radius (22–36 % of the
// side), centre (the shape may be cut by the border), rotation; foreground
// and background colours of random hue and saturation, the shape lighter
// than the background two times in three; a texture inside the shape (the
// class's preferred one half of the time); a background that is flat, a
// gradient, value noise or faint stripes; and per-pixel noise. Callers
// must keep size within [MinShapeSize, MaxShapeSize] and index >= 0.
func DrawShape(seed uint64, index, size, channels int) (*augment.Image, int) {
	return newScene(seed, index, size).paint(channels), index % numShapeClasses
}
