package checkpoint

import (
	"archive/zip"
	"bytes"
	"math"
	"math/big"
	"path/filepath"
	"reflect"
	"testing"
)

// sampleObject has every kind of value Write accepts, in the shapes a flowssl
// checkpoint uses.
func sampleObject(t testing.TB) *Dict {
	w, _ := FromFloat32([]int64{2, 3}, []float32{1, -2, 3.5, 0, 1e-20, float32(math.Inf(1))})
	s, _ := FromInt64(nil, []int64{7})
	e, _ := FromFloat32([]int64{0}, nil)
	h, _ := w.Convert(Float16)
	view := &Tensor{DType: Float32, Shape: []int64{3, 2}, Stride: []int64{1, 3}, Data: w.Data}
	sd := NewOrderedDict()
	sd.Set("backbone.conv1.weight", w)
	sd.Set("backbone.bn1.num_batches_tracked", s)
	sd.Set("empty", e)
	sd.Set("half", h)
	sd.Set("view", view)
	sd.Attrs = NewDict()
	sd.Attrs.Set("_metadata", NewOrderedDict())

	state := NewDict()
	state.Set(0, map[string]any{"momentum_buffer": w})
	top := NewDict()
	top.Set("meta", map[string]any{"epoch": 2, "seed": int64(-1), "lr": 0.5, "big": new(big.Int).Lsh(big.NewInt(-3), 80),
		"u64": uint64(math.MaxUint64), "nested": []any{Tuple{}, Tuple{1}, Tuple{1, 2, 3, 4}, nil, true, false, "s", []byte("b")}})
	top.Set("state_dict", sd)
	top.Set("optimizer", map[string]any{"state": state, "param_groups": []any{map[string]any{"params": []int64{0}}}})
	return top
}

func TestRoundTripGoToGo(t *testing.T) {
	obj := sampleObject(t)
	var buf bytes.Buffer
	if err := Write(&buf, obj); err != nil {
		t.Fatal(err)
	}
	got, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	// Compare through a second write: equal bytes mean equal values, types and
	// order. Read materialises the strided view, so x gets its contiguous copy.
	osd, _ := obj.Dict("state_dict")
	ov, _ := osd.Tensor("view")
	cv, _ := ov.Contiguous()
	osd.Set("view", cv)
	var want, again bytes.Buffer
	if err := Write(&want, obj); err != nil {
		t.Fatal(err)
	}
	if err := Write(&again, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want.Bytes(), again.Bytes()) {
		t.Error("write(read(write(x))) differs from write(x)")
	}
	d := got.(*Dict)
	sd, _ := d.Dict("state_dict")
	view, _ := sd.Tensor("view")
	vals, _ := view.Float32s()
	if !reflect.DeepEqual(vals, []float32{1, 0, -2, 1e-20, 3.5, float32(math.Inf(1))}) || view.Stride != nil {
		t.Errorf("view read back as %v stride %v", vals, view.Stride)
	}
	meta, _ := d.Dict("meta")
	for k, want := range map[string]any{
		"epoch": int64(2), "seed": int64(-1), "lr": 0.5, "big": new(big.Int).Lsh(big.NewInt(-3), 80),
		"u64":    new(big.Int).SetUint64(math.MaxUint64),
		"nested": []any{Tuple{}, Tuple{int64(1)}, Tuple{int64(1), int64(2), int64(3), int64(4)}, nil, true, false, "s", []byte("b")},
	} {
		if v, _ := meta.Get(k); !reflect.DeepEqual(v, want) {
			t.Errorf("meta[%s] = %#v, want %#v", k, v, want)
		}
	}
	opt, _ := d.Dict("optimizer")
	st, _ := opt.Dict("state")
	if got := st.Keys(); !reflect.DeepEqual(got, []any{int64(0)}) {
		t.Errorf("optimizer state keys %#v, want [0]", got)
	}
	if !sd.Ordered || sd.Attrs == nil {
		t.Error("state_dict lost OrderedDict-ness or _metadata")
	}
}

// Each record's data starts at a multiple of 64 bytes, as PyTorch's writer lays it out.
func TestRecordsAligned(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sampleObject(t)); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		if off%64 != 0 || f.Method != zip.Store {
			t.Errorf("%s: data at %d, method %d", f.Name, off, f.Method)
		}
		names = append(names, f.Name)
	}
	want := []string{"archive/data.pkl", "archive/data/0", "archive/data/1", "archive/data/2", "archive/data/3",
		"archive/data/4", "archive/data/5", "archive/version"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("records %v, want %v", names, want)
	}
}

func TestCheckpointSaveLoad(t *testing.T) {
	obj := sampleObject(t)
	sd, _ := obj.Dict("state_dict")
	meta := NewDict()
	meta.Set("epoch", 5)
	c := &Checkpoint{Meta: meta, StateDict: sd, Optimizer: map[string]any{"state": NewDict()}}
	path := filepath.Join(t.TempDir(), "epoch_5.pth")
	if err := c.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := got.Meta.Get("epoch"); v != int64(5) {
		t.Errorf("meta epoch %v", v)
	}
	if !reflect.DeepEqual(got.StateDict.StringKeys(), sd.StringKeys()) || got.Extra != nil {
		t.Errorf("state_dict keys %v, extra %v", got.StateDict.StringKeys(), got.Extra)
	}
	if _, ok := got.Optimizer.(*Dict); !ok {
		t.Errorf("optimizer %T", got.Optimizer)
	}
	// {"model": ...} layout (DeiT/MAE style) and a dict that is no checkpoint.
	for _, tc := range []struct {
		key string
		ok  bool
	}{{"model", true}, {"weights", false}} {
		d := NewDict()
		d.Set(tc.key, sd)
		d.Set("epoch", 1)
		c, err := FromValue(d)
		if tc.ok != (err == nil) {
			t.Errorf("layout %q: %v", tc.key, err)
		}
		if err == nil && (c.StateDict.Len() != sd.Len() || c.Extra.Len() != 1) {
			t.Errorf("layout %q: %d weights, extra %v", tc.key, c.StateDict.Len(), c.Extra.Keys())
		}
	}
	bad := NewOrderedDict()
	bad.Set("w", "not a tensor")
	if err := (&Checkpoint{StateDict: bad}).Save(path); err == nil {
		t.Error("Save accepted a non-tensor state_dict value")
	}
}
