package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/model"
)

func init() { extraCommands = append(extraCommands, countParamsCmd, publishCmd) }

// paramCount is count-params' result: totals and per top-level module;
// WORK_DIR/count_params.json holds it with the config's name.
type paramCount struct {
	Config    string           `json:"config,omitempty"`
	Total     int64            `json:"total"`
	Trainable int64            `json:"trainable"`
	ByModule  map[string]int64 `json:"by_module"`
}

func countParamsCmd() *cobra.Command {
	var opts []string
	var workDir string
	c := &cobra.Command{
		Use:   "count-params CONFIG",
		Short: "Count the model's parameters (MMSelfSup's count_parameters.py)",
		Long: "count-params builds CONFIG's model (no weights loaded) and prints its number of parameters, the\n" +
			"trainable ones (not frozen) and the count per top-level module (backbone, neck, head...); the exact\n" +
			"numbers go to WORK_DIR/count_params.json.",
		Args: configArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(args[0], overrides(opts, args))
			if err != nil {
				return err
			}
			mc, err := plainAt(cfg, "model")
			if err != nil {
				return err
			}
			pc, err := countParams(mc)
			if err != nil {
				return err
			}
			pc.Config = args[0]
			if workDir == "" {
				workDir = defaultWorkDir(args[0])
			}
			if err := writeJSON(filepath.Join(workDir, "count_params.json"), pc); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Number of parameters: %.2f M\n", float64(pc.Total)/1e6)
			fmt.Fprintf(out, "Number of trainable parameters: %.2f M\n", float64(pc.Trainable)/1e6)
			keys := make([]string, 0, len(pc.ByModule))
			for k := range pc.ByModule {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(out, "  %s: %d\n", k, pc.ByModule[k])
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&opts, "cfg-options", nil, "override a config key: a.b.c=v (repeatable)")
	c.Flags().StringVar(&workDir, "work-dir", "", "where count_params.json goes (default work_dirs/<config name>)")
	return c
}

// countParams builds the model dict and counts named_parameters (buffers
// and aliases excluded), trainable ones (requires_grad) apart.
func countParams(mc map[string]any) (paramCount, error) {
	pc := paramCount{ByModule: map[string]int64{}}
	if bc, ok := mc["backbone"].(map[string]any); ok {
		delete(bc, "init_cfg") // counting needs no weights
	}
	p := model.NewPinned()
	defer p.Close()
	err := p.Do(func() error {
		vs := nn.NewVarStore(gotch.CPU)
		if _, err := model.BuildAlgorithm(vs, mc); err != nil {
			return err
		}
		trainable := map[string]bool{}
		for _, q := range model.ParamsOf(vs) {
			trainable[q.Name] = true
		}
		for _, e := range model.NamedParameters(vs) {
			n := e.T.Numel()
			pc.Total += int64(n)
			if trainable[e.Name] {
				pc.Trainable += int64(n)
			}
			top, _, _ := strings.Cut(e.Name, ".")
			pc.ByModule[top] += int64(n)
		}
		return nil
	})
	return pc, err
}

// publishResult is WORK_DIR/publish.json.
type publishResult struct {
	Input  string `json:"input"`
	Output string `json:"output"` // the final, hash-named file
	SHA256 string `json:"sha256"` // of Output, in full; its first 8 digits are in the name
	Bytes  int64  `json:"bytes"`
	// DroppedOptimizer says whether Input held an optimizer state.
	DroppedOptimizer bool `json:"dropped_optimizer"`
	Tensors          int  `json:"state_dict_tensors"`
}

func publishCmd() *cobra.Command {
	var workDir string
	c := &cobra.Command{
		Use:   "publish IN OUT",
		Short: "Drop the optimizer state and name the file OUT-<sha256[:8]>.pth (MMSelfSup's publish_model.py)",
		Long: "publish writes IN's checkpoint without its optimizer state to OUT, renames it OUT-<first 8 hex digits of\n" +
			"its sha256>.pth (OUT's .pth suffix dropped first), prints that path and writes it, the full sha256 and\n" +
			"the size to WORK_DIR/publish.json.",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := publish(args[0], args[1])
			if err != nil {
				return err
			}
			if workDir == "" {
				workDir = defaultWorkDir(args[1])
			}
			if err := writeJSON(filepath.Join(workDir, "publish.json"), res); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), res.Output)
			return nil
		},
	}
	c.Flags().StringVar(&workDir, "work-dir", "", "where publish.json goes (default work_dirs/<OUT name>)")
	return c
}

// publish writes in's checkpoint without "optimizer" to out, then renames
// it to out without ".pth" plus "-" and the first 8 hex digits of its
// sha256, plus ".pth"; the result holds the final path and the hash.
func publish(in, out string) (*publishResult, error) {
	ck, err := checkpoint.Load(in)
	if err != nil {
		return nil, err
	}
	res := &publishResult{Input: in, DroppedOptimizer: ck.Optimizer != nil}
	if ck.StateDict != nil {
		res.Tensors = ck.StateDict.Len()
	}
	ck.Optimizer = nil
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	if err := ck.Save(out); err != nil {
		return nil, err
	}
	f, err := os.Open(out)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	res.Bytes, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("hash %s: %w", out, err)
	}
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	res.Output = strings.TrimSuffix(out, ".pth") + "-" + res.SHA256[:8] + ".pth"
	if err := os.Rename(out, res.Output); err != nil {
		return nil, err
	}
	return res, nil
}

// writeJSON writes v, indented, to path, creating its folder.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
