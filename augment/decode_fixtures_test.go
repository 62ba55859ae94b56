package augment

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/png"
	"math"
	"testing"

	"golang.org/x/image/bmp"
)

// Decode fixtures are built in the tests, with libvips' savers (encodeRaw)
// or Go's encoders, so no binary test data is committed.

// testPattern is a w×h RGB image with smooth gradients and a few sharp
// blocks: every pixel distinct enough to catch a transposed or shifted
// decode, smooth enough for JPEG to keep within a few levels.
func testPattern(w, h int) *Image {
	im := NewImage(w, h, 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := (y*w + x) * 3
			im.Pix[o] = uint8(255 * x / max(1, w-1))
			im.Pix[o+1] = uint8(255 * y / max(1, h-1))
			im.Pix[o+2] = uint8(128 + 100*math.Sin(float64(x+y)/7))
			if (x/16+y/16)%3 == 0 {
				im.Pix[o+2] = 30
			}
		}
	}
	return im
}

func mustEncode(t testing.TB, pix []byte, w, h, bands, format, interp, orientation int, suffix string) []byte {
	t.Helper()
	b, err := encodeRaw(pix, w, h, bands, format, interp, orientation, suffix)
	if err != nil {
		t.Fatalf("encode %s: %v", suffix, err)
	}
	return b
}

// u16 packs 16-bit samples in native (little-endian) order for encodeRaw.
func u16(v []uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.NativeEndian.PutUint16(b[2*i:], x)
	}
	return b
}

// goPNG encodes a Go image with image/png.
func goPNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// animatedGIF has two 16×12 frames: frame 0 solid red, frame 1 solid blue.
func animatedGIF(t testing.TB) []byte {
	t.Helper()
	pal := color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 0, 255, 255}}
	var frames []*image.Paletted
	for i := 0; i < 2; i++ {
		f := image.NewPaletted(image.Rect(0, 0, 16, 12), pal)
		for j := range f.Pix {
			f.Pix[j] = uint8(i)
		}
		frames = append(frames, f)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: frames, Delay: []int{10, 10}}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// palettedGIF is testPattern mapped to the web-safe palette; it returns the
// file and the exact RGB it must decode to.
func palettedGIF(t testing.TB, w, h int) ([]byte, *Image) {
	t.Helper()
	src := testPattern(w, h)
	p := image.NewPaletted(image.Rect(0, 0, w, h), palette.WebSafe)
	want := NewImage(w, h, 3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := (y*w + x) * 3
			idx := p.Palette.Index(color.RGBA{src.Pix[o], src.Pix[o+1], src.Pix[o+2], 255})
			p.SetColorIndex(x, y, uint8(idx))
			r, g, b, _ := p.Palette[idx].RGBA()
			want.Pix[o], want.Pix[o+1], want.Pix[o+2] = uint8(r>>8), uint8(g>>8), uint8(b>>8)
		}
	}
	var b bytes.Buffer
	if err := gif.Encode(&b, p, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), want
}

