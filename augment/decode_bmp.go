package augment

import (
	"bytes"
	"fmt"
	"image"

	"golang.org/x/image/bmp"
)

// Debian's libvips loads BMP only through ImageMagick, which Decode blocks
// as an untrusted loader, and loads PBM/PGM/PPM only through its own
// loader, which libvips marks untrusted as well; so these two formats are
// decoded in Go: BMP with golang.org/x/image/bmp (uncompressed 1-, 2-, 4-,
// 8-, 24- and 32-bit files; RLE-compressed BMPs are rare and refused),
// Netpbm with decodePNM. Both give what PIL's convert('RGB') gives
// (decode_pil_test.go): palettes expanded, alpha dropped.

// isBMP reports whether buf starts like a BMP file.
func isBMP(buf []byte) bool { return len(buf) >= 2 && buf[0] == 'B' && buf[1] == 'M' }

// goDecoded is what a Go decoder hands to goRegion: packed RGB pixels.
type goDecoded struct {
	w, h int
	rgb  []uint8
}

func decodeBMP(buf []byte, maxPixels int64) (goDecoded, error) {
	cfg, err := bmp.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		return goDecoded{}, fmt.Errorf("%w: bmp header: %v", ErrBadImage, err)
	}
	if err := checkSize(cfg.Width, cfg.Height, maxPixels); err != nil {
		return goDecoded{}, err
	}
	m, err := bmp.Decode(bytes.NewReader(buf))
	if err != nil {
		return goDecoded{}, fmt.Errorf("%w: bmp pixels: %v", ErrBadImage, err)
	}
	w, h := cfg.Width, cfg.Height
	out := goDecoded{w: w, h: h, rgb: make([]uint8, w*h*3)}
	switch m := m.(type) {
	case *image.RGBA: // 24-bit: alpha is 255, so not premultiplied
		fromRGBX(out.rgb, m.Pix, m.Stride, w, h)
	case *image.NRGBA: // 32-bit: colour as stored, alpha dropped
		fromRGBX(out.rgb, m.Pix, m.Stride, w, h)
	case *image.Paletted:
		for y := range h {
			for x, ix := range m.Pix[y*m.Stride : y*m.Stride+w] {
				var r, g, b uint8
				if int(ix) < len(m.Palette) {
					r32, g32, b32, _ := m.Palette[ix].RGBA() // opaque entries
					r, g, b = uint8(r32>>8), uint8(g32>>8), uint8(b32>>8)
				}
				o := (y*w + x) * 3
				out.rgb[o], out.rgb[o+1], out.rgb[o+2] = r, g, b
			}
		}
	default:
		return goDecoded{}, fmt.Errorf("%w: bmp: unexpected %T", ErrBadImage, m)
	}
	return out, nil
}

func fromRGBX(dst, src []uint8, stride, w, h int) {
	for y := range h {
		row := src[y*stride : y*stride+4*w]
		for x := range w {
			copy(dst[(y*w+x)*3:(y*w+x)*3+3], row[4*x:4*x+3])
		}
	}
}

// checkSize is libvips' decompression-bomb guard for the Go decoders.
func checkSize(w, h int, maxPixels int64) error {
	if w < 1 || h < 1 {
		return fmt.Errorf("%w: header: %dx%d image", ErrBadImage, w, h)
	}
	if int64(w)*int64(h) > maxPixels {
		return fmt.Errorf("%w: size limit: %dx%d image has %d pixels, over the limit of %d",
			ErrBadImage, w, h, int64(w)*int64(h), maxPixels)
	}
	return nil
}

// goProbe returns the size of a BMP or Netpbm file (ok false for other
// formats).
func goProbe(buf []byte) (w, h int, ok bool, err error) {
	switch {
	case isBMP(buf):
		cfg, err := bmp.DecodeConfig(bytes.NewReader(buf))
		if err != nil {
			return 0, 0, true, fmt.Errorf("%w: bmp header: %v", ErrBadImage, err)
		}
		return cfg.Width, cfg.Height, true, nil
	case isPNM(buf):
		hd, err := pnmHeader(buf)
		if err != nil {
			return 0, 0, true, err
		}
		return hd.w, hd.h, true, nil
	}
	return 0, 0, false, nil
}

// goRegion decodes a BMP or Netpbm file (ok false for other formats) and
// returns the whole image or the part r covers, as decodeRegion does.
func goRegion(buf []byte, o DecodeOptions, r *region) (*Image, decodeStats, bool, error) {
	var d goDecoded
	var err error
	switch {
	case isBMP(buf):
		d, err = decodeBMP(buf, o.MaxPixels)
	case isPNM(buf):
		d, err = decodePNM(buf, o.MaxPixels)
	default:
		return nil, decodeStats{}, false, nil
	}
	if err != nil {
		return nil, decodeStats{}, true, err
	}
	st := decodeStats{shrink: 1, loadW: d.w, loadH: d.h}
	x0, y0, w, h := 0, 0, d.w, d.h
	if r != nil {
		if r.x < 0 || r.y < 0 || r.cw < 1 || r.ch < 1 || r.x > d.w-r.cw || r.y > d.h-r.ch {
			return nil, st, true, fmt.Errorf("augment: decode: crop x=%d y=%d %dx%d is outside the %dx%d image", r.x, r.y, r.cw, r.ch, d.w, d.h)
		}
		x0, y0, w, h = r.x, r.y, r.cw, r.ch
		st.areaX, st.areaY = x0, y0
	}
	out := NewImage(w, h, o.Channels)
	for y := range h {
		src := d.rgb[((y0+y)*d.w+x0)*3 : ((y0+y)*d.w+x0+w)*3]
		if o.Channels == 3 {
			copy(out.Pix[y*w*3:], src)
			continue
		}
		grayPixels(out.Pix[y*w:(y+1)*w], src, 1)
	}
	return out, st, true, nil
}
