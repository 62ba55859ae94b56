package augment

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"
)

// TestJPEGDirectMatchesVips: the direct libjpeg path (jpeg_decode.c) must
// give libvips' pixels exactly, for whole images and for crops that start
// below the top (jpeg_skip_scanlines) or right of the left edge, in RGB
// and grey, for the JPEG flavours a dataset holds: 4:2:0 and 4:4:4 chroma,
// progressive, greyscale, odd sizes, an EXIF block saying "upright", and
// files written by Go's encoder (no JFIF quirks of libvips' saver). It also
// checks which path ran, so a regression to the slow path is caught:
// EXIF-rotated and CMYK files must go to libvips.
func TestJPEGDirectMatchesVips(t *testing.T) {
	pat := testPattern(161, 123)
	grey := NewImage(pat.W, pat.H, 1)
	grayInto(grey, pat)
	var goJPEG bytes.Buffer
	rgba := image.NewRGBA(image.Rect(0, 0, pat.W, pat.H))
	for i := range pat.W * pat.H {
		copy(rgba.Pix[4*i:4*i+3], pat.Pix[3*i:3*i+3])
		rgba.Pix[4*i+3] = 255
	}
	if err := jpeg.Encode(&goJPEG, rgba, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	rot := storeOriented(pat, 6)
	cmyk := make([]byte, pat.W*pat.H*4)
	for i := range pat.W * pat.H {
		copy(cmyk[4*i:4*i+3], pat.Pix[3*i:3*i+3])
		cmyk[4*i+3] = uint8(i)
	}
	cases := []struct {
		name   string
		buf    []byte
		direct bool
	}{
		{"q90 4:2:0", mustEncode(t, pat.Pix, pat.W, pat.H, 3, vipsUchar, vipsSRGB, 0, ".jpg[Q=90]"), true},
		{"q95 4:4:4", mustEncode(t, pat.Pix, pat.W, pat.H, 3, vipsUchar, vipsSRGB, 0, ".jpg[Q=95,no_subsample]"), true},
		{"progressive", mustEncode(t, pat.Pix, pat.W, pat.H, 3, vipsUchar, vipsSRGB, 0, ".jpg[Q=85,interlace]"), true},
		{"grey", mustEncode(t, grey.Pix, grey.W, grey.H, 1, vipsUchar, vipsBW, 0, ".jpg[Q=90]"), true},
		{"exif upright", mustEncode(t, pat.Pix, pat.W, pat.H, 3, vipsUchar, vipsSRGB, 1, ".jpg[Q=90]"), true},
		{"go encoder", goJPEG.Bytes(), true},
		{"exif rotated", mustEncode(t, rot.Pix, rot.W, rot.H, 3, vipsUchar, vipsSRGB, 6, ".jpg[Q=90]"), false},
		{"cmyk", mustEncode(t, cmyk, pat.W, pat.H, 4, vipsUchar, vipsCMYK, 0, ".jpg[Q=90]"), false},
	}
	regions := []*region{nil, {0, 0, 161, 123, 1}, {37, 41, 60, 50, 1}, {0, 17, 161, 90, 1}, {100, 0, 61, 123, 1}, {5, 9, 150, 110, 2}}
	for _, c := range cases {
		w, h, err := Probe(c.buf)
		if err != nil || w != pat.W || h != pat.H {
			t.Errorf("%s: Probe = %d×%d, %v", c.name, w, h, err)
		}
		for _, ch := range []int{3, 1} {
			o := DecodeOptions{Channels: ch, MaxPixels: DefaultMaxPixels}
			for _, r := range regions {
				got, st, err := decodeRegion(c.buf, o, r)
				if err != nil {
					t.Fatalf("%s %d channels %v: %v", c.name, ch, r, err)
				}
				if st.direct != c.direct {
					t.Errorf("%s: direct path %v, want %v", c.name, st.direct, c.direct)
				}
				want, wst, err := vipsDecode(c.buf, o, r)
				if err != nil {
					t.Fatalf("%s %d channels %v: libvips: %v", c.name, ch, r, err)
				}
				if st.areaX != wst.areaX || st.areaY != wst.areaY || got.W != want.W || got.H != want.H || got.C != want.C {
					t.Errorf("%s %d channels %v: %d×%d×%d at %d,%d; libvips %d×%d×%d at %d,%d", c.name, ch, r,
						got.W, got.H, got.C, st.areaX, st.areaY, want.W, want.H, want.C, wst.areaX, wst.areaY)
					continue
				}
				if mean, maxd := diffStats(got, want); maxd != 0 {
					t.Errorf("%s %d channels %v: |direct − libvips| mean %.3f max %d, want identical", c.name, ch, r, mean, maxd)
				}
			}
		}
	}
}

// TestJPEGDirectDefersDamage: files libjpeg only warns about are left to
// libvips, so their verdict does not depend on the path. Scan data cut
// short before an intact end marker makes libjpeg warn ("premature end of
// data segment") and pad the rest.
func TestJPEGDirectDefersDamage(t *testing.T) {
	pat := testPattern(64, 48)
	buf := mustEncode(t, pat.Pix, pat.W, pat.H, 3, vipsUchar, vipsSRGB, 0, ".jpg[Q=90]")
	sos := jpegScanStart(buf)
	bad := append(append([]byte(nil), buf[:sos+30]...), 0xFF, 0xD9)
	o := DecodeOptions{Channels: 3, MaxPixels: DefaultMaxPixels}
	if _, _, ok := jpegDecode(bad, o, nil); ok {
		t.Fatal("direct path decoded a corrupted scan without deferring to libvips")
	}
	_, st, err := decodeRegion(bad, o, nil)
	_, _, verr := vipsDecode(bad, o, nil)
	if (err == nil) != (verr == nil) || st.direct {
		t.Errorf("decode error %v (direct %v), libvips error %v: want libvips' verdict", err, st.direct, verr)
	}
	// Over MaxPixels: libvips reports it, naming the limit.
	if _, err := Decode(buf, DecodeOptions{MaxPixels: 100}); err == nil {
		t.Error("64×48 JPEG decoded with MaxPixels 100")
	}
}
