package augment

// Unexported helpers for the external tests (package augment_test), which
// need internal/jpegset and so cannot live in package augment.

// ResizeImage is resizeImage: PIL's resampling, which DecodeCrop ends with.
var ResizeImage = resizeImage

// CropImage copies a region of an Image.
var CropImage = cropImage

// DiffStats returns mean and max |a-b|.
var DiffStats = diffStats

// DecodeCropShrink is DecodeCrop that also reports the JPEG shrink-on-load
// factor it used.
func DecodeCropShrink(buf []byte, x, y, cw, ch, outW, outH int, interp Interp, opt DecodeOptions) (*Image, int, error) {
	im, st, err := decodeCrop(buf, cropSpec{x, y, cw, ch, outW, outH, interp}, opt)
	return im, st.shrink, err
}
