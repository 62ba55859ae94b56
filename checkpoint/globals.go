package checkpoint

import (
	"errors"
	"fmt"
	"strings"
)

// maxExpandedBytes bounds the copy of a view with more elements than its storage.
const maxExpandedBytes = 1 << 28

// storageRef is a storage named by a persistent id; its bytes are loaded after
// the pickle, so tensors referring to it are completed then.
type storageRef struct {
	key   string
	dtype DType
	numel int64
	data  []byte // filled by the loader

	// A legacy-format view into root, offset and numel in elements.
	root   *storageRef
	offset int64
}

// pendingTensor is a tensor whose data is gathered once its storage is loaded.
type pendingTensor struct {
	t      *Tensor
	s      *storageRef
	offset int64
	stride []int64
}

// loadContext holds what one Read resolves: storages by key and tensors to fill.
type loadContext struct {
	storages map[string]*storageRef
	views    map[string]*storageRef // legacy format only
	pending  []pendingTensor
}

// moduleAliases maps module paths that moved between torch versions, as torch.load does.
var moduleAliases = map[string]string{
	"torch.tensor": "torch._tensor",
	"builtins":     "__builtin__",
}

// resolveGlobal turns a GLOBAL into an allowed callable or class; anything else
// is an error naming it, since running arbitrary globals is what makes pickle unsafe.
func resolveGlobal(g pyGlobal) (pyGlobal, error) {
	if m, ok := moduleAliases[g.module]; ok {
		g.module = m
	}
	switch g.String() {
	case "collections.OrderedDict",
		"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
		"torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
		"torch._tensor._rebuild_from_type_v2", "torch._tensor.Tensor", "torch.Tensor",
		"torch.nn.parameter.Parameter", "torch.Size",
		"_codecs.encode", "__builtin__.bytes", "__builtin__.bytearray",
		"numpy.dtype", "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar":
		return g, nil
	}
	if g.module == "torch" && strings.HasSuffix(g.name, "Storage") {
		if _, ok := dtypeOfStorage(g.name); ok {
			return g, nil
		}
	}
	return g, fmt.Errorf("pickle global %s is not supported (only tensors, storages, OrderedDict, torch.Size, numpy scalars and plain Python data are)", g)
}

func argInts(v any, what string) ([]int64, error) {
	t, ok := v.(Tuple)
	if !ok {
		if l, isList := v.(*pyList); isList {
			t = l.items
		} else {
			return nil, fmt.Errorf("%s is %s, not a tuple", what, typeName(v))
		}
	}
	out := make([]int64, len(t))
	for i, e := range t {
		n, ok := e.(int64)
		if !ok {
			return nil, fmt.Errorf("%s[%d] is %s, not an int", what, i, typeName(e))
		}
		out[i] = n
	}
	return out, nil
}

// call runs an allow-listed callable with args.
func (c *loadContext) call(g pyGlobal, args Tuple) (any, error) {
	g, err := resolveGlobal(g)
	if err != nil {
		return nil, err
	}
	switch g.String() {
	case "collections.OrderedDict":
		d := NewOrderedDict()
		if len(args) == 0 {
			return d, nil
		}
		return nil, errors.New("OrderedDict with arguments not supported")
	case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2":
		return c.rebuildTensor(args)
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if len(args) < 2 {
			return nil, fmt.Errorf("%d arguments, want at least 2", len(args))
		}
		t, ok := args[0].(*Tensor)
		if !ok {
			return nil, fmt.Errorf("data is %s, not a tensor", typeName(args[0]))
		}
		rg, ok := args[1].(bool)
		if !ok {
			return nil, fmt.Errorf("requires_grad is %s, not a bool", typeName(args[1]))
		}
		t.RequiresGrad = rg
		return t, nil
	case "torch._tensor._rebuild_from_type_v2":
		// (func, type, args, state): torch uses it for tensor subclasses; plain data
		// is func(*args) whatever the type.
		if len(args) != 4 {
			return nil, fmt.Errorf("%d arguments, want 4", len(args))
		}
		fn, ok := args[0].(pyGlobal)
		inner, ok2 := args[2].(Tuple)
		if !ok || !ok2 {
			return nil, errors.New("malformed arguments")
		}
		return c.call(fn, inner)
	case "torch.Size":
		if len(args) != 1 {
			return nil, fmt.Errorf("%d arguments, want 1", len(args))
		}
		dims, err := argInts(args[0], "size")
		if err != nil {
			return nil, err
		}
		out := make(Tuple, len(dims))
		for i, d := range dims {
			out[i] = d
		}
		return out, nil
	case "_codecs.encode":
		if len(args) != 2 {
			return nil, fmt.Errorf("%d arguments, want 2", len(args))
		}
		s, ok1 := args[0].(string)
		enc, ok2 := args[1].(string)
		if !ok1 || !ok2 || (enc != "latin1" && enc != "latin-1") {
			return nil, errors.New("only encode(str, 'latin1') is supported")
		}
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xff {
				return nil, fmt.Errorf("rune %U is not latin-1", r)
			}
			b = append(b, byte(r))
		}
		return b, nil
	case "numpy.dtype":
		return numpyDType(args)
	case "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar":
		return numpyScalar(args)
	case "__builtin__.bytes", "__builtin__.bytearray":
		if len(args) == 0 {
			return []byte{}, nil
		}
		return nil, errors.New("only bytes() without arguments is supported")
	}
	if g.module == "torch" {
		d, _ := dtypeOfStorage(g.name)
		return nil, fmt.Errorf("storage class %s called directly (dtype %s)", g, d)
	}
	return nil, errors.New("cannot be called")
}

