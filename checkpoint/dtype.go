package checkpoint

import (
	"fmt"
	"math"
)

// DType is a tensor element type, one of PyTorch's storage types.
type DType int

// The element types flowssl reads and writes. Values follow no PyTorch numbering.
const (
	Float32 DType = iota
	Float64
	Float16
	BFloat16
	Int64
	Int32
	Int16
	Int8
	Uint8
	Bool
)

type dtypeInfo struct {
	name    string // torch dtype name, for messages
	storage string // legacy typed storage class in the torch module
	size    int    // bytes per element
}

var dtypeInfos = [...]dtypeInfo{
	Float32:  {"float32", "FloatStorage", 4},
	Float64:  {"float64", "DoubleStorage", 8},
	Float16:  {"float16", "HalfStorage", 2},
	BFloat16: {"bfloat16", "BFloat16Storage", 2},
	Int64:    {"int64", "LongStorage", 8},
	Int32:    {"int32", "IntStorage", 4},
	Int16:    {"int16", "ShortStorage", 2},
	Int8:     {"int8", "CharStorage", 1},
	Uint8:    {"uint8", "ByteStorage", 1},
	Bool:     {"bool", "BoolStorage", 1},
}

func (d DType) valid() bool { return d >= 0 && int(d) < len(dtypeInfos) }

// Size is the number of bytes of one element; 0 for an unknown DType.
func (d DType) Size() int {
	if !d.valid() {
		return 0
	}
	return dtypeInfos[d].size
}

// String is torch's name of the dtype ("float32", "int64", ...).
func (d DType) String() string {
	if !d.valid() {
		return fmt.Sprintf("DType(%d)", int(d))
	}
	return dtypeInfos[d].name
}

// IsFloat reports whether d is a floating point type.
func (d DType) IsFloat() bool {
	return d == Float32 || d == Float64 || d == Float16 || d == BFloat16
}

// storageClass is the torch.*Storage class name torch.save pickles for d.
func (d DType) storageClass() string { return dtypeInfos[d].storage }

// dtypeOfStorage maps a torch.*Storage class name to its DType; UntypedStorage is bytes.
func dtypeOfStorage(name string) (DType, bool) {
	if name == "UntypedStorage" {
		return Uint8, true
	}
	for i, info := range dtypeInfos {
		if info.storage == name {
			return DType(i), true
		}
	}
	return 0, false
}

// float16 and bfloat16 are converted by hand because Go has no such types; both
// conversions round to nearest even, as torch's .half() and .bfloat16() do.

func float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf or nan
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value = mant * 2^-24, exact in float32
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

func float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00 // quiet nan
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign // underflows to zero even after rounding
		}
		m := mant | 0x800000
		shift := uint32(14 - e)
		half := uint32(1) << (shift - 1)
		r := m >> shift
		rem := m & (1<<shift - 1)
		if rem > half || (rem == half && r&1 == 1) {
			r++
		}
		return sign | uint16(r)
	}
	r := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && r&1 == 1) {
		r++ // may carry into the exponent, which is the correct rounding up to inf
	}
	return sign | uint16(r)
}

func bfloat16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

func float32ToBFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet nan
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
