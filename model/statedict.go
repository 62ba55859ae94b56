package model

import (
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"weak"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// Named is one state-dict entry. T is borrowed from the VarStore: never
// drop it. Buffer marks running statistics, counters and queues (PyTorch
// buffers); Alias names the key T was first registered under when this key
// is a second name for the same tensor (PyTorch attribute aliases such as
// SwAVNeck's bn / projection_neck.1).
type Named struct {
	Name   string
	T      *ts.Tensor
	Buffer bool
	Alias  string
}

// keyOrder records the registration order of a VarStore's variables,
// which gotch (a map) forgets, plus buffer flags and aliases.
type keyOrder struct {
	mu      sync.Mutex
	entries []Named // T unset: looked up at StateDict time
	index   map[string]int
}

// keyOrders is the registry of orders, keyed weakly so that a collected
// VarStore takes its entry with it.
var keyOrders = struct {
	sync.Mutex
	m map[weak.Pointer[nn.VarStore]]*keyOrder
}{m: map[weak.Pointer[nn.VarStore]]*keyOrder{}}

func orderOf(vs *nn.VarStore) *keyOrder {
	wp := weak.Make(vs)
	keyOrders.Lock()
	defer keyOrders.Unlock()
	o, ok := keyOrders.m[wp]
	if !ok {
		o = &keyOrder{index: map[string]int{}}
		keyOrders.m[wp] = o
		runtime.AddCleanup(vs, func(k weak.Pointer[nn.VarStore]) {
			keyOrders.Lock()
			delete(keyOrders.m, k)
			keyOrders.Unlock()
		}, wp)
	}
	return o
}

func (o *keyOrder) add(e Named) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, dup := o.index[e.Name]; dup {
		return fmt.Errorf("variable %q registered twice", e.Name)
	}
	o.index[e.Name] = len(o.entries)
	o.entries = append(o.entries, e)
	return nil
}

// varStoreOf returns the VarStore behind p. gotch v0.7.0 keeps it in an
// unexported field and offers no accessor; reading it through reflect is
// the one place this package leans on gotch's internals.
func varStoreOf(p *nn.Path) *nn.VarStore {
	f := reflect.ValueOf(p).Elem().FieldByName("varstore")
	if !f.IsValid() || f.Type() != reflect.TypeOf((*nn.VarStore)(nil)) {
		panic("model: gotch nn.Path has no varstore field; update varStoreOf for this gotch version")
	}
	return (*nn.VarStore)(f.UnsafePointer())
}

// pathName joins p's segments and name with "." as gotch does.
func pathName(p *nn.Path, name string) string {
	segs := append(append([]string(nil), p.Paths()...), name)
	if name == "" {
		segs = segs[:len(segs)-1]
	}
	return strings.Join(segs, nn.SEP)
}

// addParam registers an uninitialised trainable float32 parameter.
func addParam(p *nn.Path, name string, dims []int64) (*ts.Tensor, error) {
	full := pathName(p, name)
	if err := orderOf(varStoreOf(p)).add(Named{Name: full}); err != nil {
		return nil, err
	}
	z, err := ts.Zeros(dims, gotch.Float, p.Device())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", full, err)
	}
	defer z.MustDrop()
	t, err := p.Add(name, z, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", full, err)
	}
	return t, nil
}

// addBuffer registers a non-trainable buffer filled with fill.
func addBuffer(p *nn.Path, name string, dims []int64, dtype gotch.DType, fill float64) (*ts.Tensor, error) {
	full := pathName(p, name)
	if err := orderOf(varStoreOf(p)).add(Named{Name: full, Buffer: true}); err != nil {
		return nil, err
	}
	z, err := zerosAnyRank(dims, dtype, p.Device())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", full, err)
	}
	defer z.MustDrop()
	if fill != 0 {
		inPlace(z, func() { scalarOp(fill, func(s *ts.Scalar) *ts.Tensor { z.MustFill_(s); return nil }) })
	}
	t, err := p.Add(name, z, false, nn.WithVarType("buffer"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", full, err)
	}
	return t, nil
}

// zerosAnyRank is ts.Zeros that also makes 0-d tensors (gotch indexes
// size[0] and so cannot pass an empty shape).
func zerosAnyRank(dims []int64, dtype gotch.DType, dev gotch.Device) (*ts.Tensor, error) {
	if len(dims) > 0 {
		return ts.Zeros(dims, dtype, dev)
	}
	z, err := ts.Zeros([]int64{1}, dtype, dev)
	if err != nil {
		return nil, err
	}
	return z.Squeeze(true)
}

// AddBuffer registers a buffer (a queue, a pointer) under p so StateDict
// lists it in registration order; the VarStore owns the copy it returns.
// x is not dropped.
func AddBuffer(p *nn.Path, name string, x *ts.Tensor) (*ts.Tensor, error) {
	full := pathName(p, name)
	if err := orderOf(varStoreOf(p)).add(Named{Name: full, Buffer: true}); err != nil {
		return nil, err
	}
	return p.Add(name, x, false, nn.WithVarType("buffer"))
}

