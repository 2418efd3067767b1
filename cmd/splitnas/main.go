// Command splitnas searches tiny 1-D CNNs for wearable ECG/EEG classification
// together with the layer at which to split them between a microcontroller
// and a fog node. This file only wires flags to library calls; the work is
// done in the packages under github.com/splitnas/splitnas.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "splitnas:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	var verbose bool
	root := &cobra.Command{
		Use:   "splitnas",
		Short: "Energy-aware neural architecture search and partitioning for wearable sensors",
		Long: `splitnas finds, for a microcontroller and an energy budget, the most accurate tiny 1-D CNN
and the layer at which to split it between the edge device and a fog node
(Huang, Abtahi, Aminifar, IEEE TCASAI 2024).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			level := slog.LevelInfo
			if verbose {
				level = slog.LevelDebug
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level})))
		},
	}
	root.PersistentFlags().BoolVarP(&verbose, "verbose", "v", false, "log debug messages")
	root.AddCommand(newPrepareCmd(), newDatasetCmd(), newTrainCmd(), newBenchCmd(), newInspectCmd(), newSearchCmd(), newCalibrateCmd(), newQuantizeCmd(), newExportCmd(), newServeCmd(), newEdgeCmd(), newPickCmd(), newSimulateCmd(), newWorkerCmd(), newNATSCmd(), newPruneCmd())
	return root
}
