package augment

import (
	"errors"
	"testing"
)

func TestDecodeFormatsAndColour(t *testing.T) {
	for _, f := range decodeFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			got, err := Decode(f.buf, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.W != f.want.W || got.H != f.want.H || got.C != 3 {
				t.Fatalf("decoded %dx%dx%d, want %dx%dx3", got.W, got.H, got.C, f.want.W, f.want.H)
			}
			if err := got.Validate(); err != nil {
				t.Fatal(err)
			}
			mean, maxd := diffStats(got, f.want)
			if mean > f.meanTol || maxd > f.maxTol {
				t.Errorf("|decoded - expected|: mean %.3f (tolerance %.1f), max %d (tolerance %d)", mean, f.meanTol, maxd, f.maxTol)
			}
			w, h, err := Probe(f.buf)
			if err != nil || w != f.want.W || h != f.want.H {
				t.Errorf("Probe = %d, %d, %v; want %d, %d", w, h, err, f.want.W, f.want.H)
			}
		})
	}
}

// TestDecodeGrey checks Channels: 1 against PIL's "L" conversion,
// (19595 R + 38470 G + 7471 B + 32768) >> 16, computed here in integers:
// the libvips path must agree exactly, not approximately.
func TestDecodeGrey(t *testing.T) {
	for _, f := range decodeFixtures(t) {
		if f.maxTol != 0 {
			continue // lossy: the RGB itself is approximate
		}
		t.Run(f.name, func(t *testing.T) {
			got, err := Decode(f.buf, DecodeOptions{Channels: 1})
			if err != nil {
				t.Fatal(err)
			}
			if got.C != 1 || got.W != f.want.W || got.H != f.want.H {
				t.Fatalf("decoded %dx%dx%d, want %dx%dx1", got.W, got.H, got.C, f.want.W, f.want.H)
			}
			for i := 0; i < got.W*got.H; i++ {
				r, g, b := int(f.want.Pix[3*i]), int(f.want.Pix[3*i+1]), int(f.want.Pix[3*i+2])
				if l := uint8((19595*r + 38470*g + 7471*b + 32768) >> 16); got.Pix[i] != l {
					t.Fatalf("pixel %d: L = %d, want %d from RGB %d,%d,%d", i, got.Pix[i], l, r, g, b)
				}
			}
		})
	}
}

// TestDecodeOrientation saves one picture with each EXIF orientation and
// checks that Decode undoes it: orientation o means the stored pixels are
// the upright picture transformed by orient(o), and Decode must give the
// upright picture back.
func TestDecodeOrientation(t *testing.T) {
	up := testPattern(64, 48)
	for o := 1; o <= 8; o++ {
		stored := storeOriented(up, o)
		for _, suffix := range []string{".jpg[Q=98]", ".tif"} {
			buf := mustEncode(t, stored.Pix, stored.W, stored.H, 3, vipsUchar, vipsSRGB, o, suffix)
			w, h, err := Probe(buf)
			if err != nil || w != 64 || h != 48 {
				t.Errorf("orientation %d %s: Probe = %d, %d, %v; want 64, 48", o, suffix, w, h, err)
			}
			got, err := Decode(buf, DecodeOptions{})
			if err != nil {
				t.Fatalf("orientation %d %s: %v", o, suffix, err)
			}
			if got.W != 64 || got.H != 48 {
				t.Fatalf("orientation %d %s: decoded %dx%d, want 64x48", o, suffix, got.W, got.H)
			}
			if mean, maxd := diffStats(got, up); mean > 1.5 || maxd > 40 {
				t.Errorf("orientation %d %s: |decoded - upright| mean %.2f max %d", o, suffix, mean, maxd)
			}
			// DecodeCrop works in the same upright coordinates.
			c, err := DecodeCrop(buf, 8, 4, 32, 24, 32, 24, InterpBilinear, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if mean, _ := diffStats(c, cropImage(up, 8, 4, 32, 24)); mean > 1.5 {
				t.Errorf("orientation %d %s: crop differs from the upright crop, mean %.2f", o, suffix, mean)
			}
		}
	}
}

// storeOriented returns how a camera stores upright picture up under EXIF
// orientation o (the inverse of what a viewer applies).
func storeOriented(up *Image, o int) *Image {
	// at(x, y) gives the stored pixel's source in up, for a stored image of
	// sw×sh.
	sw, sh := up.W, up.H
	if o >= 5 {
		sw, sh = up.H, up.W
	}
	out := NewImage(sw, sh, 3)
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			var ux, uy int
			switch o {
			case 1:
				ux, uy = x, y
			case 2: // viewer mirrors horizontally
				ux, uy = sw-1-x, y
			case 3: // viewer rotates 180
				ux, uy = sw-1-x, sh-1-y
			case 4: // viewer mirrors vertically
				ux, uy = x, sh-1-y
			case 5: // viewer transposes
				ux, uy = y, x
			case 6: // viewer rotates 90 clockwise
				ux, uy = sh-1-y, x
			case 7: // viewer transverses
				ux, uy = sh-1-y, sw-1-x
			case 8: // viewer rotates 90 counter-clockwise
				ux, uy = y, sw-1-x
			}
			copy(out.Pix[(y*sw+x)*3:(y*sw+x)*3+3], up.Pix[(uy*up.W+ux)*3:(uy*up.W+ux)*3+3])
		}
	}
	return out
}

func TestDecodeOptionsRejected(t *testing.T) {
	buf := mustEncode(t, testPattern(8, 8).Pix, 8, 8, 3, vipsUchar, vipsSRGB, 0, ".png")
	for _, opt := range []DecodeOptions{{Channels: 2}, {Channels: 4}, {MaxPixels: -1}} {
		if _, err := Decode(buf, opt); err == nil || errors.Is(err, ErrBadImage) {
			t.Errorf("%+v: err = %v, want an options error that is not ErrBadImage", opt, err)
		}
	}
}
