package checkpoint

import (
	"fmt"
	"iter"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// Tuple is a Python tuple; a plain []any is a Python list.
type Tuple []any

// Dict is an insertion-ordered Python dict. With Ordered set it pickles as
// collections.OrderedDict (what state_dict() returns), otherwise as a dict.
//
// Keys are strings, integers (stored as int64), bools, float64, nil or Tuples of
// those; Python allows other hashable keys, which torch checkpoints do not use.
// Attrs holds an OrderedDict's instance attributes, such as the "_metadata" that
// state_dict() attaches; nil when there are none.
type Dict struct {
	Ordered bool
	Attrs   *Dict

	keys  []any
	vals  []any
	index map[string]int
}

// NewDict returns an empty plain dict.
func NewDict() *Dict { return &Dict{} }

// NewOrderedDict returns an empty OrderedDict.
func NewOrderedDict() *Dict { return &Dict{Ordered: true} }

// maxKeyNodes bounds the size of one dict key, so that a tuple key built from
// repeated references cannot take exponential time to hash.
const maxKeyNodes = 1 << 16

// hashKey is the identity of a key, so that 1 and int64(1) are the same key and
// a Tuple key can be looked up.
func hashKey(k any) (string, error) {
	budget := maxKeyNodes
	return hashKeyN(k, &budget)
}

func hashKeyN(k any, budget *int) (string, error) {
	if *budget--; *budget < 0 {
		return "", fmt.Errorf("dict key has more than %d elements", maxKeyNodes)
	}
	switch v := k.(type) {
	case nil:
		return "N", nil
	case string:
		return "s" + v, nil
	case bool:
		if v {
			return "i1", nil // Python: True == 1
		}
		return "i0", nil
	case int:
		return "i" + strconv.FormatInt(int64(v), 10), nil
	case int32:
		return "i" + strconv.FormatInt(int64(v), 10), nil
	case int64:
		return "i" + strconv.FormatInt(v, 10), nil
	case *big.Int:
		return "i" + v.String(), nil
	case float64:
		if math.Abs(v) < 1<<62 && v == math.Trunc(v) {
			return "i" + strconv.FormatInt(int64(v), 10), nil // Python: 3.0 == 3
		}
		return "f" + strconv.FormatFloat(v, 'g', -1, 64), nil
	case Tuple:
		parts := make([]string, len(v))
		for i, e := range v {
			h, err := hashKeyN(e, budget)
			if err != nil {
				return "", err
			}
			parts[i] = strconv.Quote(h)
		}
		return "t(" + strings.Join(parts, ",") + ")", nil
	}
	return "", fmt.Errorf("unhashable dict key of type %T", k)
}

// normKey stores Go integer kinds as int64, as Read returns them.
func normKey(k any) any {
	switch v := k.(type) {
	case int:
		return int64(v)
	case int32:
		return int64(v)
	}
	return k
}

// set inserts or replaces key, keeping the first insertion's position as Python does.
func (d *Dict) set(key, value any) error {
	h, err := hashKey(key)
	if err != nil {
		return err
	}
	if d.index == nil {
		d.index = make(map[string]int, len(d.keys))
		for i, k := range d.keys {
			kh, _ := hashKey(k)
			d.index[kh] = i
		}
	}
	if i, ok := d.index[h]; ok {
		d.vals[i] = value
		return nil
	}
	d.index[h] = len(d.keys)
	d.keys = append(d.keys, normKey(key))
	d.vals = append(d.vals, value)
	return nil
}

// Set inserts or replaces key. It panics if key is not one of the key types Dict
// documents, a programming error.
func (d *Dict) Set(key, value any) {
	if err := d.set(key, value); err != nil {
		panic("checkpoint: Dict.Set: " + err.Error())
	}
}

// Get returns the value of key and whether it is present.
func (d *Dict) Get(key any) (any, bool) {
	if d == nil {
		return nil, false
	}
	h, err := hashKey(key)
	if err != nil {
		return nil, false
	}
	if d.index != nil {
		i, ok := d.index[h]
		if !ok {
			return nil, false
		}
		return d.vals[i], true
	}
	for i, k := range d.keys {
		if kh, _ := hashKey(k); kh == h {
			return d.vals[i], true
		}
	}
	return nil, false
}

// Delete removes key and reports whether it was present.
func (d *Dict) Delete(key any) bool {
	h, err := hashKey(key)
	if err != nil {
		return false
	}
	for i, k := range d.keys {
		if kh, _ := hashKey(k); kh == h {
			d.keys = append(d.keys[:i], d.keys[i+1:]...)
			d.vals = append(d.vals[:i], d.vals[i+1:]...)
			d.index = nil
			return true
		}
	}
	return false
}

// Len is the number of entries.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.keys)
}

// Keys returns the keys in insertion order.
func (d *Dict) Keys() []any { return append([]any(nil), d.keys...) }

// StringKeys returns the string keys in insertion order, skipping other keys.
func (d *Dict) StringKeys() []string {
	var out []string
	for _, k := range d.keys {
		if s, ok := k.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// All iterates over the entries in insertion order.
func (d *Dict) All() iter.Seq2[any, any] {
	return func(yield func(any, any) bool) {
		for i := range d.Len() {
			if !yield(d.keys[i], d.vals[i]) {
				return
			}
		}
	}
}

// Tensor returns the tensor stored under key, or an error naming the key.
func (d *Dict) Tensor(key any) (*Tensor, error) {
	v, ok := d.Get(key)
	if !ok {
		return nil, fmt.Errorf("key %v: not present", key)
	}
	t, ok := v.(*Tensor)
	if !ok {
		return nil, fmt.Errorf("key %v: %T is not a tensor", key, v)
	}
	return t, nil
}

// Dict returns the dict stored under key, or an error naming the key.
func (d *Dict) Dict(key any) (*Dict, error) {
	v, ok := d.Get(key)
	if !ok {
		return nil, fmt.Errorf("key %v: not present", key)
	}
	sub, ok := v.(*Dict)
	if !ok {
		return nil, fmt.Errorf("key %v: %T is not a dict", key, v)
	}
	return sub, nil
}
