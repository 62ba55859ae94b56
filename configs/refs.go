package configs

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
	"strings"

	"github.com/flowssl/flowssl/configs/tree"
)

var (
	predefinedRe = regexp.MustCompile(`\{\{\s*(fileDirname|fileBasenameNoExtension|fileBasename|fileExtname)\s*\}\}`)
	baseRefRe    = regexp.MustCompile(`\{\{\s*_base_\.([\w.]+)\s*\}\}`)
)

// substitutePredefined replaces {{ fileDirname }}, {{ fileBasename }},
// {{ fileBasenameNoExtension }} and {{ fileExtname }} in the raw text (config.md §3).
func substitutePredefined(text string, src source) string {
	base := src.name[strings.LastIndexAny(src.name, `/\`)+1:]
	ext := src.ext()
	vals := map[string]string{
		"fileDirname":             src.dir(),
		"fileBasename":            base,
		"fileBasenameNoExtension": strings.TrimSuffix(base, ext),
		"fileExtname":             ext,
	}
	return predefinedRe.ReplaceAllStringFunc(text, func(m string) string {
		return vals[predefinedRe.FindStringSubmatch(m)[1]]
	})
}

// placeholderFor is the stand-in written into the text for a {{_base_.path}} reference. It
// is a valid Python identifier and YAML plain scalar, and deterministic.
func placeholderFor(path string) string {
	h := fnv.New32a()
	h.Write([]byte(path))
	return fmt.Sprintf("_base_ref_%08x_", h.Sum32())
}

// substituteBaseRefs rewrites {{_base_.a.b}} references into placeholders and returns the
// placeholder → dotted path table (config.md §4).
func substituteBaseRefs(text string) (string, map[string]string) {
	refs := map[string]string{}
	out := baseRefRe.ReplaceAllStringFunc(text, func(m string) string {
		p := baseRefRe.FindStringSubmatch(m)[1]
		ph := placeholderFor(p)
		refs[ph] = p
		return ph
	})
	return out, refs
}

// resolveBaseRefs replaces placeholders in v with values looked up in base. A string that
// is exactly a placeholder becomes (a copy of) the referenced value of any kind; a
// placeholder inside a longer string is replaced by the referenced scalar's text.
func resolveBaseRefs(v any, refs map[string]string, base *tree.Map, keyPath string) (any, error) {
	switch x := v.(type) {
	case *tree.Map:
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			r, err := resolveBaseRefs(e, refs, base, tree.Join(keyPath, k))
			if err != nil {
				return nil, err
			}
			x.Set(k, r)
		}
		return x, nil
	case []any:
		for i, e := range x {
			r, err := resolveBaseRefs(e, refs, base, tree.Join(keyPath, strconv.Itoa(i)))
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
		return x, nil
	case string:
		if !strings.Contains(x, "_base_ref_") {
			return x, nil
		}
		if p, ok := refs[x]; ok {
			val, err := lookupBase(base, p)
			if err != nil {
				return nil, fmt.Errorf("%s: {{_base_.%s}}: %w", keyPath, p, err)
			}
			return tree.Clone(val), nil
		}
		out := x
		for ph, p := range refs {
			if !strings.Contains(out, ph) {
				continue
			}
			val, err := lookupBase(base, p)
			if err != nil {
				return nil, fmt.Errorf("%s: {{_base_.%s}}: %w", keyPath, p, err)
			}
			s, ok := scalarText(val)
			if !ok {
				return nil, fmt.Errorf("%s: {{_base_.%s}} is a %s and cannot be embedded in a string", keyPath, p, tree.KindOf(val))
			}
			out = strings.ReplaceAll(out, ph, s)
		}
		return out, nil
	default:
		return v, nil
	}
}

// lookupBase follows dict keys only, like mmcv.
func lookupBase(base *tree.Map, p string) (any, error) {
	var cur any = base
	done := ""
	for _, part := range strings.Split(p, ".") {
		m, ok := cur.(*tree.Map)
		if !ok {
			return nil, fmt.Errorf("%s is a %s, not a mapping", done, tree.KindOf(cur))
		}
		v, ok := m.Get(part)
		if !ok {
			return nil, fmt.Errorf("key %q not found in the bases", tree.Join(done, part))
		}
		cur = v
		done = tree.Join(done, part)
	}
	return cur, nil
}

func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return tree.FormatFloat(x), true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	case nil:
		return "None", true
	}
	return "", false
}

// containsPlaceholder reports whether any string in v still holds a placeholder.
func containsPlaceholder(v any, refs map[string]string) (string, bool) {
	switch x := v.(type) {
	case *tree.Map:
		var found string
		var ok bool
		x.Each(func(k string, e any) bool {
			found, ok = containsPlaceholder(e, refs)
			return !ok
		})
		return found, ok
	case []any:
		for _, e := range x {
			if f, ok := containsPlaceholder(e, refs); ok {
				return f, true
			}
		}
	case string:
		for ph, p := range refs {
			if strings.Contains(x, ph) {
				return p, true
			}
		}
	}
	return "", false
}
