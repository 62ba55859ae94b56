package augment

import "testing"

// TestDecodeCropShrinkOnLoad checks, without timing anything, that JPEG
// crops far larger than the output are decoded at reduced scale: the image
// decoder hands over is W/s×H/s for the factor s that shrinkFactor picks
// (largest of 2, 4, 8 with crop/output >= 2s), and only for JPEG. libjpeg,
// used directly, rounds that size up; libvips (EXIF-rotated files) rounds it
// down.
func TestDecodeCropShrinkOnLoad(t *testing.T) {
	const w, h = 2048, 1536
	pat := testPattern(w, h)
	jpg := mustEncode(t, pat.Pix, w, h, 3, vipsUchar, vipsSRGB, 0, ".jpg[Q=85]")
	pngb := mustEncode(t, pat.Pix, w, h, 3, vipsUchar, vipsSRGB, 0, ".png")
	rot := storeOriented(pat, 6)
	jpg6 := mustEncode(t, rot.Pix, rot.W, rot.H, 3, vipsUchar, vipsSRGB, 6, ".jpg[Q=85]")
	odd := testPattern(1001, 751)
	jpgOdd := mustEncode(t, odd.Pix, odd.W, odd.H, 3, vipsUchar, vipsSRGB, 0, ".jpg[Q=85]")
	for _, c := range []struct {
		name               string
		buf                []byte
		x, y, cw, ch, outW int
		interp             Interp
		shrink             int
		loadW, loadH       int
	}{
		{"ratio 3.9", jpg, 0, 0, 870, 870, 224, InterpBilinear, 1, w, h},
		{"ratio 4", jpg, 100, 50, 896, 896, 224, InterpBilinear, 2, w / 2, h / 2},
		{"ratio 9.1", jpg, 0, 0, w, h, 224, InterpBicubic, 4, w / 4, h / 4},
		{"ratio 16", jpg, 0, 0, 1536, 1536, 96, InterpLanczos, 8, w / 8, h / 8},
		{"odd size rounds up", jpgOdd, 0, 0, 1000, 750, 50, InterpBilinear, 8, 126, 94},
		{"png never", pngb, 0, 0, w, h, 96, InterpBilinear, 1, w, h},
		{"nearest never", jpg, 0, 0, w, h, 96, InterpNearest, 1, w, h},
		// Oriented: the crop is in upright coordinates (2048×1536), the
		// loader works on the stored 1536×2048 image.
		{"orientation 6", jpg6, 0, 0, w, h, 96, InterpBilinear, 8, h / 8, w / 8},
	} {
		t.Run(c.name, func(t *testing.T) {
			outH := c.outW * c.ch / c.cw
			im, st, err := decodeCrop(c.buf, cropSpec{c.x, c.y, c.cw, c.ch, c.outW, outH, c.interp}, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if st.shrink != c.shrink || st.loadW != c.loadW || st.loadH != c.loadH {
				t.Errorf("shrink %d, loaded %dx%d; want shrink %d, %dx%d", st.shrink, st.loadW, st.loadH, c.shrink, c.loadW, c.loadH)
			}
			if im.W != c.outW || im.H != outH {
				t.Errorf("output %dx%d, want %dx%d", im.W, im.H, c.outW, outH)
			}
			// The shrunk decode still shows the right region: compare
			// with the full decode's crop.
			full, err := Decode(c.buf, DecodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ref, err := resizeImage(cropImage(full, c.x, c.y, c.cw, c.ch), c.outW, outH, c.interp)
			if err != nil {
				t.Fatal(err)
			}
			// The pattern's 16-px blocks alias at 1/20 scale, hence
			// more slack than decode_crop_test.go's photographs need.
			if mean, _ := diffStats(im, ref); mean > 3 {
				t.Errorf("mean |DecodeCrop - Decode+crop+resize| = %.2f, want <= 3", mean)
			}
		})
	}
}
