package configs

import (
	"fmt"
	"strconv"

	"github.com/flowssl/flowssl/configs/tree"
)

const deleteKey = "_delete_"

// mergeInto merges child into base following mmcv's _merge_a_into_b (config.md §5) and
// returns the result; base is modified in place (callers pass a copy they own). With
// allowListKeys, an all-digit key indexes an existing list (the --cfg-options rule, §6).
func mergeInto(child *tree.Map, base any, keyPath string, allowListKeys bool) (any, error) {
	if list, ok := base.([]any); ok && allowListKeys {
		for _, k := range child.Keys() {
			v, _ := child.Get(k)
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || !isDigits(k) {
				return nil, fmt.Errorf("%s: is a list; %q is not an index", orRoot(keyPath), k)
			}
			if i >= len(list) {
				return nil, fmt.Errorf("%s: index %d exceeds the length of the list (%d)", orRoot(keyPath), i, len(list))
			}
			if cm, isMap := v.(*tree.Map); isMap {
				merged, err := mergeInto(cm, list[i], tree.Join(keyPath, k), allowListKeys)
				if err != nil {
					return nil, err
				}
				list[i] = merged
			} else {
				list[i] = v
			}
		}
		return list, nil
	}
	b, ok := base.(*tree.Map)
	if !ok {
		return nil, fmt.Errorf("%s: cannot inherit from a %s base value; set `_delete_: true` to replace it", orRoot(keyPath), tree.KindOf(base))
	}
	for _, k := range child.Keys() {
		v, _ := child.Get(k)
		p := tree.Join(keyPath, k)
		cm, isMap := v.(*tree.Map)
		if !isMap {
			b.Set(k, v)
			continue
		}
		del, err := popDelete(cm, p)
		if err != nil {
			return nil, err
		}
		old, exists := b.Get(k)
		if !exists || del {
			stripDelete(cm)
			b.Set(k, cm)
			continue
		}
		switch old.(type) {
		case *tree.Map:
		case []any:
			if !allowListKeys {
				return nil, fmt.Errorf("%s: the base value is a list and cannot be merged with a mapping; set `_delete_: true` to replace it", p)
			}
		default:
			return nil, fmt.Errorf("%s: the base value is a %s (%s) and cannot be merged with a mapping; set `_delete_: true` to replace it", p, tree.KindOf(old), tree.Repr(old))
		}
		merged, err := mergeInto(cm, old, p, allowListKeys)
		if err != nil {
			return nil, err
		}
		b.Set(k, merged)
	}
	return b, nil
}

func popDelete(m *tree.Map, keyPath string) (bool, error) {
	v, ok := m.Get(deleteKey)
	if !ok {
		return false, nil
	}
	m.Delete(deleteKey)
	b, isBool := v.(bool)
	if !isBool {
		return false, fmt.Errorf("%s.%s: expected a bool, got %s", keyPath, deleteKey, tree.Repr(v))
	}
	return b, nil
}

// stripDelete removes _delete_ keys from a mapping that replaces (rather than merges
// into) a base value; mmcv would leave them in the final config.
func stripDelete(v any) {
	switch x := v.(type) {
	case *tree.Map:
		x.Delete(deleteKey)
		x.Each(func(_ string, e any) bool { stripDelete(e); return true })
	case []any:
		for _, e := range x {
			stripDelete(e)
		}
	}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func orRoot(p string) string {
	if p == "" {
		return "<root>"
	}
	return p
}
