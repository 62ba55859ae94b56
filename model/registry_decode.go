package model

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
)

// decodeConfig copies a config dict into the struct dst points to, matching
// keys to `yaml` tags (",inline" embeds are searched too). Fields keep their
// values (the defaults) for absent or null keys. Unknown keys and
// ill-typed values are errors naming path.key. The key "type" is ignored
// unless the struct declares it: the registry has already used it.
//
// This is deliberately small; the configs package's Decode can replace it.
func decodeConfig(path string, m map[string]any, dst any) error {
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("%s: decode target %T is not a pointer to a struct", path, dst)
	}
	fields := map[string]reflect.Value{}
	collectYAMLFields(rv.Elem(), fields)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := fields[k]
		if !ok {
			if k == "type" {
				continue
			}
			known := make([]string, 0, len(fields))
			for n := range fields {
				known = append(known, n)
			}
			sort.Strings(known)
			return fmt.Errorf("%s.%s: unknown key (known: %s)", path, k, strings.Join(known, ", "))
		}
		if m[k] == nil {
			continue
		}
		if err := setConfigValue(f, m[k]); err != nil {
			return fmt.Errorf("%s.%s: %w", path, k, err)
		}
	}
	return nil
}

func collectYAMLFields(v reflect.Value, out map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" || !sf.IsExported():
		case strings.Contains(opts, "inline") && sf.Type.Kind() == reflect.Struct:
			collectYAMLFields(v.Field(i), out)
		case name != "":
			out[name] = v.Field(i)
		}
	}
}

func setConfigValue(f reflect.Value, v any) error {
	switch f.Kind() {
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a string, got %s", describeValue(v))
		}
		f.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("want true or false, got %s", describeValue(v))
		}
		f.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := configInt(v)
		if !ok {
			return fmt.Errorf("want an integer, got %s", describeValue(v))
		}
		f.SetInt(n)
	case reflect.Float64, reflect.Float32:
		x, ok := configFloat(v)
		if !ok {
			return fmt.Errorf("want a number, got %s", describeValue(v))
		}
		f.SetFloat(x)
	case reflect.Slice:
		items, ok := configList(v)
		if !ok {
			if f.Type().Elem().Kind() == reflect.String {
				if s, isStr := v.(string); isStr { // mmcv accepts layer='Linear'
					items = []any{s}
					ok = true
				}
			}
			if !ok {
				return fmt.Errorf("want a list, got %s", describeValue(v))
			}
		}
		out := reflect.MakeSlice(f.Type(), len(items), len(items))
		for i, it := range items {
			if err := setConfigValue(out.Index(i), it); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		f.Set(out)
	case reflect.Map:
		mv, ok := v.(map[string]any)
		if !ok || f.Type() != reflect.TypeOf(mv) {
			return fmt.Errorf("want a dict, got %s", describeValue(v))
		}
		f.Set(reflect.ValueOf(mv))
	case reflect.Interface:
		f.Set(reflect.ValueOf(v))
	default:
		return fmt.Errorf("unsupported field kind %s", f.Kind())
	}
	return nil
}

func configInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int64:
		return x, true
	case int32:
		return int64(x), true
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x), true
		}
	}
	return 0, false
}

func configFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	}
	return 0, false
}

// configList accepts []any and the typed slices a Go caller may pass.
func configList(v any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return nil, false
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out, true
}

func describeValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("string %q", s)
	}
	return fmt.Sprintf("%T %v", v, v)
}
