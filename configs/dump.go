package configs

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/flowssl/flowssl/configs/tree"
)

// Formats accepted by Dump.
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
	FormatPy   = "py"
)

// Dump renders the resolved config in format "yaml", "json" or "py"; each output loads
// back (LoadTree) to an equal tree.
func Dump(cfg *Config, format string) ([]byte, error) {
	if cfg == nil || cfg.Tree == nil {
		return nil, fmt.Errorf("dump: empty config")
	}
	return DumpTree(cfg.Tree, format)
}

// DumpTree renders a tree in format "yaml", "json" or "py".
func DumpTree(m *Map, format string) ([]byte, error) {
	switch strings.ToLower(strings.TrimPrefix(format, ".")) {
	case FormatYAML, "yml":
		return dumpYAML(m)
	case FormatJSON:
		var b bytes.Buffer
		if err := writeJSON(&b, m, ""); err != nil {
			return nil, fmt.Errorf("dump json: %w", err)
		}
		b.WriteByte('\n')
		return b.Bytes(), nil
	case FormatPy, "python":
		var b bytes.Buffer
		for _, k := range m.Keys() {
			v, _ := m.Get(k)
			if !pyIdentRe.MatchString(k) {
				return nil, fmt.Errorf("dump py: top-level key %q is not a Python identifier", k)
			}
			b.WriteString(k)
			b.WriteString(" = ")
			writePy(&b, v, 0)
			b.WriteByte('\n')
		}
		return b.Bytes(), nil
	}
	return nil, fmt.Errorf("dump: unknown format %q (want yaml, json or py)", format)
}

func dumpYAML(m *Map) ([]byte, error) {
	n := yamlNode(m)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, fmt.Errorf("dump yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("dump yaml: %w", err)
	}
	return b.Bytes(), nil
}

// yamlNode builds a node tree; lists of scalars are written in flow style ([a, b]).
func yamlNode(v any) *yaml.Node {
	switch x := v.(type) {
	case *tree.Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		if x.Len() == 0 {
			n.Style = yaml.FlowStyle
		}
		x.Each(func(k string, e any) bool {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, yamlNode(e))
			return true
		})
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		flow := true
		for _, e := range x {
			switch e.(type) {
			case *tree.Map:
				flow = false
			case []any:
				if !isScalarList(e.([]any)) {
					flow = false
				}
			}
			n.Content = append(n.Content, yamlNode(e))
		}
		if flow {
			n.Style = yaml.FlowStyle
		}
		return n
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(x)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: tree.FormatFloat(x)}
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v)}
}

func isScalarList(l []any) bool {
	for _, e := range l {
		switch e.(type) {
		case *tree.Map, []any:
			return false
		}
	}
	return true
}

func writeJSON(b *bytes.Buffer, v any, indent string) error {
	inner := indent + "  "
	switch x := v.(type) {
	case *tree.Map:
		if x.Len() == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{\n")
		for i, k := range x.Keys() {
			e, _ := x.Get(k)
			b.WriteString(inner)
			b.WriteString(jsonString(k))
			b.WriteString(": ")
			if err := writeJSON(b, e, inner); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if i < x.Len()-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return nil
		}
		if isScalarList(x) {
			b.WriteByte('[')
			for i, e := range x {
				if i > 0 {
					b.WriteString(", ")
				}
				if err := writeJSON(b, e, inner); err != nil {
					return err
				}
			}
			b.WriteByte(']')
			return nil
		}
		b.WriteString("[\n")
		for i, e := range x {
			b.WriteString(inner)
			if err := writeJSON(b, e, inner); err != nil {
				return fmt.Errorf("%d: %w", i, err)
			}
			if i < len(x)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return fmt.Errorf("%v has no JSON representation", x)
		}
		b.WriteString(tree.FormatFloat(x))
	case string:
		b.WriteString(jsonString(x))
	default:
		return fmt.Errorf("unsupported value %T", v)
	}
	return nil
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var pyIdentRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var pyKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true, "async": true,
	"await": true, "break": true, "class": true, "continue": true, "def": true, "del": true, "elif": true,
	"else": true, "except": true, "finally": true, "for": true, "from": true, "global": true, "if": true,
	"import": true, "in": true, "is": true, "lambda": true, "nonlocal": true, "not": true, "or": true,
	"pass": true, "raise": true, "return": true, "try": true, "while": true, "with": true, "yield": true,
}

const pyLineWidth = 79

// writePy writes v as a Python expression in mmcv's pretty_text spirit: dict(k=v) when all
// keys are identifiers, one element per line when the flat form is too long.
func writePy(b *bytes.Buffer, v any, indent int) {
	flat := pyFlat(v)
	if indent+len(flat) <= pyLineWidth || !isContainer(v) {
		b.WriteString(flat)
		return
	}
	pad := strings.Repeat(" ", indent+4)
	switch x := v.(type) {
	case *tree.Map:
		kw := kwKeys(x)
		if kw {
			b.WriteString("dict(\n")
		} else {
			b.WriteString("{\n")
		}
		for i, k := range x.Keys() {
			e, _ := x.Get(k)
			b.WriteString(pad)
			if kw {
				b.WriteString(k + "=")
			} else {
				b.WriteString(pyString(k) + ": ")
			}
			writePy(b, e, indent+4)
			if i < x.Len()-1 || !kw {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(strings.Repeat(" ", indent))
		if kw {
			b.WriteString(")")
		} else {
			b.WriteString("}")
		}
	case []any:
		b.WriteString("[\n")
		for _, e := range x {
			b.WriteString(pad)
			writePy(b, e, indent+4)
			b.WriteString(",\n")
		}
		b.WriteString(strings.Repeat(" ", indent) + "]")
	}
}

func isContainer(v any) bool {
	switch v.(type) {
	case *tree.Map, []any:
		return true
	}
	return false
}

func kwKeys(m *tree.Map) bool {
	for _, k := range m.Keys() {
		if !pyIdentRe.MatchString(k) || pyKeywords[k] {
			return false
		}
	}
	return true
}

func pyFlat(v any) string {
	switch x := v.(type) {
	case *tree.Map:
		parts := make([]string, 0, x.Len())
		kw := kwKeys(x)
		x.Each(func(k string, e any) bool {
			if kw {
				parts = append(parts, k+"="+pyFlat(e))
			} else {
				parts = append(parts, pyString(k)+": "+pyFlat(e))
			}
			return true
		})
		if kw {
			return "dict(" + strings.Join(parts, ", ") + ")"
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pyFlat(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case string:
		return pyString(x)
	case float64:
		switch {
		case math.IsInf(x, 1):
			return "float('inf')"
		case math.IsInf(x, -1):
			return "-float('inf')"
		case math.IsNaN(x):
			return "float('nan')"
		}
	}
	return tree.Repr(v)
}

// pyString quotes s as a Python str literal (single quotes, like repr()).
func pyString(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'':
			b.WriteString(`\'`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}
