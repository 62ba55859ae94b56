package eval

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// tab20 is matplotlib's "tab20" colormap, which visualize_tsne.py colours
// the classes with (class c gets entry c mod 20).
var tab20 = [20][3]uint8{
	{31, 119, 180}, {174, 199, 232}, {255, 127, 14}, {255, 187, 120}, {44, 160, 44},
	{152, 223, 138}, {214, 39, 40}, {255, 152, 150}, {148, 103, 189}, {197, 176, 213},
	{140, 86, 75}, {196, 156, 148}, {227, 119, 194}, {247, 182, 210}, {127, 127, 127},
	{199, 199, 199}, {188, 189, 34}, {219, 219, 141}, {23, 190, 207}, {158, 218, 229},
}

// ScatterOptions describe a t-SNE scatter plot.
type ScatterOptions struct {
	Title      string
	ClassNames []string  // legend labels; class index when missing
	Size       vg.Length // side of the square figure; default 10 inch
	DPI        int       // default 96
}

// ScatterPNG draws the n 2-D points of y (n×2) as dots coloured by label
// with tab20 and a legend of the classes present, and writes a square PNG
// of Size at DPI (10 inch at 96 dpi: 960×960 pixels) to path. Markers are
// visualize_tsne.py's plt.scatter(s=15).
func ScatterPNG(path string, y []float64, labels []int, o ScatterOptions) error {
	n := len(labels)
	if n == 0 || len(y) != 2*n {
		return fmt.Errorf("scatter %s: %d coordinates for %d labels (want 2 per point)", path, len(y), n)
	}
	if o.Size == 0 {
		o.Size = 10 * vg.Inch
	}
	if o.DPI == 0 {
		o.DPI = 96
	}
	p := plot.New()
	p.Title.Text = o.Title
	p.Legend.Top = true
	p.Legend.Left = false
	byClass := map[int]plotter.XYs{}
	maxC := 0
	for i, l := range labels {
		if l < 0 {
			return fmt.Errorf("scatter %s: label %d of point %d", path, l, i)
		}
		byClass[l] = append(byClass[l], plotter.XY{X: y[2*i], Y: y[2*i+1]})
		maxC = max(maxC, l)
	}
	// matplotlib's s=15 is the squared marker diameter in points (vg.Length's unit).
	radius := vg.Length(math.Sqrt(15) / 2)
	for c := 0; c <= maxC; c++ {
		pts, ok := byClass[c]
		if !ok {
			continue
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return fmt.Errorf("scatter %s: class %d: %w", path, c, err)
		}
		rgb := tab20[c%len(tab20)]
		s.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{R: rgb[0], G: rgb[1], B: rgb[2], A: 255}, Radius: radius, Shape: draw.CircleGlyph{}}
		p.Add(s)
		name := fmt.Sprint(c)
		if c < len(o.ClassNames) && o.ClassNames[c] != "" {
			name = o.ClassNames[c]
		}
		p.Legend.Add(name, s)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	c := vgimg.NewWith(vgimg.UseWH(o.Size, o.Size), vgimg.UseDPI(o.DPI))
	p.Draw(draw.New(c))
	f, err := os.CreateTemp(filepath.Dir(path), ".png-*")
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("scatter %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}
