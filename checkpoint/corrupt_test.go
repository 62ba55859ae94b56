package checkpoint

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type record struct {
	name string
	data []byte
}

// archive builds a zip of stored records, for files torch.save would not write.
func archive(t testing.TB, recs ...record) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range recs {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: r.name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(r.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tensorPickle is a pickle of one _rebuild_tensor_v2 call on storage "0".
func tensorPickle(storage string, numel, offset int64, size, stride []int64) []byte {
	e := &encoder{}
	e.op(opProto, 2)
	e.global("torch._utils", "_rebuild_tensor_v2")
	e.op(opMark, opMark)
	_ = e.str("storage", nil)
	e.global("torch", storage)
	_ = e.str("0", nil)
	_ = e.str("cpu", nil)
	e.int(numel)
	e.op(opTuple, opBinPersID)
	e.int(offset)
	e.intTuple(size)
	e.intTuple(stride)
	e.bool(false)
	e.emptyOrderedDict()
	e.op(opTuple, opReduce, opStop)
	return e.buf.Bytes()
}

// legacyFile builds torch's legacy (non-zip) format holding one float32 tensor of vals.
func legacyFile(vals []float32) []byte {
	var out bytes.Buffer
	pickle := func(f func(e *encoder)) {
		e := &encoder{}
		e.op(opProto, 2)
		f(e)
		e.op(opStop)
		out.Write(e.buf.Bytes())
	}
	pickle(func(e *encoder) { e.long(legacyMagic) })
	pickle(func(e *encoder) { e.int(legacyProtocol) })
	pickle(func(e *encoder) {
		d := NewDict()
		d.Set("protocol_version", legacyProtocol)
		d.Set("little_endian", true)
		_ = e.dict(d, nil)
	})
	pickle(func(e *encoder) {
		e.global("torch._utils", "_rebuild_tensor_v2")
		e.op(opMark, opMark)
		_ = e.str("storage", nil)
		e.global("torch", "FloatStorage")
		_ = e.str("94363", nil)
		_ = e.str("cpu", nil)
		e.int(int64(len(vals)))
		e.op(opNone, opTuple, opBinPersID)
		e.int(0)
		e.intTuple([]int64{int64(len(vals))})
		e.intTuple([]int64{1})
		e.bool(false)
		e.emptyOrderedDict()
		e.op(opTuple, opReduce)
	})
	pickle(func(e *encoder) { _ = e.seq([]any{"94363"}, false, nil) })
	out.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(vals))))
	x, _ := FromFloat32([]int64{int64(len(vals))}, vals)
	out.Write(x.Data)
	return out.Bytes()
}

func TestReadLegacyCrafted(t *testing.T) {
	b := legacyFile([]float32{1.5, -2})
	v, err := Read(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := v.(*Tensor).Float32s()
	if len(got) != 2 || got[0] != 1.5 || got[1] != -2 {
		t.Errorf("legacy tensor %v", got)
	}
}

// Bad files give an error naming the file and the problem, never a panic.
func TestReadCorrupt(t *testing.T) {
	var good bytes.Buffer
	if err := Write(&good, weights(t, 3, 64)); err != nil {
		t.Fatal(err)
	}
	g := good.Bytes()
	flipped := bytes.Clone(g)
	zr, _ := zip.NewReader(bytes.NewReader(g), int64(len(g)))
	off, _ := zr.File[1].DataOffset() // archive/data/0
	flipped[off+10] ^= 0xff
	tar := make([]byte, 1024)
	copy(tar[257:], "ustar")
	legacy := legacyFile([]float32{1, 2, 3})
	os4 := []byte("\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.")

	for _, tc := range []struct {
		name string
		data []byte
		msg  string
	}{
		{"empty", nil, "empty file"},
		{"text", []byte("hello world"), "not a PyTorch checkpoint"},
		{"truncated half", g[:len(g)/2], "zip"},
		{"truncated end", g[:len(g)-1], "zip"},
		{"bad crc", flipped, "checksum"},
		{"tar", tar, "legacy tar"},
		{"legacy truncated", legacy[:len(legacy)-3], "storage 94363: file ends early"},
		{"legacy bad pickle", legacy[:40], "legacy format"},
		{"unknown global", archive(t, record{"a/data.pkl", os4}), "pickle global os.system is not supported"},
		{"no data.pkl", archive(t, record{"a/other", []byte("x")}), "no <archive>/data.pkl"},
		{"torchscript", archive(t, record{"m/data.pkl", []byte("\x80\x02N.")}, record{"m/constants.pkl", nil}), "TorchScript"},
		{"missing storage", archive(t, record{"a/data.pkl", tensorPickle("FloatStorage", 4, 0, []int64{4}, []int64{1})}),
			"record a/data/0 missing"},
		{"short storage", archive(t, record{"a/data.pkl", tensorPickle("FloatStorage", 4, 0, []int64{4}, []int64{1})},
			record{"a/data/0", make([]byte, 12)}), "record a/data/0 has 12 bytes, want 16"},
		{"view out of storage", archive(t, record{"a/data.pkl", tensorPickle("FloatStorage", 4, 2, []int64{2, 2}, []int64{1, 1})},
			record{"a/data/0", make([]byte, 16)}), "reaches element 4 of storage 0 with 4 elements"},
		{"unknown storage", archive(t, record{"a/data.pkl", tensorPickle("QUInt8Storage", 4, 0, []int64{4}, []int64{1})}),
			"torch.QUInt8Storage is not supported"},
		{"huge expand", archive(t, record{"a/data.pkl", tensorPickle("FloatStorage", 1, 0, []int64{1 << 40}, []int64{0})},
			record{"a/data/0", make([]byte, 4)}), "too large to materialise"},
		{"truncated pickle", archive(t, record{"a/data.pkl", []byte("\x80\x02]q\x00(K\x01")}), "a/data.pkl: at byte 8: pickle ends early"},
		{"bad opcode", archive(t, record{"a/data.pkl", []byte("\x80\x02\xff.")}), "opcode 0xff"},
		{"stack underflow", archive(t, record{"a/data.pkl", []byte("\x80\x02s.")}), "stack underflow"},
	} {
		path := filepath.Join(t.TempDir(), "bad.pth")
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ReadFile(path)
		if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and %q", tc.name, err, path, tc.msg)
		}
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "none.pth")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzRead: any input gives a value or an error, and a value can be written back.
func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleObject(f)); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(legacyFile([]float32{1, 2, 3}))
	f.Add(archive(f, record{"a/data.pkl", tensorPickle("HalfStorage", 4, 1, []int64{3}, []int64{1})}, record{"a/data/0", make([]byte, 8)}))
	f.Add([]byte("\x80\x02}q\x00(X\x01\x00\x00\x00a]q\x01(K\x01h\x01eu."))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		var out bytes.Buffer
		_ = Write(&out, v) // may refuse e.g. invalid UTF-8 strings, but must not panic
	})
}
