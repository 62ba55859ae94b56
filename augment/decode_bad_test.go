package augment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
)

// TestDecodeBadInput feeds broken data to Probe, Decode and DecodeCrop: each
// must return an error wrapping ErrBadImage whose text names the failing
// step and carries libvips' reason, and must not panic or hang.
func TestDecodeBadInput(t *testing.T) {
	pat := testPattern(96, 64)
	jpg := mustEncode(t, pat.Pix, 96, 64, 3, vipsUchar, vipsSRGB, 0, ".jpg[Q=90]")
	pngb := mustEncode(t, pat.Pix, 96, 64, 3, vipsUchar, vipsSRGB, 0, ".png")
	webp := mustEncode(t, pat.Pix, 96, 64, 3, vipsUchar, vipsSRGB, 0, ".webp[Q=90]")
	tif := mustEncode(t, pat.Pix, 96, 64, 3, vipsUchar, vipsSRGB, 0, ".tif")
	var bmpBuf bytes.Buffer
	if err := bmp.Encode(&bmpBuf, image.NewRGBA(image.Rect(0, 0, 96, 64))); err != nil {
		t.Fatal(err)
	}
	bmpb := bmpBuf.Bytes()
	bmpBomb := append([]byte(nil), bmpb[:54]...)
	binary.LittleEndian.PutUint32(bmpBomb[18:], 100000)
	binary.LittleEndian.PutUint32(bmpBomb[22:], 100000)
	ppm := append([]byte("P6 96 64 255\n"), pat.Pix...)
	cases := []struct {
		name string
		buf  []byte
		opt  DecodeOptions
		want string // substring of the error
		// headerOK: Probe succeeds (the damage is after the header).
		headerOK bool
	}{
		{"empty", nil, DecodeOptions{}, "empty input", false},
		{"text", []byte("name,label\ncat.jpg,3\n"), DecodeOptions{}, "format", false},
		{"jpeg header only", jpg[:300], DecodeOptions{}, "truncated", false},
		{"jpeg cut after SOS", jpg[:jpegScanStart(jpg)+10], DecodeOptions{}, "truncated", true},
		{"jpeg truncated half", jpg[:len(jpg)/2], DecodeOptions{}, "truncated", true},
		{"jpeg missing EOI", jpg[:len(jpg)-2], DecodeOptions{}, "truncated", true},
		{"png truncated", pngb[:len(pngb)/2], DecodeOptions{}, "truncated", true},
		{"png cut in IDAT, IEND kept", append(append([]byte(nil), pngb[:len(pngb)/2]...), pngb[len(pngb)-12:]...), DecodeOptions{}, "pixels: vipspng: libpng read error", true},
		{"webp truncated", webp[:len(webp)/2], DecodeOptions{}, "", false},
		{"tiff truncated", tif[:len(tif)/2], DecodeOptions{}, "", false},
		{"png declares 100000x100000", bombPNG(100000, 100000), DecodeOptions{}, "over the limit of 178956970", true},
		{"over MaxPixels", jpg, DecodeOptions{MaxPixels: 96*64 - 1}, "6144 pixels, over the limit of 6143", true},
		{"bmp truncated", bmpb[:len(bmpb)/2], DecodeOptions{}, "bmp pixels", true},
		{"bmp header only", bmpb[:20], DecodeOptions{}, "bmp header", false},
		{"bmp declares 100000x100000", bmpBomb, DecodeOptions{}, "over the limit of 178956970", true},
		{"ppm truncated", ppm[:len(ppm)/2], DecodeOptions{}, "truncated", true},
		{"ppm declares 100000x100000", []byte("P6 100000 100000 255\n\x00"), DecodeOptions{}, "over the limit of 178956970", true},
		{"pgm sample over maxval", []byte("P2 2 1 15\n3 16\n"), DecodeOptions{}, "over maxval", true},
		{"pbm bad digit", []byte("P1 2 1\n0 2\n"), DecodeOptions{}, "bad bitmap digit", true},
		{"pnm no size", []byte("P5\n# only a comment"), DecodeOptions{}, "truncated", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.buf, c.opt)
			if !errors.Is(err, ErrBadImage) {
				t.Fatalf("Decode err = %v, want ErrBadImage", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Decode err = %q, want it to mention %q", err, c.want)
			}
			if _, err := DecodeCrop(c.buf, 0, 0, 8, 8, 4, 4, InterpBicubic, c.opt); !errors.Is(err, ErrBadImage) {
				t.Errorf("DecodeCrop err = %v, want ErrBadImage", err)
			}
			_, _, err = Probe(c.buf)
			if c.headerOK && err != nil {
				t.Errorf("Probe err = %v, want the header to read", err)
			}
			if !c.headerOK && c.want != "" && !errors.Is(err, ErrBadImage) {
				t.Errorf("Probe err = %v, want ErrBadImage", err)
			}
		})
	}
}

