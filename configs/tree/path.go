package tree

import (
	"fmt"
	"strconv"
	"strings"
)

// Lookup follows a dotted path of map keys and (all-digit) list indices from root.
func Lookup(root any, path string) (any, error) {
	if path == "" {
		return root, nil
	}
	cur := root
	done := ""
	for _, part := range strings.Split(path, ".") {
		switch x := cur.(type) {
		case *Map:
			v, ok := x.Get(part)
			if !ok {
				return nil, fmt.Errorf("%s: key not found", Join(done, part))
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(x) {
				return nil, fmt.Errorf("%s: no index %q in a list of %d", orRoot(done), part, len(x))
			}
			cur = x[i]
		default:
			return nil, fmt.Errorf("%s: cannot descend into %s", orRoot(done), KindOf(cur))
		}
		done = Join(done, part)
	}
	return cur, nil
}
