package model

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// netParityCase is one backbone or neck config compared against
// testdata/nets/ref_variants.py by runNetParity.
type netParityCase struct {
	name string
	cfg  map[string]any
	in   [][]int64 // input shapes (necks: one tensor per list entry)
	// dropout: train-mode outputs and gradients depend on the dropout mask,
	// so only the running statistics are compared in train mode.
	dropout bool
}

// parityTol is max|Δ| / max(1, max|ref|) in float32.
const parityTol = 1e-4

// netParityRun is one prepared case: the Go module and what was written for
// parity2.py.
type netParityRun struct {
	c      netParityCase
	vs     *nn.VarStore
	fwd    func(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error)
	prefix string
	xs     []*ts.Tensor
	shapes [][]int64
	gw     map[string][]*ts.Tensor
	dir    string
}

// runNetParity builds each case with the registry, randomises its BN state
// and writes its weights and inputs; runs parity2.py once for all cases
// (torch is imported once); then runs a train pass and an eval pass
// (forward, loss Σ_i (out_i·w_i).sum(), backward) in Go and compares the
// outputs, every parameter's and input's gradient, requires_grad, the state
// dict after the train pass, and the state dict key order.
func runNetParity(t *testing.T, role string, cases []netParityCase, seed int64) {
	root := t.TempDir()
	onPinned(t, func() error {
		var runs []*netParityRun
		defer func() {
			for _, r := range runs {
				for _, x := range r.xs {
					x.MustDrop()
				}
				for _, g := range r.gw {
					for _, x := range g {
						x.MustDrop()
					}
				}
			}
		}()
		type manifestEntry struct {
			Kind    string         `json:"kind"`
			Cfg     map[string]any `json:"cfg"`
			In      string         `json:"in"`
			Weights string         `json:"weights"`
			Out     string         `json:"out"`
			Keys    string         `json:"keys"`
		}
		var manifest []manifestEntry
		start := time.Now()
		for i, c := range cases {
			dir := filepath.Join(root, strconv.Itoa(i))
			if err := os.Mkdir(dir, 0o755); err != nil {
				return err
			}
			r, weights, err := prepareNetParity(t, c, role, seed+int64(i), dir)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			runs = append(runs, r)
			manifest = append(manifest, manifestEntry{Kind: role, Cfg: c.cfg, In: filepath.Join(dir, "in.pth"), Weights: weights,
				Out: filepath.Join(dir, "out.pth"), Keys: filepath.Join(dir, "keys.txt")})
		}
		prepared := time.Now()
		js, err := json.Marshal(manifest)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(root, "manifest.json"), js, 0o644); err != nil {
			return err
		}
		cmd := exec.Command(refPython, filepath.Join("testdata", "nets", "parity2.py"), filepath.Join(root, "manifest.json"))
		cmd.Env = append(cmd.Environ(), "OMP_NUM_THREADS=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("parity2.py: %v\n%s", err, out)
		}
		t.Logf("prepare %v, parity2.py %v", prepared.Sub(start).Round(time.Millisecond), time.Since(prepared).Round(time.Millisecond))
		for _, r := range runs {
			t0 := time.Now()
			if err := r.check(t); err != nil {
				return fmt.Errorf("%s: %w", r.c.name, err)
			}
			t.Logf("%s: checked in %v", r.c.name, time.Since(t0).Round(time.Millisecond))
		}
		return nil
	})
}

