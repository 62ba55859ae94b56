package actors

import (
	"fmt"
	"sort"

	"github.com/sugarme/gotch/ts"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/model"
)

// toCheckpoint converts a Go state value (optimizer state: maps, slices,
// numbers, *ts.Tensor leaves) into values the checkpoint package pickles.
// Tensors are copied; the input is not modified.
func toCheckpoint(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int, int64, float64:
		return x, nil
	case float32:
		return float64(x), nil
	case *ts.Tensor:
		return model.ToCheckpointTensor(x)
	case []int:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	case []float64:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := toCheckpoint(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = c
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := checkpoint.NewDict()
		for _, k := range keys {
			c, err := toCheckpoint(x[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			d.Set(k, c)
		}
		return d, nil
	case map[int]any:
		keys := make([]int, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Ints(keys)
		d := checkpoint.NewDict()
		for _, k := range keys {
			c, err := toCheckpoint(x[k])
			if err != nil {
				return nil, fmt.Errorf("%d: %w", k, err)
			}
			d.Set(int64(k), c)
		}
		return d, nil
	}
	return nil, fmt.Errorf("cannot store %T in a checkpoint", v)
}

// fromCheckpoint turns unpickled values back into Go state values with
// *ts.Tensor leaves (which the caller owns; model.DropState frees them).
func fromCheckpoint(v any) (any, error) {
	switch x := v.(type) {
	case *checkpoint.Tensor:
		return model.FromCheckpointTensor(x)
	case checkpoint.Tuple:
		return fromCheckpoint([]any(x))
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := fromCheckpoint(e)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case *checkpoint.Dict:
		strKeys := true
		for _, k := range x.Keys() {
			if _, ok := k.(string); !ok {
				strKeys = false
			}
		}
		if strKeys {
			out := map[string]any{}
			for k, e := range x.All() {
				c, err := fromCheckpoint(e)
				if err != nil {
					return nil, err
				}
				out[k.(string)] = c
			}
			return out, nil
		}
		out := map[any]any{}
		for k, e := range x.All() {
			c, err := fromCheckpoint(e)
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	}
	return v, nil
}
