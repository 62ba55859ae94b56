package augment

import "fmt"

// Interp selects the resampling filter of DecodeCrop. The values are PIL's
// (and torchvision's) integer codes, so a config's `interpolation: 3`
// converts with Interp(3).
type Interp int

// Filters, mapped onto libvips kernels: nearest, linear (triangle), cubic
// (Catmull-Rom, a = -0.5 like PIL) and lanczos3. Downscaling widens the
// kernel by the scale factor, i.e. antialiases as PIL's resize does.
const (
	InterpNearest  Interp = 0
	InterpLanczos  Interp = 1
	InterpBilinear Interp = 2
	InterpBicubic  Interp = 3
)

func (i Interp) valid() bool { return i >= InterpNearest && i <= InterpBicubic }

// String returns the torchvision name of the filter.
func (i Interp) String() string {
	switch i {
	case InterpNearest:
		return "nearest"
	case InterpLanczos:
		return "lanczos"
	case InterpBilinear:
		return "bilinear"
	case InterpBicubic:
		return "bicubic"
	}
	return fmt.Sprintf("Interp(%d)", int(i))
}
