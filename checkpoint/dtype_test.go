package checkpoint

import (
	"math"
	"testing"
)

func TestDTypeTable(t *testing.T) {
	for _, tc := range []struct {
		d       DType
		size    int
		name    string
		storage string
	}{
		{Float32, 4, "float32", "FloatStorage"}, {Float64, 8, "float64", "DoubleStorage"},
		{Float16, 2, "float16", "HalfStorage"}, {BFloat16, 2, "bfloat16", "BFloat16Storage"},
		{Int64, 8, "int64", "LongStorage"}, {Int32, 4, "int32", "IntStorage"},
		{Int16, 2, "int16", "ShortStorage"}, {Int8, 1, "int8", "CharStorage"},
		{Uint8, 1, "uint8", "ByteStorage"}, {Bool, 1, "bool", "BoolStorage"},
	} {
		if tc.d.Size() != tc.size || tc.d.String() != tc.name || tc.d.storageClass() != tc.storage {
			t.Errorf("%v: size %d name %s storage %s", tc.d, tc.d.Size(), tc.d.String(), tc.d.storageClass())
		}
		if d, ok := dtypeOfStorage(tc.storage); !ok || d != tc.d {
			t.Errorf("dtypeOfStorage(%s) = %v", tc.storage, d)
		}
	}
	if DType(99).Size() != 0 || DType(99).String() != "DType(99)" {
		t.Error("unknown dtype not reported")
	}
}

// Every float16 and bfloat16 bit pattern survives widening to float32 and
// narrowing back; NaNs stay NaN.
func TestHalfRoundTripExhaustive(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := float16ToFloat32(uint16(h))
		if got := float32ToFloat16(f); got != uint16(h) && !math.IsNaN(float64(f)) {
			t.Fatalf("float16 %#04x -> %v -> %#04x", h, f, got)
		}
		if math.IsNaN(float64(f)) != (h&0x7c00 == 0x7c00 && h&0x3ff != 0) {
			t.Fatalf("float16 %#04x NaN-ness wrong: %v", h, f)
		}
		b := bfloat16ToFloat32(uint16(h))
		if got := float32ToBFloat16(b); got != uint16(h) && !math.IsNaN(float64(b)) {
			t.Fatalf("bfloat16 %#04x -> %v -> %#04x", h, b, got)
		}
	}
}

// Values from IEEE 754 binary16 (largest 65504, smallest subnormal 2^-24).
func TestFloat16Values(t *testing.T) {
	for _, tc := range []struct {
		f    float32
		want uint16
	}{
		{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, {0x1p-24, 0x0001},
		{0x1p-25, 0x0000}, {0x1.8p-25, 0x0001}, {1 + 0x1p-11, 0x3c00}, {1 + 0x3p-11, 0x3c02},
		{float32(math.Inf(-1)), 0xfc00},
	} {
		if got := float32ToFloat16(tc.f); got != tc.want {
			t.Errorf("float32ToFloat16(%v) = %#04x, want %#04x", tc.f, got, tc.want)
		}
	}
}
