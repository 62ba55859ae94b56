package model

import (
	"fmt"
	"math"
)

// MomentumUpdate is MMSelfSup's MomentumUpdateHook (registered also as
// BYOLHook, core/hooks/momentum_update_hook.py), which drives the EMA
// coefficient of BYOL's and MoCo v3's target networks:
//
//	before iteration t, if Due(t):  m = end − (end − base)·(cos(π·t/T) + 1)/2
//	after iteration t,  if Due(t):  target ← m·target + (1−m)·online
//
// with t the raw global iteration (not divided by UpdateInterval) and T
// max_iters. (mmcv's momentum_config policies are not listed: MMSelfSup
// 0.9.0 never registers momentum_config, see components.md §7.3.)
type MomentumUpdate struct {
	EndMomentum    float64 // default 1
	UpdateInterval int     // default 1
}

// Due reports whether iteration iter updates momentum and target
// (mmcv every_n_iters: (iter+1) % interval == 0).
func (h MomentumUpdate) Due(iter int) bool { return (iter+1)%h.UpdateInterval == 0 }

// Momentum returns the coefficient for iteration iter of maxIters, from
// the model's base_momentum.
func (h MomentumUpdate) Momentum(base float64, iter, maxIters int) float64 {
	return h.EndMomentum - (h.EndMomentum-base)*(math.Cos(math.Pi*float64(iter)/float64(maxIters))+1)/2
}

// BuildMomentumUpdate reads a custom_hooks entry of type BYOLHook or
// MomentumUpdateHook (end_momentum, update_interval; priority is the
// runner's business and ignored here).
func BuildMomentumUpdate(cfg map[string]any) (MomentumUpdate, error) {
	c := cfgReader{prefix: "custom_hooks", m: cfg, used: map[string]bool{}}
	typ := c.str("type", "")
	if typ != "BYOLHook" && typ != "MomentumUpdateHook" {
		return MomentumUpdate{}, fmt.Errorf("custom_hooks.type: %q is not BYOLHook or MomentumUpdateHook", typ)
	}
	c.prefix = "custom_hooks[" + typ + "]"
	h := MomentumUpdate{EndMomentum: c.num("end_momentum", 1), UpdateInterval: c.integer("update_interval", 1)}
	c.get("priority")
	if c.err != nil {
		return MomentumUpdate{}, c.err
	}
	if h.UpdateInterval <= 0 {
		return MomentumUpdate{}, fmt.Errorf("%s.update_interval: %d must be positive", c.prefix, h.UpdateInterval)
	}
	if err := c.unused(); err != nil {
		return MomentumUpdate{}, err
	}
	return h, nil
}
