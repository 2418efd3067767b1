package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/dataset/sample"
	"github.com/splitnas/splitnas/internal/atomicfile"
)

func newDatasetCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "dataset", Short: "Inspect and convert dataset files"}
	cmd.AddCommand(newDatasetInfoCmd(), newDatasetExportCmd())
	return cmd
}

// loadDataset reads FILE, or the embedded MIT-BIH sample when path is empty.
func loadDataset(path string) (*dataset.Dataset, error) {
	if path == "" {
		return sample.Load()
	}
	return dataset.Load(path)
}

func newDatasetInfoCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "info [FILE]",
		Short: "Print the shape, classes, splits and provenance of a dataset file (default: the embedded sample)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := loadDataset(firstArg(args))
			if err != nil {
				return err
			}
			in := d.Info()
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(in)
			}
			return printInfo(cmd.OutOrStdout(), in)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func printInfo(w io.Writer, in dataset.Info) error {
	fmt.Fprintf(w, "source:   %s\n", in.Source.Kind)
	fmt.Fprintf(w, "samples:  %d × %d channel(s) × %d, from %d records\n", in.Samples, in.Channels, in.Length, in.Records)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "class\t%s\ttotal\t\n", strings.Join([]string{"train", "val", "test"}, "\t"))
	for _, c := range in.Classes {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", c, in.PerSplit["train"][c], in.PerSplit["val"][c], in.PerSplit["test"][c], in.Counts[c])
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%d\t\n", in.Splits["train"], in.Splits["val"], in.Splits["test"], in.Samples)
	tw.Flush()
	keys := make([]string, 0, len(in.Source.Settings))
	for k := range in.Source.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var settings []string
	for _, k := range keys {
		settings = append(settings, k+"="+in.Source.Settings[k])
	}
	fmt.Fprintf(w, "settings: %s\n", strings.Join(settings, " "))
	for _, n := range in.Source.Notes {
		fmt.Fprintf(w, "note:     %s\n", n)
	}
	if in.Source.Attribution != "" {
		fmt.Fprintf(w, "data:     %s\n", in.Source.Attribution)
	}
	return nil
}

func newDatasetExportCmd() *cobra.Command {
	var npz string
	cmd := &cobra.Command{
		Use:   "export [FILE] --npz OUT",
		Short: "Write a dataset file (default: the embedded sample) as a NumPy .npz archive",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d, err := loadDataset(firstArg(args))
			if err != nil {
				return err
			}
			// Checked before the output file is created, so nothing is
			// written for a dataset that cannot be exported.
			if err := d.Validate(); err != nil {
				return err
			}
			return atomicfile.Write(npz, func(w io.Writer) error { return dataset.WriteNPZ(w, d) })
		},
	}
	cmd.Flags().StringVar(&npz, "npz", "", "output .npz file (required)")
	cmd.MarkFlagRequired("npz")
	return cmd
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}