// bombPNG is a valid PNG signature and IHDR declaring w×h 8-bit RGB,
// followed by a tiny IDAT and IEND: decoding it would allocate w*h*3 bytes,
// reading the header costs nothing.
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write([]byte("\x89PNG\r\n\x1a\n"))
	chunk := func(typ string, data []byte) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(data)))
		b.Write(n[:])
		body := append([]byte(typ), data...)
		b.Write(body)
		binary.BigEndian.PutUint32(n[:], crc32.ChecksumIEEE(body))
		b.Write(n[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit truecolour
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

// fixture is one decode input with what Decode must return.
type fixture struct {
	name string
	buf  []byte
	want *Image // expected RGB (Channels 3)
	// meanTol and maxTol bound |got-want| per sample: 0 for lossless.
	meanTol float64
	maxTol  int
}

// decodeFixtures covers the formats and colour layouts of the brief. The
// expected values are computed here from the encoded samples with the
// conversion PIL's convert('RGB') applies (alpha dropped, grey replicated,
// 16-bit high byte, PIL's cmyk2rgb), so they are independent of libvips.
func decodeFixtures(t testing.TB) []fixture {
	t.Helper()
	const w, h = 64, 48
	rgb := testPattern(w, h)
	var fx []fixture
	add := func(name string, buf []byte, want *Image, meanTol float64, maxTol int) {
		fx = append(fx, fixture{name, buf, want, meanTol, maxTol})
	}
	add("rgb.png", mustEncode(t, rgb.Pix, w, h, 3, vipsUchar, vipsSRGB, 0, ".png"), rgb, 0, 0)
	add("rgb.tif", mustEncode(t, rgb.Pix, w, h, 3, vipsUchar, vipsSRGB, 0, ".tif"), rgb, 0, 0)
	add("rgb_lossless.webp", mustEncode(t, rgb.Pix, w, h, 3, vipsUchar, vipsSRGB, 0, ".webp[lossless]"), rgb, 0, 0)
	// Lossy WebP always subsamples chroma 4:2:0, which smears the sharp
	// blue blocks by up to ~60 levels at their edges.
	add("rgb_q90.webp", mustEncode(t, rgb.Pix, w, h, 3, vipsUchar, vipsSRGB, 0, ".webp[Q=90]"), rgb, 4, 80)
	add("rgb_q95.jpg", mustEncode(t, rgb.Pix, w, h, 3, vipsUchar, vipsSRGB, 0, ".jpg[Q=95]"), rgb, 2, 40)
	gifBuf, gifWant := palettedGIF(t, w, h)
	add("paletted.gif", gifBuf, gifWant, 0, 0)

	// RGBA: alpha dropped, colour kept unpremultiplied.
	rgba := make([]byte, w*h*4)
	for i := 0; i < w*h; i++ {
		copy(rgba[4*i:4*i+3], rgb.Pix[3*i:3*i+3])
		rgba[4*i+3] = uint8(i * 7)
	}
	add("rgba.png", mustEncode(t, rgba, w, h, 4, vipsUchar, vipsSRGB, 0, ".png"), rgb, 0, 0)

	// Grey and grey+alpha: replicated.
	grey := NewImage(w, h, 1)
	greyRGB := NewImage(w, h, 3)
	ga := make([]byte, w*h*2)
	for i := range grey.Pix {
		v := rgb.Pix[3*i+1]
		grey.Pix[i] = v
		greyRGB.Pix[3*i], greyRGB.Pix[3*i+1], greyRGB.Pix[3*i+2] = v, v, v
		ga[2*i], ga[2*i+1] = v, uint8(255-i)
	}
	add("grey.png", mustEncode(t, grey.Pix, w, h, 1, vipsUchar, vipsBW, 0, ".png"), greyRGB, 0, 0)
	add("grey_alpha.png", mustEncode(t, ga, w, h, 2, vipsUchar, vipsBW, 0, ".png"), greyRGB, 0, 0)

	// 16-bit: a sample decodes to its high byte whatever the low byte
	// (PIL's rawmode "RGB;16B"), so 65535 gives 255.
	rgb16 := make([]uint16, w*h*3)
	for i, v := range rgb.Pix {
		rgb16[i] = uint16(v)<<8 | uint16(i*37%256)
	}
	rgb16[0], rgb16[1], rgb16[2] = 65535, 65535, 65535
	want16 := rgb.Clone()
	want16.Pix[0], want16.Pix[1], want16.Pix[2] = 255, 255, 255
	add("rgb16.png", mustEncode(t, u16(rgb16), w, h, 3, vipsUshort, vipsRGB16, 0, ".png"), want16, 0, 0)
	add("rgb16.tif", mustEncode(t, u16(rgb16), w, h, 3, vipsUshort, vipsRGB16, 0, ".tif"), want16, 0, 0)
	grey16 := make([]uint16, w*h)
	for i, v := range grey.Pix {
		grey16[i] = uint16(v) << 8
	}
	grey16[0] = 65535
	wantG16 := greyRGB.Clone()
	wantG16.Pix[0], wantG16.Pix[1], wantG16.Pix[2] = 255, 255, 255
	add("grey16.png", mustEncode(t, u16(grey16), w, h, 1, vipsUshort, vipsGrey16, 0, ".png"), wantG16, 0, 0)

	// CMYK: PIL's cmyk2rgb, R = (255-K) - round(C*(255-K)/255).
	cmyk := make([]byte, w*h*4)
	wantCMYK := NewImage(w, h, 3)
	for i := 0; i < w*h; i++ {
		k := uint8(i % 97 * 2)
		cmyk[4*i+3] = k
		nk := 255 - int(k)
		for c := 0; c < 3; c++ {
			v := 255 - rgb.Pix[3*i+c]
			cmyk[4*i+c] = v
			wantCMYK.Pix[3*i+c] = uint8(nk - int(math.Round(float64(v)*float64(nk)/255)))
		}
	}
	add("cmyk.tif", mustEncode(t, cmyk, w, h, 4, vipsUchar, vipsCMYK, 0, ".tif"), wantCMYK, 0, 0)
	add("cmyk_q95.jpg", mustEncode(t, cmyk, w, h, 4, vipsUchar, vipsCMYK, 0, ".jpg[Q=95]"), wantCMYK, 2, 40)

	one := &Image{W: 1, H: 1, C: 3, Pix: []uint8{200, 100, 50}}
	add("1x1.png", mustEncode(t, one.Pix, 1, 1, 3, vipsUchar, vipsSRGB, 0, ".png"), one, 0, 0)
	add("1x1.jpg", mustEncode(t, one.Pix, 1, 1, 3, vipsUchar, vipsSRGB, 0, ".jpg[Q=100]"), one, 2, 3)
	red := NewImage(16, 12, 3)
	for i := 0; i < 16*12; i++ {
		red.Pix[3*i] = 255
	}
	add("animated.gif", animatedGIF(t), red, 0, 0)
	addGoFormats(t, add, rgb)
	return fx
}

// addGoFormats adds the BMP and Netpbm fixtures (decoded in Go, not by
// libvips): BMP written by golang.org/x/image/bmp (24-bit, 8-bit palette,
// 32-bit with alpha), Netpbm written here in every variant.
func addGoFormats(t testing.TB, add func(string, []byte, *Image, float64, int), rgb *Image) {
	w, h := rgb.W, rgb.H
	enc := func(m image.Image) []byte {
		var b bytes.Buffer
		if err := bmp.Encode(&b, m); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	opaque := image.NewRGBA(image.Rect(0, 0, w, h))
	alpha := image.NewNRGBA(image.Rect(0, 0, w, h))
	pal := image.NewPaletted(image.Rect(0, 0, w, h), palette.WebSafe)
	palRGB := NewImage(w, h, 3)
	for i := range w * h {
		copy(opaque.Pix[4*i:], rgb.Pix[3*i:3*i+3])
		opaque.Pix[4*i+3] = 255
		copy(alpha.Pix[4*i:], rgb.Pix[3*i:3*i+3])
		alpha.Pix[4*i+3] = uint8(i * 5)
		pal.Pix[i] = uint8(i * 7 % len(palette.WebSafe))
		r, g, b, _ := palette.WebSafe[pal.Pix[i]].RGBA()
		palRGB.Pix[3*i], palRGB.Pix[3*i+1], palRGB.Pix[3*i+2] = uint8(r>>8), uint8(g>>8), uint8(b>>8)
	}
	add("rgb.bmp", enc(opaque), rgb, 0, 0)
	add("alpha.bmp", enc(alpha), rgb, 0, 0)
	add("paletted.bmp", enc(pal), palRGB, 0, 0)

	grey := NewImage(w, h, 3)
	for i := range w * h {
		v := rgb.Pix[3*i+1]
		grey.Pix[3*i], grey.Pix[3*i+1], grey.Pix[3*i+2] = v, v, v
	}
	scaled := func(im *Image, maxval int) *Image {
		out := im.Clone()
		for i, v := range im.Pix {
			s := int(v) * maxval / 255
			out.Pix[i] = uint8(math.RoundToEven(float64(s) / float64(maxval) * 255))
		}
		return out
	}
	var p6, p5, p3, p2, p6x16 bytes.Buffer
	fmt.Fprintf(&p6, "P6\n# written by flowssl\n%d %d\n255\n", w, h)
	p6.Write(rgb.Pix)
	fmt.Fprintf(&p5, "P5 %d %d 255\n", w, h)
	fmt.Fprintf(&p3, "P3\n%d %d\n# maxval\n15\n", w, h)
	fmt.Fprintf(&p2, "P2 %d %d 255\n", w, h)
	fmt.Fprintf(&p6x16, "P6 %d %d 1000\n", w, h)
	for i := range w * h {
		p5.WriteByte(grey.Pix[3*i])
		fmt.Fprintf(&p2, "%d\n", grey.Pix[3*i])
		for c := range 3 {
			v := int(rgb.Pix[3*i+c])
			fmt.Fprintf(&p3, "%d ", v*15/255)
			p6x16.Write([]byte{byte(v * 1000 / 255 >> 8), byte(v * 1000 / 255)})
		}
	}
	add("rgb.ppm", p6.Bytes(), rgb, 0, 0)
	add("grey.pgm", p5.Bytes(), grey, 0, 0)
	add("plain15.ppm", p3.Bytes(), scaled(rgb, 15), 0, 0)
	add("plain.pgm", p2.Bytes(), grey, 0, 0)
	add("rgb1000.ppm", p6x16.Bytes(), scaled(rgb, 1000), 0, 0)
	// Bitmaps: 1 is black. P4 packs 8 pixels a byte, rows padded.
	bits := NewImage(w, h, 3)
	var p4, p1 bytes.Buffer
	fmt.Fprintf(&p4, "P4\n%d %d\n", w, h)
	fmt.Fprintf(&p1, "P1\n%d %d\n", w, h)
	for y := range h {
		var row byte
		for x := range w {
			black := rgb.Pix[3*(y*w+x)] < 128
			v := uint8(255)
			if black {
				v = 0
				row |= 0x80 >> (x % 8)
				p1.WriteByte('1')
			} else {
				p1.WriteByte('0')
			}
			bits.Pix[3*(y*w+x)], bits.Pix[3*(y*w+x)+1], bits.Pix[3*(y*w+x)+2] = v, v, v
			if x%8 == 7 || x == w-1 {
				p4.WriteByte(row)
				row = 0
			}
		}
		p1.WriteByte('\n')
	}
	add("bitmap.pbm", p4.Bytes(), bits, 0, 0)
	add("plain.pbm", p1.Bytes(), bits, 0, 0)
}

// diffStats returns the mean and max |a-b| over all samples.
func diffStats(a, b *Image) (mean float64, maxd int) {
	var s float64
	for i := range a.Pix {
		d := int(a.Pix[i]) - int(b.Pix[i])
		if d < 0 {
			d = -d
		}
		s += float64(d)
		maxd = max(maxd, d)
	}
	return s / float64(len(a.Pix)), maxd
}

// cropImage returns a copy of the w×h region at (x, y).
func cropImage(im *Image, x, y, w, h int) *Image {
	out := NewImage(w, h, im.C)
	for r := 0; r < h; r++ {
		copy(out.Pix[r*w*im.C:(r+1)*w*im.C], im.Pix[((y+r)*im.W+x)*im.C:((y+r)*im.W+x+w)*im.C])
	}
	return out
}
