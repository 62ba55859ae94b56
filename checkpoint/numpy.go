package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
)

// npDType is a numpy.dtype being unpickled: dtype(code, align, copy), then BUILD
// with a state tuple whose second item is the byte order.
type npDType struct {
	code  string // "i8", "f4", "b1", ...
	order string // "<", ">", "|" or "="
}

// numpy scalars appear in MMCV checkpoint metadata (the seed drawn by
// np.random.randint when none is given); they are read as Go int64, *big.Int,
// float64 or bool and written back as Python numbers.
func numpyDType(args Tuple) (any, error) {
	if len(args) < 1 {
		return nil, errors.New("no dtype code")
	}
	code, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("dtype code is %s", typeName(args[0]))
	}
	return &npDType{code: code, order: "<"}, nil
}

func (d *npDType) build(state any) error {
	st, ok := state.(Tuple)
	if !ok || len(st) < 2 {
		return fmt.Errorf("numpy dtype state %s", typeName(state))
	}
	order, ok := st[1].(string)
	if !ok {
		return fmt.Errorf("numpy dtype byte order %s", typeName(st[1]))
	}
	d.order = order
	return nil
}

func numpyScalar(args Tuple) (any, error) {
	if len(args) != 2 {
		return nil, fmt.Errorf("%d arguments, want 2", len(args))
	}
	d, ok := args[0].(*npDType)
	if !ok {
		return nil, fmt.Errorf("dtype is %s", typeName(args[0]))
	}
	b, ok := args[1].([]byte)
	if !ok {
		return nil, fmt.Errorf("data is %s, not bytes", typeName(args[1]))
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if d.order == ">" {
		bo = binary.BigEndian
	}
	size := map[string]int{"b1": 1, "i1": 1, "u1": 1, "i2": 2, "u2": 2, "f2": 2, "i4": 4, "u4": 4, "f4": 4, "i8": 8, "u8": 8, "f8": 8}[d.code]
	if size == 0 {
		return nil, fmt.Errorf("numpy scalar of dtype %q not supported", d.code)
	}
	if len(b) != size {
		return nil, fmt.Errorf("numpy %s scalar has %d bytes, want %d", d.code, len(b), size)
	}
	switch d.code {
	case "b1":
		return b[0] != 0, nil
	case "i1":
		return int64(int8(b[0])), nil
	case "u1":
		return int64(b[0]), nil
	case "i2":
		return int64(int16(bo.Uint16(b))), nil
	case "u2":
		return int64(bo.Uint16(b)), nil
	case "f2":
		return float64(float16ToFloat32(bo.Uint16(b))), nil
	case "i4":
		return int64(int32(bo.Uint32(b))), nil
	case "u4":
		return int64(bo.Uint32(b)), nil
	case "f4":
		return float64(math.Float32frombits(bo.Uint32(b))), nil
	case "i8":
		return int64(bo.Uint64(b)), nil
	case "u8":
		if v := bo.Uint64(b); v > math.MaxInt64 {
			return new(big.Int).SetUint64(v), nil
		}
		return int64(bo.Uint64(b)), nil
	}
	return math.Float64frombits(bo.Uint64(b)), nil // f8
}
