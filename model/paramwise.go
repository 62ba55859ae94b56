package model

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// PatternOptions is one paramwise_options entry of an optimizer config:
// parameters whose name Python-re.search-matches Pattern get Options
// (lr_mult, weight_decay_mult, momentum, lars_exclude, …).
type PatternOptions struct {
	Pattern string
	Options map[string]any
}

// paramwiseEntry is a parsed entry. A nil opts marks a non-dict value,
// which MMSelfSup treats as a regex that never matches in practice
// (benchmark configs' norm_decay_mult=0.): kept so later entries keep
// their positions, never applied.
type paramwiseEntry struct {
	pattern string
	re      *regexp.Regexp
	opts    map[string]any
}

// numericOptions are the group keys a `<key>_mult` may scale.
var numericOptions = map[string]bool{"lr": true, "momentum": true, "weight_decay": true, "dampening": true, "eps": true, "eta": true}

// boolOptions are the flags an entry may set.
var boolOptions = map[string]bool{"nesterov": true, "amsgrad": true, "lars_exclude": true, "fix_lr": true}

// parseParamwise accepts the shapes a config loader can hand over: a
// map[string]any (Go maps lose YAML order, so entries are applied in
// sorted-pattern order; MMSelfSup applies them in insertion order, which
// only matters when two matching entries set the same key differently),
// an ordered []PatternOptions, or an ordered []any of single-key maps.
func parseParamwise(v any) ([]paramwiseEntry, error) {
	var raw []PatternOptions
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []PatternOptions:
		raw = x
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			raw = append(raw, PatternOptions{Pattern: k, Options: optionMap(x[k])})
		}
	case []any:
		for i, e := range x {
			m, ok := asStringMap(e)
			if !ok || len(m) != 1 {
				return nil, fmt.Errorf("optimizer.paramwise_options[%d]: want a single-key {pattern: options} map, got %T", i, e)
			}
			for k, o := range m {
				raw = append(raw, PatternOptions{Pattern: k, Options: optionMap(o)})
			}
		}
	default:
		return nil, fmt.Errorf("optimizer.paramwise_options: want a dict of pattern → options, got %T", v)
	}
	out := make([]paramwiseEntry, 0, len(raw))
	for _, po := range raw {
		re, err := compilePython(po.Pattern)
		if err != nil {
			return nil, fmt.Errorf("optimizer.paramwise_options[%q]: %w", po.Pattern, err)
		}
		if po.Options != nil {
			if err := checkOptions(po.Options); err != nil {
				return nil, fmt.Errorf("optimizer.paramwise_options[%q].%w", po.Pattern, err)
			}
		}
		out = append(out, paramwiseEntry{pattern: po.Pattern, re: re, opts: po.Options})
	}
	return out, nil
}

func optionMap(v any) map[string]any {
	m, ok := asStringMap(v)
	if !ok {
		return nil
	}
	return m
}

func checkOptions(opts map[string]any) error {
	for k, v := range opts {
		base, isMult := strings.CutSuffix(k, "_mult")
		switch {
		case isMult && numericOptions[base], numericOptions[k]:
			if _, err := toFloat(v); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		case boolOptions[k]:
			if _, err := toBool(v); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		case k == "betas":
			if fs, ok := asFloats(v); !ok || len(fs) != 2 {
				return fmt.Errorf("betas: want two numbers, got %v", v)
			}
		default:
			return fmt.Errorf("%s: unknown key (want lr, momentum, weight_decay, dampening, eps, eta [+ _mult], betas, nesterov, amsgrad, lars_exclude, fix_lr)", k)
		}
	}
	return nil
}

// compilePython compiles a Python `re` pattern with Go's RE2. The patterns
// configs use (\A, \d, groups, alternation, escaped dots) mean the same in
// both; Python's \Z (absolute end) is RE2's \z. Look-arounds and
// back-references do not exist in RE2 and are reported.
func compilePython(p string) (*regexp.Regexp, error) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+1 < len(p) {
			if p[i+1] == 'Z' {
				b.WriteString(`\z`)
			} else {
				b.WriteByte(p[i])
				b.WriteByte(p[i+1])
			}
			i++
			continue
		}
		b.WriteByte(p[i])
	}
	return regexp.Compile(b.String())
}

// applyOptions merges every matching entry into g, in order, key by key,
// as MMSelfSup's DefaultOptimizerConstructor does; `<key>_mult` scales the
// optimizer config's own <key>, which must be given there explicitly.
func applyOptions(g *Group, name string, entries []paramwiseEntry, cfg map[string]any) error {
	for _, e := range entries {
		if e.opts == nil || !e.re.MatchString(name) {
			continue
		}
		keys := make([]string, 0, len(e.opts))
		for k := range e.opts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := e.opts[k]
			key := k
			if base, ok := strings.CutSuffix(k, "_mult"); ok {
				bv, present := cfg[base]
				if !present {
					return fmt.Errorf("optimizer.paramwise_options[%q].%s: optimizer.%s is not set, nothing to multiply", e.pattern, k, base)
				}
				b, err := toFloat(bv)
				if err != nil {
					return fmt.Errorf("optimizer.%s: %w", base, err)
				}
				m, _ := toFloat(v)
				key, v = base, b*m
			}
			if err := setGroupKey(g, key, v); err != nil {
				return fmt.Errorf("optimizer.paramwise_options[%q].%s: %w", e.pattern, k, err)
			}
		}
	}
	return nil
}
