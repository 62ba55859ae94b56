package model

import (
	"fmt"
	"sort"
	"strings"
)

// optimizerKeys lists, per type, the constructor keywords an optimizer
// config may carry (torch.optim / MMSelfSup LARS signatures).
var optimizerKeys = map[string][]string{
	"SGD":   {"lr", "momentum", "dampening", "weight_decay", "nesterov"},
	"Adam":  {"lr", "betas", "eps", "weight_decay", "amsgrad"},
	"AdamW": {"lr", "betas", "eps", "weight_decay", "amsgrad"},
	"LARS":  {"lr", "momentum", "weight_decay", "dampening", "eta", "nesterov", "eps"},
}

// BuildOptimizer builds an optimizer from an MMSelfSup optimizer config
// (the `optimizer` section: type, lr, momentum, weight_decay, betas, eps,
// nesterov, dampening, amsgrad, eta, paramwise_options, constructor,
// layer_decay, model_type). Like MMSelfSup's DefaultOptimizerConstructor it
// makes one group per parameter, in params order: parameters that do not
// require grad keep the defaults, the others get every matching
// paramwise_options entry (see parseParamwise for the accepted shapes).
// constructor TransformerFinetuneConstructor adds layer-wise lr decay
// entries (model_type vit|swin, layer_decay > 0) first. Each group's
// InitialLR is its lr. Errors name the offending key under "optimizer.".
func BuildOptimizer(params []Param, cfg map[string]any) (Optimizer, error) {
	typ, ok := cfg["type"].(string)
	if !ok {
		return nil, fmt.Errorf("optimizer.type: missing or not a string (want SGD, Adam, AdamW or LARS)")
	}
	allowed, ok := optimizerKeys[typ]
	if !ok {
		return nil, fmt.Errorf("optimizer.type: %q not registered (have: Adam, AdamW, LARS, SGD)", typ)
	}
	constructor := "DefaultOptimizerConstructor"
	if c, present := cfg["constructor"]; present {
		if constructor, ok = c.(string); !ok {
			return nil, fmt.Errorf("optimizer.constructor: want a string, got %T", c)
		}
	}
	if constructor != "DefaultOptimizerConstructor" && constructor != "TransformerFinetuneConstructor" {
		return nil, fmt.Errorf("optimizer.constructor: %q not registered (have: DefaultOptimizerConstructor, TransformerFinetuneConstructor)", constructor)
	}

	def := defaultGroup(typ)
	known := map[string]bool{"type": true, "constructor": true, "paramwise_options": true}
	for _, k := range allowed {
		known[k] = true
	}
	if constructor == "TransformerFinetuneConstructor" {
		known["layer_decay"], known["model_type"] = true, true
	}
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !known[k] {
			return nil, fmt.Errorf("optimizer.%s: unknown key for %s with %s (want %s)", k, typ, constructor, strings.Join(allowed, ", "))
		}
		if k == "type" || k == "constructor" || k == "paramwise_options" || k == "layer_decay" || k == "model_type" {
			continue
		}
		if err := checkOptions(map[string]any{k: cfg[k]}); err != nil {
			return nil, fmt.Errorf("optimizer.%w", err)
		}
		if err := setGroupKey(&def, k, cfg[k]); err != nil {
			return nil, fmt.Errorf("optimizer.%s: %w", k, err)
		}
	}
	if _, ok := cfg["lr"]; !ok && (typ == "SGD" || typ == "LARS") {
		return nil, fmt.Errorf("optimizer.lr: required for %s", typ)
	}

	entries, err := parseParamwise(cfg["paramwise_options"])
	if err != nil {
		return nil, err
	}
	if constructor == "TransformerFinetuneConstructor" {
		decay := 0.0
		if v, ok := cfg["layer_decay"]; ok {
			if decay, err = toFloat(v); err != nil {
				return nil, fmt.Errorf("optimizer.layer_decay: %w", err)
			}
		}
		if decay > 0 {
			mt, _ := cfg["model_type"].(string)
			names := make([]string, len(params))
			for i, p := range params {
				names[i] = p.Name
			}
			if entries, err = layerDecayEntries(entries, names, mt, decay); err != nil {
				return nil, err
			}
		}
	}

	groups := make([]Group, len(params))
	for i, p := range params {
		g := def
		g.Params = []int{i}
		req, err := p.T.RequiresGrad()
		if err != nil {
			return nil, fmt.Errorf("optimizer: requires_grad of %s: %w", p.Name, err)
		}
		if req {
			if err := applyOptions(&g, p.Name, entries, cfg); err != nil {
				return nil, err
			}
		}
		g.InitialLR = g.LR
		groups[i] = g
	}

	switch typ {
	case "SGD":
		return NewSGD(params, groups)
	case "Adam":
		return NewAdam(params, groups)
	case "AdamW":
		return NewAdamW(params, groups)
	default:
		return NewLARS(params, groups, def.Eps) // LARS eps is global, not per group
	}
}

// defaultGroup returns the constructor defaults of typ.
func defaultGroup(typ string) Group {
	switch typ {
	case "Adam":
		return Group{LR: 1e-3, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8}
	case "AdamW":
		return Group{LR: 1e-3, Betas: [2]float64{0.9, 0.999}, Eps: 1e-8, WeightDecay: 1e-2}
	case "LARS":
		return Group{Eta: 1e-3, Eps: 1e-8}
	}
	return Group{}
}
