package model

import (
	"fmt"
	"sort"

	"github.com/sugarme/gotch/ts"
)

// State returns the optimizer's state dict in torch's layout, as plain Go
// values the checkpoint package can pickle:
//
//	{
//	  "state": map[int]any{            // param index → per-param state
//	     0: map[string]any{"momentum_buffer": *ts.Tensor},               // SGD, LARS
//	     1: map[string]any{"step": *ts.Tensor (0-dim float32),           // Adam, AdamW
//	                       "exp_avg": *ts.Tensor, "exp_avg_sq": *ts.Tensor
//	                       [, "max_exp_avg_sq": *ts.Tensor]},
//	  },
//	  "param_groups": []any{ map[string]any{
//	     "params": []int{…}, "lr": float64, "initial_lr": float64, "weight_decay": float64,
//	     SGD/LARS: "momentum", "dampening": float64, "nesterov": bool; LARS: "eta": float64,
//	     Adam/AdamW: "betas": []float64{b1, b2}, "eps": float64, "amsgrad": bool,
//	     "lars_exclude": true / "fix_lr": true only where set,
//	  }},
//	}
//
// Parameter indices are numbered in group order, as torch does. Every
// tensor is a fresh copy owned by the caller (DropState frees them).
func (b *base) State() (map[string]any, error) {
	state := map[int]any{}
	var groups []any
	idx := 0
	err := WithoutGrad(func() error {
		for _, g := range b.groups {
			ids := make([]int, len(g.Params))
			for k, pi := range g.Params {
				ids[k] = idx
				if st := b.state[pi]; st != nil {
					m := map[string]any{}
					state[idx] = m // dropped with state on error
					s := &scratch{}
					for key, t := range st {
						if c := s.clone(t); c != nil {
							m[key] = s.release(c)
						}
					}
					if s.err != nil {
						return fmt.Errorf("state of %s: %w", b.params[pi].Name, s.err)
					}
					if b.kind == "Adam" || b.kind == "AdamW" {
						step, err := scalarF32(b.steps[pi])
						if err != nil {
							return fmt.Errorf("state step of %s: %w", b.params[pi].Name, err)
						}
						m["step"] = step
					}
				}
				idx++
			}
			groups = append(groups, b.groupDict(g, ids))
		}
		return nil
	})
	if err != nil {
		DropState(map[string]any{"state": state})
		return nil, fmt.Errorf("%s state: %w", b.kind, err)
	}
	return map[string]any{"state": state, "param_groups": groups}, nil
}

// scalarF32 makes a 0-dim float32 tensor, torch 1.13's Adam "step".
func scalarF32(v float64) (*ts.Tensor, error) {
	t, err := ts.NewTensorFromData([]float32{float32(v)}, []int64{1})
	if err != nil {
		return nil, err
	}
	return t.Squeeze(true)
}

func (b *base) groupDict(g *Group, ids []int) map[string]any {
	m := map[string]any{
		"params":       ids,
		"lr":           g.LR,
		"initial_lr":   g.InitialLR,
		"weight_decay": g.WeightDecay,
	}
	switch b.kind {
	case "SGD", "LARS":
		m["momentum"] = g.Momentum
		m["dampening"] = g.Dampening
		m["nesterov"] = g.Nesterov
		if b.kind == "LARS" {
			m["eta"] = g.Eta
		}
	default:
		m["betas"] = []float64{g.Betas[0], g.Betas[1]}
		m["eps"] = g.Eps
		m["amsgrad"] = g.Amsgrad
	}
	if g.LarsExclude {
		m["lars_exclude"] = true
	}
	if g.FixLR {
		m["fix_lr"] = true
	}
	return m
}

