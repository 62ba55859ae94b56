package model

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// MomentumTarget is implemented by algorithms whose target network follows
// the online one by an EMA that the runner drives, as MMSelfSup's
// MomentumUpdateHook (alias BYOLHook) does for BYOL: before iteration t the
// runner computes m = MomentumUpdate.Momentum(BaseMomentum(), t, T), and
// after the optimizer step, when MomentumUpdate.Due(t), it calls
// MomentumUpdate(m), which sets θ_target ← m·θ_target + (1−m)·θ_online
// over parameters (BN buffers are left alone, as in PyTorch).
//
// MoCo and DenseCL update their key encoders inside TrainStep with a
// constant momentum and do not implement it.
type MomentumTarget interface {
	// BaseMomentum is the model's base_momentum (the schedule's start).
	BaseMomentum() float64
	// MomentumUpdate applies one EMA step with coefficient m ∈ [0, 1].
	MomentumUpdate(m float64) error
}

// copyTarget copies every variable under the dotted prefix online (params
// and buffers) into its twin under target, sets requires_grad=false on the
// target's parameters, and returns the (online, target) parameter pairs
// that emaUpdate walks. The returned tensors share the VarStore's handles.
func copyTarget(vs *nn.VarStore, online, target string) ([][2]*ts.Tensor, error) {
	vars := vs.Variables()
	var names []string
	for name := range vars {
		if strings.HasPrefix(name, online+".") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return nil, fmt.Errorf("target network: no variables under %q", online)
	}
	var pairs [][2]*ts.Tensor
	err := WithoutGrad(func() error {
		for _, name := range names {
			ov := vars[name]
			tname := target + strings.TrimPrefix(name, online)
			tv, ok := vars[tname]
			if !ok {
				return fmt.Errorf("target network lacks %s (twin of %s)", tname, name)
			}
			osz, err := ov.Size()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			tsz, err := tv.Size()
			if err != nil {
				return fmt.Errorf("%s: %w", tname, err)
			}
			if !equalDims(osz, tsz) {
				return fmt.Errorf("target %s has shape %v, online %s %v", tname, tsz, name, osz)
			}
			tv.Copy_(&ov)
			if err := ts.TorchErr(); err != nil {
				return fmt.Errorf("copy %s: %w", name, err)
			}
			o, t := ov, tv
			if req, _ := o.RequiresGrad(); req {
				freezeTensors(&t)
				pairs = append(pairs, [2]*ts.Tensor{&o, &t})
			}
		}
		return nil
	})
	return pairs, err
}

// checkMomentum validates an EMA coefficient.
func checkMomentum(key string, m float64) error {
	if m < 0 || m > 1 || m != m {
		return fmt.Errorf("model.%s: %g outside [0, 1]", key, m)
	}
	return nil
}

// aliasAll registers (alias, target) pairs in the order given, so the
// state dict lists them as PyTorch's module registration order does.
func aliasAll(vs *nn.VarStore, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := AliasPrefix(vs, pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}
