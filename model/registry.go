package model

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// Backbone maps an image batch (N×C×H×W) to the feature maps selected by
// out_indices, in ascending index order (0 = stem output, k = stage k).
// train selects batch statistics in BatchNorm (frozen stages and norm_eval
// override it) and dropout; it is not autograd's switch (that is the
// thread's grad mode). The caller owns the returned tensors.
type Backbone interface {
	Forward(x *ts.Tensor, train bool) ([]*ts.Tensor, error)
	OutChannels() []int64
}

// Neck maps backbone outputs to projections. Most necks take exactly one
// input (MMSelfSup asserts len(x) == 1); SwAVNeck takes one per crop
// resolution group. The caller owns the returned tensors.
type Neck interface {
	Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error)
}

// Head is anything the head registry builds. Heads differ in their inputs,
// so algorithms assert the concrete type or one of the role interfaces
// (LatentHead, ClassifierHead) they need.
type Head interface {
	HeadType() string
}

// LatentHead computes a loss between two batches of features (BYOL,
// SimSiam, Barlow Twins heads): LatentPredictHead, LatentClsHead,
// LatentCrossCorrelationHead.
type LatentHead interface {
	Head
	Loss(input, target *ts.Tensor, train bool) (*Losses, error)
}

// ClassifierHead scores features and computes a classification loss:
// ClsHead, MultiClsHead.
type ClassifierHead interface {
	Head
	Forward(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error)
	Loss(scores []*ts.Tensor, labels *ts.Tensor) (*Losses, error)
}

// Noter is implemented by modules that accepted a setting they cannot honour
// exactly (SyncBN on one process, with_cp); the caller logs each note once.
type Noter interface {
	Notes() []string
}

// BackboneBuilder, NeckBuilder and HeadBuilder construct a module under p
// from its config dict (the "type" key included).
type (
	BackboneBuilder func(p *nn.Path, cfg map[string]any) (Backbone, error)
	NeckBuilder     func(p *nn.Path, cfg map[string]any) (Neck, error)
	HeadBuilder     func(p *nn.Path, cfg map[string]any) (Head, error)
)

// registry maps config type names to builders of one role.
type registry[B any] struct {
	role string
	m    map[string]B
}

var (
	backboneRegistry = registry[BackboneBuilder]{role: "backbone", m: map[string]BackboneBuilder{}}
	neckRegistry     = registry[NeckBuilder]{role: "neck", m: map[string]NeckBuilder{}}
	headRegistry     = registry[HeadBuilder]{role: "head", m: map[string]HeadBuilder{}}
)

func (r *registry[B]) register(name string, b B) {
	if _, dup := r.m[name]; dup {
		panic(fmt.Sprintf("model: %s %q registered twice", r.role, name))
	}
	r.m[name] = b
}

func (r *registry[B]) names() []string {
	out := make([]string, 0, len(r.m))
	for n := range r.m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// lookup returns the builder for cfg["type"]; errors name the config path
// (p's module path, or the role at the root).
func (r *registry[B]) lookup(p *nn.Path, cfg map[string]any) (B, error) {
	var zero B
	path := configPath(p, r.role)
	if cfg == nil {
		return zero, fmt.Errorf("%s: missing config", path)
	}
	raw, ok := cfg["type"]
	if !ok {
		return zero, fmt.Errorf("%s.type: missing (have: %s)", path, strings.Join(r.names(), ", "))
	}
	name, ok := raw.(string)
	if !ok {
		return zero, fmt.Errorf("%s.type: want a string, got %s", path, describeValue(raw))
	}
	b, ok := r.m[name]
	if !ok {
		return zero, fmt.Errorf("%s.type: %q not registered (have: %s)", path, name, strings.Join(r.names(), ", "))
	}
	return b, nil
}

// configPath is the dotted config path errors are reported under.
func configPath(p *nn.Path, role string) string {
	if s := pathName(p, ""); s != "" {
		return s
	}
	return role
}

// RegisterBackbone adds a backbone type; registering a name twice panics
// (a programming error at init time).
func RegisterBackbone(name string, b BackboneBuilder) { backboneRegistry.register(name, b) }

// RegisterNeck adds a neck type.
func RegisterNeck(name string, b NeckBuilder) { neckRegistry.register(name, b) }

// RegisterHead adds a head type.
func RegisterHead(name string, b HeadBuilder) { headRegistry.register(name, b) }

// BuildBackbone builds the backbone cfg["type"] names under p.
func BuildBackbone(p *nn.Path, cfg map[string]any) (Backbone, error) {
	b, err := backboneRegistry.lookup(p, cfg)
	if err != nil {
		return nil, err
	}
	return b(p, cfg)
}

// BuildNeck builds the neck cfg["type"] names under p.
func BuildNeck(p *nn.Path, cfg map[string]any) (Neck, error) {
	b, err := neckRegistry.lookup(p, cfg)
	if err != nil {
		return nil, err
	}
	return b(p, cfg)
}

// BuildHead builds the head cfg["type"] names under p.
func BuildHead(p *nn.Path, cfg map[string]any) (Head, error) {
	b, err := headRegistry.lookup(p, cfg)
	if err != nil {
		return nil, err
	}
	return b(p, cfg)
}

// BackboneTypes, NeckTypes and HeadTypes list the registered names.
func BackboneTypes() []string { return backboneRegistry.names() }

// NeckTypes lists the registered neck names.
func NeckTypes() []string { return neckRegistry.names() }

// HeadTypes lists the registered head names.
func HeadTypes() []string { return headRegistry.names() }

// buildFrom decodes cfg into c (which holds the defaults),
// validates it and calls build: the shape shared by every registered type.
func buildFrom[C interface{ Validate() error }, M any](p *nn.Path, role string, cfg map[string]any, c C, build func(C) (M, error)) (M, error) {
	var zero M
	path := configPath(p, role)
	if err := decodeConfig(path, cfg, c); err != nil {
		return zero, err
	}
	if err := c.Validate(); err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	m, err := build(c)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