// TestDecodeCorruptEntropyData damages the JPEG scan but keeps the end
// marker: libjpeg recovers with a warning, as it does under PIL, so the
// image decodes to full size instead of being dropped.
func TestDecodeCorruptEntropyData(t *testing.T) {
	pat := testPattern(96, 64)
	jpg := mustEncode(t, pat.Pix, 96, 64, 3, vipsUchar, vipsSRGB, 0, ".jpg[Q=90]")
	bad := append([]byte(nil), jpg...)
	for i := len(bad) * 2 / 3; i < len(bad)*2/3+40; i += 2 {
		if bad[i] != 0xFF && bad[i-1] != 0xFF {
			bad[i] ^= 0x5A
		}
	}
	// A scan cut short by an EOI marker: libjpeg fills the rest with grey.
	early := append(append([]byte(nil), jpg[:len(jpg)/2]...), 0xFF, 0xD9)
	for name, buf := range map[string][]byte{"flipped bytes": bad, "early EOI": early} {
		im, err := Decode(buf, DecodeOptions{})
		if err != nil {
			t.Fatalf("%s: recoverable corruption rejected: %v", name, err)
		}
		if im.W != 96 || im.H != 64 {
			t.Errorf("%s: decoded %dx%d, want 96x64", name, im.W, im.H)
		}
	}
	// The warnings these decodes logged must not be blamed on the next
	// failure.
	pngb := mustEncode(t, pat.Pix, 96, 64, 3, vipsUchar, vipsSRGB, 0, ".png")
	cut := append(append([]byte(nil), pngb[:len(pngb)/2]...), pngb[len(pngb)-12:]...)
	_, err := Decode(cut, DecodeOptions{})
	if err == nil || strings.Contains(err.Error(), "JPEG") {
		t.Errorf("later failure reported as %v", err)
	}
}

func TestDecodeCropArguments(t *testing.T) {
	buf := mustEncode(t, testPattern(96, 64).Pix, 96, 64, 3, vipsUchar, vipsSRGB, 0, ".png")
	for _, c := range []struct {
		x, y, cw, ch, ow, oh int
		interp               Interp
	}{
		{-1, 0, 10, 10, 5, 5, InterpBilinear},
		{0, 0, 97, 10, 5, 5, InterpBilinear},
		{90, 60, 10, 10, 5, 5, InterpBilinear},
		{0, 0, 0, 10, 5, 5, InterpBilinear},
		{0, 0, 10, 10, 0, 5, InterpBilinear},
		{0, 0, 10, 10, 5, 5, Interp(7)},
	} {
		_, err := DecodeCrop(buf, c.x, c.y, c.cw, c.ch, c.ow, c.oh, c.interp, DecodeOptions{})
		if err == nil || errors.Is(err, ErrBadImage) {
			t.Errorf("%+v: err = %v, want an argument error that is not ErrBadImage", c, err)
		}
	}
}

// TestDecodeCropTinySource upsamples a 1×1 image to 224×224: every output
// pixel is the one input pixel, for every filter.
func TestDecodeCropTinySource(t *testing.T) {
	buf := mustEncode(t, []byte{200, 100, 50}, 1, 1, 3, vipsUchar, vipsSRGB, 0, ".png")
	for _, in := range []Interp{InterpNearest, InterpBilinear, InterpBicubic, InterpLanczos} {
		im, err := DecodeCrop(buf, 0, 0, 1, 1, 224, 224, in, DecodeOptions{})
		if err != nil {
			t.Fatalf("%v: %v", in, err)
		}
		for i := 0; i < 224*224; i++ {
			if p := im.Pix[3*i : 3*i+3]; p[0] != 200 || p[1] != 100 || p[2] != 50 {
				t.Fatalf("%v: pixel %d = %v, want [200 100 50]", in, i, p)
			}
		}
	}
}

// FuzzDecode: arbitrary bytes never panic, and either decode to a
// consistent image or fail with ErrBadImage. Seeds are the decode fixtures
// and broken variants of them.
func FuzzDecode(f *testing.F) {
	for _, fx := range decodeFixtures(f) {
		f.Add(fx.buf)
		f.Add(fx.buf[:len(fx.buf)/2])
	}
	f.Add(bombPNG(100000, 100000))
	f.Add([]byte("GIF89a"))
	f.Fuzz(func(t *testing.T, buf []byte) {
		// A small guard keeps each fuzz input cheap; the guard itself is
		// part of what is fuzzed.
		opt := DecodeOptions{MaxPixels: 1 << 20}
		for _, ch := range []int{3, 1} {
			opt.Channels = ch
			im, err := Decode(buf, opt)
			if err != nil {
				if !errors.Is(err, ErrBadImage) {
					t.Fatalf("error %v does not wrap ErrBadImage", err)
				}
				continue
			}
			if err := im.Validate(); err != nil || im.C != ch {
				t.Fatalf("decoded image %dx%dx%d: %v", im.W, im.H, im.C, err)
			}
			w, h, err := Probe(buf)
			if err != nil || w != im.W || h != im.H {
				t.Fatalf("Probe = %d, %d, %v; Decode gave %dx%d", w, h, err, im.W, im.H)
			}
			c, err := DecodeCrop(buf, w/4, h/4, max(1, w/2), max(1, h/2), 7, 5, InterpBilinear, opt)
			if err != nil {
				if !errors.Is(err, ErrBadImage) {
					t.Fatalf("DecodeCrop error %v does not wrap ErrBadImage", err)
				}
				continue
			}
			if c.W != 7 || c.H != 5 || c.C != ch {
				t.Fatalf("DecodeCrop gave %dx%dx%d, want 7x5x%d", c.W, c.H, c.C, ch)
			}
		}
	})
}
