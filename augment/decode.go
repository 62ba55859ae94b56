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
	if w, h, ok, err := goProbe(buf); ok {
		return w, h, err
	}
	if isJPEG(buf) {
		if w, h, ok := jpegProbe(buf); ok {
			return w, h, nil
		}
	}
	return vipsProbe(buf)
}

// Decode returns the whole image, EXIF orientation applied, as 8-bit RGB (or
// grey when opt.Channels is 1). Conversions follow PIL's convert('RGB'):
// grey is replicated, alpha is dropped (not composited), 16-bit samples keep
// their high byte (65535 → 255), CMYK uses PIL's ICC-free formula, palette
// images give their palette colours; GIF, TIFF and WebP give their first
// frame. Formats: JPEG, PNG, WebP, TIFF, GIF (libvips), BMP and
// PBM/PGM/PPM (in Go, decode_bmp.go).
func Decode(buf []byte, opt DecodeOptions) (*Image, error) {
	o, err := opt.resolve()
	if err != nil {
		return nil, err
	}
	im, _, err := decodeRegion(buf, o, nil)
	return im, err
}

// DecodeCrop returns the region x, y, cw×ch (full-resolution coordinates of
// the oriented image, as Probe reports its size) resized to outW×outH with
// interp. Only the rows down to the crop's bottom edge are decoded, and the
// resampling is PIL's (resizePIL), so the result is exactly Decode → crop →
// PIL resize, i.e. what torchvision's RandomResizedCrop computes, whether
// the crop is enlarged or reduced. One exception trades exactness for speed:
// for JPEG (except with InterpNearest) libjpeg decodes at 1/2, 1/4 or 1/8
// scale when the crop is at least 4×, 8× or 16× the output on both axes
// (shrinkFactor), and the crop's exact box is resampled from the reduced
// pixels; decode_crop_test.go states that tolerance. A crop outside the
// image is an error that does not wrap ErrBadImage.
func DecodeCrop(buf []byte, x, y, cw, ch, outW, outH int, interp Interp, opt DecodeOptions) (*Image, error) {
	im, _, err := decodeCrop(buf, cropSpec{x, y, cw, ch, outW, outH, interp}, opt)
	return im, err
}

// cropSpec is DecodeCrop's geometry.
type cropSpec struct {
	x, y, cw, ch, outW, outH int
	interp                   Interp
}

// region asks decodeRegion for the pixels covering a crop (oriented,
// full-resolution coordinates), decoded at 1/shrink scale (JPEG only).
type region struct {
	x, y, cw, ch, shrink int
}

// decodeStats reports how a decode ran; tests use it to check that
// shrink-on-load happened without timing anything.
type decodeStats struct {
	shrink       int  // JPEG shrink-on-load factor (1 = none)
	loadW, loadH int  // image size as loaded, before orientation
	areaX, areaY int  // top-left of a region's pixels in the loaded image
	direct       bool // decoded by jpeg_decode.c rather than libvips
}

// decodeRegion decodes the whole image (r nil) or the pixels covering r,
// through libjpeg directly where it can (jpegDecode) and libvips otherwise.
func decodeRegion(buf []byte, o DecodeOptions, r *region) (*Image, decodeStats, error) {
	if len(buf) == 0 {
		return nil, decodeStats{}, fmt.Errorf("%w: empty input", ErrBadImage)
	}
	if err := checkComplete(buf); err != nil {
		return nil, decodeStats{}, err
	}
	if isJPEG(buf) {
		if im, st, ok := jpegDecode(buf, o, r); ok {
			return im, st, nil
		}
	}
	if im, st, ok, err := goRegion(buf, o, r); ok {
		return im, st, err
	}
	return vipsDecode(buf, o, r)
}

// shrinkFactor picks the JPEG shrink-on-load factor s in {1, 2, 4, 8}: the
// largest with crop/output >= 2s on both axes. libjpeg's scaled IDCT is a
// sharper low-pass than PIL's antialiasing kernel; keeping at least a 2×
// reduction after the shrink halves that difference compared with
// s <= crop/output (photographs, 224 px output: mean |diff| about 1 instead
// of 2.5) and loses little speed, since Huffman decoding, which no shrink
// avoids, dominates a JPEG decode.
func shrinkFactor(c cropSpec) int {
	r := min(float64(c.cw)/float64(c.outW), float64(c.ch)/float64(c.outH))
	switch {
	case r >= 16:
		return 8
	case r >= 8:
		return 4
	case r >= 4:
		return 2
	}
	return 1
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
	r := region{c.x, c.y, c.cw, c.ch, 1}
	if c.interp != InterpNearest && isJPEG(buf) {
		// Nearest picks full-resolution pixels; a shrink would average
		// them.
		r.shrink = shrinkFactor(c)
	}
	im, st, err := decodeRegion(buf, o, &r)
	if err != nil {
		return nil, st, err
	}
	if st.shrink == 1 {
		// im is exactly the crop.
		if im.W == c.outW && im.H == c.outH {
			return im, st, nil
		}
		return resizePIL(im, c.outW, c.outH, c.interp), st, nil
	}
	s := float64(st.shrink)
	box := [4]float64{
		float64(c.x)/s - float64(st.areaX), float64(c.y)/s - float64(st.areaY),
		float64(c.x+c.cw)/s - float64(st.areaX), float64(c.y+c.ch)/s - float64(st.areaY),
	}
	box[2], box[3] = min(box[2], float64(im.W)), min(box[3], float64(im.H))
	return resizeBoxPIL(im, box, c.outW, c.outH, c.interp), st, nil
}

// resizeImage is resizePIL with argument checks; decode tests use it as
// the reference for DecodeCrop.
func resizeImage(im *Image, outW, outH int, interp Interp) (*Image, error) {
	if err := im.Validate(); err != nil {
		return nil, err
	}
	if outW < 1 || outH < 1 || !interp.valid() {
		return nil, fmt.Errorf("augment: resize to %dx%d with %v: bad arguments", outW, outH, interp)
	}
	return resizePIL(im, outW, outH, interp), nil
}
