package checkpoint

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// encoder writes a protocol 2 pickle as torch.save's pickler would, without
// memoisation (shared objects are written once per reference), collecting tensor
// storages to be stored as data/<index>.
type encoder struct {
	buf      bytes.Buffer
	storages [][]byte
}

func (e *encoder) op(b ...byte) { e.buf.Write(b) }

func (e *encoder) global(module, name string) {
	e.buf.WriteByte(opGlobal)
	e.buf.WriteString(module + "\n" + name + "\n")
}

func (e *encoder) int(v int64) {
	switch {
	case v >= 0 && v < 1<<8:
		e.op(opBinInt1, byte(v))
	case v >= 0 && v < 1<<16:
		e.op(opBinInt2, byte(v), byte(v>>8))
	case v >= math.MinInt32 && v <= math.MaxInt32:
		e.op(opBinInt)
		e.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(v))))
	default:
		e.long(big.NewInt(v))
	}
}

// long writes LONG1: little-endian two's complement, as short as the sign allows.
func (e *encoder) long(v *big.Int) {
	if v.IsInt64() {
		x := v.Int64()
		var b []byte
		for {
			b = append(b, byte(x))
			last := int8(byte(x))
			x >>= 8
			if (x == 0 && last >= 0) || (x == -1 && last < 0) {
				break
			}
		}
		e.op(opLong1, byte(len(b)))
		e.buf.Write(b)
		return
	}
	// Arbitrary size: two's complement of n bytes where n fits the magnitude plus sign.
	n := v.BitLen()/8 + 1
	mod := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	u := new(big.Int).Set(v)
	if u.Sign() < 0 {
		u.Add(u, mod)
	}
	be := u.FillBytes(make([]byte, n))
	slices.Reverse(be)
	if n < 256 {
		e.op(opLong1, byte(n))
	} else {
		e.op(opLong4)
		e.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(n)))
	}
	e.buf.Write(be)
}

func (e *encoder) float(f float64) {
	e.op(opBinFloat)
	e.buf.Write(binary.BigEndian.AppendUint64(nil, math.Float64bits(f)))
}

func (e *encoder) str(s string, path *valuePath) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: string %q is not valid UTF-8", path, s)
	}
	e.op(opBinUnicode)
	e.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	e.buf.WriteString(s)
	return nil
}

// bytes writes Python 3 bytes the way protocol 2 must: _codecs.encode(latin-1 text, "latin1").
func (e *encoder) bytes(b []byte) {
	if len(b) == 0 {
		e.global("__builtin__", "bytes")
		e.op(opEmptyTuple, opReduce)
		return
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	e.global("_codecs", "encode")
	_ = e.str(string(r), nil)
	_ = e.str("latin1", nil)
	e.op(opTuple2, opReduce)
}

func (e *encoder) intTuple(v []int64) {
	switch len(v) {
	case 0:
		e.op(opEmptyTuple)
		return
	case 1, 2, 3:
	default:
		e.op(opMark)
	}
	for _, x := range v {
		e.int(x)
	}
	switch len(v) {
	case 1:
		e.op(opTuple1)
	case 2:
		e.op(opTuple2)
	case 3:
		e.op(opTuple3)
	default:
		e.op(opTuple)
	}
}

func (e *encoder) emptyOrderedDict() {
	e.global("collections", "OrderedDict")
	e.op(opEmptyTuple, opReduce)
}

// tensor writes torch._utils._rebuild_tensor_v2(storage, 0, size, stride, requires_grad, OrderedDict()).
func (e *encoder) tensor(t *Tensor, path *valuePath) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	stride := t.Stride
	if stride == nil {
		stride = contiguousStride(t.Shape)
	}
	es := t.DType.Size()
	if len(t.Data)%es != 0 {
		return fmt.Errorf("%s: %d bytes of storage is not a whole number of %s elements", path, len(t.Data), t.DType)
	}
	key := strconv.Itoa(len(e.storages))
	e.storages = append(e.storages, t.Data)

	e.global("torch._utils", "_rebuild_tensor_v2")
	e.op(opMark, opMark)
	_ = e.str("storage", path)
	e.global("torch", t.DType.storageClass())
	_ = e.str(key, path)
	_ = e.str("cpu", path)
	e.int(int64(len(t.Data) / es))
	e.op(opTuple, opBinPersID)
	e.int(0)
	e.intTuple(t.Shape)
	e.intTuple(stride)
	e.bool(t.RequiresGrad)
	e.emptyOrderedDict()
	e.op(opTuple, opReduce)
	return nil
}

