package jpegset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/flowssl/flowssl/augment"
)

// Options configures Generate. The zero value gives 10 classes of quality-90
// JPEGs in ImageNet's common shapes, cut from the installed photographs.
type Options struct {
	// Seed selects the crops (and the procedural textures).
	Seed uint64
	// Classes is the number of class folders (default 10); image i goes to
	// class i mod Classes and is cut from that class's source picture, so
	// labels are learnable.
	Classes int
	// Quality is the JPEG quality, 1..100 (default 90).
	Quality int
	// Sizes are the (width, height) shapes drawn per image (default
	// 500×375, 375×500, 500×333 and 500×400, the most common ImageNet
	// train shapes).
	Sizes [][2]int
	// SourceDirs are searched for photographs (default DefaultSourceDirs).
	SourceDirs []string
	// Procedural ignores photographs and uses procedural textures.
	Procedural bool
}

func (o Options) withDefaults() (Options, error) {
	if o.Classes == 0 {
		o.Classes = 10
	}
	if o.Quality == 0 {
		o.Quality = 90
	}
	if len(o.Sizes) == 0 {
		o.Sizes = [][2]int{{500, 375}, {375, 500}, {500, 333}, {500, 400}}
	}
	if o.SourceDirs == nil {
		o.SourceDirs = DefaultSourceDirs()
	}
	if o.Classes < 1 || o.Quality < 1 || o.Quality > 100 {
		return o, fmt.Errorf("jpegset: Classes %d, Quality %d: want Classes >= 1, Quality in 1..100", o.Classes, o.Quality)
	}
	for _, s := range o.Sizes {
		if s[0] < 1 || s[1] < 1 {
			return o, fmt.Errorf("jpegset: size %dx%d: want positive", s[0], s[1])
		}
	}
	return o, nil
}

// ClassName is the folder of class c, shaped like an ImageNet WordNet id.
func ClassName(c int) string { return fmt.Sprintf("n%08d", c) }

// FileName is the path of image i relative to the set's root.
func FileName(i, classes int) string {
	c := ClassName(i % classes)
	return filepath.Join(c, fmt.Sprintf("%s_%d.JPEG", c, i))
}

// sourceLongSide bounds the re-encoded source pictures: crops of at least
// 8% of the area at ~500 px output never need more resolution, and a
// 5640×3172 wallpaper would otherwise be decoded once per image.
const sourceLongSide = 1600

// Generate writes n images under dir (created if needed), image i at
// FileName(i, Classes). Existing files with the same names are overwritten.
func Generate(dir string, n int, opt Options) error {
	o, err := opt.withDefaults()
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("jpegset: n = %d", n)
	}
	var sources [][]byte // photographs as JPEGs of at most sourceLongSide
	if !o.Procedural {
		if sources, err = loadPhotographs(o.SourceDirs); err != nil {
			return err
		}
	}
	textures := map[int][]byte{} // class -> procedural texture, made on first use
	for i := 0; i < n; i++ {
		class := i % o.Classes
		var src []byte
		if len(sources) > 0 {
			src = sources[class%len(sources)]
		} else if src = textures[class]; src == nil {
			tex := Texture(1024, 768, rand.New(rand.NewPCG(o.Seed, math.MaxUint64-uint64(class))))
			if src, err = augment.EncodeJPEG(tex, 95); err != nil {
				return fmt.Errorf("jpegset: texture: %w", err)
			}
			textures[class] = src
		}
		rng := rand.New(rand.NewPCG(o.Seed, uint64(i)))
		size := o.Sizes[rng.IntN(len(o.Sizes))]
		buf, err := cutImage(src, size[0], size[1], o.Quality, rng)
		if err != nil {
			return fmt.Errorf("jpegset: image %d: %w", i, err)
		}
		path := filepath.Join(dir, FileName(i, o.Classes))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("jpegset: %w", err)
		}
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			return fmt.Errorf("jpegset: %w", err)
		}
	}
	return nil
}

// minSourceGradient is the least mean |horizontal gradient| (green, at
// 500 px wide) of a usable photograph. Wallpaper packages mix photographs
// (Dune 6.6, Elephants 12.7) with smooth art and bokeh (GreenTraditional 0.65,
// Storm 0.6, Aqua 1.9); ImageNet photographs are around 5–15.
const minSourceGradient = 2.5

// loadPhotographs returns the textured photographs under dirs, each
// downscaled to sourceLongSide and re-encoded at quality 95, in
// FindPhotographs order.
func loadPhotographs(dirs []string) ([][]byte, error) {
	paths, err := FindPhotographs(dirs)
	if err != nil {
		return nil, fmt.Errorf("jpegset: find photographs: %w", err)
	}
	var out [][]byte
	for _, path := range paths {
		buf, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("jpegset: %w", err)
		}
		w, h, err := augment.Probe(buf)
		if err != nil {
			continue // not every *.jpg in a wallpaper folder decodes
		}
		small, err := augment.DecodeCrop(buf, 0, 0, w, h, 500, max(1, 500*h/w), augment.InterpLanczos, augment.DecodeOptions{})
		if err != nil || meanAbsGradient(small) < minSourceGradient {
			continue
		}
		f := math.Min(1, float64(sourceLongSide)/float64(max(w, h)))
		ow, oh := max(1, int(math.Round(float64(w)*f))), max(1, int(math.Round(float64(h)*f)))
		im, err := augment.DecodeCrop(buf, 0, 0, w, h, ow, oh, augment.InterpLanczos, augment.DecodeOptions{})
		if err != nil {
			continue
		}
		jpg, err := augment.EncodeJPEG(im, 95)
		if err != nil {
			return nil, fmt.Errorf("jpegset: %s: %w", path, err)
		}
		out = append(out, jpg)
	}
	return out, nil
}

// meanAbsGradient is the mean |difference| of horizontally adjacent green
// samples: 0 for flat colour, about 5–15 for photographs at ImageNet size.
func meanAbsGradient(im *augment.Image) float64 {
	g := im.C / 2 // green for RGB, the only channel for grey
	var s float64
	for y := 0; y < im.H; y++ {
		for x := 1; x < im.W; x++ {
			s += math.Abs(float64(im.At(x, y, g)) - float64(im.At(x-1, y, g)))
		}
	}
	return s / float64(im.H*(im.W-1))
}

// cutImage crops a random region of src with the output's aspect ratio,
// covering 35–100% of the largest such region (so the source is still
// downscaled about 2× or more and keeps its fine texture), and encodes it at w×h.
func cutImage(src []byte, w, h, quality int, rng *rand.Rand) ([]byte, error) {
	sw, sh, err := augment.Probe(src)
	if err != nil {
		return nil, err
	}
	aspect := float64(w) / float64(h)
	cw, ch := float64(sw), float64(sw)/aspect
	if ch > float64(sh) {
		cw, ch = float64(sh)*aspect, float64(sh)
	}
	f := math.Sqrt(0.35 + 0.65*rng.Float64())
	iw := min(sw, max(1, int(cw*f)))
	ih := min(sh, max(1, int(ch*f)))
	x, y := rng.IntN(sw-iw+1), rng.IntN(sh-ih+1)
	im, err := augment.DecodeCrop(src, x, y, iw, ih, w, h, augment.InterpLanczos, augment.DecodeOptions{})
	if err != nil {
		return nil, err
	}
	return augment.EncodeJPEG(im, quality)
}
