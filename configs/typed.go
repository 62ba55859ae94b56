package configs

import (
	"fmt"
	"strings"

	"github.com/flowssl/flowssl/configs/tree"
)

// TypedMap is a registry-built component config: a mapping with a required string "type"
// (the registered name) and free-form arguments that the component's own package decodes.
type TypedMap struct {
	Type string
	// Args holds every key except "type", in config order.
	Args *Map
}

// UnmarshalConfig implements Unmarshaler.
func (t *TypedMap) UnmarshalConfig(v any, keyPath string) error {
	m, ok := v.(*tree.Map)
	if !ok {
		return typeErr("", "a mapping with a \"type\" key", v)
	}
	ty, ok := m.Get("type")
	if !ok {
		return Errorf("type", "required key is missing")
	}
	s, ok := ty.(string)
	if !ok || s == "" {
		return Errorf("type", "expected a non-empty string, got %s", describe(ty))
	}
	t.Type = s
	t.Args = m.Clone()
	t.Args.Delete("type")
	return nil
}

// Map returns the full mapping, "type" first.
func (t TypedMap) Map() *Map {
	out := tree.NewMap()
	out.Set("type", t.Type)
	t.Args.Each(func(k string, v any) bool { out.Set(k, tree.Clone(v)); return true })
	return out
}

// Decode decodes the argument named key (relative to the component at keyPath) into out;
// a missing key leaves out unchanged and returns false.
func (t TypedMap) Decode(keyPath, key string, out any) (bool, error) {
	v, ok := t.Args.Get(key)
	if !ok {
		return false, nil
	}
	return true, Decode(v, tree.Join(keyPath, key), out)
}

// TransformSpec is one pipeline entry; RandomAppliedTrans' nested "transforms" list is
// checked to be a list of transform mappings too.
type TransformSpec struct{ TypedMap }

// UnmarshalConfig implements Unmarshaler.
func (t *TransformSpec) UnmarshalConfig(v any, keyPath string) error {
	if err := t.TypedMap.UnmarshalConfig(v, keyPath); err != nil {
		return err
	}
	if nested, ok := t.Args.Get("transforms"); ok {
		var inner []TransformSpec
		if err := Decode(nested, "transforms", &inner); err != nil {
			return err
		}
	}
	return nil
}

// IntList is an int or a list of ints (lr_config.step, evaluation.topk).
type IntList []int

// UnmarshalConfig implements Unmarshaler.
func (l *IntList) UnmarshalConfig(v any, keyPath string) error {
	if n, ok := v.(int); ok {
		*l = IntList{n}
		return nil
	}
	var out []int
	if err := Decode(v, "", &out); err != nil {
		var ke *KeyError
		if isKeyErr(err, &ke) && ke.Path == "" {
			return typeErr("", "an int or a list of ints", v)
		}
		return err
	}
	*l = out
	return nil
}

// LossScale is fp16.loss_scale: a number, the string "dynamic", or a mapping of
// dynamic-scaler arguments.
type LossScale struct {
	Dynamic bool
	Static  float64
	Args    *Map
}

// UnmarshalConfig implements Unmarshaler.
func (s *LossScale) UnmarshalConfig(v any, keyPath string) error {
	switch x := v.(type) {
	case int:
		s.Static = float64(x)
	case float64:
		s.Static = x
	case string:
		if x != "dynamic" {
			return fmt.Errorf("expected a number, \"dynamic\" or a mapping, got %q", x)
		}
		s.Dynamic = true
	case *tree.Map:
		s.Dynamic = true
		s.Args = x.Clone()
	default:
		return typeErr("", `a number, "dynamic" or a mapping`, v)
	}
	if !s.Dynamic && s.Static <= 0 {
		return fmt.Errorf("a static loss scale must be positive, got %v", s.Static)
	}
	return nil
}

// WorkflowStep is one workflow entry, written [mode, epochs] (a Python tuple).
type WorkflowStep struct {
	Mode   string
	Epochs int
}

// UnmarshalConfig implements Unmarshaler.
func (w *WorkflowStep) UnmarshalConfig(v any, keyPath string) error {
	l, ok := v.([]any)
	if !ok || len(l) != 2 {
		return typeErr("", "a [mode, epochs] pair", v)
	}
	mode, ok := l[0].(string)
	if !ok || (mode != "train" && mode != "val") {
		return Errorf("0", "expected \"train\" or \"val\", got %s", describe(l[0]))
	}
	n, ok := l[1].(int)
	if !ok || n < 1 {
		return Errorf("1", "expected a positive int, got %s", describe(l[1]))
	}
	w.Mode, w.Epochs = mode, n
	return nil
}

func isKeyErr(err error, target **KeyError) bool {
	ke, ok := err.(*KeyError)
	if ok {
		*target = ke
	}
	return ok
}

// oneOf checks s against allowed values for messages like `expected one of a, b`.
func oneOf(s string, allowed ...string) error {
	for _, a := range allowed {
		if s == a {
			return nil
		}
	}
	msg := fmt.Sprintf("expected one of %s, got %q", strings.Join(allowed, ", "), s)
	if sug := Suggest(s, allowed); sug != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", sug)
	}
	return fmt.Errorf("%s", msg)
}