func (e *encoder) bool(b bool) {
	if b {
		e.op(opNewTrue)
	} else {
		e.op(opNewFalse)
	}
}

func (e *encoder) dict(d *Dict, path *valuePath) error {
	if d.Ordered {
		e.emptyOrderedDict()
	} else {
		e.op(opEmptyDict)
	}
	if d.Len() > 0 {
		e.op(opMark)
		for k, v := range d.All() {
			if _, err := hashKey(k); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			sub := path.at(k)
			if err := e.value(k, sub.with(" key")); err != nil {
				return err
			}
			if err := e.value(v, sub); err != nil {
				return err
			}
		}
		e.op(opSetItems)
	}
	if d.Attrs != nil {
		if !d.Ordered {
			return fmt.Errorf("%s: only an OrderedDict can carry attributes", path)
		}
		if err := e.dict(&Dict{keys: d.Attrs.keys, vals: d.Attrs.vals}, path.with(".__dict__")); err != nil {
			return err
		}
		e.op(opBuild)
	}
	return nil
}

func (e *encoder) seq(items []any, tuple bool, path *valuePath) error {
	if tuple {
		e.op(opMark)
	} else {
		e.op(opEmptyList, opMark)
	}
	for i, v := range items {
		if err := e.value(v, path.at(i)); err != nil {
			return err
		}
	}
	if tuple {
		e.op(opTuple)
	} else {
		e.op(opAppends)
	}
	return nil
}

// value writes one Go value; path names it in errors ("meta.seed").
func (e *encoder) value(v any, path *valuePath) error {
	switch x := v.(type) {
	case nil:
		e.op(opNone)
	case bool:
		e.bool(x)
	case int:
		e.int(int64(x))
	case int8:
		e.int(int64(x))
	case int16:
		e.int(int64(x))
	case int32:
		e.int(int64(x))
	case int64:
		e.int(x)
	case uint8:
		e.int(int64(x))
	case uint16:
		e.int(int64(x))
	case uint32:
		e.int(int64(x))
	case uint:
		e.long(new(big.Int).SetUint64(uint64(x)))
	case uint64:
		e.long(new(big.Int).SetUint64(x))
	case *big.Int:
		e.long(x)
	case float32:
		e.float(float64(x))
	case float64:
		e.float(x)
	case string:
		return e.str(x, path)
	case []byte:
		e.bytes(x)
	case *Tensor:
		return e.tensor(x, path)
	case Tensor:
		return e.tensor(&x, path)
	case *Dict:
		return e.dict(x, path)
	case Dict:
		return e.dict(&x, path)
	case Tuple:
		return e.seq(x, true, path)
	case []any:
		return e.seq(x, false, path)
	case map[string]any:
		d := NewDict()
		for _, k := range slices.Sorted(maps.Keys(x)) {
			d.Set(k, x[k])
		}
		return e.dict(d, path)
	default:
		// Typed slices of the scalar kinds above ([]string, []float64, ...) are lists.
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Slice {
			items := make([]any, rv.Len())
			for i := range items {
				items[i] = rv.Index(i).Interface()
			}
			return e.seq(items, false, path)
		}
		return fmt.Errorf("%s: cannot pickle a value of type %T", path, v)
	}
	return nil
}

// encodePickle returns the protocol 2 pickle of obj and the tensor storages it refers to.
func encodePickle(obj any) ([]byte, [][]byte, error) {
	e := &encoder{}
	e.op(opProto, 2)
	if err := e.value(obj, rootPath("obj")); err != nil {
		return nil, nil, err
	}
	e.op(opStop)
	return e.buf.Bytes(), e.storages, nil
}
