package augment

import "fmt"

// Interp selects the resampling filter of DecodeCrop. The values are PIL's
// (and torchvision's) integer codes, so a config's `interpolation: 3`
// converts with Interp(3).
type Interp int

// Filters, as PIL implements them (transform_resample.go): nearest,
// bilinear (triangle), bicubic (a = -0.5) and lanczos3; reductions widen
// the filter by the scale factor, i.e. antialias.
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
