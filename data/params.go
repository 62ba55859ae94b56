package data

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// params reads one source's config keys with their types checked.
type params struct {
	typ string
	m   map[string]any
}

func newParams(typ string, m map[string]any) *params { return &params{typ: typ, m: m} }

func (p *params) errf(key, format string, args ...any) error {
	return fmt.Errorf("data source %s: key %q: %s", p.typ, key, fmt.Sprintf(format, args...))
}

func (p *params) get(key string) (any, bool) {
	v, ok := p.m[key]
	if ok && v == nil {
		// YAML's null (Python's None) means "not given", as in MMSelfSup.
		return nil, false
	}
	return v, ok
}

func (p *params) str(key, def string) (string, error) {
	v, ok := p.get(key)
	if !ok {
		return def, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", p.errf(key, "want a string, got %T %v", v, v)
	}
	return s, nil
}

func (p *params) boolean(key string, def bool) (bool, error) {
	v, ok := p.get(key)
	if !ok {
		return def, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, p.errf(key, "want true or false, got %T %v", v, v)
	}
	return b, nil
}

// integer accepts every integer type and integral floats (JSON numbers).
func (p *params) integer(key string, def int) (int, error) {
	v, ok := p.get(key)
	if !ok {
		return def, nil
	}
	switch x := v.(type) {
	case int:
		return x, nil
	case int8:
		return int(x), nil
	case int16:
		return int(x), nil
	case int32:
		return int(x), nil
	case int64:
		return int(x), nil
	case uint:
		if uint64(x) <= math.MaxInt {
			return int(x), nil
		}
	case uint8:
		return int(x), nil
	case uint16:
		return int(x), nil
	case uint32:
		return int(x), nil
	case uint64:
		if x <= math.MaxInt {
			return int(x), nil
		}
	case float32:
		if float32(int(x)) == x {
			return int(x), nil
		}
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int(x), nil
		}
	}
	return 0, p.errf(key, "want an integer, got %T %v", v, v)
}

// strList accepts a string or a list of strings.
func (p *params) strList(key string) ([]string, bool, error) {
	v, ok := p.get(key)
	if !ok {
		return nil, false, nil
	}
	switch x := v.(type) {
	case string:
		return []string{x}, true, nil
	case []string:
		return x, true, nil
	case []any:
		out := make([]string, len(x))
		for i, e := range x {
			s, isStr := e.(string)
			if !isStr {
				return nil, false, p.errf(key, "element %d: want a string, got %T %v", i, e, e)
			}
			out[i] = s
		}
		return out, true, nil
	}
	return nil, false, p.errf(key, "want a string or a list of strings, got %T %v", v, v)
}

// checkKeys reports the first key (in sorted order) of the config that is
// neither "type" nor one of known.
func (p *params) checkKeys(known []string) error {
	ok := map[string]bool{"type": true}
	for _, k := range known {
		ok[k] = true
	}
	var unknown []string
	for k := range p.m {
		if !ok[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return p.errf(unknown[0], "unknown key (known: %s)", strings.Join(sorted, ", "))
}
