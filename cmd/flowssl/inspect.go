package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/flowssl/flowssl/actors"
)

func inspectCmd() *cobra.Command {
	var every time.Duration
	var count int
	c := &cobra.Command{
		Use:   "inspect ADDR",
		Short: "Print a live per-actor table from a run's --metrics-addr endpoint",
		Long: "inspect scrapes ADDR/metrics (served by `flowssl train --metrics-addr ADDR`) and prints,\n" +
			"per pipeline stage, message rates, mailbox and queue depth, busy and wait fractions and p50/p99 latency.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prev, err := actors.Fetch(args[0])
			if err != nil {
				return err
			}
			for i := 0; count == 0 || i < count; i++ {
				time.Sleep(every)
				cur, err := actors.Fetch(args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "\n%s  %s\n", cur.At.Format("15:04:05"), args[0])
				if err := actors.WriteTable(cmd.OutOrStdout(), prev, cur); err != nil {
					return err
				}
				prev = cur
			}
			return nil
		},
	}
	c.Flags().DurationVar(&every, "every", 2*time.Second, "refresh interval")
	c.Flags().IntVar(&count, "count", 0, "number of tables to print (0 = until interrupted)")
	return c
}
