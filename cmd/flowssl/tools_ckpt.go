package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/nn"

	"github.com/flowssl/flowssl/checkpoint"
	"github.com/flowssl/flowssl/model"
)

func init() { extraCommands = append(extraCommands, countParamsCmd, publishCmd) }

// paramCount is count-params' result: totals and per top-level module.
type paramCount struct {
	Total, Trainable int64
	ByModule         map[string]int64
}

func countParamsCmd() *cobra.Command {
	var opts []string
	return &cobra.Command{
		Use:   "count-params CONFIG",
		Short: "Count the model's parameters (MMSelfSup's count_parameters.py)",
		Args:  configArgs,
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

func publishCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "publish IN OUT",
		Short: "Drop the optimizer state and name the file OUT-<sha256[:8]>.pth (MMSelfSup's publish_model.py)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := publish(args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), p)
			return nil
		},
	}
}

// publish writes in's checkpoint without "optimizer" to out, then renames
// it to out without ".pth" plus "-" and the first 8 hex digits of its
// sha256, plus ".pth"; it returns the final path.
func publish(in, out string) (string, error) {
	ck, err := checkpoint.Load(in)
	if err != nil {
		return "", err
	}
	ck.Optimizer = nil
	if err := ck.Save(out); err != nil {
		return "", err
	}
	f, err := os.Open(out)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", out, err)
	}
	final := strings.TrimSuffix(out, ".pth") + "-" + hex.EncodeToString(h.Sum(nil))[:8] + ".pth"
	if err := os.Rename(out, final); err != nil {
		return "", err
	}
	return final, nil
}
