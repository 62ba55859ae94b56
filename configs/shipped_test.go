package configs

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/flowssl/flowssl/configs/tree"
)

// TestEveryShippedConfigResolvesAndDecodes walks the embedded tree: every file (bases
// included) must load, and every runnable config must decode into Spec.
func TestEveryShippedConfigResolvesAndDecodes(t *testing.T) {
	names := List()
	if len(names) < 100 {
		t.Fatalf("embedded tree holds only %d configs", len(names))
	}
	runnable := 0
	for _, n := range names {
		cfg, err := Load(n, LoadOptions{NoDisk: true})
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if cfg.Tree.Len() == 0 {
			t.Errorf("%s: empty tree", n)
		}
		if strings.Contains(n, "/_base_/") {
			continue
		}
		runnable++
		spec, err := DecodeSpec(cfg)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if spec.Model != nil {
			if err := spec.CheckTrain(); err != nil {
				t.Errorf("%s: %v", n, err)
			}
		}
		if p, ok := containsPlaceholder(cfg.Tree, map[string]string{"_base_ref_": ""}); ok {
			t.Errorf("%s: unresolved reference %s", n, p)
		}
		if strings.Contains(cfg.Text, "{{") && !strings.Contains(cfg.Text, "{{_base_.") {
			t.Errorf("%s: text keeps an unknown placeholder", n)
		}
	}
	if runnable != len(ListRunnable()) {
		t.Errorf("ListRunnable = %d, counted %d", len(ListRunnable()), runnable)
	}
}

type want struct {
	path string
	val  any
}

