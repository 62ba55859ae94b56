package model

import (
	"testing"
)

// TestNeckParityTorch compares every neck (MMSelfSup 0.9.0's definitions in
// testdata/nets/ref_variants.py, torch 1.13.1) on the same weights: outputs,
// parameter and input gradients in train and eval mode, running statistics
// after the train pass, and the state dict key order. Dropout necks
// (RelativeLocNeck, ODCNeck) are compared on outputs and gradients in eval
// mode only.
func TestNeckParityTorch(t *testing.T) {
	needTorch(t)
	runNetParity(t, "neck", []netParityCase{
		{name: "linear", cfg: map[string]any{"type": "LinearNeck", "in_channels": 8, "out_channels": 5}, in: [][]int64{{3, 8, 4, 4}}},
		{name: "linear-nopool", cfg: map[string]any{"type": "LinearNeck", "in_channels": 8, "out_channels": 5, "with_avg_pool": false}, in: [][]int64{{3, 8}}},
		{name: "mocov2", cfg: map[string]any{"type": "MoCoV2Neck", "in_channels": 8, "hid_channels": 12, "out_channels": 5}, in: [][]int64{{3, 8, 3, 5}}},
		{name: "mocov2-nopool-flatten", cfg: map[string]any{"type": "MoCoV2Neck", "in_channels": 18, "hid_channels": 12, "out_channels": 5, "with_avg_pool": false}, in: [][]int64{{3, 2, 3, 3}}},
		{name: "nonlinear-default", cfg: map[string]any{"type": "NonLinearNeck", "in_channels": 8, "hid_channels": 12, "out_channels": 5}, in: [][]int64{{4, 8, 3, 3}}},
		{name: "nonlinear-3-bias-lastbias-noaffine", cfg: map[string]any{"type": "NonLinearNeck", "in_channels": 8, "hid_channels": 12, "out_channels": 5, "num_layers": 3, "with_bias": true, "with_last_bias": true, "with_last_bn_affine": false}, in: [][]int64{{4, 8, 2, 2}}},
		{name: "nonlinear-1layer", cfg: map[string]any{"type": "NonLinearNeck", "in_channels": 8, "hid_channels": 12, "out_channels": 5, "num_layers": 1, "with_bias": true}, in: [][]int64{{4, 8, 2, 2}}},
		{name: "nonlinear-nolastbn-nopool", cfg: map[string]any{"type": "NonLinearNeck", "in_channels": 8, "hid_channels": 12, "out_channels": 5, "num_layers": 4, "with_last_bn": false, "with_avg_pool": false, "norm_cfg": map[string]any{"type": "BN1d"}}, in: [][]int64{{4, 8}}},
		{name: "relativeloc", cfg: map[string]any{"type": "RelativeLocNeck", "in_channels": 4, "out_channels": 6}, in: [][]int64{{5, 8, 3, 3}}, dropout: true},
		{name: "odc", cfg: map[string]any{"type": "ODCNeck", "in_channels": 8, "hid_channels": 12, "out_channels": 5}, in: [][]int64{{5, 8, 3, 3}}, dropout: true},
		{name: "odc-nopool", cfg: map[string]any{"type": "ODCNeck", "in_channels": 8, "hid_channels": 12, "out_channels": 5, "with_avg_pool": false}, in: [][]int64{{5, 8}}, dropout: true},
		{name: "densecl", cfg: map[string]any{"type": "DenseCLNeck", "in_channels": 8, "hid_channels": 12, "out_channels": 5}, in: [][]int64{{3, 8, 4, 3}}},
		{name: "densecl-grid2", cfg: map[string]any{"type": "DenseCLNeck", "in_channels": 8, "hid_channels": 12, "out_channels": 5, "num_grid": 2}, in: [][]int64{{3, 8, 5, 5}}},
		{name: "avgpool2d", cfg: map[string]any{"type": "AvgPool2dNeck"}, in: [][]int64{{3, 8, 4, 5}}},
		{name: "avgpool2d-2", cfg: map[string]any{"type": "AvgPool2dNeck", "output_size": 2}, in: [][]int64{{3, 8, 5, 5}}},
		{name: "swav-2groups", cfg: map[string]any{"type": "SwAVNeck", "in_channels": 8, "hid_channels": 12, "out_channels": 5}, in: [][]int64{{4, 8, 4, 4}, {6, 8, 2, 2}}},
		{name: "swav-linear", cfg: map[string]any{"type": "SwAVNeck", "in_channels": 8, "hid_channels": 0, "out_channels": 5}, in: [][]int64{{4, 8, 4, 4}, {2, 8, 2, 2}}},
		{name: "swav-noproj-nol2", cfg: map[string]any{"type": "SwAVNeck", "in_channels": 8, "hid_channels": 12, "out_channels": 0, "with_l2norm": false}, in: [][]int64{{4, 8, 4, 4}}},
	}, 200)
}
