package model

import (
	"strings"
	"testing"

	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"
	"github.com/sugarme/gotch/ts"
)

// TestRegistryErrors checks that config mistakes name the path and reason.
func TestRegistryErrors(t *testing.T) {
	cases := []struct {
		name, role string
		cfg        map[string]any
		want       string
	}{
		{"unknown neck", "neck", map[string]any{"type": "MoCoV2Nek"}, `neck.type: "MoCoV2Nek" not registered (have: ` + strings.Join(NeckTypes(), ", ") + ")"},
		{"missing type", "backbone", map[string]any{"depth": 50}, "backbone.type: missing (have: " + strings.Join(BackboneTypes(), ", ") + ")"},
		{"unknown key", "neck", map[string]any{"type": "LinearNeck", "in_channels": 4, "out_channels": 2, "with_avgpool": true}, "neck.with_avgpool: unknown key (known: in_channels, init_cfg, out_channels, with_avg_pool)"},
		{"ill-typed", "backbone", map[string]any{"type": "ResNet", "depth": "fifty"}, `backbone.depth: want an integer, got string "fifty"`},
		{"bad depth", "backbone", map[string]any{"type": "ResNet", "depth": 42}, "backbone: depth 42 invalid (have: 18, 34, 50, 101, 152)"},
		{"bad out index", "backbone", map[string]any{"type": "ResNet", "depth": 18, "out_indices": []any{5}}, "out_indices [5]: 5 outside 0..num_stages=4"},
		{"bad norm", "backbone", map[string]any{"type": "ResNet", "depth": 18, "norm_cfg": map[string]any{"type": "GN"}}, `backbone.norm_cfg: type "GN" not supported`},
		{"vit neck", "neck", map[string]any{"type": "NonLinearNeck", "in_channels": 4, "hid_channels": 4, "out_channels": 4, "vit_backbone": true}, "vit_backbone=True not supported"},
		{"predictor path", "head", map[string]any{"type": "LatentPredictHead", "predictor": map[string]any{"type": "Nope"}}, `head.predictor.type: "Nope" not registered`},
		{"swav list", "head", map[string]any{"type": "SwAVHead", "feat_dim": 8, "num_prototypes": []any{3, 4}}, "MultiPrototypes"},
	}
	onPinned(t, func() error {
		for _, c := range cases {
			vs := nn.NewVarStore(gotch.CPU)
			p := vs.Root().Sub(c.role)
			var err error
			switch c.role {
			case "backbone":
				_, err = BuildBackbone(p, c.cfg)
			case "neck":
				_, err = BuildNeck(p, c.cfg)
			default:
				_, err = BuildHead(p, c.cfg)
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: error %v, want it to contain %q", c.name, err, c.want)
			}
		}
		return nil
	})
}

