package model

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// Param is one named parameter. Name is the PyTorch state-dict key
// ("backbone.layer1.0.conv1.weight"); T is the VarStore's tensor, not owned
// by the Param (never drop it through here).
type Param struct {
	Name string
	T    *ts.Tensor
}

// ParamsOf returns the VarStore's trainable variables (requires_grad true)
// in natural name order: dotted segments compare numerically when both are
// integers, so "layer1.2" < "layer1.10". gotch keeps variables in a map and
// records neither registration order nor the parameter/buffer distinction
// (BN running stats are non-trainable "parameters"), so trainability is the
// only usable filter. Frozen parameters, which PyTorch still places in
// optimizer groups, are left out; use ParamsNamed with the model's
// named_parameters() order when optimizer-state indices must match a
// PyTorch checkpoint.
func ParamsOf(vs *nn.VarStore) []Param {
	var out []Param
	for name, v := range vs.Variables() {
		t := v // copy shares the C handle; never dropped here
		req, err := t.RequiresGrad()
		if err != nil || !req {
			continue
		}
		out = append(out, Param{Name: name, T: &t})
	}
	sort.Slice(out, func(i, j int) bool { return naturalLess(out[i].Name, out[j].Name) })
	return out
}

// ParamsNamed returns the VarStore's variables called names, in that order
// (trainable or not). It fails on a missing or repeated name.
func ParamsNamed(vs *nn.VarStore, names []string) ([]Param, error) {
	vars := vs.Variables()
	seen := make(map[string]bool, len(names))
	out := make([]Param, 0, len(names))
	for _, n := range names {
		if seen[n] {
			return nil, fmt.Errorf("params: %q listed twice", n)
		}
		seen[n] = true
		v, ok := vars[n]
		if !ok {
			return nil, fmt.Errorf("params: %q not in the VarStore", n)
		}
		t := v
		out = append(out, Param{Name: n, T: &t})
	}
	return out, nil
}

// naturalLess orders dotted names segment by segment, integers numerically.
func naturalLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		ai, aerr := strconv.Atoi(as[i])
		bi, berr := strconv.Atoi(bs[i])
		if aerr == nil && berr == nil {
			return ai < bi
		}
		return as[i] < bs[i]
	}
	return len(as) < len(bs)
}

// Group is one parameter group: the indices of its parameters in the
// optimizer's parameter list and every hyper-parameter any of the
// optimizers reads. LR is what the next Step uses (the LR hook writes it);
// InitialLR is the schedule's base (mmcv's initial_lr, preserved across
// resumes). Fields an optimizer does not read are kept for state dicts.
type Group struct {
	Params      []int
	LR          float64
	InitialLR   float64
	Momentum    float64
	Dampening   float64
	WeightDecay float64
	Nesterov    bool
	Betas       [2]float64
	Eps         float64
	Amsgrad     bool
	Eta         float64 // LARS trust coefficient
	LarsExclude bool    // LARS: no layer-wise adaptation for this group
	FixLR       bool    // SimSiam: the hook pins this group's LR
	// SkipStep makes Step treat the group's parameters as having no
	// gradient (PyTorch's p.grad = None): no update, no weight decay, no
	// momentum or Adam state change. The optimizer hook sets it for
	// frozen_layers_cfg (SwAV's prototypes for the first iterations) and
	// clears it afterwards; it is not part of the state dict.
	SkipStep bool
}

// Optimizer updates parameters in place from their gradients.
//
// All methods touch libtorch tensors: call them on a goroutine locked to
// its OS thread (runtime.LockOSThread), the same thread that ran backward,
// because gotch's error slot and libtorch's grad mode are per thread.
type Optimizer interface {
	// Type is the MMSelfSup/torch class name: SGD, Adam, AdamW or LARS.
	Type() string
	// Step applies one update to every parameter that has a gradient.
	Step() error
	// ZeroGrad sets every existing gradient to zero (torch 1.13's
	// zero_grad(set_to_none=False), the default MMSelfSup relies on).
	ZeroGrad() error
	Params() []Param
	// Groups are live: writing LR (or Momentum, …) affects the next Step.
	Groups() []*Group
	// State returns a torch-like state dict (see StateDict docs in
	// optim_state.go); its tensors are copies owned by the caller.
	State() (map[string]any, error)
	// LoadState restores State's output (or a torch state_dict decoded
	// into the same Go shapes); it copies, the caller keeps its map.
	LoadState(sd map[string]any) error
	// Close drops the optimizer's state tensors.
	Close() error
	// SetFrozen makes Step treat every parameter whose name frozen
	// reports as having no gradient (PyTorch's p.grad = None, what
	// frozen_layers_cfg does): no update, no weight decay, no state change.
	// nil unfreezes all.
	SetFrozen(frozen func(name string) bool)
}

