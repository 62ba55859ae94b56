package configs

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/flowssl/flowssl/configs/pyconf"
	"github.com/flowssl/flowssl/configs/tree"
)

// Map is the ordered mapping type of config trees.
type Map = tree.Map

// Config is a resolved config file.
type Config struct {
	// Filename is the file Load resolved: an absolute path on disk or "configs/…" for an
	// embedded file.
	Filename string
	// Tree is the merged config with all bases, references and overrides applied.
	Tree *Map
	// Text is the concatenated text of every file involved, bases first, each preceded by
	// its name on a line of its own (mmcv's cfg_text).
	Text string
	// Warnings collects non-fatal notes (e.g. a _deprecation_ entry).
	Warnings []string
}

// LoadOptions tunes Load.
type LoadOptions struct {
	// Overrides are applied after loading, like --cfg-options (config.md §6).
	Overrides []Override
	// FS replaces the embedded tree as the place to look up names that are not files on
	// disk (tests use it); nil means FS().
	FS fs.FS
	// NoDisk restricts lookup to the embedded tree (or FS).
	NoDisk bool
}

// reservedKeys may not be defined by a config (mmcv's Config attributes).
var reservedKeys = []string{"filename", "text", "pretty_text"}

// Load reads and resolves the config called name: a file on disk, or a path inside the
// embedded tree with or without a leading "configs/".
func Load(name string, opts LoadOptions) (*Config, error) {
	efs := opts.FS
	if efs == nil {
		efs = FS()
	}
	src, err := resolveName(name, efs, !opts.NoDisk)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	l := &loader{}
	m, text, err := l.file(src)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	cfg := &Config{Filename: src.display(), Tree: m, Text: text, Warnings: l.warnings}
	if len(opts.Overrides) > 0 {
		if err := ApplyOverrides(cfg.Tree, opts.Overrides); err != nil {
			return nil, fmt.Errorf("load config %s: --cfg-options: %w", src.display(), err)
		}
	}
	return cfg, nil
}

// LoadTree parses one file's text (no bases allowed) into a tree; format is "py", "yaml",
// "yml" or "json". It is what Load does for a file without _base_.
func LoadTree(name, format string, src []byte) (*Map, error) {
	m, _, err := parseText(name, "."+strings.TrimPrefix(format, "."), string(src), nil)
	if err != nil {
		return nil, err
	}
	if m.Has("_base_") {
		return nil, fmt.Errorf("%s: _base_ needs Load (the bases are resolved relative to a file)", name)
	}
	return m, nil
}

type loader struct {
	stack    []string
	warnings []string
}

// file implements mmcv's _file2dict for one file (config.md §2).
func (l *loader) file(src source) (*Map, string, error) {
	id := src.display()
	for _, s := range l.stack {
		if s == id {
			return nil, "", fmt.Errorf("cyclic _base_: %s -> %s", strings.Join(l.stack, " -> "), id)
		}
	}
	l.stack = append(l.stack, id)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()

	if !isConfigExt(src.ext()) {
		return nil, "", fmt.Errorf("%s: only .py, .yaml, .yml and .json configs are supported", id)
	}
	raw, err := src.read()
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", id, err)
	}
	text := substitutePredefined(string(raw), src)
	text, refs := substituteBaseRefs(text)
	own, warn, err := parseText(id, src.ext(), text, refs)
	if err != nil {
		return nil, "", err
	}
	l.warnings = append(l.warnings, warn...)
	ownText := id + "\n" + string(raw)

	baseVal, hasBase := own.Get("_base_")
	if !hasBase {
		if p, found := containsPlaceholder(own, refs); found {
			return nil, "", fmt.Errorf("%s: {{_base_.%s}} used in a file without _base_", id, p)
		}
		return own, ownText, nil
	}
	own.Delete("_base_")
	baseNames, err := baseList(id, baseVal)
	if err != nil {
		return nil, "", err
	}
	combined := tree.NewMap()
	owner := map[string]string{}
	var texts []string
	for _, bn := range baseNames {
		bsrc, err := src.relative(bn)
		if err != nil {
			return nil, "", fmt.Errorf("%s: _base_ %q: %w", id, bn, err)
		}
		bm, btext, err := l.file(bsrc)
		if err != nil {
			if _, statErr := statSource(bsrc); statErr != nil {
				return nil, "", fmt.Errorf("%s: _base_ %q: %s not found", id, bn, bsrc.display())
			}
			return nil, "", err
		}
		for _, k := range bm.Keys() {
			if first, dup := owner[k]; dup {
				return nil, "", fmt.Errorf("%s: duplicate key %q among bases (defined by %s and %s)", id, k, first, bsrc.display())
			}
			owner[k] = bsrc.display()
			v, _ := bm.Get(k)
			combined.Set(k, v)
		}
		texts = append(texts, btext)
	}
	if _, err := resolveBaseRefs(own, refs, combined, ""); err != nil {
		return nil, "", fmt.Errorf("%s: %w", id, err)
	}
	merged, err := mergeInto(own, combined, "", false)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", id, err)
	}
	texts = append(texts, ownText)
	return merged.(*Map), strings.Join(texts, "\n"), nil
}

func statSource(s source) (fs.FileInfo, error) {
	if s.fsys != nil {
		return fs.Stat(s.fsys, s.name)
	}
	return os.Stat(s.name)
}

func baseList(id string, v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%s: _base_.%d: expected a file name, got %s", id, i, tree.Repr(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: _base_ must be a file name or a list of them, got %s", id, tree.KindOf(v))
}

// parseText parses one file's (already substituted) text by extension and applies the
// per-file checks (reserved names, _deprecation_).
func parseText(id, ext, text string, refs map[string]string) (*Map, []string, error) {
	var m *Map
	var err error
	switch ext {
	case ".py":
		m, err = pyconf.Eval(id, []byte(text), pyconf.Options{Placeholders: identity(refs)})
	case ".yaml", ".yml", ".json":
		m, err = parseYAML(id, []byte(text))
	default:
		return nil, nil, fmt.Errorf("%s: unsupported config extension %q", id, ext)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, k := range reservedKeys {
		if m.Has(k) {
			return nil, nil, fmt.Errorf("%s: %q is a reserved key and cannot be defined in a config", id, k)
		}
	}
	var warnings []string
	if d, ok := m.Get("_deprecation_"); ok {
		w := fmt.Sprintf("%s is deprecated", id)
		if dm, isMap := d.(*Map); isMap {
			if exp, ok := dm.Get("expected"); ok {
				w += fmt.Sprintf(", please use %v instead", exp)
			}
			if ref, ok := dm.Get("reference"); ok {
				w += fmt.Sprintf(" (see %v)", ref)
			}
		}
		warnings = append(warnings, w)
		m.Delete("_deprecation_")
	}
	return m, warnings, nil
}

// identity maps each placeholder to itself: in Python the placeholder identifier evaluates
// to its own text, which resolveBaseRefs later recognises.
func identity(refs map[string]string) map[string]string {
	out := make(map[string]string, len(refs))
	for ph := range refs {
		out[ph] = ph
	}
	return out
}