// AliasPrefix gives every variable registered so far under target (a
// dotted module path such as "encoder_q.0") a second state-dict name under
// alias ("backbone"), as PyTorch does for attribute aliases. The aliases
// are placed at this point of the registration order, carry no storage of
// their own and are skipped by NamedParameters.
func AliasPrefix(vs *nn.VarStore, alias, target string) error {
	o := orderOf(vs)
	o.mu.Lock()
	var add []Named
	for _, e := range o.entries {
		if e.Alias == "" && strings.HasPrefix(e.Name, target+".") {
			add = append(add, Named{Name: alias + e.Name[len(target):], Buffer: e.Buffer, Alias: e.Name})
		}
	}
	o.mu.Unlock()
	if len(add) == 0 {
		return fmt.Errorf("alias %q: no variables under %q", alias, target)
	}
	for _, e := range add {
		if err := o.add(e); err != nil {
			return fmt.Errorf("alias %q: %w", alias, err)
		}
	}
	return nil
}

// StateDict lists vs's variables under their PyTorch keys in registration
// order (aliases included); variables created outside this package follow,
// in natural name order. Tensors are borrowed from vs.
func StateDict(vs *nn.VarStore) []Named {
	vars := vs.Variables()
	o := orderOf(vs)
	o.mu.Lock()
	entries := append([]Named(nil), o.entries...)
	o.mu.Unlock()
	out := make([]Named, 0, len(vars)+8)
	seen := map[string]bool{}
	for _, e := range entries {
		src := e.Name
		if e.Alias != "" {
			src = e.Alias
		}
		v, ok := vars[src]
		if !ok {
			continue
		}
		t := v
		e.T = &t
		out = append(out, e)
		seen[e.Name] = true
	}
	var rest []string
	for name := range vars {
		if !seen[name] {
			rest = append(rest, name)
		}
	}
	sort.Slice(rest, func(i, j int) bool { return keyNaturalLess(rest[i], rest[j]) })
	for _, name := range rest {
		t := vars[name]
		req, _ := t.RequiresGrad()
		out = append(out, Named{Name: name, T: &t, Buffer: !req && strings.HasPrefix(t.DType().String(), "Int")})
	}
	return out
}

// NamedParameters is PyTorch's named_parameters(): the non-buffer entries
// of StateDict without aliases, frozen ones included.
func NamedParameters(vs *nn.VarStore) []Named {
	var out []Named
	for _, e := range StateDict(vs) {
		if !e.Buffer && e.Alias == "" {
			out = append(out, e)
		}
	}
	return out
}

// LoadStateDict copies named into vs's variables (dtype converted as
// torch's copy_). Every shape is checked before anything is copied; a
// mismatch is an error naming the key. missing are vs's keys absent from
// named, unexpected the reverse; with strict, either makes an error
// (after the copy, as torch does). An alias key loads its target.
func LoadStateDict(vs *nn.VarStore, named []Named, strict bool) (missing, unexpected []string, err error) {
	own := StateDict(vs)
	byName := make(map[string]*ts.Tensor, len(own))
	for _, e := range own {
		byName[e.Name] = e.T
	}
	in := make(map[string]bool, len(named))
	for _, e := range named {
		in[e.Name] = true
		dst, ok := byName[e.Name]
		if !ok {
			unexpected = append(unexpected, e.Name)
			continue
		}
		ds, err := dst.Size()
		if err != nil {
			return nil, nil, fmt.Errorf("state dict %s: %w", e.Name, err)
		}
		ss, err := e.T.Size()
		if err != nil {
			return nil, nil, fmt.Errorf("state dict %s: %w", e.Name, err)
		}
		if !equalDims(ds, ss) {
			return nil, nil, fmt.Errorf("state dict %s: shape %v does not match the model's %v", e.Name, ss, ds)
		}
	}
	for _, e := range own {
		if !in[e.Name] {
			missing = append(missing, e.Name)
		}
	}
	noGradDo(func() {
		for _, e := range named {
			if dst, ok := byName[e.Name]; ok {
				dst.Copy_(e.T)
			}
		}
	})
	if err := ts.TorchErr(); err != nil {
		return missing, unexpected, fmt.Errorf("state dict copy: %w", err)
	}
	if strict && (len(missing) > 0 || len(unexpected) > 0) {
		return missing, unexpected, fmt.Errorf("state dict: missing keys %v, unexpected keys %v", missing, unexpected)
	}
	return missing, unexpected, nil
}

func equalDims(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// keyNaturalLess orders dotted keys segment by segment, integers numerically.
func keyNaturalLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		ai, aerr := strconv.Atoi(as[i])
		bi, berr := strconv.Atoi(bs[i])
		if aerr == nil && berr == nil {
			return ai < bi
		}
		return as[i] < bs[i]
	}
	return len(as) < len(bs)
}