// rebuildTensor implements _rebuild_tensor(_v2)(storage, offset, size, stride, ...).
func (c *loadContext) rebuildTensor(args Tuple) (any, error) {
	if len(args) < 4 {
		return nil, fmt.Errorf("%d arguments, want at least 4", len(args))
	}
	s, ok := args[0].(*storageRef)
	if !ok {
		return nil, fmt.Errorf("storage is %s", typeName(args[0]))
	}
	offset, ok := args[1].(int64)
	if !ok {
		return nil, fmt.Errorf("storage offset is %s, not an int", typeName(args[1]))
	}
	shape, err := argInts(args[2], "size")
	if err != nil {
		return nil, err
	}
	stride, err := argInts(args[3], "stride")
	if err != nil {
		return nil, err
	}
	span, err := storageSpan(offset, shape, stride)
	if err != nil {
		return nil, err
	}
	if span > s.numel {
		return nil, fmt.Errorf("view (offset %d, size %v, stride %v) reaches element %d of storage %s with %d elements",
			offset, shape, stride, span-1, s.key, s.numel)
	}
	n, _ := numel(shape)
	// An expanded view (stride 0) can have far more elements than its storage;
	// materialising it is refused beyond 256 MiB rather than exhausting memory.
	if n > s.numel && n > maxExpandedBytes/int64(s.dtype.Size()) {
		return nil, fmt.Errorf("expanded view of size %v is too large to materialise", shape)
	}
	t := &Tensor{DType: s.dtype, Shape: shape}
	if len(args) >= 5 {
		if rg, ok := args[4].(bool); ok {
			t.RequiresGrad = rg
		}
	}
	c.pending = append(c.pending, pendingTensor{t: t, s: s, offset: offset, stride: stride})
	return t, nil
}

// persistentLoad resolves ('storage', type, key, location, numel[, view]) ids.
func (c *loadContext) persistentLoad(pid any) (any, error) {
	t, ok := pid.(Tuple)
	if !ok || len(t) < 5 {
		return nil, fmt.Errorf("persistent id %s is not a storage tuple", typeName(pid))
	}
	if kind, _ := asString(t[0]); kind != "storage" {
		return nil, fmt.Errorf("persistent id of kind %v not supported", t[0])
	}
	g, ok := t[1].(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("storage type is %s", typeName(t[1]))
	}
	if _, err := resolveGlobal(g); err != nil {
		return nil, err
	}
	dtype, ok := dtypeOfStorage(g.name)
	if !ok || g.module != "torch" {
		return nil, fmt.Errorf("unknown storage type %s", g)
	}
	key, ok := asString(t[2])
	if !ok {
		return nil, fmt.Errorf("storage key is %s", typeName(t[2]))
	}
	n, ok := t[4].(int64)
	if !ok || n < 0 || n > (1<<62)/int64(dtype.Size()) {
		return nil, fmt.Errorf("storage %s: bad element count %v", key, t[4])
	}
	s, seen := c.storages[key]
	if !seen {
		s = &storageRef{key: key, dtype: dtype, numel: n}
		c.storages[key] = s
	} else if s.dtype != dtype {
		return nil, fmt.Errorf("storage %s used as both %s and %s", key, s.dtype, dtype)
	}
	if len(t) >= 6 && t[5] != nil {
		return c.legacyView(s, t[5])
	}
	return s, nil
}

// legacyView resolves the legacy format's (view_key, offset, size) storage views.
func (c *loadContext) legacyView(root *storageRef, meta any) (any, error) {
	v, ok := meta.(Tuple)
	if !ok || len(v) != 3 {
		return nil, fmt.Errorf("storage %s: bad view metadata %s", root.key, typeName(meta))
	}
	key, ok1 := asString(v[0])
	off, ok2 := v[1].(int64)
	n, ok3 := v[2].(int64)
	if !ok1 || !ok2 || !ok3 || off < 0 || n < 0 || off > root.numel || n > root.numel-off {
		return nil, fmt.Errorf("storage %s: bad view %v", root.key, v)
	}
	if s, ok := c.views[key]; ok {
		return s, nil
	}
	s := &storageRef{key: key, dtype: root.dtype, numel: n, root: root, offset: off}
	c.views[key] = s
	return s, nil
}

func asString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case []byte:
		return string(s), true
	}
	return "", false
}

// bytesOf returns the loaded bytes of s, resolving a legacy view into its root.
func (s *storageRef) bytesOf() ([]byte, error) {
	if s.root != nil {
		rb, err := s.root.bytesOf()
		if err != nil {
			return nil, err
		}
		es := int64(s.dtype.Size())
		return rb[s.offset*es : (s.offset+s.numel)*es], nil
	}
	if s.data == nil && s.numel > 0 {
		return nil, fmt.Errorf("storage %s has no data", s.key)
	}
	return s.data, nil
}

// complete gathers every pending tensor's data from its loaded storage.
func (c *loadContext) complete() error {
	for _, p := range c.pending {
		data, err := p.s.bytesOf()
		if err != nil {
			return err
		}
		p.t.Data = gather(data, p.s.dtype.Size(), p.offset, p.t.Shape, p.stride)
	}
	return nil
}
