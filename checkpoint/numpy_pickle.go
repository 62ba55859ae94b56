package checkpoint

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"slices"
)

// numpyCode maps a DType to numpy's dtype string (bfloat16 has none).
var numpyCode = map[DType]string{
	Float32: "f4", Float64: "f8", Float16: "f2", Int64: "i8", Int32: "i4", Int16: "i2", Int8: "i1", Uint8: "u1", Bool: "b1",
}

// WriteNumpyPickle writes obj as a plain protocol 3 pickle (no zip, no
// persistent ids) in which every *Tensor becomes a numpy.ndarray, pickled
// as numpy does: numpy.core.multiarray._reconstruct(numpy.ndarray, (0,),
// b"b") rebuilt with the state (1, shape, dtype, False, raw bytes). This is
// the .pkl format detectron2 loads pretrained weights from (a dict of
// numpy arrays under "model"). obj may hold nil, bool, ints, floats,
// strings, *Dict, map[string]any, []any, Tuple and *Tensor.
func WriteNumpyPickle(w io.Writer, obj any) error {
	e := &encoder{}
	e.op(opProto, 3)
	if err := npValue(e, obj, rootPath("obj")); err != nil {
		return err
	}
	e.op(opStop)
	_, err := w.Write(e.buf.Bytes())
	return err
}

// WriteNumpyPickleFile writes WriteNumpyPickle's output to path atomically.
func WriteNumpyPickleFile(path string, obj any) error {
	return writeFileWith(path, func(w io.Writer) error { return WriteNumpyPickle(w, obj) })
}

func npValue(e *encoder, v any, path *valuePath) error {
	switch x := v.(type) {
	case *Tensor:
		return npArray(e, x, path)
	case *Dict:
		e.op(opEmptyDict)
		if x.Len() == 0 {
			return nil
		}
		e.op(opMark)
		for k, val := range x.All() {
			sub := path.at(k)
			if err := npValue(e, k, sub.with(" key")); err != nil {
				return err
			}
			if err := npValue(e, val, sub); err != nil {
				return err
			}
		}
		e.op(opSetItems)
		return nil
	case map[string]any:
		d := NewDict()
		for _, k := range slices.Sorted(maps.Keys(x)) {
			d.Set(k, x[k])
		}
		return npValue(e, d, path)
	case Tuple:
		return npSeq(e, x, true, path)
	case []any:
		return npSeq(e, x, false, path)
	case []byte:
		npBytes(e, x)
		return nil
	}
	// Scalars and strings pickle as in a .pth.
	return e.value(v, path)
}

func npSeq(e *encoder, items []any, tuple bool, path *valuePath) error {
	if !tuple {
		e.op(opEmptyList)
	}
	e.op(opMark)
	for i, v := range items {
		if err := npValue(e, v, path.at(i)); err != nil {
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

// npBytes writes Python 3 bytes with BINBYTES (protocol 3), which keeps
// raw array data at its size rather than latin-1 text.
func npBytes(e *encoder, b []byte) {
	e.op(opBinBytes)
	e.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(b))))
	e.buf.Write(b)
}

func npArray(e *encoder, t *Tensor, path *valuePath) error {
	code, ok := numpyCode[t.DType]
	if !ok {
		return fmt.Errorf("%s: numpy has no %s dtype", path, t.DType)
	}
	c, err := t.Contiguous()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(c.Data) >= 1<<32 {
		return fmt.Errorf("%s: %d bytes exceed a protocol 3 bytes object", path, len(c.Data))
	}
	e.global("numpy.core.multiarray", "_reconstruct")
	e.global("numpy", "ndarray")
	e.int(0)
	e.op(opTuple1)
	npBytes(e, []byte("b"))
	e.op(opTuple3, opReduce)
	// State: (version, shape, dtype, is_fortran, data).
	e.op(opMark)
	e.int(1)
	e.intTuple(c.Shape)
	e.global("numpy", "dtype")
	_ = e.str(code, path)
	e.op(opNewFalse, opNewTrue, opTuple3, opReduce)
	order := "<"
	if t.DType.Size() == 1 {
		order = "|" // byte order is meaningless for one-byte types
	}
	// dtype state: (version 3, byte order, subarray, names, fields, elsize, alignment, flags).
	e.op(opMark)
	e.int(3)
	_ = e.str(order, path)
	e.op(opNone, opNone, opNone)
	e.int(-1)
	e.int(-1)
	e.int(0)
	e.op(opTuple, opBuild)
	e.op(opNewFalse)
	npBytes(e, c.Data)
	e.op(opTuple, opBuild)
	return nil
}
