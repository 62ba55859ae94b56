package configs

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/flowssl/flowssl/configs/tree"
)

// KeyError is a config problem at a dotted key path.
type KeyError struct {
	Path string
	Msg  string
}

func (e *KeyError) Error() string { return orRoot(e.Path) + ": " + e.Msg }

// Errorf returns a *KeyError for key (relative to the value being validated); Decode
// prefixes the path of that value, so Validate methods can name their own sub-keys.
func Errorf(key, format string, a ...any) error {
	return &KeyError{Path: key, Msg: fmt.Sprintf(format, a...)}
}

// Unmarshaler is implemented by types that decode themselves from a tree value (unions such
// as "a float or the string dynamic"). keyPath names v for error messages.
type Unmarshaler interface {
	UnmarshalConfig(v any, keyPath string) error
}

// Validator is implemented by decoded types that check themselves; Decode calls Validate
// after filling the value.
type Validator interface {
	Validate() error
}

// Decode fills out (a non-nil pointer) from the tree value v found at keyPath (used only
// in messages). Structs are matched by `yaml:"name"` tags (",inline" on a *Map or
// map[string]any field collects unknown keys; without one, an unknown key is an error
// with a spelling suggestion); `cfg:"required"` makes a key mandatory. Ints do not accept
// floats; floats accept ints. After each value is decoded its Validate method, if any, runs.
func Decode(v any, keyPath string, out any) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("configs.Decode: out must be a non-nil pointer, got %T", out)
	}
	return decodeValue(v, keyPath, rv.Elem())
}

var (
	mapPtrType      = reflect.TypeOf((*tree.Map)(nil))
	unmarshalerType = reflect.TypeOf((*Unmarshaler)(nil)).Elem()
	validatorType   = reflect.TypeOf((*Validator)(nil)).Elem()
)

func decodeValue(v any, path string, rv reflect.Value) error {
	if rv.CanAddr() && rv.Addr().Type().Implements(unmarshalerType) {
		if err := rv.Addr().Interface().(Unmarshaler).UnmarshalConfig(v, path); err != nil {
			return prefixErr(path, err)
		}
		return validate(rv, path)
	}
	t := rv.Type()
	switch {
	case t == mapPtrType:
		if v == nil {
			rv.Set(reflect.Zero(t))
			return nil
		}
		m, ok := v.(*tree.Map)
		if !ok {
			return typeErr(path, "a mapping", v)
		}
		rv.Set(reflect.ValueOf(m.Clone()))
		return nil
	case t.Kind() == reflect.Interface && t.NumMethod() == 0:
		if v == nil {
			rv.Set(reflect.Zero(t))
		} else {
			rv.Set(reflect.ValueOf(tree.Clone(v)))
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		if v == nil {
			rv.Set(reflect.Zero(t))
			return nil
		}
		p := reflect.New(t.Elem())
		if err := decodeValue(v, path, p.Elem()); err != nil {
			return err
		}
		rv.Set(p)
		return nil
	case reflect.Struct:
		m, ok := v.(*tree.Map)
		if !ok {
			return typeErr(path, "a mapping", v)
		}
		if err := decodeStruct(m, path, rv); err != nil {
			return err
		}
		return validate(rv, path)
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			return typeErr(path, "a list", v)
		}
		s := reflect.MakeSlice(t, len(l), len(l))
		for i, e := range l {
			if err := decodeValue(e, tree.Join(path, strconv.Itoa(i)), s.Index(i)); err != nil {
				return err
			}
		}
		rv.Set(s)
		return validate(rv, path)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("%s: cannot decode into %s (keys must be strings)", orRoot(path), t)
		}
		m, ok := v.(*tree.Map)
		if !ok {
			return typeErr(path, "a mapping", v)
		}
		out := reflect.MakeMapWithSize(t, m.Len())
		for _, k := range m.Keys() {
			e, _ := m.Get(k)
			ev := reflect.New(t.Elem()).Elem()
			if err := decodeValue(e, tree.Join(path, k), ev); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		rv.Set(out)
		return nil
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return typeErr(path, "string", v)
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return typeErr(path, "bool", v)
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int)
		if !ok {
			return typeErr(path, "int", v)
		}
		if rv.OverflowInt(int64(n)) {
			return &KeyError{Path: path, Msg: fmt.Sprintf("%d overflows %s", n, t)}
		}
		rv.SetInt(int64(n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(int)
		if !ok {
			return typeErr(path, "int", v)
		}
		if n < 0 || rv.OverflowUint(uint64(n)) {
			return &KeyError{Path: path, Msg: fmt.Sprintf("%d out of range for %s", n, t)}
		}
		rv.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		switch x := v.(type) {
		case float64:
			rv.SetFloat(x)
		case int:
			rv.SetFloat(float64(x))
		default:
			return typeErr(path, "float", v)
		}
	default:
		return fmt.Errorf("%s: cannot decode into %s", orRoot(path), t)
	}
	return validate(rv, path)
}

func validate(rv reflect.Value, path string) error {
	var val Validator
	switch {
	case rv.CanAddr() && rv.Addr().Type().Implements(validatorType):
		val = rv.Addr().Interface().(Validator)
	case rv.Type().Implements(validatorType):
		val = rv.Interface().(Validator)
	default:
		return nil
	}
	if err := val.Validate(); err != nil {
		return prefixErr(path, err)
	}
	return nil
}

func prefixErr(path string, err error) error {
	var ke *KeyError
	if errors.As(err, &ke) {
		return &KeyError{Path: tree.Join(path, ke.Path), Msg: ke.Msg}
	}
	return &KeyError{Path: path, Msg: err.Error()}
}

func typeErr(path, want string, got any) error {
	return &KeyError{Path: path, Msg: fmt.Sprintf("expected %s, got %s", want, describe(got))}
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case *tree.Map:
		return "a mapping"
	case []any:
		return "a list"
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return "float " + tree.FormatFloat(x)
	case int:
		return "int " + strconv.Itoa(x)
	}
	return tree.Repr(v)
}

