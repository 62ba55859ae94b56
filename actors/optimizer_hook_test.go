package actors

import "testing"

func TestAccumulationDivisor(t *testing.T) {
	for _, c := range []struct{ interval, iter, max, want int }{
		{1, 5, 10, 1},
		{4, 0, 10, 4},
		{4, 7, 10, 4},
		{4, 8, 10, 2}, // tail: iterations 8 and 9 make the last update
		{4, 9, 10, 2},
		{5, 9, 10, 5}, // a multiple: no tail
		{3, 9, 10, 1},
	} {
		if got := accumulationDivisor(c.interval, c.iter, c.max); got != c.want {
			t.Errorf("accumulationDivisor(%d, %d, %d) = %d, want %d", c.interval, c.iter, c.max, got, c.want)
		}
	}
}

func TestFrozenAt(t *testing.T) {
	cfg := map[string]int{"prototypes": 3, "neck": 1}
	for _, c := range []struct {
		iter  int
		name  string
		want  bool
		isNil bool
	}{
		{0, "head.prototypes.weight", true, false},
		{0, "neck.mlp.0.weight", true, false},
		{0, "backbone.conv1.weight", false, false},
		{1, "neck.mlp.0.weight", false, false},
		{2, "head.prototypes.weight", true, false},
		{3, "head.prototypes.weight", false, true},
	} {
		f := frozenAt(cfg, c.iter)
		if (f == nil) != c.isNil {
			t.Fatalf("iter %d: nil predicate = %v, want %v", c.iter, f == nil, c.isNil)
		}
		if f != nil && f(c.name) != c.want {
			t.Errorf("iter %d %s frozen = %v, want %v", c.iter, c.name, f(c.name), c.want)
		}
	}
}
