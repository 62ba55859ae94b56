package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flowssl/flowssl/configs"
)

func init() { extraCommands = append(extraCommands, printConfigCmd) }

func printConfigCmd() *cobra.Command {
	var opts []string
	var format string
	var list bool
	c := &cobra.Command{
		Use:   "print-config CONFIG",
		Short: "Print a config with its _base_ files, _delete_ and --cfg-options resolved",
		Long: "CONFIG is a file on disk (.yaml, .yml, .json or MMSelfSup's .py) or a path in the embedded tree,\n" +
			"e.g. selfsup/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.yaml. With --format yaml an MMSelfSup .py\n" +
			"config is converted. --list prints the embedded configs.",
		Args: func(cmd *cobra.Command, args []string) error {
			if list {
				return cobra.NoArgs(cmd, args)
			}
			return configArgs(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				for _, n := range configs.List() {
					fmt.Fprintln(cmd.OutOrStdout(), n)
				}
				return nil
			}
			cfg, err := loadConfig(args[0], overrides(opts, args))
			if err != nil {
				return err
			}
			out, err := configs.Dump(cfg, format)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(out)
			return err
		},
	}
	c.Flags().StringArrayVar(&opts, "cfg-options", nil, "override a key: a.b.c=v, data.train.pipeline.1.p=0.0, a=[1,2]")
	c.Flags().StringVar(&format, "format", "yaml", "output format: yaml, json or py")
	c.Flags().BoolVar(&list, "list", false, "list the embedded configs")
	return c
}

// loadConfig resolves CONFIG with --cfg-options and validates its schema.
func loadConfig(name string, opts []string) (*configs.Config, error) {
	ov, err := configs.ParseCfgOptions(opts)
	if err != nil {
		return nil, fmt.Errorf("--cfg-options: %w", err)
	}
	cfg, err := configs.Load(name, configs.LoadOptions{Overrides: ov})
	if err != nil {
		return nil, err
	}
	if _, err := configs.DecodeSpec(cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, nil
}

// configArgs accepts MMSelfSup's `--cfg-options a=1 b=2` form: after the
// config, every further argument must be a key=value override.
func configArgs(cmd *cobra.Command, args []string) error {
	if len(args) < 1 {
		return fmt.Errorf("accepts 1 arg(s), received 0")
	}
	for _, a := range args[1:] {
		if !strings.Contains(a, "=") {
			return fmt.Errorf("accepts 1 arg(s), received %d (%q is not a key=value --cfg-options item)", len(args), a)
		}
	}
	return nil
}

// overrides joins --cfg-options values with the trailing key=value args.
func overrides(opts, args []string) []string {
	return append(append([]string(nil), opts...), args[1:]...)
}
