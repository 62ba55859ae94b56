package augment

import "fmt"

// Image is an 8-bit image stored row-major, channels interleaved (HWC),
// the layout libvips writes to memory and torchvision's ToTensor reads.
// C is 1 (grey) or 3 (RGB).
type Image struct {
	W, H, C int
	Pix     []uint8 // len W*H*C
}

// NewImage allocates a zeroed w×h image with c channels.
func NewImage(w, h, c int) *Image {
	return &Image{W: w, H: h, C: c, Pix: make([]uint8, w*h*c)}
}

// Validate reports whether the dimensions agree with the pixel buffer.
func (im *Image) Validate() error {
	if im == nil {
		return fmt.Errorf("augment: nil image")
	}
	if im.W <= 0 || im.H <= 0 || (im.C != 1 && im.C != 3) {
		return fmt.Errorf("augment: bad image geometry %dx%dx%d", im.W, im.H, im.C)
	}
	if len(im.Pix) != im.W*im.H*im.C {
		return fmt.Errorf("augment: %dx%dx%d image has %d bytes, want %d", im.W, im.H, im.C, len(im.Pix), im.W*im.H*im.C)
	}
	return nil
}

// At returns the value of channel c at (x, y).
func (im *Image) At(x, y, c int) uint8 { return im.Pix[(y*im.W+x)*im.C+c] }

// Clone returns a deep copy.
func (im *Image) Clone() *Image {
	out := *im
	out.Pix = append([]uint8(nil), im.Pix...)
	return &out
}
