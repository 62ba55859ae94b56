package tree

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Clone deep-copies a tree value. Values of other Go types are returned unchanged.
func Clone(v any) any {
	switch x := v.(type) {
	case *Map:
		return x.Clone()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Clone(e)
		}
		return out
	default:
		return v
	}
}

// Equal reports deep equality of two tree values. Map key order is ignored, list order is
// not; an int and a float64 are equal only if both are the same kind (1 ≠ 1.0), as a config
// distinguishes them.
func Equal(a, b any) bool {
	switch x := a.(type) {
	case *Map:
		y, ok := b.(*Map)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, k := range x.keys {
			yv, ok := y.vals[k]
			if !ok || !Equal(x.vals[k], yv) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !Equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || (math.IsNaN(x) && math.IsNaN(y)))
	default:
		return a == b
	}
}

// Diff returns a human-readable description of the first difference between a and b at
// path (empty when Equal). It exists for test failure messages.
func Diff(path string, a, b any) string {
	switch x := a.(type) {
	case *Map:
		y, ok := b.(*Map)
		if !ok {
			return fmt.Sprintf("%s: map vs %s", orRoot(path), KindOf(b))
		}
		for _, k := range x.keys {
			yv, ok := y.vals[k]
			if !ok {
				return fmt.Sprintf("%s: only on the left", Join(path, k))
			}
			if d := Diff(Join(path, k), x.vals[k], yv); d != "" {
				return d
			}
		}
		for _, k := range y.keys {
			if !x.Has(k) {
				return fmt.Sprintf("%s: only on the right", Join(path, k))
			}
		}
		return ""
	case []any:
		y, ok := b.([]any)
		if !ok {
			return fmt.Sprintf("%s: list vs %s", orRoot(path), KindOf(b))
		}
		if len(x) != len(y) {
			return fmt.Sprintf("%s: list length %d vs %d", orRoot(path), len(x), len(y))
		}
		for i := range x {
			if d := Diff(Join(path, strconv.Itoa(i)), x[i], y[i]); d != "" {
				return d
			}
		}
		return ""
	default:
		if !Equal(a, b) {
			return fmt.Sprintf("%s: %s vs %s", orRoot(path), Repr(a), Repr(b))
		}
		return ""
	}
}

func orRoot(p string) string {
	if p == "" {
		return "<root>"
	}
	return p
}

// Join appends a key to a dotted path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// KindOf names the kind of a tree value for error messages.
func KindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case *Map:
		return "map"
	case []any:
		return "list"
	case string:
		return "string"
	case int:
		return "int"
	case float64:
		return "float"
	case bool:
		return "bool"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// FormatFloat writes f so that YAML, JSON and Python all read it back as a float
// (always with a '.' or an exponent).
func FormatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case math.IsNaN(f):
		return ".nan"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// Repr renders a value compactly in Python-like syntax for messages.
func Repr(v any) string {
	var b strings.Builder
	repr(&b, v)
	return b.String()
}

func repr(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		s := FormatFloat(x)
		switch s {
		case ".inf":
			s = "float('inf')"
		case "-.inf":
			s = "float('-inf')"
		case ".nan":
			s = "float('nan')"
		}
		b.WriteString(s)
	case string:
		b.WriteString(strconv.Quote(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			repr(b, e)
		}
		b.WriteByte(']')
	case *Map:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(k))
			b.WriteString(": ")
			repr(b, x.vals[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprintf(b, "%v", x)
	}
}

// ToPlain converts a tree value into plain Go values (map[string]any, []any, scalars) for
// packages that take generic maps; key order is lost.
func ToPlain(v any) any {
	switch x := v.(type) {
	case *Map:
		out := make(map[string]any, x.Len())
		x.Each(func(k string, e any) bool { out[k] = ToPlain(e); return true })
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = ToPlain(e)
		}
		return out
	default:
		return v
	}
}