// prepareNetParity builds c and writes dir/in.pth and the weights file,
// whose path (or "-" for a module without state) it returns.
func prepareNetParity(t *testing.T, c netParityCase, role string, seed int64, dir string) (*netParityRun, string, error) {
	ManualSeed(seed)
	r := &netParityRun{c: c, vs: nn.NewVarStore(gotch.CPU), prefix: role + ".", gw: map[string][]*ts.Tensor{}, dir: dir}
	p := r.vs.Root().Sub(role)
	switch role {
	case "backbone":
		b, err := BuildBackbone(p, c.cfg)
		if err != nil {
			return nil, "", err
		}
		r.fwd = func(xs []*ts.Tensor, train bool) ([]*ts.Tensor, error) { return b.Forward(xs[0], train) }
	default:
		n, err := BuildNeck(p, c.cfg)
		if err != nil {
			return nil, "", err
		}
		r.fwd = n.Forward
	}
	randomiseBN(r.vs)
	var w []Named
	for _, e := range StateDict(r.vs) {
		w = append(w, Named{Name: strings.TrimPrefix(e.Name, r.prefix), T: e.T})
	}
	weights := "-" // a module without state (AvgPool2dNeck)
	if len(w) > 0 {
		weights = filepath.Join(dir, "weights.pth")
		writeStateDict(t, weights, w)
	}
	var in []Named
	for i, shape := range c.in {
		x := ts.MustRandn(shape, gotch.Float, gotch.CPU)
		r.xs = append(r.xs, x)
		in = append(in, Named{Name: fmt.Sprint("input.", i), T: x})
	}
	// Output shapes, from an eval pass that changes no state.
	var err error
	noGradDo(func() {
		var outs []*ts.Tensor
		if outs, err = r.fwd(r.xs, false); err != nil {
			return
		}
		for _, o := range outs {
			r.shapes = append(r.shapes, o.MustSize())
			o.MustDrop()
		}
	})
	if err != nil {
		return nil, "", err
	}
	for _, mode := range []string{"train", "eval"} {
		for i, s := range r.shapes {
			g := ts.MustRandn(s, gotch.Float, gotch.CPU)
			r.gw[mode] = append(r.gw[mode], g)
			in = append(in, Named{Name: fmt.Sprintf("gw.%s.%d", mode, i), T: g})
		}
	}
	writeTensors(t, filepath.Join(dir, "in.pth"), in)
	return r, weights, nil
}

// check runs the Go passes and compares them with dir/out.pth.
func (r *netParityRun) check(t *testing.T) error {
	c := r.c
	ref := readTensors(t, filepath.Join(r.dir, "out.pth"))
	check := func(key string, got *ts.Tensor) {
		t.Helper()
		if d := relDiff(t, c.name+": "+key, got, refTensor(t, ref, key)); d > parityTol {
			t.Errorf("%s: %s: relative diff %.3g > %g", c.name, key, d, parityTol)
		}
	}

	// requires_grad must agree (frozen_stages, norm_cfg).
	var params []Named
	for _, e := range StateDict(r.vs) {
		name := strings.TrimPrefix(e.Name, r.prefix)
		rq, err := ref.Tensor("req." + name)
		if err != nil {
			continue // buffer, or an alias PyTorch lists once
		}
		want, err := rq.Int64s()
		if err != nil {
			return err
		}
		if got := e.T.MustRequiresGrad(); got != (want[0] == 1) {
			t.Errorf("%s: %s: requires_grad %v, PyTorch %v", c.name, name, got, want[0] == 1)
		}
		params = append(params, Named{Name: name, T: e.T})
	}

	for _, mode := range []string{"train", "eval"} {
		compare := mode == "eval" || !c.dropout
		for _, prm := range params {
			if prm.T.MustRequiresGrad() {
				g := prm.T.MustGrad(false)
				if g.MustDefined() {
					inPlace(g, func() { g.MustZero_() })
				}
				g.MustDrop()
			}
		}
		var gx []*ts.Tensor
		for _, x := range r.xs {
			v := x.MustDetach(false).MustSetRequiresGrad(true, true)
			defer v.MustDrop()
			gx = append(gx, v)
		}
		outs, err := r.fwd(gx, mode == "train")
		if err != nil {
			return err
		}
		if len(outs) != len(r.shapes) {
			return fmt.Errorf("%s: %d outputs, want %d", mode, len(outs), len(r.shapes))
		}
		var loss *ts.Tensor
		for i, o := range outs {
			if compare {
				check(fmt.Sprintf("%s.out.%d", mode, i), o)
			}
			term := o.MustMul(r.gw[mode][i], false).MustSum(gotch.Float, true)
			if loss == nil {
				loss = term
			} else {
				loss = dropAfter(loss, loss.MustAdd(term, false))
				term.MustDrop()
			}
		}
		if err := loss.Backward(); err != nil {
			return fmt.Errorf("%s backward: %w", mode, err)
		}
		loss.MustDrop()
		for _, o := range outs {
			o.MustDrop()
		}
		if compare {
			n := 0
			for _, prm := range params {
				if !prm.T.MustRequiresGrad() {
					continue
				}
				g := prm.T.MustGrad(false)
				check(fmt.Sprintf("%s.grad.%s", mode, prm.Name), g)
				g.MustDrop()
				n++
			}
			for i, v := range gx {
				g := v.MustGrad(false)
				check(fmt.Sprintf("%s.grad.input.%d", mode, i), g)
				g.MustDrop()
			}
			t.Logf("%s %s: %d outputs, %d parameter gradients, %d input gradients compared", c.name, mode, len(r.shapes), n, len(gx))
		}
		if mode == "train" {
			for _, e := range StateDict(r.vs) {
				check("state."+strings.TrimPrefix(e.Name, r.prefix), e.T)
			}
		}
	}

	// Key names and order must equal torch's state_dict().keys().
	f, err := os.Open(filepath.Join(r.dir, "keys.txt"))
	if err != nil {
		return err
	}
	defer f.Close()
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if sc.Text() != "" {
			want = append(want, r.prefix+sc.Text())
		}
	}
	var got []string
	for _, e := range StateDict(r.vs) {
		got = append(got, e.Name)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: state dict keys differ from torch's:\n go  %d keys %v\n ref %d keys %v", c.name, len(got), got[:min(8, len(got))], len(want), want[:min(8, len(want))])
	}
	return nil
}

