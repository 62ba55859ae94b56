package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowssl/flowssl/checkpoint"
)

func init() { extraCommands = append(extraCommands, extractBackboneCmd, convertCmd) }

// exportResult is what extract-backbone and convert print and write next
// to OUT as OUT.json.
type exportResult struct {
	In      string `json:"in"`
	Out     string `json:"out"`
	Format  string `json:"format"`
	Tensors int    `json:"tensors"`
	Params  int64  `json:"elements"`
}

func extractBackboneCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "extract-backbone IN OUT",
		Short: "Keep a checkpoint's backbone weights, without the \"backbone.\" prefix (MMSelfSup's extract_backbone_weights.py)",
		Long: "extract-backbone writes OUT = {\"state_dict\": backbone weights with torchvision-style keys, \"author\": \"flowssl\"},\n" +
			"what MMSelfSup's benchmarks load through model.backbone.init_cfg (Pretrained) and what flowssl's linear,\n" +
			"semi, svm, knn and tsne accept as --checkpoint.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := exportBackbone(args[0], args[1], "mmcv")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d tensors, %d elements\n", r.Out, r.Tensors, r.Params)
			return nil
		},
	}
}

func convertCmd() *cobra.Command {
	var to string
	c := &cobra.Command{
		Use:   "convert IN OUT",
		Short: "Write a checkpoint's backbone as a pretrained file for MMDetection/MMSegmentation, torchvision or detectron2",
		Long: "convert takes a flowssl/MMSelfSup checkpoint (or extracted backbone weights) and writes the backbone as\n" +
			"  --to mmdet, mmseg: OUT.pth with {\"state_dict\": backbone keys} (init_cfg=dict(type='Pretrained', checkpoint=OUT));\n" +
			"  --to torchvision: OUT.pth holding the bare state_dict (resnet50().load_state_dict(torch.load(OUT), strict=False));\n" +
			"  --to detectron2: OUT.pkl, a pickle of {\"model\": {name: numpy array}, \"__author__\", \"matching_heuristics\": True}\n" +
			"    with detectron2's ResNet names (MMSelfSup's and MoCo's convert-pretrain-to-detectron2.py: stem.conv1,\n" +
			"    res2..res5, bn<i> → conv<i>.norm, downsample.0/1 → shortcut / shortcut.norm).",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := exportBackbone(args[0], args[1], to)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s): %d tensors, %d elements\n", r.Out, r.Format, r.Tensors, r.Params)
			return nil
		},
	}
	c.Flags().StringVar(&to, "to", "mmdet", "target: mmdet, mmseg, torchvision or detectron2")
	return c
}

// backboneWeights returns the backbone entries of a checkpoint's
// state_dict with "backbone." removed; a file without such keys is taken to
// hold backbone weights already (extract-backbone's output).
func backboneWeights(path string) (*checkpoint.Dict, error) {
	ck, err := checkpoint.Load(path)
	if err != nil {
		return nil, err
	}
	out := checkpoint.NewOrderedDict()
	for k, v := range ck.StateDict.All() {
		if s, ok := k.(string); ok && strings.HasPrefix(s, "backbone.") {
			out.Set(strings.TrimPrefix(s, "backbone."), v)
		}
	}
	if out.Len() > 0 {
		return out, nil
	}
	for k := range ck.StateDict.All() {
		if s, _ := k.(string); strings.Contains(s, ".") && (strings.HasPrefix(s, "neck.") || strings.HasPrefix(s, "head.")) {
			return nil, fmt.Errorf("%s: no backbone.* weights (keys like %s)", path, s)
		}
	}
	if ck.StateDict.Len() == 0 {
		return nil, fmt.Errorf("%s: empty state_dict", path)
	}
	return ck.StateDict, nil
}

// detectron2Name renames a torchvision-style ResNet key as MMSelfSup's
// convert-pretrain-to-detectron2.py does.
func detectron2Name(k string) string {
	if !strings.Contains(k, "layer") {
		k = "stem." + k
	}
	for t := 1; t <= 4; t++ {
		k = strings.ReplaceAll(k, fmt.Sprintf("layer%d", t), fmt.Sprintf("res%d", t+1))
	}
	for t := 1; t <= 3; t++ {
		k = strings.ReplaceAll(k, fmt.Sprintf("bn%d", t), fmt.Sprintf("conv%d.norm", t))
	}
	k = strings.ReplaceAll(k, "downsample.0", "shortcut")
	return strings.ReplaceAll(k, "downsample.1", "shortcut.norm")
}

// exportBackbone writes in's backbone to out in format mmcv (extract-backbone),
// mmdet, mmseg, torchvision or detectron2, and out's summary to out.json.
func exportBackbone(in, out, format string) (*exportResult, error) {
	sd, err := backboneWeights(in)
	if err != nil {
		return nil, err
	}
	r := &exportResult{In: in, Out: out, Format: format, Tensors: sd.Len()}
	for _, v := range sd.All() {
		if t, ok := v.(*checkpoint.Tensor); ok {
			r.Params += t.Numel()
		}
	}
	if dir := filepath.Dir(out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
	}
	switch format {
	case "mmcv", "mmdet", "mmseg":
		obj := checkpoint.NewDict()
		obj.Set("state_dict", sd)
		obj.Set("author", "flowssl")
		err = checkpoint.WriteFile(out, obj)
	case "torchvision":
		err = checkpoint.WriteFile(out, sd)
	case "detectron2":
		if _, ok := sd.Get("conv1.weight"); !ok {
			return nil, fmt.Errorf("%s: detectron2 conversion needs a torchvision-style ResNet (conv1, bn1, layer1..4); no conv1.weight", in)
		}
		model := checkpoint.NewDict()
		for k, v := range sd.All() {
			model.Set(detectron2Name(k.(string)), v)
		}
		obj := checkpoint.NewDict()
		obj.Set("model", model)
		obj.Set("__author__", "flowssl")
		obj.Set("matching_heuristics", true)
		err = checkpoint.WriteNumpyPickleFile(out, obj)
	default:
		return nil, fmt.Errorf("--to %q: want mmdet, mmseg, torchvision or detectron2", format)
	}
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return r, os.WriteFile(out+".json", append(b, '\n'), 0o644)
}