// LoadState restores a state dict shaped like State's output. Groups are
// matched by position and must hold as many parameters as the current
// ones; saved indices map onto the current parameters in group order
// (torch's load_state_dict rule). Hyper-parameters present in the saved
// groups overwrite the current ones; absent keys keep their value
// (initial_lr absent ⇒ lr, like mmcv's setdefault). Tensors are copied;
// the current state is replaced only if everything validates.
func (b *base) LoadState(sd map[string]any) error {
	rawGroups, ok := asSlice(sd["param_groups"])
	if !ok {
		return fmt.Errorf("%s load_state: param_groups missing or not a list", b.kind)
	}
	if len(rawGroups) != len(b.groups) {
		return fmt.Errorf("%s load_state: %d parameter groups saved, optimizer has %d", b.kind, len(rawGroups), len(b.groups))
	}
	idmap := map[int]int{} // saved id → param index
	newGroups := make([]Group, len(b.groups))
	for gi, rg := range rawGroups {
		gm, ok := asStringMap(rg)
		if !ok {
			return fmt.Errorf("%s load_state: param_groups[%d] is not a dict", b.kind, gi)
		}
		ids, ok := asInts(gm["params"])
		if !ok {
			return fmt.Errorf("%s load_state: param_groups[%d].params is not a list of ints", b.kind, gi)
		}
		cur := b.groups[gi]
		if len(ids) != len(cur.Params) {
			return fmt.Errorf("%s load_state: param_groups[%d] has %d params, optimizer group has %d", b.kind, gi, len(ids), len(cur.Params))
		}
		for k, id := range ids {
			idmap[id] = cur.Params[k]
		}
		g := *cur
		hadInitial := false
		for key, v := range gm {
			if err := setGroupKey(&g, key, v); err != nil {
				return fmt.Errorf("%s load_state: param_groups[%d].%s: %w", b.kind, gi, key, err)
			}
			hadInitial = hadInitial || key == "initial_lr"
		}
		if !hadInitial {
			g.InitialLR = g.LR
		}
		if err := validateGroup(b.kind, &g); err != nil {
			return fmt.Errorf("%s load_state: param_groups[%d]: %w", b.kind, gi, err)
		}
		newGroups[gi] = g
	}

	rawState, ok := sd["state"]
	if !ok {
		return fmt.Errorf("%s load_state: state missing", b.kind)
	}
	entries, ok := asIntKeyed(rawState)
	if !ok {
		return fmt.Errorf("%s load_state: state is not a dict keyed by int", b.kind)
	}
	newState := make([]map[string]*ts.Tensor, len(b.params))
	newSteps := make([]float64, len(b.params))
	dropNew := func() {
		for _, st := range newState {
			for _, t := range st {
				t.Drop()
			}
		}
	}
	keys := make([]int, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	err := WithoutGrad(func() error {
		for _, id := range keys {
			pi, ok := idmap[id]
			if !ok {
				return fmt.Errorf("%s load_state: state[%d] names no parameter of any group", b.kind, id)
			}
			em, ok := asStringMap(entries[id])
			if !ok {
				return fmt.Errorf("%s load_state: state[%d] is not a dict", b.kind, id)
			}
			pshape, err := b.params[pi].T.Size()
			if err != nil {
				return err
			}
			for key, v := range em {
				if key == "step" {
					f, err := stepValue(v)
					if err != nil {
						return fmt.Errorf("%s load_state: state[%d].step: %w", b.kind, id, err)
					}
					newSteps[pi] = f
					continue
				}
				t, ok := v.(*ts.Tensor)
				if !ok {
					return fmt.Errorf("%s load_state: state[%d].%s: want a tensor, got %T", b.kind, id, key, v)
				}
				shape, err := t.Size()
				if err != nil {
					return err
				}
				if !sameShape(shape, pshape) {
					return fmt.Errorf("%s load_state: state[%d].%s: shape %v, parameter %s has %v", b.kind, id, key, shape, b.params[pi].Name, pshape)
				}
				s := &scratch{}
				c := s.clone(t)
				if s.err == nil && t.DType() != b.params[pi].T.DType() {
					c2, e := c.Totype(b.params[pi].T.DType(), false)
					s.own("cast", c2, e)
					c = c2
				}
				if s.err != nil {
					s.drop()
					return fmt.Errorf("%s load_state: state[%d].%s: %w", b.kind, id, key, s.err)
				}
				s.release(c)
				s.drop()
				if newState[pi] == nil {
					newState[pi] = map[string]*ts.Tensor{}
				}
				newState[pi][key] = c
			}
		}
		return nil
	})
	if err != nil {
		dropNew()
		return err
	}
	if cerr := b.Close(); cerr != nil {
		dropNew()
		return fmt.Errorf("%s load_state: drop old state: %w", b.kind, cerr)
	}
	b.state, b.steps = newState, newSteps
	for gi := range newGroups {
		*b.groups[gi] = newGroups[gi]
	}
	return nil
}

func setGroupKey(g *Group, key string, v any) error {
	var err error
	switch key {
	case "params":
	case "lr":
		g.LR, err = toFloat(v)
	case "initial_lr":
		g.InitialLR, err = toFloat(v)
	case "momentum":
		g.Momentum, err = toFloat(v)
	case "dampening":
		g.Dampening, err = toFloat(v)
	case "weight_decay":
		g.WeightDecay, err = toFloat(v)
	case "eps":
		g.Eps, err = toFloat(v)
	case "eta":
		g.Eta, err = toFloat(v)
	case "nesterov":
		g.Nesterov, err = toBool(v)
	case "amsgrad":
		g.Amsgrad, err = toBool(v)
	case "lars_exclude":
		g.LarsExclude, err = toBool(v)
	case "fix_lr":
		g.FixLR, err = toBool(v)
	case "betas":
		fs, ok := asFloats(v)
		if !ok || len(fs) != 2 {
			return fmt.Errorf("want two numbers, got %v", v)
		}
		g.Betas = [2]float64{fs[0], fs[1]}
	default:
		// torch bookkeeping keys (maximize, foreach, capturable, …) carry
		// no information for these optimizers.
	}
	return err
}

func stepValue(v any) (float64, error) {
	if t, ok := v.(*ts.Tensor); ok {
		return t.Float64Value([]int64{})
	}
	return toFloat(v)
}

// DropState drops every tensor leaf of a state dict returned by State.
func DropState(sd map[string]any) {
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case *ts.Tensor:
			x.Drop()
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case map[int]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(sd)
}
