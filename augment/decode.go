package augment

import (
	"errors"
	"fmt"
)

// ErrBadImage is wrapped by every error that comes from the bytes themselves:
// empty or unknown data, an unreadable header, a declared size over
// MaxPixels, truncated or corrupt pixel data. Test with errors.Is; the error
// text carries the step and libvips' message. Caller mistakes (a crop outside
// the image, bad options) do not wrap it.
var ErrBadImage = errors.New("augment: bad image")

// DefaultMaxPixels is PIL's decompression-bomb error threshold
// (2 × Image.MAX_IMAGE_PIXELS = 2 × 89478485).
const DefaultMaxPixels int64 = 178956970

// DecodeOptions controls the colour handling and the size guard of Decode and
// DecodeCrop. The zero value decodes to RGB with the default guard.
type DecodeOptions struct {
	// Channels is 3 (RGB, the default when 0) or 1 (PIL "L" luma).
	Channels int
	// MaxPixels rejects images whose header declares more than this many
	// pixels, before any pixel is decoded; 0 means DefaultMaxPixels.
	MaxPixels int64
}

func (o DecodeOptions) resolve() (DecodeOptions, error) {
	switch o.Channels {
	case 0:
		o.Channels = 3
	case 1, 3:
	default:
		return o, fmt.Errorf("augment: decode: Channels is %d, want 1 or 3", o.Channels)
	}
	switch {
	case o.MaxPixels == 0:
		o.MaxPixels = DefaultMaxPixels
	case o.MaxPixels < 0:
		return o, fmt.Errorf("augment: decode: MaxPixels is %d, want >= 0", o.MaxPixels)
	}
	return o, nil
}

// Probe reads only the header and returns the size after EXIF orientation
// (a 640×480 JPEG tagged "rotate 90" probes as 480×640). It does not apply
// MaxPixels: the size it reports is what callers compare against limits.
func Probe(buf []byte) (w, h int, err error) {
	return vipsProbe(buf)
}

// Decode returns the whole image, EXIF orientation applied, as 8-bit RGB (or
// grey when opt.Channels is 1). Conversions follow PIL's convert('RGB'):
// grey is replicated, alpha is dropped (not composited), 16-bit samples keep
// their high byte (65535 → 255), CMYK uses PIL's ICC-free formula, palette
// images give their palette colours; GIF, TIFF and WebP give their first
// frame.
func Decode(buf []byte, opt DecodeOptions) (*Image, error) {
	o, err := opt.resolve()
	if err != nil {
		return nil, err
	}
	im, _, err := vipsDecode(buf, o, nil)
	return im, err
}

// DecodeCrop returns the region x, y, cw×ch (full-resolution coordinates of
// the oriented image, as Probe reports its size) resized to outW×outH with
// interp, as one libvips pipeline. For JPEG (except with InterpNearest) it
// asks libjpeg to decode at 1/2, 1/4 or 1/8 scale when the crop is at least
// 4×, 8× or 16× the output on both axes (see fs_shrink in vips_decode.c for
// why not 2×/4×/8×), which saves the IDCT and colour-conversion work of the
// skipped resolution; the result then matches Decode → crop → resize to
// within the tolerances stated in decode_crop_test.go. Only the rows down to
// the crop's bottom edge are decoded. A crop outside the image is an error
// that does not wrap ErrBadImage.
func DecodeCrop(buf []byte, x, y, cw, ch, outW, outH int, interp Interp, opt DecodeOptions) (*Image, error) {
	im, _, err := decodeCrop(buf, cropSpec{x, y, cw, ch, outW, outH, interp}, opt)
	return im, err
}

// cropSpec is DecodeCrop's geometry.
type cropSpec struct {
	x, y, cw, ch, outW, outH int
	interp                   Interp
}

// decodeStats reports how a decode ran; tests use it to check that
// shrink-on-load happened without timing anything.
type decodeStats struct {
	shrink       int // JPEG shrink-on-load factor (1 = none)
	loadW, loadH int // image size as loaded, before orientation
}

func decodeCrop(buf []byte, c cropSpec, opt DecodeOptions) (*Image, decodeStats, error) {
	o, err := opt.resolve()
	if err != nil {
		return nil, decodeStats{}, err
	}
	if c.cw < 1 || c.ch < 1 || c.outW < 1 || c.outH < 1 {
		return nil, decodeStats{}, fmt.Errorf("augment: DecodeCrop: crop %dx%d to %dx%d: sizes must be positive", c.cw, c.ch, c.outW, c.outH)
	}
	if !c.interp.valid() {
		return nil, decodeStats{}, fmt.Errorf("augment: DecodeCrop: unknown interpolation %d", int(c.interp))
	}
	if c.interp == InterpNearest {
		// Nearest picks full-resolution pixels (no shrink-on-load, which
		// would average them): decode the crop, then sample it.
		full := c
		full.outW, full.outH = c.cw, c.ch
		im, st, err := vipsDecode(buf, o, &full)
		if err != nil {
			return nil, st, err
		}
		return resizeNearest(im, c.outW, c.outH), st, nil
	}
	return vipsDecode(buf, o, &c)
}
