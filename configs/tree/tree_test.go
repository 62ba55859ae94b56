package tree

import (
	"math"
	"strings"
	"testing"
)

func TestMapOrderAndClone(t *testing.T) {
	m := FromPairs("b", 1, "a", []any{1, FromPairs("x", 2)})
	m.Set("c", 3)
	m.Set("b", 4) // keeps its position
	if got := strings.Join(m.Keys(), ","); got != "b,a,c" {
		t.Errorf("keys %s", got)
	}
	c := m.Clone()
	l, _ := c.Get("a")
	l.([]any)[1].(*Map).Set("x", 99)
	if v, _ := Lookup(m, "a.1.x"); v != 2 {
		t.Errorf("Clone shares storage: %v", v)
	}
	if !m.Delete("a") || m.Delete("a") || strings.Join(m.Keys(), ",") != "b,c" {
		t.Errorf("Delete: %v", m.Keys())
	}
}

func TestEqualAndDiff(t *testing.T) {
	cases := []struct {
		a, b any
		eq   bool
		diff string
	}{
		{1, 1.0, false, "<root>: 1 vs 1.0"},
		{FromPairs("a", 1, "b", 2), FromPairs("b", 2, "a", 1), true, ""},
		{[]any{1, 2}, []any{1}, false, "<root>: list length 2 vs 1"},
		{FromPairs("a", []any{FromPairs("x", "s")}), FromPairs("a", []any{FromPairs("x", "t")}), false, `a.0.x: "s" vs "t"`},
		{math.NaN(), math.NaN(), true, ""},
		{nil, nil, true, ""},
	}
	for _, c := range cases {
		if Equal(c.a, c.b) != c.eq {
			t.Errorf("Equal(%s, %s) = %v", Repr(c.a), Repr(c.b), !c.eq)
		}
		if d := Diff("", c.a, c.b); d != c.diff {
			t.Errorf("Diff = %q, want %q", d, c.diff)
		}
	}
}

func TestFormatFloatAndLookup(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 0.03: "0.03", 1e-6: "1e-06", 65536: "65536.0", 1.5e20: "1.5e+20", math.Inf(-1): "-.inf"} {
		if got := FormatFloat(f); got != want {
			t.Errorf("FormatFloat(%v) = %q, want %q", f, got, want)
		}
	}
	m := FromPairs("a", []any{FromPairs("b", true)})
	if _, err := Lookup(m, "a.1.b"); err == nil || err.Error() != `a: no index "1" in a list of 1` {
		t.Errorf("Lookup error %v", err)
	}
	if _, err := Lookup(m, "a.0.b.c"); err == nil || err.Error() != "a.0.b: cannot descend into bool" {
		t.Errorf("Lookup error %v", err)
	}
	if p := ToPlain(m).(map[string]any)["a"].([]any)[0].(map[string]any)["b"]; p != true {
		t.Errorf("ToPlain %v", p)
	}
}
