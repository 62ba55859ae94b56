package configs

import (
	"strings"
	"testing"

	"github.com/flowssl/flowssl/configs/tree"
)

type neckCfg struct {
	Type        string  `yaml:"type" cfg:"required"`
	HidChannels int     `yaml:"hid_channels"`
	OutChannels int     `yaml:"out_channels"`
	Ratio       float64 `yaml:"ratio"`
	Names       []string
	Opt         *int `yaml:"opt"`
}

func (n *neckCfg) Validate() error {
	if n.OutChannels < 0 {
		return Errorf("out_channels", "must be non-negative, got %d", n.OutChannels)
	}
	return nil
}

type modelCfg struct {
	Type string   `yaml:"type"`
	Neck *neckCfg `yaml:"neck"`
	Rest *Map     `yaml:",inline"`
}

type strictModel struct {
	Type     string   `yaml:"type"`
	Neck     *neckCfg `yaml:"neck"`
	Backbone *Map     `yaml:"backbone"`
}

func TestDecodeValues(t *testing.T) {
	m := mustParse(t, "type: MoCo\nneck: {type: X, hid_channels: 4, ratio: 2, names: [a, b], opt: null}\nqueue_len: 7\n")
	var got modelCfg
	if err := Decode(m, "model", &got); err != nil {
		t.Fatal(err)
	}
	if got.Type != "MoCo" || got.Neck.HidChannels != 4 || got.Neck.Ratio != 2.0 || got.Neck.Opt != nil ||
		strings.Join(got.Neck.Names, ",") != "a,b" {
		t.Errorf("decoded %+v %+v", got, got.Neck)
	}
	if v, _ := got.Rest.Get("queue_len"); v != 7 || got.Rest.Len() != 1 {
		t.Errorf("inline extras %s", tree.Repr(got.Rest))
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		yaml string
		out  any
		want string
	}{
		{"neck: {type: X, hid_channels: abc}", &modelCfg{}, `model.neck.hid_channels: expected int, got "abc"`},
		{"neck: {type: X, hid_channels: 1.5}", &modelCfg{}, `model.neck.hid_channels: expected int, got float 1.5`},
		{"nek: {type: X}", &strictModel{}, `model.nek: unknown key (did you mean "neck"?)`},
		{"neck: {type: X, hid_chanels: 3}", &modelCfg{}, `model.neck.hid_chanels: unknown key (did you mean "hid_channels"?)`},
		{"neck: {type: X, zzz: 3}", &modelCfg{}, `model.neck.zzz: unknown key (known: hid_channels, names, opt, out_channels, ratio, type)`},
		{"neck: {hid_channels: 3}", &modelCfg{}, `model.neck.type: required key is missing`},
		{"neck: {type: X, out_channels: -1}", &modelCfg{}, `model.neck.out_channels: must be non-negative, got -1`},
		{"neck: [1]", &modelCfg{}, `model.neck: expected a mapping, got a list`},
		{"neck: {type: X, names: a}", &modelCfg{}, `model.neck.names: expected a list, got "a"`},
		{"neck: {type: X, names: [a, 3]}", &modelCfg{}, `model.neck.names.1: expected string, got int 3`},
		{"neck: {type: X, ratio: null}", &modelCfg{}, `model.neck.ratio: expected float, got null`},
	}
	for _, c := range cases {
		err := Decode(mustParse(t, c.yaml), "model", c.out)
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\n got  %v\n want %s", c.yaml, err, c.want)
		}
	}
}

func TestDecodeSpecErrors(t *testing.T) {
	base := "model: {type: MoCo}\ndata: {samples_per_gpu: 2, train: {type: SingleViewDataset, data_source: {type: Shapes, num_samples: 4}, pipeline: [{type: ToTensor}]}}\n" +
		"optimizer: {type: SGD, lr: 0.1}\nlr_config: {policy: step, step: [1]}\nrunner: {type: EpochBasedRunner, max_epochs: 2}\n"
	if _, err := DecodeSpec(&Config{Filename: "x", Tree: mustParse(t, base)}); err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
	cases := []struct{ patch, want string }{
		{"lr_confg: {policy: step}", `lr_confg: unknown key (did you mean "lr_config"?)`},
		{"runner: {type: EpochRunner, max_epochs: 2}", `runner.type: expected one of EpochBasedRunner, IterBasedRunner, got "EpochRunner" (did you mean "EpochBasedRunner"?)`},
		{"runner: {type: IterBasedRunner, max_epochs: 2}", `runner.max_iters: required by IterBasedRunner`},
		{"lr_config: {policy: CosineAnnealing}", `lr_config.min_lr: exactly one of min_lr and min_lr_ratio must be set for CosineAnnealing`},
		{"lr_config: {policy: step, step: [3, 2]}", `lr_config.step.1: steps must increase, got [3 2]`},
		{"lr_config: {policy: step, step: 5, warmup: lin, warmup_iters: 1}", `lr_config.warmup: expected one of constant, linear, exp, got "lin" (did you mean "linear"?)`},
		{"optimizer: {type: SGD}", `optimizer.lr: required key is missing`},
		{"optimizer: {type: SGD, lr: 0.1, paramwise_options: {'(bn': {weight_decay: 0}}}", `optimizer.paramwise_options: bad regular expression "(bn"`},
		{"data: {samples_per_gpu: 2, train: {type: MultiViewDataset, data_source: {type: Shapes, num_samples: 4}, num_views: [2], pipelines: []}}", `data.train.pipelines: required by MultiViewDataset`},
		{"data: {samples_per_gpu: 2, train: {type: MultiViewDataset, data_source: {type: Shapes, num_samples: 4}, num_views: [2, 1], pipelines: [[{type: ToTensor}]]}}", `data.train.num_views: needs one entry per pipeline`},
		{"data: {samples_per_gpu: 2, train: {type: SingleViewDataset, data_source: {type: Shapes, num_samples: 4, sise: 64}}}", `data.train.data_source.sise: unknown key (did you mean "size"?)`},
		{"data: {samples_per_gpu: 2, train: {type: SingleViewDataset, data_source: {type: Shapes, num_samples: 4}, pipeline: [{p: 1}]}}", `data.train.pipeline.0.type: required key is missing`},
		{"data: {samples_per_gpu: 2, train: {type: SingleViewDataset, data_source: {type: Shapes, num_samples: 4}, pipeline: [{type: RandomAppliedTrans, transforms: [{p: 1}]}]}}", `data.train.pipeline.0.transforms.0.type: required key is missing`},
		{"data: {samples_per_gpu: 0}", `data.samples_per_gpu: must be at least 1, got 0`},
		{"custom_hooks: [{type: SwAVHook, priority: VERY_HIG}]", `custom_hooks.0.priority: expected one of`},
		{"fp16: {loss_scale: dyn}", `fp16.loss_scale: expected a number, "dynamic" or a mapping, got "dyn"`},
		{"workflow: [[train, 1], [val, 1]]", `workflow: MMSelfSup supports exactly one workflow entry`},
		{"workflow: [[test, 1]]", `workflow.0.0: expected "train" or "val", got "test"`},
		{"img_norm_cfg: {mean: [0.5], std: [0.0]}", `img_norm_cfg.std.0: must be positive, got 0`},
		{"evaluation: {interval: 1, topk: [1, 0]}", `evaluation.topk.1: must be at least 1, got 0`},
		{"optimizer_config: {grad_clip: {max_norm: -1}}", `optimizer_config.grad_clip.max_norm: must be positive, got -1`},
	}
	for _, c := range cases {
		m := mustParse(t, base)
		patch := mustParse(t, c.patch)
		for _, k := range patch.Keys() {
			v, _ := patch.Get(k)
			m.Set(k, v)
		}
		_, err := DecodeSpec(&Config{Filename: "cfg.yaml", Tree: m})
		if err == nil || !strings.Contains(err.Error(), "cfg.yaml: "+c.want) {
			t.Errorf("%s:\n got  %v\n want %s", c.patch, err, c.want)
		}
	}
}

