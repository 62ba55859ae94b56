package configs

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/flowssl/flowssl/configs/tree"
)

// Override is one --cfg-options item: a dotted key (digits index lists) and its value.
type Override struct {
	Key   string
	Value any
}

// ParseCfgOptions parses "key=value" items like mmcv's DictAction (config.md §6). A key
// given twice keeps its first position and its last value, as a Python dict would.
func ParseCfgOptions(items []string) ([]Override, error) {
	var out []Override
	pos := map[string]int{}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok {
			return nil, fmt.Errorf("--cfg-options %q: expected key=value", it)
		}
		if k == "" || strings.HasPrefix(k, ".") || strings.HasSuffix(k, ".") || strings.Contains(k, "..") {
			return nil, fmt.Errorf("--cfg-options %q: malformed key %q", it, k)
		}
		val := ParseOptionValue(v)
		if i, seen := pos[k]; seen {
			out[i].Value = val
			continue
		}
		pos[k] = len(out)
		out = append(out, Override{Key: k, Value: val})
	}
	return out, nil
}

// ParseOptionValue parses one --cfg-options value string: surrounding quotes are stripped
// and all spaces deleted; "(…)" is a tuple (a list here), "[…]" a list, a bare comma
// separates list items; a single item is an int, else a float, else true/false
// (any case), else None, else the string itself.
//
// Beyond mmcv (whose DictAction recurses forever on them), "dict(k=v,…)"
// is a mapping, so a hook list can be given on the command line:
// custom_hooks=[dict(type=EMAHook,momentum=0.001)].
func ParseOptionValue(s string) any {
	s = strings.Trim(s, `'"`)
	s = strings.ReplaceAll(s, " ", "")
	if strings.HasPrefix(s, "dict(") && strings.HasSuffix(s, ")") && nextTopLevelComma(s) == len(s) {
		return parseDictOption(s[len("dict(") : len(s)-1])
	}
	switch {
	case strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")"):
		s = s[1 : len(s)-1]
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		s = s[1 : len(s)-1]
	case !strings.Contains(s, ",") || nextTopLevelComma(s) == len(s):
		return parseScalarOption(s)
	}
	out := []any{}
	for len(s) > 0 {
		i := nextTopLevelComma(s)
		out = append(out, ParseOptionValue(s[:i]))
		if i >= len(s) {
			break
		}
		s = s[i+1:]
	}
	return out
}

// parseDictOption parses the inside of dict(…): comma-separated key=value
// items; an item without "=" is kept as a key with value None.
func parseDictOption(s string) *tree.Map {
	m := tree.NewMap()
	for len(s) > 0 {
		i := nextTopLevelComma(s)
		k, v, ok := strings.Cut(s[:i], "=")
		if ok {
			m.Set(strings.Trim(k, `'"`), ParseOptionValue(v))
		} else if k != "" {
			m.Set(strings.Trim(k, `'"`), nil)
		}
		if i >= len(s) {
			break
		}
		s = s[i+1:]
	}
	return m
}

func nextTopLevelComma(s string) int {
	depth := 0
	for i, c := range s {
		switch c {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case ',':
			if depth == 0 {
				return i
			}
		}
	}
	return len(s)
}

var (
	pyIntRe   = regexp.MustCompile(`^[+-]?(0(_?0)*|[1-9](_?[0-9])*)$`)
	pyFloatRe = regexp.MustCompile(`^[+-]?(([0-9](_?[0-9])*)?\.?[0-9](_?[0-9])*|[0-9](_?[0-9])*\.)([eE][+-]?[0-9](_?[0-9])*)?$`)
)

// parseScalarOption follows Python's int(), then float(), then the bool and None checks.
func parseScalarOption(s string) any {
	if pyIntRe.MatchString(s) {
		if n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64); err == nil {
			return int(n)
		}
	}
	if pyFloatRe.MatchString(s) {
		if f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64); err == nil || math.IsInf(f, 0) {
			return f
		}
	}
	switch strings.ToLower(strings.TrimLeft(s, "+-")) {
	case "inf", "infinity":
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1)
		}
		return math.Inf(1)
	case "nan":
		return math.NaN()
	}
	switch strings.ToLower(s) {
	case "true":
		return true
	case "false":
		return false
	}
	if s == "None" {
		return nil
	}
	return s
}

// ApplyOverrides merges overrides into m in place: dotted keys become nested mappings that
// are merged with the config.md §5 rules plus list indexing (§6); missing keys are created.
func ApplyOverrides(m *Map, overrides []Override) error {
	opt := tree.NewMap()
	for _, o := range overrides {
		parts := strings.Split(o.Key, ".")
		d := opt
		for _, p := range parts[:len(parts)-1] {
			next, ok := d.Get(p)
			nm, isMap := next.(*tree.Map)
			if !ok || !isMap {
				nm = tree.NewMap()
				d.Set(p, nm)
			}
			d = nm
		}
		d.Set(parts[len(parts)-1], tree.Clone(o.Value))
	}
	_, err := mergeInto(opt, m, "", true)
	return err
}