// TestModuleKeys checks each module's state-dict keys against MMSelfSup's
// attribute names (necks/*.py, heads/*.py at v0.9.0) and output shapes.
func TestModuleKeys(t *testing.T) {
	cases := []struct {
		role string
		cfg  map[string]any
		keys string
		in   []int64
		out  [][]int64
	}{
		{"neck", map[string]any{"type": "LinearNeck", "in_channels": 8, "out_channels": 4}, "neck.fc.weight neck.fc.bias", []int64{2, 8, 3, 3}, [][]int64{{2, 4}}},
		{"neck", map[string]any{"type": "MoCoV2Neck", "in_channels": 8, "hid_channels": 6, "out_channels": 4}, "neck.mlp.0.weight neck.mlp.0.bias neck.mlp.2.weight neck.mlp.2.bias", []int64{2, 8, 3, 3}, [][]int64{{2, 4}}},
		{"neck", map[string]any{"type": "NonLinearNeck", "in_channels": 8, "hid_channels": 6, "out_channels": 4, "num_layers": 3, "with_last_bn_affine": false},
			"neck.fc0.weight neck.bn0.weight neck.bn0.bias neck.bn0.running_mean neck.bn0.running_var neck.bn0.num_batches_tracked neck.fc1.weight neck.bn1.weight neck.bn1.bias neck.bn1.running_mean neck.bn1.running_var neck.bn1.num_batches_tracked neck.fc2.weight neck.bn2.running_mean neck.bn2.running_var neck.bn2.num_batches_tracked",
			[]int64{3, 8, 2, 2}, [][]int64{{3, 4}}},
		{"neck", map[string]any{"type": "ODCNeck", "in_channels": 8, "hid_channels": 6, "out_channels": 4},
			"neck.fc0.weight neck.fc0.bias neck.bn0.running_mean neck.bn0.running_var neck.bn0.num_batches_tracked neck.fc1.weight neck.fc1.bias", []int64{3, 8, 2, 2}, [][]int64{{3, 4}}},
		{"neck", map[string]any{"type": "RelativeLocNeck", "in_channels": 4, "out_channels": 5},
			"neck.fc.weight neck.fc.bias neck.bn.weight neck.bn.bias neck.bn.running_mean neck.bn.running_var neck.bn.num_batches_tracked", []int64{3, 8, 2, 2}, [][]int64{{3, 5}}},
		{"neck", map[string]any{"type": "SwAVNeck", "in_channels": 8, "hid_channels": 6, "out_channels": 4},
			"neck.bn.weight neck.bn.bias neck.bn.running_mean neck.bn.running_var neck.bn.num_batches_tracked neck.projection_neck.0.weight neck.projection_neck.0.bias neck.projection_neck.1.weight neck.projection_neck.1.bias neck.projection_neck.1.running_mean neck.projection_neck.1.running_var neck.projection_neck.1.num_batches_tracked neck.projection_neck.3.weight neck.projection_neck.3.bias",
			[]int64{3, 8, 2, 2}, [][]int64{{3, 4}}},
		{"neck", map[string]any{"type": "DenseCLNeck", "in_channels": 8, "hid_channels": 6, "out_channels": 4},
			"neck.mlp.0.weight neck.mlp.0.bias neck.mlp.2.weight neck.mlp.2.bias neck.mlp2.0.weight neck.mlp2.0.bias neck.mlp2.2.weight neck.mlp2.2.bias", []int64{2, 8, 3, 3}, [][]int64{{2, 4}, {2, 4, 9}, {2, 4}}},
		{"neck", map[string]any{"type": "AvgPool2dNeck"}, "", []int64{2, 8, 3, 3}, [][]int64{{2, 8, 1, 1}}},
		{"backbone", map[string]any{"type": "ResNetV1d", "depth": 50, "stem_channels": 8, "base_channels": 2, "num_stages": 1, "strides": []any{2}, "dilations": []any{1}, "out_indices": []any{0, 1}},
			"backbone.stem.0.conv.weight", []int64{1, 3, 16, 16}, [][]int64{{1, 8, 8, 8}, {1, 8, 2, 2}}},
		{"backbone", map[string]any{"type": "ResNet_CIFAR", "depth": 18, "out_indices": []any{4}}, "backbone.conv1.weight", []int64{2, 3, 16, 16}, [][]int64{{2, 512, 2, 2}}},
		{"backbone", map[string]any{"type": "ResNeXt", "depth": 50, "out_indices": []any{1}}, "backbone.conv1.weight", []int64{1, 3, 32, 32}, [][]int64{{1, 256, 8, 8}}},
	}
	onPinned(t, func() error {
		for _, c := range cases {
			vs := nn.NewVarStore(gotch.CPU)
			p := vs.Root().Sub(c.role)
			x := ts.MustRandn(c.in, gotch.Float, gotch.CPU)
			var outs []*ts.Tensor
			var err error
			switch c.role {
			case "neck":
				var n Neck
				if n, err = BuildNeck(p, c.cfg); err == nil {
					outs, err = n.Forward([]*ts.Tensor{x}, true)
				}
			default:
				var b Backbone
				if b, err = BuildBackbone(p, c.cfg); err == nil {
					outs, err = b.Forward(x, true)
				}
			}
			x.MustDrop()
			if err != nil {
				t.Errorf("%v: %v", c.cfg["type"], err)
				continue
			}
			var keys []string
			for _, e := range StateDict(vs) {
				keys = append(keys, e.Name)
			}
			got := strings.Join(keys, " ")
			if c.role == "neck" && got != c.keys || c.role == "backbone" && !strings.HasPrefix(got, c.keys) {
				t.Errorf("%v keys:\n got  %s\n want %s", c.cfg["type"], got, c.keys)
			}
			if len(outs) != len(c.out) {
				t.Errorf("%v: %d outputs, want %d", c.cfg["type"], len(outs), len(c.out))
			}
			for i, o := range outs {
				if i < len(c.out) && !equalDims(o.MustSize(), c.out[i]) {
					t.Errorf("%v output %d shape %v, want %v", c.cfg["type"], i, o.MustSize(), c.out[i])
				}
				o.MustDrop()
			}
		}
		return nil
	})
}

