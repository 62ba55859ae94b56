package model

import (
	"fmt"
	"sort"
)

// cfgReader reads typed keys from a config map, remembers the first error
// (naming prefix.key) and which keys were read, so leftovers are reported.
type cfgReader struct {
	prefix string
	m      map[string]any
	used   map[string]bool
	err    error
}

func (c *cfgReader) failf(key, format string, a ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%s.%s: %s", c.prefix, key, fmt.Sprintf(format, a...))
	}
}

func (c *cfgReader) get(key string) (any, bool) {
	c.used[key] = true
	v, ok := c.m[key]
	if ok && v == nil { // YAML null / Python None = not given
		return nil, false
	}
	return v, ok
}

func (c *cfgReader) str(key, def string) string {
	v, ok := c.get(key)
	if !ok {
		return def
	}
	s, isStr := v.(string)
	if !isStr {
		c.failf(key, "want a string, got %T", v)
	}
	return s
}

func (c *cfgReader) boolean(key string, def bool) bool {
	v, ok := c.get(key)
	if !ok {
		return def
	}
	b, isBool := v.(bool)
	if !isBool {
		c.failf(key, "want true or false, got %T", v)
	}
	return b
}

func (c *cfgReader) optNum(key string) (float64, bool) {
	v, ok := c.get(key)
	if !ok {
		return 0, false
	}
	f, err := toFloat(v)
	if err != nil {
		c.failf(key, "%v", err)
	}
	return f, true
}

func (c *cfgReader) num(key string, def float64) float64 {
	if f, ok := c.optNum(key); ok {
		return f
	}
	return def
}

func (c *cfgReader) integer(key string, def int) int {
	v, ok := c.get(key)
	if !ok {
		return def
	}
	n, isInt := toInt(v)
	if !isInt {
		c.failf(key, "want an integer, got %v", v)
	}
	return n
}

// steps reads mmcv Step's `step`: a positive int or a list of them.
func (c *cfgReader) steps(key string) ([]int, bool, error) {
	v, ok := c.get(key)
	if !ok {
		return nil, false, fmt.Errorf("%s.%s: required for Step", c.prefix, key)
	}
	if n, isInt := toInt(v); isInt {
		if n <= 0 {
			return nil, false, fmt.Errorf("%s.%s: %d must be positive", c.prefix, key, n)
		}
		return []int{n}, false, nil
	}
	list, isList := asInts(v)
	if !isList {
		return nil, false, fmt.Errorf("%s.%s: want an int or a list of ints, got %v", c.prefix, key, v)
	}
	for _, s := range list {
		if s <= 0 {
			return nil, false, fmt.Errorf("%s.%s: milestone %d must be positive", c.prefix, key, s)
		}
	}
	return list, true, nil
}

func (c *cfgReader) unused() error {
	var extra []string
	for k := range c.m {
		if !c.used[k] {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	sort.Strings(extra)
	return fmt.Errorf("%s.%s: unknown key", c.prefix, extra[0])
}
