package augment

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// params reads a transform's config map with typed getters. The first
// problem is kept and returned by finish, together with any key no getter
// asked for, so a misspelt parameter is an error rather than a silent
// default.
type params struct {
	m    map[string]any
	used map[string]bool
	err  error
}

func newParams(m map[string]any) *params {
	return &params{m: m, used: map[string]bool{"type": true}}
}

func (p *params) fail(key, format string, a ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("parameter %q: %s", key, fmt.Sprintf(format, a...))
	}
}

// get returns the raw value; a YAML null counts as absent.
func (p *params) get(key string) (any, bool) {
	p.used[key] = true
	v, ok := p.m[key]
	if !ok || v == nil {
		return nil, false
	}
	return v, true
}

func (p *params) has(key string) bool {
	v, ok := p.m[key]
	return ok && v != nil
}

func (p *params) finish() error {
	if p.err != nil {
		return p.err
	}
	var unknown []string
	for k := range p.m {
		if !p.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("unknown parameter %q", unknown[0])
	}
	return nil
}

// number converts the numeric types YAML and JSON decoders produce.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	}
	return 0, false
}

func describe(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("string %q", s)
	}
	return fmt.Sprintf("%T %v", v, v)
}

func (p *params) float(key string, def float64) float64 {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	f, ok := number(v)
	if !ok || math.IsNaN(f) {
		p.fail(key, "want a number, got %s", describe(v))
		return def
	}
	return f
}

func (p *params) int(key string, def int) int {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	f, ok := number(v)
	if !ok || f != math.Trunc(f) {
		p.fail(key, "want an integer, got %s", describe(v))
		return def
	}
	return int(f)
}

func (p *params) bool(key string, def bool) bool {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	b, ok := v.(bool)
	if !ok {
		p.fail(key, "want true or false, got %s", describe(v))
		return def
	}
	return b
}

func (p *params) str(key, def string) string {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	s, ok := v.(string)
	if !ok {
		p.fail(key, "want a string, got %s", describe(v))
		return def
	}
	return s
}

// floats reads a list of numbers; n > 0 requires exactly n of them.
func (p *params) floats(key string, n int, def []float64) []float64 {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	list, ok := v.([]any)
	if !ok {
		if fs, isF := v.([]float64); isF {
			list = make([]any, len(fs))
			for i, f := range fs {
				list[i] = f
			}
		} else {
			p.fail(key, "want a list of numbers, got %s", describe(v))
			return def
		}
	}
	if n > 0 && len(list) != n {
		p.fail(key, "want a list of %d numbers, got %d", n, len(list))
		return def
	}
	out := make([]float64, len(list))
	for i, e := range list {
		f, ok := number(e)
		if !ok {
			p.fail(key, "element %d: want a number, got %s", i, describe(e))
			return def
		}
		out[i] = f
	}
	return out
}

// pair reads [lo, hi] and requires lo <= hi.
func (p *params) pair(key string, def [2]float64) [2]float64 {
	f := p.floats(key, 2, def[:])
	if f[0] > f[1] {
		p.fail(key, "range [%g, %g] has lo > hi", f[0], f[1])
		return def
	}
	return [2]float64{f[0], f[1]}
}

// size reads torchvision's size argument: an int (square, or for Resize the
// shorter side) or [h, w]. square reports the int form.
func (p *params) size(key string) (h, w int, square bool) {
	v, ok := p.get(key)
	if !ok {
		p.fail(key, "missing")
		return 0, 0, false
	}
	if f, isNum := number(v); isNum {
		if f != math.Trunc(f) || f < 1 {
			p.fail(key, "want a positive integer or [h, w], got %s", describe(v))
			return 0, 0, false
		}
		return int(f), int(f), true
	}
	fs := p.floats(key, 0, nil)
	switch {
	case fs == nil:
		return 0, 0, false
	case len(fs) == 1 && fs[0] >= 1 && fs[0] == math.Trunc(fs[0]):
		return int(fs[0]), int(fs[0]), true
	case len(fs) == 2 && fs[0] >= 1 && fs[1] >= 1 && fs[0] == math.Trunc(fs[0]) && fs[1] == math.Trunc(fs[1]):
		return int(fs[0]), int(fs[1]), false
	}
	p.fail(key, "want a positive integer or [h, w], got %s", describe(v))
	return 0, 0, false
}

// prob reads a probability in [0, 1].
func (p *params) prob(key string, def float64) float64 {
	f := p.float(key, def)
	if f < 0 || f > 1 {
		p.fail(key, "probability %g outside [0, 1]", f)
		return def
	}
	return f
}

// interp reads torchvision's interpolation: PIL's integer code or a name.
func (p *params) interp(key string, def Interp) Interp {
	v, ok := p.get(key)
	if !ok {
		return def
	}
	if f, isNum := number(v); isNum {
		i := Interp(int(f))
		if f != math.Trunc(f) || !i.valid() {
			p.fail(key, "unsupported interpolation code %v (have 0 nearest, 1 lanczos, 2 bilinear, 3 bicubic)", v)
			return def
		}
		return i
	}
	if s, isStr := v.(string); isStr {
		if i, ok := interpByName(s); ok {
			return i
		}
	}
	p.fail(key, "unsupported interpolation %s (have nearest, bilinear, bicubic, lanczos)", describe(v))
	return def
}

func interpByName(s string) (Interp, bool) {
	switch strings.ToLower(s) {
	case "nearest":
		return InterpNearest, true
	case "bilinear", "linear":
		return InterpBilinear, true
	case "bicubic", "cubic":
		return InterpBicubic, true
	case "lanczos":
		return InterpLanczos, true
	}
	return 0, false
}

// cfgList reads a list of transform config maps.
func (p *params) cfgList(key string) []map[string]any {
	v, ok := p.get(key)
	if !ok {
		p.fail(key, "missing")
		return nil
	}
	cfgs, err := toCfgList(v)
	if err != nil {
		p.fail(key, "%v", err)
		return nil
	}
	return cfgs
}

// toCfgList accepts []any of maps (what YAML decoding gives) or
// []map[string]any.
func toCfgList(v any) ([]map[string]any, error) {
	switch x := v.(type) {
	case []map[string]any:
		return x, nil
	case []any:
		out := make([]map[string]any, len(x))
		for i, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("element %d: want a transform map, got %s", i, describe(e))
			}
			out[i] = m
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a list of transform maps, got %s", describe(v))
}
