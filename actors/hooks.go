package actors

import (
	"fmt"
	"sort"
	"strings"
)

// Hook priorities, mmcv's names (lower runs first; equal priorities keep
// registration order).
const (
	PriorityHighest     = 0
	PriorityVeryHigh    = 10
	PriorityHigh        = 30
	PriorityAboveNormal = 40
	PriorityNormal      = 50
	PriorityBelowNormal = 60
	PriorityLow         = 70
	PriorityVeryLow     = 90
	PriorityLowest      = 100
)

var priorityNames = map[string]int{
	"HIGHEST": PriorityHighest, "VERY_HIGH": PriorityVeryHigh, "HIGH": PriorityHigh, "ABOVE_NORMAL": PriorityAboveNormal,
	"NORMAL": PriorityNormal, "BELOW_NORMAL": PriorityBelowNormal, "LOW": PriorityLow, "VERY_LOW": PriorityVeryLow, "LOWEST": PriorityLowest,
}

// ParsePriority reads an mmcv priority: a name ("NORMAL") or an int 0-100.
func ParsePriority(v any) (int, error) {
	switch x := v.(type) {
	case nil:
		return PriorityNormal, nil
	case string:
		if p, ok := priorityNames[strings.ToUpper(x)]; ok {
			return p, nil
		}
	case int:
		if x >= 0 && x <= 100 {
			return x, nil
		}
	case float64:
		if x >= 0 && x <= 100 && x == float64(int(x)) {
			return int(x), nil
		}
	}
	return 0, fmt.Errorf("priority %v: want one of HIGHEST..LOWEST or an integer 0-100", v)
}

// RunState is what hooks see of the run. Iter is the global 0-based
// iteration; during an iteration it is the one being stepped.
type RunState struct {
	Epoch, Iter, InnerIter int
	MaxEpochs, MaxIters    int
	ItersPerEpoch          int
	Losses                 map[string]float64 // of the last step
	Runner                 *Runner
}

// Hook is a runner hook. It implements any of the stage interfaces below.
type Hook interface {
	Name() string
	Priority() int
}

// The stages a hook can act on, in mmcv's order.
type (
	BeforeRunHook        interface{ BeforeRun(*RunState) error }
	BeforeTrainEpochHook interface{ BeforeTrainEpoch(*RunState) error }
	BeforeTrainIterHook  interface{ BeforeTrainIter(*RunState) error }
	AfterTrainIterHook   interface{ AfterTrainIter(*RunState) error }
	AfterTrainEpochHook  interface{ AfterTrainEpoch(*RunState) error }
	AfterRunHook         interface{ AfterRun(*RunState) error }
)

// Hooks is a priority-ordered hook list.
type Hooks []Hook

// Add inserts h after every hook of lower or equal priority.
func (hs *Hooks) Add(h Hook) {
	i := sort.Search(len(*hs), func(i int) bool { return (*hs)[i].Priority() > h.Priority() })
	*hs = append(*hs, nil)
	copy((*hs)[i+1:], (*hs)[i:])
	(*hs)[i] = h
}

// each calls f on every hook; the first error stops and names the hook.
func (hs Hooks) each(stage string, f func(Hook) (bool, error)) error {
	for _, h := range hs {
		ran, err := f(h)
		if ran && err != nil {
			return fmt.Errorf("%s %s: %w", h.Name(), stage, err)
		}
	}
	return nil
}

// HookBuilder builds a custom_hooks entry.
type HookBuilder func(cfg map[string]any, priority int) (Hook, error)

var hookRegistry = map[string]HookBuilder{}

// RegisterHook adds a custom hook type (called from init).
func RegisterHook(name string, b HookBuilder) {
	if _, dup := hookRegistry[name]; dup {
		panic("actors: hook " + name + " registered twice")
	}
	hookRegistry[name] = b
}

// BuildCustomHooks builds the config's custom_hooks list.
func BuildCustomHooks(list []any) ([]Hook, error) {
	var out []Hook
	for i, v := range list {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("custom_hooks[%d]: want a dict, got %T", i, v)
		}
		typ, _ := m["type"].(string)
		b, ok := hookRegistry[typ]
		if !ok {
			var have []string
			for n := range hookRegistry {
				have = append(have, n)
			}
			sort.Strings(have)
			return nil, fmt.Errorf("custom_hooks[%d].type: %q not registered (have: %s)", i, typ, strings.Join(have, ", "))
		}
		p, err := ParsePriority(m["priority"])
		if err != nil {
			return nil, fmt.Errorf("custom_hooks[%d].priority: %w", i, err)
		}
		h, err := b(m, p)
		if err != nil {
			return nil, fmt.Errorf("custom_hooks[%d] (%s): %w", i, typ, err)
		}
		out = append(out, h)
	}
	return out, nil
}
