package checkpoint

import (
	"fmt"
	"strings"
)

// Checkpoint is the dict MMCV's save_checkpoint writes: {"meta": ..., "state_dict":
// ..., "optimizer": ...}.
type Checkpoint struct {
	// Meta is the "meta" dict (epoch, iter, seed, config, ...); nil when absent.
	Meta *Dict
	// StateDict maps PyTorch parameter and buffer names to tensors, in module order.
	StateDict *Dict
	// Optimizer is the optimizer's state_dict ({"state": {int: {...}}, "param_groups":
	// [...]}), usually a *Dict; nil when absent.
	Optimizer any
	// Extra holds any other top-level entries (such as "author"), in file order; may be nil.
	Extra *Dict
}

// Save writes c to path atomically (see WriteFile) as a plain dict with keys
// "meta" (if set), "state_dict" (an OrderedDict), "optimizer" (if set), then Extra.
func (c *Checkpoint) Save(path string) error {
	if c.StateDict == nil {
		return fmt.Errorf("save %s: checkpoint has no state_dict", path)
	}
	if err := checkStateDict(c.StateDict); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	top := NewDict()
	if c.Meta != nil {
		top.Set("meta", c.Meta)
	}
	sd := *c.StateDict
	sd.Ordered = true
	top.Set("state_dict", &sd)
	if c.Optimizer != nil {
		top.Set("optimizer", c.Optimizer)
	}
	for k, v := range c.Extra.All() {
		if _, dup := top.Get(k); dup {
			return fmt.Errorf("save %s: Extra key %v duplicates a checkpoint field", path, k)
		}
		if err := top.set(k, v); err != nil {
			return fmt.Errorf("save %s: Extra: %w", path, err)
		}
	}
	return WriteFile(path, top)
}

// Load reads a checkpoint from path. It accepts MMCV's {"meta", "state_dict",
// "optimizer"} dict, other dicts holding the weights under "state_dict" or
// "model" (the rest goes to Meta, Optimizer and Extra), and a bare state_dict
// such as torchvision's resnet50.pth.
func Load(path string) (*Checkpoint, error) {
	v, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := FromValue(v)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	return c, nil
}

// FromValue interprets a value returned by Read as a checkpoint, with Load's layouts.
func FromValue(v any) (*Checkpoint, error) {
	top, ok := v.(*Dict)
	if !ok {
		return nil, fmt.Errorf("checkpoint is %s, not a dict", typeName(v))
	}
	weightsKey := ""
	for _, k := range []string{"state_dict", "model"} {
		if sd, ok := top.Get(k); ok {
			if _, isDict := sd.(*Dict); isDict {
				weightsKey = k
				break
			}
		}
	}
	c := &Checkpoint{}
	if weightsKey == "" {
		if err := checkStateDict(top); err != nil {
			return nil, fmt.Errorf("no \"state_dict\" or \"model\" dict and not a bare state_dict (%w); top-level keys: %s",
				err, keyList(top))
		}
		c.StateDict = top
		return c, nil
	}
	for k, val := range top.All() {
		switch k {
		case weightsKey:
			c.StateDict = val.(*Dict)
		case "meta":
			m, ok := val.(*Dict)
			if !ok && val != nil {
				return nil, fmt.Errorf("meta is %s, not a dict", typeName(val))
			}
			c.Meta = m
		case "optimizer":
			c.Optimizer = val
		default:
			if c.Extra == nil {
				c.Extra = NewDict()
			}
			c.Extra.Set(k, val)
		}
	}
	if err := checkStateDict(c.StateDict); err != nil {
		return nil, fmt.Errorf("%s: %w", weightsKey, err)
	}
	return c, nil
}

// checkStateDict requires string keys and tensor values.
func checkStateDict(d *Dict) error {
	if d.Len() == 0 {
		return fmt.Errorf("empty state_dict")
	}
	for k, v := range d.All() {
		if _, ok := k.(string); !ok {
			return fmt.Errorf("state_dict key %v is not a string", k)
		}
		if _, ok := v.(*Tensor); !ok {
			return fmt.Errorf("state_dict[%q] is %s, not a tensor", k, typeName(v))
		}
	}
	return nil
}

func keyList(d *Dict) string {
	var ks []string
	for k := range d.All() {
		ks = append(ks, fmt.Sprint(k))
		if len(ks) == 10 {
			ks = append(ks, "...")
			break
		}
	}
	return strings.Join(ks, ", ")
}
