package model

import "fmt"

// Lenient conversions: state dicts may come from State (Go types) or from
// an unpickled torch checkpoint (int64, []any, map[any]any, …).

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("want a number, got %T (%v)", v, v)
}

func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int, int64, float64:
		f, _ := toFloat(x)
		return f != 0, nil
	}
	return false, fmt.Errorf("want a bool, got %T (%v)", v, v)
}

func toInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case int32:
		return int(x), true
	case float64:
		if x == float64(int(x)) {
			return int(x), true
		}
	}
	return 0, false
}

func asSlice(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case []map[string]any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = x[i]
		}
		return out, true
	}
	return nil, false
}

func asInts(v any) ([]int, bool) {
	switch x := v.(type) {
	case []int:
		return x, true
	case []int64:
		out := make([]int, len(x))
		for i, e := range x {
			out[i] = int(e)
		}
		return out, true
	case []any:
		out := make([]int, len(x))
		for i, e := range x {
			n, ok := toInt(e)
			if !ok {
				return nil, false
			}
			out[i] = n
		}
		return out, true
	}
	return nil, false
}

func asFloats(v any) ([]float64, bool) {
	switch x := v.(type) {
	case []float64:
		return x, true
	case [2]float64:
		return x[:], true
	case []any:
		out := make([]float64, len(x))
		for i, e := range x {
			f, err := toFloat(e)
			if err != nil {
				return nil, false
			}
			out[i] = f
		}
		return out, true
	}
	return nil, false
}

func asStringMap(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return nil, false
			}
			out[ks] = e
		}
		return out, true
	}
	return nil, false
}

func asIntKeyed(v any) (map[int]any, bool) {
	switch x := v.(type) {
	case map[int]any:
		return x, true
	case map[int64]any:
		out := make(map[int]any, len(x))
		for k, e := range x {
			out[int(k)] = e
		}
		return out, true
	case map[any]any:
		out := make(map[int]any, len(x))
		for k, e := range x {
			n, ok := toInt(k)
			if !ok {
				return nil, false
			}
			out[n] = e
		}
		return out, true
	case map[string]any:
		if len(x) == 0 {
			return map[int]any{}, true
		}
	}
	return nil, false
}