func TestSpecHelpersAndUnions(t *testing.T) {
	cfg, err := Load("selfsup/swav/swav_resnet50_8xb32-mcrop-2-6-coslr-200e_in1k-224-96.yaml", LoadOptions{NoDisk: true})
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeSpec(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Model.Type != "SwAV" || s.CustomHooks[0].Priority() != 10 || s.LogConfig.Hooks[0].Type != "TextLoggerHook" {
		t.Errorf("model %s priority %d", s.Model.Type, s.CustomHooks[0].Priority())
	}
	var crops []int
	if ok, err := s.Model.Decode("model", "num_crops", &crops); ok || err != nil {
		t.Errorf("num_crops is under head, Decode found it at the top: %v %v", ok, err)
	}
	head := s.Model.Args
	if v, _ := head.Get("head"); v == nil {
		t.Fatal("no head")
	}
	if s.LRConfig.WarmupIters != 0 || s.LRConfig.Warmup != nil || *s.LRConfig.MinLR != 6e-4 || !s.LRConfig.IsByEpoch() {
		t.Errorf("lr_config %+v", s.LRConfig)
	}
	if s.OptimizerConfig.FrozenLayers["prototypes"] != 5005 || s.OptimizerConfig.Interval() != 1 {
		t.Errorf("optimizer_config %+v", s.OptimizerConfig)
	}
	if got := strings.Join(s.HelperKeys(), ","); got != "color_distort_strength,data_source,dataset_type,num_crops,train_pipeline1,train_pipeline2" {
		t.Errorf("helper keys %s", got)
	}
	if len(s.Workflow) != 1 || s.Workflow[0] != (WorkflowStep{"train", 1}) {
		t.Errorf("workflow %+v", s.Workflow)
	}
	full := s.Model.Map()
	if full.Keys()[0] != "type" {
		t.Errorf("Map() keys %v", full.Keys())
	}
	orig, _ := cfg.Tree.Get("model")
	if !tree.Equal(full, orig) {
		t.Errorf("TypedMap.Map() differs: %s", tree.Diff("model", orig, full))
	}

	mae, err := Load("selfsup/mae/mae_vit-base-p16_8xb512-coslr-400e-fp16_in1k.yaml", LoadOptions{NoDisk: true})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := DecodeSpec(mae)
	if err != nil {
		t.Fatal(err)
	}
	if !ms.FP16.LossScale.Dynamic {
		t.Errorf("fp16 %+v", ms.FP16)
	}
	mo, _ := Load("selfsup/mocov1/mocov1_resnet50_8xb32-fp16-steplr-200e_in1k.yaml", LoadOptions{NoDisk: true})
	mos, err := DecodeSpec(mo)
	if err != nil || mos.FP16.LossScale.Static != 512 || mos.FP16.LossScale.Dynamic {
		t.Errorf("static loss scale: %v %+v", err, mos.FP16)
	}
}

func TestLevenshteinAndSuggest(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"nek", "neck", 1}, {"kitten", "sitting", 3}, {"äb", "ab", 1}, {"abc", "", 3}} {
		if got := Levenshtein(c.a, c.b); got != c.d {
			t.Errorf("Levenshtein(%q,%q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
	if s := Suggest("backbon", []string{"neck", "backbone", "head"}); s != "backbone" {
		t.Errorf("Suggest = %q", s)
	}
	if s := Suggest("zzzzzz", []string{"neck", "head"}); s != "" {
		t.Errorf("Suggest far = %q", s)
	}
}