// TestReferenceValues checks per-algorithm values against algorithms.md (section in the
// table) after full resolution.
func TestReferenceValues(t *testing.T) {
	cases := []struct {
		name, spec string
		wants      []want
	}{
		{"selfsup/mocov1/mocov1_resnet50_8xb32-steplr-200e_in1k.yaml", "§1", []want{
			{"model.type", "MoCo"}, {"model.queue_len", 65536}, {"model.feat_dim", 128}, {"model.momentum", 0.999},
			{"model.neck.type", "LinearNeck"}, {"model.neck.out_channels", 128}, {"model.head.temperature", 0.07},
			{"model.backbone.norm_cfg.type", "BN"}, {"data.samples_per_gpu", 32}, {"data.drop_last", true},
			{"data.train.num_views", []any{2}}, {"data.train.pipelines.0.0.scale", []any{0.2, 1.0}},
			{"data.train.pipelines.0.2.type", "ColorJitter"}, {"data.train.pipelines.0.2.hue", 0.4},
			{"optimizer.lr", 0.03}, {"optimizer.weight_decay", 1e-4}, {"lr_config.step", []any{120, 160}},
			{"runner.max_epochs", 200}}},
		{"selfsup/mocov1/mocov1_resnet50_8xb32-fp16-steplr-200e_in1k.yaml", "§1", []want{{"fp16.loss_scale", 512.0}}},
		{"selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.yaml", "§2", []want{
			{"model.queue_len", 65536}, {"model.momentum", 0.999}, {"model.neck.type", "MoCoV2Neck"},
			{"model.neck.hid_channels", 2048}, {"model.head.temperature", 0.2}, {"lr_config.policy", "CosineAnnealing"},
			{"lr_config.min_lr", 0.0}, {"data.train.pipelines.0.1.p", 0.8}, {"data.train.pipelines.0.1.transforms.0.hue", 0.1},
			{"data.train.pipelines.0.3.type", "GaussianBlur"}, {"data.train.pipelines.0.6.type", "Normalize"},
			{"checkpoint_config.max_keep_ckpts", 3}, {"persistent_workers", true}, {"workflow", []any{[]any{"train", 1}}}}},
		{"selfsup/densecl/densecl_resnet50_8xb32-coslr-200e_in1k.yaml", "§3", []want{
			{"model.type", "DenseCL"}, {"model.loss_lambda", 0.5}, {"model.queue_len", 65536}, {"model.neck.type", "DenseCLNeck"},
			{"model.neck.num_grid", nil}, {"model.head.temperature", 0.2}, {"optimizer.lr", 0.03}, {"runner.max_epochs", 200}}},
		{"selfsup/npid/npid_resnet50_8xb32-steplr-200e_in1k.yaml", "§4", []want{
			{"model.neg_num", 65536}, {"model.memory_bank.length", 1281167}, {"model.memory_bank.momentum", 0.5},
			{"model.head.temperature", 0.07}, {"model.backbone.norm_cfg.type", "SyncBN"}, {"data.train.type", "SingleViewDataset"}}},
		{"selfsup/npid/npid-ensure-neg_resnet50_8xb32-steplr-200e_in1k.yaml", "§4", []want{{"model.ensure_neg", true}}},
		{"selfsup/odc/odc_resnet50_8xb64-steplr-440e_in1k.yaml", "§5", []want{
			{"model.head.num_classes", 10000}, {"model.memory_bank.num_classes", 10000}, {"model.memory_bank.min_cluster", 20},
			{"model.neck.hid_channels", 512}, {"model.neck.out_channels", 256}, {"optimizer.lr", 0.06}, {"optimizer.weight_decay", 1e-5},
			{"optimizer.paramwise_options.\\Ahead\\..momentum", 0.0}, {"lr_config.step", []any{400}}, {"lr_config.gamma", 0.4},
			{"runner.max_epochs", 440}, {"data.samples_per_gpu", 64}, {"data.sampling_replace", true},
			{"custom_hooks.0.clustering.k", 10000}, {"custom_hooks.0.clustering.pca_dim", -1}, {"custom_hooks.0.interval", 9999999999},
			{"custom_hooks.1.centroids_update_interval", 10}, {"custom_hooks.1.evaluate_interval", 50}}},
		{"selfsup/deepcluster/deepcluster-sobel_resnet50_8xb64-steplr-200e_in1k.yaml", "§6", []want{
			{"model.with_sobel", true}, {"model.backbone.in_channels", 2}, {"model.head.num_classes", 10000},
			{"optimizer.lr", 0.1}, {"optimizer.weight_decay", 1e-5}, {"lr_config.step", []any{400}}, {"runner.max_epochs", 200},
			{"custom_hooks.0.clustering.pca_dim", 256}, {"custom_hooks.0.unif_sampling", true}, {"custom_hooks.0.interval", 1}}},
		{"selfsup/deepcluster/deepcluster_resnet50_8xb64-steplr-200e_in1k.yaml", "§6 caveat, fixed", []want{
			{"model.with_sobel", false}, {"model.backbone.in_channels", 3}}},
		{"selfsup/relative_loc/relative-loc_resnet50_8xb64-steplr-70e_in1k.yaml", "§7", []want{
			{"model.neck.out_channels", 4096}, {"model.head.num_classes", 8}, {"optimizer.lr", 0.2},
			{"optimizer.paramwise_options.\\Aneck\\..weight_decay", 5e-4}, {"lr_config.step", []any{30, 50}},
			{"lr_config.warmup_iters", 5}, {"lr_config.warmup_ratio", 0.1}, {"runner.max_epochs", 70},
			{"data.train.pipeline.2.p", 0.66}, {"data.samples_per_gpu", 64}}},
		{"selfsup/rotation_pred/rotation-pred_resnet50_8xb16-steplr-70e_in1k.yaml", "§8", []want{
			{"model.head.num_classes", 4}, {"model.head.with_avg_pool", true}, {"data.samples_per_gpu", 16},
			{"optimizer.lr", 0.2}, {"lr_config.warmup_ratio", 0.1}, {"runner.max_epochs", 70}}},
		{"selfsup/simclr/simclr_resnet50_8xb32-coslr-200e_in1k.yaml", "§9", []want{
			{"model.backbone.zero_init_residual", true}, {"model.neck.out_channels", 128}, {"model.head.temperature", 0.1},
			{"optimizer.type", "LARS"}, {"optimizer.lr", 0.3}, {"optimizer.weight_decay", 1e-6},
			{"optimizer.paramwise_options.bias.lars_exclude", true}, {"lr_config.warmup_iters", 10}, {"lr_config.warmup_ratio", 1e-4},
			{"runner.max_epochs", 200}}},
		{"selfsup/simclr/simclr_resnet50_16xb256-coslr-200e_in1k.yaml", "§9", []want{{"optimizer.lr", 4.8}, {"data.samples_per_gpu", 256}}},
		{"selfsup/byol/byol_resnet50_8xb32-accum16-coslr-200e_in1k.yaml", "§10", []want{
			{"model.base_momentum", 0.99}, {"model.neck.hid_channels", 4096}, {"model.neck.out_channels", 256},
			{"model.neck.with_last_bn", false}, {"optimizer.lr", 4.8}, {"optimizer_config.update_interval", 16},
			{"custom_hooks.0.type", "BYOLHook"}, {"custom_hooks.0.end_momentum", 1.0}, {"custom_hooks.0.update_interval", 16},
			{"data.train.num_views", []any{1, 1}}, {"data.train.pipelines.0.4.p", 1.0}, {"data.train.pipelines.1.4.p", 0.1},
			{"data.train.pipelines.1.5.p", 0.2}, {"data.train.pipelines.0.0.interpolation", 3}}},
		{"selfsup/byol/byol_resnet50_8xb32-accum16-coslr-100e_in1k.yaml", "§10", []want{{"optimizer.lr", 7.2}, {"runner.max_epochs", 100}}},
		{"selfsup/simsiam/simsiam_resnet50_8xb32-coslr-200e_in1k.yaml", "§11", []want{
			{"model.neck.num_layers", 3}, {"model.neck.with_last_bn_affine", false}, {"model.head.predictor.hid_channels", 512},
			{"optimizer.lr", 0.05}, {"optimizer.paramwise_options.predictor.fix_lr", true},
			{"custom_hooks.0.type", "SimSiamHook"}, {"custom_hooks.0.priority", "HIGH"}, {"custom_hooks.0.lr", 0.05}, {"runner.max_epochs", 200}}},
		{"selfsup/simsiam/simsiam_resnet50_8xb32-coslr-100e_in1k.yaml", "§11", []want{{"runner.max_epochs", 100}}},
		{"selfsup/swav/swav_resnet50_8xb32-mcrop-2-6-coslr-200e_in1k-224-96.yaml", "§12", []want{
			{"model.head.num_crops", []any{2, 6}}, {"data.train.num_views", []any{2, 6}}, {"model.head.epsilon", 0.05},
			{"custom_hooks.0.batch_size", 32}, {"custom_hooks.0.queue_length", 3840}, {"custom_hooks.0.epoch_queue_starts", 15},
			{"optimizer.lr", 0.6}, {"optimizer_config.frozen_layers_cfg.prototypes", 5005},
			{"lr_config", tree.FromPairs("policy", "CosineAnnealing", "min_lr", 6e-4)},
			{"data.train.pipelines.1.0.size", 96}, {"data.train.pipelines.1.0.scale", []any{0.05, 0.14}}}},
		{"selfsup/barlowtwins/barlowtwins_resnet50_8xb256-coslr-300e_in1k.yaml", "§13", []want{
			{"model.neck.hid_channels", 8192}, {"model.head.in_channels", 8192}, {"optimizer.lr", 1.6},
			{"optimizer.paramwise_options.downsample\\.1.lr_mult", 0.024}, {"lr_config.by_epoch", false},
			{"lr_config.min_lr", 0.0016}, {"lr_config.warmup_ratio", 1.6e-4}, {"runner.max_epochs", 300}, {"data.samples_per_gpu", 256}}},
		{"selfsup/mocov3/mocov3_vit-small-p16_32xb128-fp16-coslr-300e_in1k-224.yaml", "§14", []want{
			{"model.type", "MoCoV3"}, {"model.base_momentum", 0.99}, {"model.backbone.arch", "mocov3-small"},
			{"model.head.temperature", 0.2}, {"optimizer.type", "AdamW"}, {"optimizer.lr", 2.4e-3}, {"optimizer.weight_decay", 0.1},
			{"fp16.loss_scale", "dynamic"}, {"runner.max_epochs", 300}, {"data.samples_per_gpu", 128},
			{"data.train.pipelines.0.0.scale", []any{0.08, 1.0}}, {"custom_hooks.0.type", "MomentumUpdateHook"}}},
		{"selfsup/mae/mae_vit-base-p16_8xb512-coslr-400e_in1k.yaml", "§15", []want{
			{"model.backbone.mask_ratio", 0.75}, {"model.neck.decoder_embed_dim", 512}, {"model.head.norm_pix", true},
			{"optimizer.lr", 1.5e-4 * 4096 / 256}, {"optimizer.betas", []any{0.9, 0.95}},
			{"lr_config.policy", "StepFixCosineAnnealing"}, {"lr_config.warmup_iters", 40}, {"runner.max_epochs", 400},
			{"data.samples_per_gpu", 512}, {"data.workers_per_gpu", 32}, {"checkpoint_config.interval", 1}}},
		{"selfsup/mae/mae_vit-base-p16_8xb512-coslr-800e_in1k.yaml", "§15 (base fixed)", []want{{"runner.max_epochs", 800}, {"model.backbone.mask_ratio", 0.75}}},
		{"selfsup/mae/mae_vit-base-p16_8xb512-coslr-1600e_in1k.yaml", "§15 (base fixed)", []want{{"runner.max_epochs", 1600}}},
		{"selfsup/simmim/simmim_swin-base_16xb128-coslr-100e_in1k-192.yaml", "§16", []want{
			{"optimizer.lr", 2e-4 * 2048 / 512}, {"lr_config.min_lr", 1e-5 * 2048 / 512}, {"lr_config.warmup_ratio", 1e-6 / 2e-4},
			{"optimizer_config.grad_clip.max_norm", 5.0}, {"runner.max_epochs", 100}, {"data.samples_per_gpu", 128},
			{"data.train.pipeline.4.type", "SimMIMMaskGenerator"}, {"data.train.pipeline.4.mask_ratio", 0.6},
			{"data.train.pipeline.0.ratio", []any{3.0 / 4.0, 4.0 / 3.0}}}},
		{"selfsup/simmim/simmim_swin-base_8xb256-coslr-100e_in1k-192.yaml", "§16 (base fixed)", []want{{"data.samples_per_gpu", 256}, {"runner.max_epochs", 100}}},
		{"selfsup/cae/cae_vit-base-p16_32xb64-fp16-coslr-300e_in1k.yaml", "§17", []want{
			{"model.base_momentum", 0.0}, {"optimizer.lr", 1.5e-3}, {"optimizer_config.grad_clip.max_norm", 3.0},
			{"find_unused_parameters", true}, {"runner.max_epochs", 300}, {"data.samples_per_gpu", 64},
			{"lr_config.policy", "StepFixCosineAnnealing"}, {"checkpoint_config.max_keep_ckpts", 2}}},
		{"selfsup/_base_/schedules/adamw_coslr-200e_in1k.yaml", "§0.8 (sic)", []want{{"runner.max_epochs", 300}}},
		{"benchmarks/classification/knn_imagenet.yaml", "benchmarks §1", []want{
			{"data.samples_per_gpu", 256}, {"data.train.pipeline.0.size", 256}, {"data.val.data_source.data_prefix", "data/imagenet/val"}}},
		{"benchmarks/classification/_base_/datasets/cifar10.yaml", "config §11.8, fixed", []want{{"data.val.data_source.test_mode", true}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(c.name, LoadOptions{NoDisk: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.wants {
				got, err := lookupEscaped(cfg.Tree, w.path)
				if err != nil {
					t.Errorf("%s (%s): %v", w.path, c.spec, err)
					continue
				}
				if !approxEqual(got, w.val) {
					t.Errorf("%s (%s) = %s, want %s", w.path, c.spec, tree.Repr(got), tree.Repr(w.val))
				}
			}
		})
	}
}

// lookupEscaped is tree.Lookup with "\." meaning a literal dot inside a key.
func lookupEscaped(root any, p string) (any, error) {
	const sentinel = "\x00"
	cur := root
	done := ""
	for _, part := range strings.Split(strings.ReplaceAll(p, `\.`, sentinel), ".") {
		part = strings.ReplaceAll(part, sentinel, ".")
		m, ok := cur.(*tree.Map)
		if !ok {
			next, err := tree.Lookup(cur, part)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", done, err)
			}
			cur = next
		} else if cur, ok = m.Get(part); !ok {
			return nil, fmt.Errorf("%s: not found", tree.Join(done, part))
		}
		done = tree.Join(done, part)
	}
	return cur, nil
}

func approxEqual(a, b any) bool {
	if fa, ok := a.(float64); ok {
		fb, ok := b.(float64)
		return ok && math.Abs(fa-fb) <= 1e-12*math.Max(1, math.Abs(fb))
	}
	if la, ok := a.([]any); ok {
		lb, ok := b.([]any)
		if !ok || len(la) != len(lb) {
			return false
		}
		for i := range la {
			if !approxEqual(la[i], lb[i]) {
				return false
			}
		}
		return true
	}
	return tree.Equal(a, b)
}

// TestCPUConfigs checks the Shapes configs: small batch, 64 px, ResNet-18, 2 workers,
// a Shapes source, and that the reference settings they inherit survive.
func TestCPUConfigs(t *testing.T) {
	var cpu []string
	for _, n := range ListRunnable() {
		if strings.Contains(n, "shapes-64px") && strings.HasPrefix(n, "configs/selfsup/") {
			cpu = append(cpu, n)
		}
	}
	if len(cpu) < 13 {
		t.Fatalf("only %d CPU configs: %v", len(cpu), cpu)
	}
	for _, n := range cpu {
		cfg, err := Load(n, LoadOptions{NoDisk: true})
		if err != nil {
			t.Fatal(err)
		}
		spec, err := DecodeSpec(cfg)
		if err != nil {
			t.Fatal(err)
		}
		d := spec.Data
		if d.SamplesPerGPU > 64 || d.WorkersPerGPU != 2 {
			t.Errorf("%s: batch %d workers %d", n, d.SamplesPerGPU, d.WorkersPerGPU)
		}
		if src := d.Train.DataSource; src.Type != "Shapes" || *src.Size != 64 || src.DataPrefix != "" || src.Extra != nil {
			t.Errorf("%s: data source %+v", n, src)
		}
		if depth, _ := tree.Lookup(cfg.Tree, "model.backbone.depth"); depth != 18 {
			t.Errorf("%s: backbone depth %v", n, depth)
		}
		// The -short configs are the short-run benchmarks (BENCHMARKS.md), trained for a
		// kNN result like the 32 px ones rather than as a quick smoke run.
		if *spec.Runner.MaxEpochs > 10 && !strings.Contains(n, "64px-short") {
			t.Errorf("%s: %d epochs", n, *spec.Runner.MaxEpochs)
		}
		var pipes [][]TransformSpec
		if d.Train.Pipelines != nil {
			pipes = d.Train.Pipelines
		} else {
			pipes = [][]TransformSpec{d.Train.Pipeline}
		}
		for _, p := range pipes {
			if p[0].Type == "RandomResizedCrop" {
				if s, _ := p[0].Args.Get("size"); s != 64 && s != 32 {
					t.Errorf("%s: crop size %v", n, s)
				}
			}
			if last := p[len(p)-1]; last.Type != "Normalize" && d.Train.Type != "RelativeLocDataset" {
				t.Errorf("%s: pipeline ends with %s", n, last.Type)
			}
		}
	}
	cfg, err := Load("selfsup/swav/swav_resnet18_shapes-64px-mcrop-2-4_cpu.yaml", LoadOptions{NoDisk: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []want{{"model.head.num_crops", []any{2, 4}}, {"data.train.num_views", []any{2, 4}},
		{"model.head.epsilon", 0.05}, {"lr_config.policy", "CosineAnnealing"}} {
		if got, _ := tree.Lookup(cfg.Tree, w.path); !tree.Equal(got, w.val) {
			t.Errorf("swav cpu %s = %s, want %s", w.path, tree.Repr(got), tree.Repr(w.val))
		}
	}
}

// TestPyConfigsMatchShippedYAML loads byte-for-byte copies of MMSelfSup's .py configs and
// requires the same resolved tree as the YAML port.
func TestPyConfigsMatchShippedYAML(t *testing.T) {
	for _, c := range []struct{ py, yaml string }{
		{"testdata/py/selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py", "configs/selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.yaml"},
		{"testdata/py/selfsup/swav/swav_resnet50_8xb32-mcrop-2-6-coslr-200e_in1k-224-96.py", "configs/selfsup/swav/swav_resnet50_8xb32-mcrop-2-6-coslr-200e_in1k-224-96.yaml"},
	} {
		py, err := Load(c.py, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		y, err := Load(c.yaml, LoadOptions{NoDisk: true})
		if err != nil {
			t.Fatal(err)
		}
		if d := tree.Diff("", py.Tree, y.Tree); d != "" {
			t.Errorf("%s vs %s: %s", c.py, c.yaml, d)
		}
		if strings.Join(py.Tree.Keys(), ",") != strings.Join(y.Tree.Keys(), ",") {
			t.Errorf("key order differs:\n py   %v\n yaml %v", py.Tree.Keys(), y.Tree.Keys())
		}
		if !strings.Contains(py.Text, "if not prefetch:") || strings.Count(py.Text, ".py\n") != 5 {
			t.Errorf("%s: Text does not hold the 5 source files", c.py)
		}
	}
}
