package configs

import (
	"fmt"
	"math"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/flowssl/flowssl/configs/tree"
)

// parseYAML turns YAML (or JSON) text into a tree, keeping key order. Anchors and aliases
// are expanded into copies, "<<" merge keys are honoured, and a key repeated within one
// mapping is an error.
func parseYAML(name string, src []byte) (*tree.Map, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind == 0 {
		return tree.NewMap(), nil // empty file
	}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return tree.NewMap(), nil
		}
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return tree.NewMap(), nil
	}
	v, err := yamlValue(name, root)
	if err != nil {
		return nil, err
	}
	m, ok := v.(*tree.Map)
	if !ok {
		return nil, fmt.Errorf("%s:%d: top level must be a mapping, got %s", name, root.Line, tree.KindOf(v))
	}
	return m, nil
}

func yamlValue(name string, n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(name, n.Alias)
	case yaml.MappingNode:
		m := tree.NewMap()
		explicit := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			if kn.Kind == yaml.ScalarNode && kn.Tag == "!!merge" {
				if err := yamlMerge(name, m, explicit, vn); err != nil {
					return nil, err
				}
				continue
			}
			if kn.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s:%d: mapping keys must be scalars", name, kn.Line)
			}
			k := kn.Value
			if line, dup := explicit[k]; dup {
				return nil, fmt.Errorf("%s:%d: key %q already defined at line %d", name, kn.Line, k, line)
			}
			explicit[k] = kn.Line
			v, err := yamlValue(name, vn)
			if err != nil {
				return nil, err
			}
			m.Set(k, v)
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(name, c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n.Line, err)
		}
		switch x := v.(type) {
		case nil, string, bool, int, float64:
			return x, nil
		case time.Time:
			return n.Value, nil
		case uint64:
			if x > math.MaxInt64 {
				return nil, fmt.Errorf("%s:%d: integer %s out of range", name, n.Line, n.Value)
			}
			return int(x), nil
		case int64:
			return int(x), nil
		default:
			return nil, fmt.Errorf("%s:%d: unsupported scalar %q (%T)", name, n.Line, n.Value, v)
		}
	}
	return nil, fmt.Errorf("%s:%d: unsupported YAML node", name, n.Line)
}

// yamlMerge applies a "<<" merge: keys of the merged mapping(s) fill in where the mapping
// has not set them explicitly.
func yamlMerge(name string, m *tree.Map, explicit map[string]int, vn *yaml.Node) error {
	srcs := []*yaml.Node{vn}
	if vn.Kind == yaml.SequenceNode {
		srcs = vn.Content
	}
	for _, s := range srcs {
		v, err := yamlValue(name, s)
		if err != nil {
			return err
		}
		sm, ok := v.(*tree.Map)
		if !ok {
			return fmt.Errorf("%s:%d: '<<' needs a mapping", name, s.Line)
		}
		sm.Each(func(k string, sv any) bool {
			if _, isExplicit := explicit[k]; !isExplicit && !m.Has(k) {
				m.Set(k, sv)
			}
			return true
		})
	}
	return nil
}