// TestResNetVariantsParityTorch compares ResNetV1d (deep stem, avg-pool
// shortcuts), ResNeXt (grouped conv2, width_per_group), ResNet_CIFAR's stem
// and the frozen_stages / norm_eval / caffe-style / dilation paths with
// ref_variants.py (torch 1.13.1): every out_index output and every
// parameter's and the input's gradient in train and eval mode, the running
// statistics after the train pass, requires_grad, and the key order.
func TestResNetVariantsParityTorch(t *testing.T) {
	needTorch(t)
	all := []any{0, 1, 2, 3, 4}
	small := func(m map[string]any) map[string]any {
		m["stem_channels"], m["base_channels"] = 16, 8
		return m
	}
	runNetParity(t, "backbone", []netParityCase{
		{name: "resnetv1d50", cfg: map[string]any{"type": "ResNetV1d", "depth": 50, "out_indices": all}, in: [][]int64{{2, 3, 32, 32}}},
		// Odd sizes: the shortcut's AvgPool2d(ceil_mode, count_include_pad=False).
		{name: "resnetv1d18-odd", cfg: small(map[string]any{"type": "ResNetV1d", "depth": 18, "out_indices": all}), in: [][]int64{{2, 3, 37, 29}}},
		{name: "resnetv1d50-frozen1", cfg: small(map[string]any{"type": "ResNetV1d", "depth": 50, "out_indices": []any{2, 4}, "frozen_stages": 1}), in: [][]int64{{2, 3, 35, 35}}},
		{name: "resnext50-32x4d", cfg: map[string]any{"type": "ResNeXt", "depth": 50, "out_indices": all}, in: [][]int64{{2, 3, 32, 32}}},
		{name: "resnext50-4x8d-small-frozen2", cfg: small(map[string]any{"type": "ResNeXt", "depth": 50, "groups": 4, "width_per_group": 8, "out_indices": all, "frozen_stages": 2}), in: [][]int64{{2, 3, 33, 33}}},
		{name: "resnext50-avgdown-caffe-normeval", cfg: small(map[string]any{"type": "ResNeXt", "depth": 50, "groups": 2, "width_per_group": 4, "avg_down": true, "style": "caffe", "norm_eval": true, "out_indices": []any{4}}), in: [][]int64{{2, 3, 32, 32}}},
		{name: "resnet50-dilated-3stages", cfg: small(map[string]any{"type": "ResNet", "depth": 50, "num_stages": 3, "strides": []any{1, 2, 1}, "dilations": []any{1, 2, 4}, "out_indices": []any{0, 1, 2, 3}}), in: [][]int64{{2, 3, 32, 32}}},
		{name: "resnet50-expansion2", cfg: small(map[string]any{"type": "ResNet", "depth": 50, "expansion": 2, "out_indices": []any{1, 4}}), in: [][]int64{{2, 3, 32, 32}}},
		{name: "resnet18-cifar", cfg: map[string]any{"type": "ResNet_CIFAR", "depth": 18, "out_indices": all}, in: [][]int64{{2, 3, 16, 16}}},
		{name: "resnet50-cifar-frozen1-2ch", cfg: small(map[string]any{"type": "ResNet_CIFAR", "depth": 50, "in_channels": 2, "out_indices": all, "frozen_stages": 1}), in: [][]int64{{2, 2, 16, 16}}},
	}, 100)
}
