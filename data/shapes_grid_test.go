package data

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// shapesGrid lays out cols samples of each class (one class per row) with
// a 2-pixel gutter.
func shapesGrid(seed uint64, size, cols int) *image.RGBA {
	const gap = 2
	side := size + gap
	out := image.NewRGBA(image.Rect(0, 0, cols*side+gap, numShapeClasses*side+gap))
	for y := range out.Rect.Dy() {
		for x := range out.Rect.Dx() {
			out.Set(x, y, color.RGBA{255, 255, 255, 255})
		}
	}
	for class := range numShapeClasses {
		for k := range cols {
			im, _ := DrawShape(seed, k*numShapeClasses+class, size, 3)
			ox, oy := gap+k*side, gap+class*side
			for y := range size {
				for x := range size {
					out.Set(ox+x, oy+y, color.RGBA{im.At(x, y, 0), im.At(x, y, 1), im.At(x, y, 2), 255})
				}
			}
		}
	}
	return out
}

// TestShapesGridPNG writes a 10 classes × 8 samples contact sheet for a
// person to look at: to $FLOWSSL_SHAPES_GRID if set (e.g.
// FLOWSSL_SHAPES_GRID=/tmp/shapes_grid.png go test -run GridPNG ./data),
// else to a temporary directory. It checks that the sheet round-trips
// through PNG with the drawn pixels.
func TestShapesGridPNG(t *testing.T) {
	const size, cols = 64, 8
	path := os.Getenv("FLOWSSL_SHAPES_GRID")
	if path == "" {
		path = filepath.Join(t.TempDir(), "shapes_grid.png")
	}
	grid := shapesGrid(1, size, cols)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, grid); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)

	f, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if back.Bounds() != grid.Bounds() {
		t.Fatalf("PNG bounds %v, want %v", back.Bounds(), grid.Bounds())
	}
	im, _ := DrawShape(1, 3*numShapeClasses+4, size, 3) // row 4, column 3
	r, g, b, _ := back.At(2+3*(size+2)+10, 2+4*(size+2)+20).RGBA()
	if got := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8)}; got != [3]uint8{im.At(10, 20, 0), im.At(10, 20, 1), im.At(10, 20, 2)} {
		t.Errorf("grid pixel %v differs from the drawn image", got)
	}
}