// base holds what every optimizer shares: parameters, groups and
// per-parameter state tensors keyed by state name.
type base struct {
	kind   string
	params []Param
	groups []*Group
	state  []map[string]*ts.Tensor // by param index; nil = no state yet
	steps  []float64               // Adam "step" counts by param index
	frozen func(name string) bool
}

func (b *base) SetFrozen(frozen func(name string) bool) { b.frozen = frozen }

func newBase(kind string, params []Param, groups []Group) (base, error) {
	b := base{kind: kind, params: params, state: make([]map[string]*ts.Tensor, len(params)), steps: make([]float64, len(params))}
	owner := make([]int, len(params))
	for i := range owner {
		owner[i] = -1
	}
	for gi := range groups {
		g := groups[gi]
		g.Params = append([]int(nil), g.Params...)
		for _, pi := range g.Params {
			if pi < 0 || pi >= len(params) {
				return b, fmt.Errorf("%s: group %d: parameter index %d out of range [0,%d)", kind, gi, pi, len(params))
			}
			if owner[pi] >= 0 {
				return b, fmt.Errorf("%s: parameter %q appears in groups %d and %d", kind, params[pi].Name, owner[pi], gi)
			}
			owner[pi] = gi
		}
		if err := validateGroup(kind, &g); err != nil {
			return b, fmt.Errorf("%s: group %d: %w", kind, gi, err)
		}
		b.groups = append(b.groups, &g)
	}
	return b, nil
}

func validateGroup(kind string, g *Group) error {
	switch {
	case g.LR < 0:
		return fmt.Errorf("invalid learning rate %v", g.LR)
	case g.Momentum < 0:
		return fmt.Errorf("invalid momentum %v", g.Momentum)
	case g.WeightDecay < 0:
		return fmt.Errorf("invalid weight_decay %v", g.WeightDecay)
	}
	switch kind {
	case "SGD", "LARS":
		if g.Nesterov && (g.Momentum <= 0 || g.Dampening != 0) {
			return fmt.Errorf("nesterov momentum requires a momentum and zero dampening")
		}
		if kind == "LARS" && g.Eta < 0 {
			return fmt.Errorf("invalid LARS coefficient eta %v", g.Eta)
		}
	case "Adam", "AdamW":
		if g.Eps < 0 {
			return fmt.Errorf("invalid epsilon %v", g.Eps)
		}
		for i, b := range g.Betas {
			if b < 0 || b >= 1 {
				return fmt.Errorf("invalid beta parameter at index %d: %v", i, b)
			}
		}
	}
	return nil
}

func (b *base) Type() string     { return b.kind }
func (b *base) Params() []Param  { return b.params }
func (b *base) Groups() []*Group { return b.groups }

func (b *base) ZeroGrad() error {
	for _, p := range b.params {
		g, err := gradOf(p.T)
		if err != nil {
			return fmt.Errorf("zero_grad %s: %w", p.Name, err)
		}
		if g == nil {
			continue
		}
		err = g.Detach_()
		if err == nil {
			err = g.Zero_()
		}
		g.Drop()
		if err != nil {
			return fmt.Errorf("zero_grad %s: %w", p.Name, err)
		}
	}
	return nil
}

func (b *base) Close() error {
	var first error
	for i, st := range b.state {
		for _, t := range st {
			if err := t.Drop(); err != nil && first == nil {
				first = err
			}
		}
		b.state[i] = nil
		b.steps[i] = 0
	}
	return first
}

// stepEach runs update for every parameter of every group that has a
// gradient, with grad mode off; update receives the parameter index, its
// group and its gradient (dropped afterwards).
func (b *base) stepEach(update func(i int, g *Group, grad *ts.Tensor, s *scratch)) error {
	return WithoutGrad(func() error {
		for _, grp := range b.groups {
			if grp.SkipStep {
				continue
			}
			for _, i := range grp.Params {
				if b.frozen != nil && b.frozen(b.params[i].Name) {
					continue
				}
				grad, err := gradOf(b.params[i].T)
				if err != nil {
					return fmt.Errorf("%s step %s: %w", b.kind, b.params[i].Name, err)
				}
				if grad == nil {
					continue
				}
				s := &scratch{}
				update(i, grp, grad, s)
				s.drop()
				grad.Drop()
				if s.err != nil {
					return fmt.Errorf("%s step %s: %w", b.kind, b.params[i].Name, s.err)
				}
			}
		}
		return nil
	})
}

// setState stores t (released from s) under key for param i.
func (b *base) setState(i int, key string, t *ts.Tensor, s *scratch) {
	if s.err != nil {
		return
	}
	if b.state[i] == nil {
		b.state[i] = map[string]*ts.Tensor{}
	}
	b.state[i][key] = s.release(t)
}
