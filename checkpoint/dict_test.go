package checkpoint

import (
	"math/big"
	"reflect"
	"testing"
)

func TestDictOrderAndKeys(t *testing.T) {
	d := NewDict()
	d.Set("b", 1)
	d.Set("a", 2)
	d.Set(3, "int")
	d.Set(Tuple{int64(1), "x"}, "tuple")
	d.Set("b", 10) // replacing keeps the first position, as in Python
	if got, want := d.Keys(), []any{"b", "a", int64(3), Tuple{int64(1), "x"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Keys() = %#v, want %#v", got, want)
	}
	if got := d.StringKeys(); !reflect.DeepEqual(got, []string{"b", "a"}) {
		t.Errorf("StringKeys() = %v", got)
	}
	for _, tc := range []struct {
		key  any
		want any
		ok   bool
	}{
		{"b", 10, true},
		{3, "int", true},        // int finds the int64 key
		{int64(3), "int", true}, //
		{3.0, "int", true},      // Python: 3 == 3.0
		{Tuple{1, "x"}, "tuple", true},
		{"c", nil, false},
		{[]any{1}, nil, false}, // unhashable: not found rather than a panic
	} {
		got, ok := d.Get(tc.key)
		if ok != tc.ok || got != tc.want {
			t.Errorf("Get(%#v) = %v, %v; want %v, %v", tc.key, got, ok, tc.want, tc.ok)
		}
	}
	if !d.Delete("a") || d.Delete("a") || d.Len() != 3 {
		t.Errorf("Delete: len %d", d.Len())
	}
	if v, ok := d.Get(3); !ok || v != "int" {
		t.Error("Get after Delete lost an entry")
	}
	var nilDict *Dict
	if _, ok := nilDict.Get("x"); ok || nilDict.Len() != 0 {
		t.Error("nil *Dict is not empty")
	}
}

func TestDictSetPanicsOnUnhashable(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("Set with a list key did not panic")
		}
	}()
	NewDict().Set([]any{1}, 2)
}

func TestDictAccessors(t *testing.T) {
	x, _ := FromFloat32([]int64{1}, []float32{1})
	d := NewOrderedDict()
	d.Set("w", x)
	d.Set("sub", NewDict())
	d.Set("n", big.NewInt(1))
	if got, err := d.Tensor("w"); err != nil || got != x {
		t.Errorf("Tensor(w) = %v, %v", got, err)
	}
	if _, err := d.Tensor("sub"); err == nil {
		t.Error("Tensor(sub) did not fail")
	}
	if _, err := d.Dict("missing"); err == nil {
		t.Error("Dict(missing) did not fail")
	}
	if _, err := d.Dict("sub"); err != nil {
		t.Error(err)
	}
}
