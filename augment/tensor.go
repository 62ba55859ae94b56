package augment

import "fmt"

// Tensor is a float32 image in CHW order, what torchvision's ToTensor
// returns (values in [0, 1] before Normalize).
type Tensor struct {
	C, H, W int
	Data    []float32 // len C*H*W, channel planes one after another
}

// NewTensor allocates a zeroed c×h×w tensor.
func NewTensor(c, h, w int) *Tensor {
	return &Tensor{C: c, H: h, W: w, Data: make([]float32, c*h*w)}
}

// At returns the value of channel c at (x, y).
func (t *Tensor) At(c, y, x int) float32 { return t.Data[(c*t.H+y)*t.W+x] }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	out := *t
	out.Data = append([]float32(nil), t.Data...)
	return &out
}

// Validate reports whether the dimensions agree with the data.
func (t *Tensor) Validate() error {
	if t == nil {
		return fmt.Errorf("augment: nil tensor")
	}
	if t.C <= 0 || t.H <= 0 || t.W <= 0 || len(t.Data) != t.C*t.H*t.W {
		return fmt.Errorf("augment: tensor %dx%dx%d has %d values", t.C, t.H, t.W, len(t.Data))
	}
	return nil
}

// Mask is a 0/1 grid over patches (1 = masked), row-major, as returned by
// SimMIM's and BEiT's mask generators.
type Mask struct {
	H, W int
	Data []uint8 // len H*W
}

// Count returns the number of masked cells.
func (m *Mask) Count() int {
	n := 0
	for _, v := range m.Data {
		n += int(v)
	}
	return n
}

// tensorLUT maps every uint8 value to its float for each channel: ToTensor's
// float32(v)/255, then Normalize's (x−mean)/std, each rounded to float32 as
// torch does, so a fused lookup is bit-identical to the two ops.
type tensorLUT [][256]float32

func newTensorLUT(c int, mean, std []float64) tensorLUT {
	lut := make(tensorLUT, c)
	for ch := range lut {
		for v := range 256 {
			x := float32(v) / 255
			if mean != nil {
				x = (x - float32(mean[ch])) / float32(std[ch])
			}
			lut[ch][v] = x
		}
	}
	return lut
}

// toTensor converts HWC uint8 to CHW float32 through lut.
func toTensor(im *Image, lut tensorLUT) *Tensor {
	t := NewTensor(im.C, im.H, im.W)
	n := im.W * im.H
	if im.C == 3 {
		toTensor3(im.Pix[:3*n], lut, t.Data[:n], t.Data[n:2*n], t.Data[2*n:])
		return t
	}
	for ch := range im.C {
		l := &lut[ch]
		plane := t.Data[ch*n : (ch+1)*n]
		for i := range n {
			plane[i] = l[im.Pix[i*im.C+ch]]
		}
	}
	return t
}