// TestResNetOptions checks zero_init_residual, frozen_stages and norm_eval.
func TestResNetOptions(t *testing.T) {
	onPinned(t, func() error {
		vs := nn.NewVarStore(gotch.CPU)
		_, err := BuildBackbone(vs.Root().Sub("backbone"), map[string]any{"type": "ResNet", "depth": 50,
			"zero_init_residual": true, "frozen_stages": 1, "norm_cfg": map[string]any{"type": "SyncBN"}})
		if err != nil {
			return err
		}
		for _, e := range StateDict(vs) {
			req := e.T.MustRequiresGrad()
			frozen := strings.HasPrefix(e.Name, "backbone.conv1") || strings.HasPrefix(e.Name, "backbone.bn1") || strings.HasPrefix(e.Name, "backbone.layer1.")
			if !e.Buffer && req == frozen {
				t.Errorf("%s: requires_grad %v with frozen_stages=1", e.Name, req)
			}
			if strings.HasSuffix(e.Name, "bn3.weight") {
				if m := e.T.MustAbs(false).MustMax(true); m.Float64Values()[0] != 0 {
					t.Errorf("%s not zeroed by zero_init_residual", e.Name)
				}
			}
		}
		// Kaiming-normal fan_out: std of layer4.0.conv2 (512×512×3×3) ≈ √(2/4608).
		w := vs.Variables()["backbone.layer4.0.conv2.weight"]
		std := w.MustStd(true, false).Float64Values()[0]
		if want := 0.020833; std < want*0.97 || std > want*1.03 {
			t.Errorf("conv std %.5f, want ≈ %.5f (kaiming normal fan_out)", std, want)
		}
		return nil
	})
}

// TestLoadStateDict checks strict loading, missing/unexpected keys, shape
// errors naming the key, and the checkpoint round trip.
func TestLoadStateDict(t *testing.T) {
	onPinned(t, func() error {
		build := func(seed int64) *nn.VarStore {
			ManualSeed(seed)
			vs := nn.NewVarStore(gotch.CPU)
			if _, err := BuildNeck(vs.Root().Sub("neck"), map[string]any{"type": "NonLinearNeck", "in_channels": 4, "hid_channels": 3, "out_channels": 2}); err != nil {
				t.Fatal(err)
			}
			return vs
		}
		a, b := build(1), build(2)
		d, err := StateDictToCheckpoint(StateDict(a))
		if err != nil {
			return err
		}
		named, err := NamedFromCheckpoint(d)
		if err != nil {
			return err
		}
		defer DropNamed(named)
		if _, _, err := LoadStateDict(b, named, true); err != nil {
			return err
		}
		for _, e := range StateDict(b) {
			src := a.Variables()[e.Name]
			diff := e.T.MustTotype(gotch.Double, false).MustSub(src.MustTotype(gotch.Double, false), true).MustAbs(true).MustMax(true)
			if v := diff.Float64Values()[0]; v != 0 {
				t.Errorf("%s differs by %g after load", e.Name, v)
			}
			diff.MustDrop()
		}
		extra := ts.MustZeros([]int64{2}, gotch.Float, gotch.CPU)
		defer extra.MustDrop()
		missing, unexpected, err := LoadStateDict(b, append(named[1:], Named{Name: "neck.zzz", T: extra}), true)
		if err == nil || len(missing) != 1 || missing[0] != "neck.fc0.weight" || len(unexpected) != 1 || unexpected[0] != "neck.zzz" {
			t.Errorf("strict load: missing %v unexpected %v err %v", missing, unexpected, err)
		}
		if _, _, err := LoadStateDict(b, []Named{{Name: "neck.fc0.weight", T: extra}}, false); err == nil || !strings.Contains(err.Error(), "neck.fc0.weight: shape [2] does not match the model's [3 4]") {
			t.Errorf("shape mismatch error: %v", err)
		}
		return nil
	})
}

// TestPinnedRunsOnOneThread checks Do's ordering, error and panic handling.
func TestPinnedRunsOnOneThread(t *testing.T) {
	p := NewPinned()
	var order []int
	for i := 0; i < 3; i++ {
		if err := p.Do(func() error { order = append(order, i); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if len(order) != 3 || order[2] != 2 {
		t.Errorf("order %v", order)
	}
	if err := p.Do(func() error { panic("boom") }); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("panic error %v", err)
	}
	p.Close()
	if err := p.Do(func() error { return nil }); err != ErrPinnedClosed {
		t.Errorf("Do after Close: %v", err)
	}
}
