// Command flowssl trains and evaluates self-supervised visual
// representations: `flowssl train CONFIG`, `flowssl knn`, `flowssl inspect`.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set by -ldflags "-X main.version=..." in release builds.
var version = "0.1.0-dev"

func main() {
	reexecWithEnv()
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "flowssl:", err)
		os.Exit(1)
	}
}

// newRoot builds the command tree.
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "flowssl",
		Short:         "Self-supervised visual representation learning as a dataflow of actors",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(versionCmd(), inspectCmd())
	for _, add := range extraCommands {
		root.AddCommand(add())
	}
	return root
}

// extraCommands lets each command file register itself.
var extraCommands []func() *cobra.Command

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print flowssl's version and the libraries it runs on",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(cmd.OutOrStdout(), "flowssl %s\n", version)
			for _, l := range libraryVersions() {
				fmt.Fprintln(cmd.OutOrStdout(), l)
			}
			return nil
		},
	}
}