type fieldInfo struct {
	index    []int
	required bool
}

type structInfo struct {
	fields map[string]fieldInfo
	names  []string // declared keys, for suggestions and missing-key checks
	inline []int    // index of the catch-all field, nil if none
}

func structFields(t reflect.Type) structInfo {
	si := structInfo{fields: map[string]fieldInfo{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(","+opts+",", ",inline,") {
			if f.Type == mapPtrType || (f.Type.Kind() == reflect.Map && f.Type.Key().Kind() == reflect.String) {
				si.inline = f.Index
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		si.fields[name] = fieldInfo{index: f.Index, required: strings.Contains(","+f.Tag.Get("cfg")+",", ",required,")}
		si.names = append(si.names, name)
	}
	return si
}

func decodeStruct(m *tree.Map, path string, rv reflect.Value) error {
	si := structFields(rv.Type())
	var extra *tree.Map
	for _, k := range m.Keys() {
		v, _ := m.Get(k)
		fi, ok := si.fields[k]
		if !ok {
			if si.inline == nil {
				return unknownKey(tree.Join(path, k), k, si.names)
			}
			if extra == nil {
				extra = tree.NewMap()
			}
			extra.Set(k, tree.Clone(v))
			continue
		}
		if err := decodeValue(v, tree.Join(path, k), rv.FieldByIndex(fi.index)); err != nil {
			return err
		}
	}
	for _, name := range si.names {
		if si.fields[name].required && !m.Has(name) {
			return &KeyError{Path: tree.Join(path, name), Msg: "required key is missing"}
		}
	}
	if si.inline != nil && extra != nil {
		f := rv.FieldByIndex(si.inline)
		if f.Type() == mapPtrType {
			f.Set(reflect.ValueOf(extra))
		} else {
			mm := reflect.MakeMapWithSize(f.Type(), extra.Len())
			var err error
			extra.Each(func(k string, v any) bool {
				ev := reflect.New(f.Type().Elem()).Elem()
				if err = decodeValue(v, tree.Join(path, k), ev); err != nil {
					return false
				}
				mm.SetMapIndex(reflect.ValueOf(k), ev)
				return true
			})
			if err != nil {
				return err
			}
			f.Set(mm)
		}
	}
	return nil
}

func unknownKey(path, key string, known []string) error {
	if s := Suggest(key, known); s != "" {
		return &KeyError{Path: path, Msg: fmt.Sprintf("unknown key (did you mean %q?)", s)}
	}
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return &KeyError{Path: path, Msg: fmt.Sprintf("unknown key (known: %s)", strings.Join(sorted, ", "))}
}

// Suggest returns the candidate closest to s in edit distance when it is close enough to
// be a plausible misspelling (distance ≤ 2, or ≤ a third of the length); failing that, the
// only candidate that contains s or every character of s in order (an abbreviation such as
// "lin" for "linear"); else "".
func Suggest(s string, candidates []string) string {
	if best := closest(s, candidates); best != "" {
		return best
	}
	if len(s) < 3 {
		return ""
	}
	match := ""
	for _, c := range candidates {
		if isSubsequence(strings.ToLower(s), strings.ToLower(c)) {
			if match != "" {
				return ""
			}
			match = c
		}
	}
	return match
}

func isSubsequence(s, of string) bool {
	i := 0
	for j := 0; j < len(of) && i < len(s); j++ {
		if of[j] == s[i] {
			i++
		}
	}
	return i == len(s)
}

func closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := Levenshtein(s, c)
		if bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD == 0 {
		return ""
	}
	if bestD <= 2 || bestD*3 <= len(s) {
		return best
	}
	return ""
}

// Levenshtein is the edit distance (insertions, deletions, substitutions) between a and b,
// counted in runes.
func Levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
