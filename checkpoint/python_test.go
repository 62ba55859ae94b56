package checkpoint

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

const python = "/usr/bin/python3"

// requireTorch skips the test when the system Python lacks torch and torchvision.
func requireTorch(t *testing.T) {
	t.Helper()
	if err := exec.Command(python, "-c", "import torch, torchvision").Run(); err != nil {
		t.Skipf("%s cannot import torch and torchvision (%v); PyTorch parity not checked", python, err)
	}
}

func runPython(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(python, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", python, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// specTensor is one state_dict entry of the Go->Python fixture; check_load.py
// converts src with torch's .to(dtype) and compares bytes with what Go wrote.
type specTensor struct {
	name   string
	dtype  DType
	shape  []int64
	stride []int64 // written as a view when set
	grad   bool
	f32    []float32
	f64    []float64
	i64    []int64
	// storage for a strided tensor, and the logical values check_load.py expects
	storage []float32
}

func pythonSpec() []specTensor {
	big := make([]float32, 4*5*6)
	for i := range big {
		big[i] = float32(math.Sin(float64(i)) * 3)
	}
	return []specTensor{
		{name: "conv.weight", dtype: Float32, shape: []int64{2, 3},
			f32: []float32{0.1, float32(math.Copysign(0, -1)), 1e-45, float32(math.Inf(1)), math.MaxFloat32, -7.25}},
		// float16 rounding: ties to even, overflow to inf, subnormals.
		{name: "half", dtype: Float16, shape: []int64{10},
			f32: []float32{0.1, 1 + 1.0/2048, 1 + 3.0/2048, 65519, 65520, 5.96e-8, 2.9802322e-8, 3e-8, -1e-5, 1e-3}},
		{name: "bf", dtype: BFloat16, shape: []int64{6},
			f32: []float32{0.1, 1 + 1.0/256, 1 + 3.0/256, math.MaxFloat32, -1e-40, float32(math.Inf(-1))}},
		{name: "f64", dtype: Float64, shape: []int64{2, 2}, f64: []float64{0.1, 1e300, -5e-324, 2}},
		{name: "i64", dtype: Int64, shape: []int64{3}, i64: []int64{math.MinInt64, 0, math.MaxInt64}},
		{name: "i32", dtype: Int32, shape: []int64{4}, i64: []int64{-1 << 31, 1<<31 - 1, 1 << 31, -1}},
		{name: "i16", dtype: Int16, shape: []int64{3}, i64: []int64{40000, -32768, 7}},
		{name: "i8", dtype: Int8, shape: []int64{3}, i64: []int64{200, -128, 127}},
		{name: "u8", dtype: Uint8, shape: []int64{3}, i64: []int64{255, 256, -1}},
		{name: "mask", dtype: Bool, shape: []int64{4}, i64: []int64{0, 1, 2, -1}},
		{name: "scalar", dtype: Float32, shape: []int64{}, f32: []float32{3.5}},
		{name: "bn.num_batches_tracked", dtype: Int64, shape: []int64{}, i64: []int64{1200}},
		{name: "empty", dtype: Float32, shape: []int64{0, 3}, stride: nil, f32: []float32{}},
		{name: "empty_i64", dtype: Int64, shape: []int64{0}, i64: []int64{}},
		{name: "ones5d", dtype: Float32, shape: []int64{1, 2, 1, 2, 1}, f32: []float32{1, 2, 3, 4}},
		{name: "transposed", dtype: Float32, shape: []int64{3, 2}, stride: []int64{1, 3},
			storage: []float32{0, 1, 2, 3, 4, 5}, f32: []float32{0, 3, 1, 4, 2, 5}},
		{name: "bn.weight", dtype: Float32, shape: []int64{4}, grad: true, f32: []float32{1, 1, 0.5, 2}},
		{name: "layer1.0.conv1.weight", dtype: Float32, shape: []int64{4, 5, 6}, f32: big},
	}
}

func (s specTensor) tensor(t *testing.T) *Tensor {
	t.Helper()
	var x *Tensor
	var err error
	switch {
	case s.storage != nil:
		x, err = FromFloat32([]int64{int64(len(s.storage))}, s.storage)
		if err == nil {
			x.Shape, x.Stride = s.shape, s.stride
		}
	case s.f32 != nil:
		x, err = FromFloat32(s.shape, s.f32)
	case s.f64 != nil:
		x, err = FromFloat64(s.shape, s.f64)
	default:
		x, err = FromInt64(s.shape, s.i64)
	}
	if err == nil && x.DType != s.dtype {
		x, err = x.Convert(s.dtype)
	}
	if err != nil {
		t.Fatalf("%s: %v", s.name, err)
	}
	x.RequiresGrad = s.grad
	return x
}

func specJSON(specs []specTensor) []byte {
	var b bytes.Buffer
	b.WriteString("{")
	for i, s := range specs {
		if i > 0 {
			b.WriteString(",\n")
		}
		e := map[string]any{"dtype": s.dtype.String(), "shape": s.shape, "stride": s.stride, "requires_grad": s.grad}
		if s.stride == nil && s.name == "ones5d" {
			e["stride"] = []int64{4, 2, 2, 1, 1} // torch's contiguous stride keeps size-1 dims at the next stride
		}
		switch {
		case s.f32 != nil:
			e["f32"] = floatStrings(s.f32, 32)
		case s.f64 != nil:
			e["f64"] = floatStrings(s.f64, 64)
		default:
			e["i64"] = s.i64
		}
		if s.shape == nil || len(s.shape) == 0 {
			e["shape"] = []int64{}
		}
		k, _ := json.Marshal(s.name)
		v, _ := json.Marshal(e)
		b.Write(k)
		b.WriteString(": ")
		b.Write(v)
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func floatStrings[F float32 | float64](v []F, bits int) []string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = strconv.FormatFloat(float64(x), 'g', -1, bits)
	}
	return out
}

// pythonFixture is the checkpoint check_load.py expects.
func pythonFixture(t *testing.T) *Checkpoint {
	meta := NewDict()
	hook := NewDict()
	hook.Set("last_ckpt", "/work/epoch_3.pth")
	big70 := new(big.Int).Lsh(big.NewInt(1), 70)
	for _, kv := range []struct {
		k string
		v any
	}{
		{"epoch", 3}, {"iter", int64(1200)}, {"seed", 0}, {"exp_name", "mocov2_resnet50"},
		{"hook_msgs", hook}, {"lr", 0.03}, {"big", big70}, {"neg", int64(-1 << 40)},
		{"min64", int64(math.MinInt64)}, {"ok", true}, {"none", nil}, {"tuple", Tuple{1, "x", 2.5}},
		{"bytes", []byte{0, 255, 'a', 'b'}}, {"empty_bytes", []byte{}}, {"unicode", "h\u00e9llo \u2713"},
		{"list", []any{1, []any{2, 3}}}, {"floats", []float64{0.5, -1.25}},
	} {
		meta.Set(kv.k, kv.v)
	}
	sd := NewOrderedDict()
	for _, s := range pythonSpec() {
		sd.Set(s.name, s.tensor(t))
	}
	md := NewOrderedDict()
	v1, v2 := NewDict(), NewDict()
	v1.Set("version", 1)
	v2.Set("version", 2)
	md.Set("", v1)
	md.Set("bn", v2)
	sd.Attrs = NewDict()
	sd.Attrs.Set("_metadata", md)

	mb0, _ := FromFloat32([]int64{2}, []float32{0.5, -0.5})
	mb1, _ := FromFloat32(nil, []float32{2})
	st0, st1 := NewDict(), NewDict()
	st0.Set("momentum_buffer", mb0)
	st1.Set("momentum_buffer", mb1)
	state := NewDict()
	state.Set(0, st0)
	state.Set(1, st1)
	group := NewDict()
	group.Set("lr", 0.03)
	group.Set("momentum", 0.9)
	group.Set("weight_decay", 1e-4)
	group.Set("params", []int{0, 1})
	group.Set("initial_lr", 0.03)
	opt := NewDict()
	opt.Set("state", state)
	opt.Set("param_groups", []any{group})

	extra := NewDict()
	extra.Set("author", "flowssl")
	return &Checkpoint{Meta: meta, StateDict: sd, Optimizer: opt, Extra: extra}
}

// TestGoToPython saves a checkpoint in Go and checks it with torch.load (torch 1.13.1,
// testdata/check_load.py), including float16/bfloat16 rounding done in Go.
func TestGoToPython(t *testing.T) {
	requireTorch(t)
	dir := t.TempDir()
	ckpt := filepath.Join(dir, "epoch_3.pth")
	if err := pythonFixture(t).Save(ckpt); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(spec, specJSON(pythonSpec()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runPython(t, "testdata/check_load.py", ckpt, spec)
	if want := fmt.Sprintf("OK %d tensors", len(pythonSpec())); !strings.Contains(out, want) {
		t.Fatalf("check_load.py printed %q, want %q", out, want)
	}
}

var (
	refOnce sync.Once
	refDir  string
	refErr  error
)

// pythonRefs runs testdata/make_ref.py once per test binary.
func pythonRefs(t *testing.T) string {
	requireTorch(t)
	refOnce.Do(func() {
		refDir, refErr = os.MkdirTemp("", "checkpoint-ref-")
		if refErr != nil {
			return
		}
		out, err := exec.Command(python, "testdata/make_ref.py", refDir).CombinedOutput()
		if err != nil {
			refErr = fmt.Errorf("make_ref.py: %v\n%s", err, out)
		}
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return refDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if refDir != "" {
		os.RemoveAll(refDir)
	}
	os.Exit(code)
}

// lookup follows a make_ref.py path ("views/row", "shared/1") through dicts and lists.
func lookup(v any, path string) (any, error) {
	for _, part := range strings.Split(path, "/") {
		switch x := v.(type) {
		case *Dict:
			var ok bool
			if v, ok = x.Get(part); !ok {
				if n, err := strconv.ParseInt(part, 10, 64); err == nil {
					v, ok = x.Get(n)
				}
			}
			if !ok {
				return nil, fmt.Errorf("%s: no key %q", path, part)
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(x) {
				return nil, fmt.Errorf("%s: bad index %q", path, part)
			}
			v = x[i]
		default:
			return nil, fmt.Errorf("%s: %T has no %q", path, v, part)
		}
	}
	return v, nil
}

// TestPythonToGo reads what torch.save wrote (zip and legacy formats) and compares
// each tensor's dtype, shape, requires_grad and bytes (sha256) and small tensors'
// values against testdata/make_ref.py's dump (torch 1.13.1).
func TestPythonToGo(t *testing.T) {
	dir := pythonRefs(t)
	f, err := os.Open(filepath.Join(dir, "ref.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, strings.Split(sc.Text(), " "))
	}
	for _, file := range []string{"ref_zip.pth", "ref_legacy.pth"} {
		t.Run(file, func(t *testing.T) {
			obj, err := ReadFile(filepath.Join(dir, file))
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, l := range lines {
				v, err := lookup(obj, l[1])
				if err != nil {
					t.Fatal(err)
				}
				x, ok := v.(*Tensor)
				if !ok {
					t.Fatalf("%s: %T, want tensor", l[1], v)
				}
				switch l[0] {
				case "T":
					shape := "-"
					if len(x.Shape) > 0 {
						shape = strings.Trim(strings.Join(strings.Fields(fmt.Sprint(x.Shape)), ","), "[]")
					}
					sum := sha256.Sum256(x.Data)
					got := []string{x.DType.String(), shape, map[bool]string{false: "0", true: "1"}[x.RequiresGrad], hex.EncodeToString(sum[:])}
					if !reflect.DeepEqual(got, l[2:]) {
						t.Errorf("%s: got %v, python %v", l[1], got, l[2:])
					}
					if x.Stride != nil {
						t.Errorf("%s: stride %v after read, want nil", l[1], x.Stride)
					}
					checked++
				case "V":
					vals, err := x.Float64s()
					if err != nil {
						t.Fatal(err)
					}
					want := l[2:]
					if len(want) == 1 && want[0] == "" {
						want = nil
					}
					if len(vals) != len(want) {
						t.Fatalf("%s: %d values, python %d", l[1], len(vals), len(want))
					}
					for i, w := range want {
						wf, err := strconv.ParseFloat(w, 64)
						if err != nil {
							t.Fatal(err)
						}
						if vals[i] != wf {
							t.Errorf("%s[%d] = %v, python %v", l[1], i, vals[i], wf)
						}
					}
				}
			}
			if checked < 130 {
				t.Errorf("checked %d tensors, want at least 130", checked)
			}
			checkRefMisc(t, obj)
		})
	}
}

// checkRefMisc checks make_ref.py's non-tensor values.
func checkRefMisc(t *testing.T, obj any) {
	t.Helper()
	misc, err := lookup(obj, "misc")
	if err != nil {
		t.Fatal(err)
	}
	big70 := new(big.Int).Lsh(big.NewInt(1), 70)
	ints := NewDict()
	ints.Set(0, "a")
	ints.Set(7, "b")
	want := map[string]any{
		"size": Tuple{int64(2), int64(3)}, "tuple": Tuple{int64(1), "a", nil},
		"bytes": []byte{0, 255, 'a', 'b'}, "empty_bytes": []byte{}, "big": big70, "neg": int64(-1 << 40),
		"float": 0.1, "bool": true, "list": []any{int64(1), []any{int64(2), int64(3)}},
		"intkeys": ints, "unicode": "h\u00e9llo \u2713",
		"np_i64": int64(12345), "np_f32": 0.5, "np_f64": -2.5, "np_bool": true, "np_u8": int64(200),
	}
	m := misc.(*Dict)
	if m.Len() != len(want) {
		t.Errorf("misc has keys %v", m.Keys())
	}
	for k, w := range want {
		got, _ := m.Get(k)
		if !reflect.DeepEqual(got, w) {
			t.Errorf("misc[%s] = %#v, want %#v", k, got, w)
		}
	}
	// The same tensor pickled twice is one object in Go too.
	s0, _ := lookup(obj, "shared/0")
	s1, _ := lookup(obj, "shared/1")
	if s0 != s1 {
		t.Error("shared/0 and shared/1 are different objects; the pickle memo refers to one tensor")
	}
	sd, _ := lookup(obj, "state_dict")
	d := sd.(*Dict)
	if !d.Ordered || d.Attrs == nil {
		t.Fatalf("state_dict: Ordered=%v Attrs=%v, want an OrderedDict with _metadata", d.Ordered, d.Attrs)
	}
	md, err := d.Attrs.Dict("_metadata")
	if err != nil {
		t.Fatal(err)
	}
	bn1, err := md.Dict("bn1")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := bn1.Get("version"); v != int64(2) {
		t.Errorf("_metadata[bn1][version] = %v, want 2 (BatchNorm's _version)", v)
	}
}

// TestPythonGoPython reads torch.save's file, writes it back with Write and has
// torch.load compare both (testdata/compare.py).
func TestPythonGoPython(t *testing.T) {
	dir := pythonRefs(t)
	obj, err := ReadFile(filepath.Join(dir, "ref_legacy.pth"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "back.pth")
	if err := WriteFile(out, obj); err != nil {
		t.Fatal(err)
	}
	got := runPython(t, "testdata/compare.py", filepath.Join(dir, "ref_zip.pth"), out)
	if !strings.HasPrefix(got, "OK ") {
		t.Fatalf("compare.py: %s", got)
	}
}

// TestLoadLayouts loads a bare state_dict (torchvision's resnet*.pth
// layout) and the nested {"state_dict": ...} layout through Load.
func TestLoadLayouts(t *testing.T) {
	dir := pythonRefs(t)
	c, err := Load(filepath.Join(dir, "ref_zip.pth"))
	if err != nil {
		t.Fatal(err)
	}
	if c.StateDict.Len() != 122 || c.Meta != nil || c.Optimizer != nil {
		t.Errorf("ref_zip.pth: %d state_dict entries, meta %v, optimizer %v; want resnet18's 122 and none",
			c.StateDict.Len(), c.Meta, c.Optimizer)
	}
	if got := c.Extra.StringKeys(); !reflect.DeepEqual(got, []string{"views", "dtypes", "scalar", "empty", "param", "shared", "misc"}) {
		t.Errorf("Extra keys %v", got)
	}
	// A bare state_dict, as torchvision publishes.
	bare := filepath.Join(t.TempDir(), "resnet.pth")
	if err := WriteFile(bare, c.StateDict); err != nil {
		t.Fatal(err)
	}
	b, err := Load(bare)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.StateDict.StringKeys(), c.StateDict.StringKeys()) || b.Extra != nil {
		t.Errorf("bare state_dict keys differ or Extra set: %v", b.Extra)
	}
	w, _ := c.StateDict.Tensor("conv1.weight")
	g, _ := b.StateDict.Tensor("conv1.weight")
	if !bytes.Equal(w.Data, g.Data) || !reflect.DeepEqual(w.Shape, []int64{64, 3, 7, 7}) {
		t.Error("conv1.weight changed through a bare state_dict round trip")
	}
}
