package data

import (
	"fmt"
	"sort"
	"strings"
)

// builder makes a source from its config keys.
type builder func(p *params) (Source, error)

// builders is the source registry, keyed by the config's type. Filled by
// init functions only.
var builders = map[string]builder{}

// fileKeys are the BaseDataSource constructor arguments of MMSelfSup.
var fileKeys = []string{"data_prefix", "ann_file", "classes", "test_mode", "color_type", "channel_order", "file_client_args"}

// register adds a source type with the keys it accepts: Build rejects any
// other key first, then parse reads the keys into the type's config, and
// only then open touches files.
func register[C any](typ string, keys []string, parse func(*params) (C, error), open func(C) (Source, error)) {
	if _, dup := builders[typ]; dup {
		panic("data: source type registered twice: " + typ)
	}
	builders[typ] = func(p *params) (Source, error) {
		if err := p.checkKeys(keys); err != nil {
			return nil, err
		}
		c, err := parse(p)
		if err != nil {
			return nil, err
		}
		src, err := open(c)
		if err != nil {
			return nil, fmt.Errorf("data source %s: %w", typ, err)
		}
		return src, nil
	}
}

// Types lists the registered source types, sorted.
func Types() []string {
	out := make([]string, 0, len(builders))
	for t := range builders {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Build makes the source that cfg["type"] names, with MMSelfSup's keys
// (data_prefix, ann_file, classes, test_mode, color_type, channel_order,
// file_client_args) or the Shapes keys. An unknown type, or a key that
// is unknown to the type or has the wrong type, is an error naming it.
func Build(cfg map[string]any) (Source, error) {
	t, ok := cfg["type"]
	if !ok {
		return nil, fmt.Errorf("data source: missing key \"type\" (one of: %s)", strings.Join(Types(), ", "))
	}
	typ, ok := t.(string)
	if !ok {
		return nil, fmt.Errorf("data source: key \"type\": want a string, got %T %v", t, t)
	}
	b, ok := builders[typ]
	if !ok {
		return nil, fmt.Errorf("data source: type %q not registered (have: %s)", typ, strings.Join(Types(), ", "))
	}
	return b(newParams(typ, cfg))
}
