package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/search"
)

func newPickCmd() *cobra.Command {
	var (
		resultPath                        string
		energyLimit, flashLimit, ramLimit string
		asJSON                            bool
	)
	cmd := &cobra.Command{
		Use:   "pick",
		Short: "Choose the network for a budget from a finished nsga2 search, without training",
		Long: `pick reads the result of a finished "splitnas search --strategy nsga2" and prints the member of
its Pareto set to deploy under a budget: among the members within --energy-limit, --flash-limit
and --ram-limit (each optional), the one with the best validation accuracy on half B — the score
a single-objective search picks its final model by; the test score never chooses. Nothing is
trained: each member was finished by the search (its model file is named in the output).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if resultPath == "" {
				return errors.New("--result: give the output directory of an nsga2 search (or its result.json)")
			}
			path := resultPath
			if fi, err := os.Stat(path); err == nil && fi.IsDir() {
				path = filepath.Join(path, resultFile)
			}
			var b search.Budget
			var err error
			if energyLimit != "" {
				if b.EnergyMJ, err = parseEnergyMJ("energy-limit", energyLimit); err != nil {
					return err
				}
			}
			if flashLimit != "" {
				if b.FlashBytes, err = parseBytes("flash-limit", flashLimit); err != nil {
					return err
				}
			}
			if ramLimit != "" {
				if b.RAMBytes, err = parseBytes("ram-limit", ramLimit); err != nil {
					return err
				}
			}
			r, err := search.ReadResult(path)
			if err != nil {
				return fmt.Errorf("--result: %w", err)
			}
			m, err := search.PickMember(r, b)
			if errors.Is(err, search.ErrNotPareto) {
				return fmt.Errorf("--result %s: %w: strategy %q; its one model is best.model", path, err, r.Settings.Strategy)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), m)
			}
			printMember(cmd.OutOrStdout(), filepath.Dir(path), r, b, m)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&resultPath, "result", "", "output directory of a finished nsga2 search, or its result.json")
	f.StringVar(&energyLimit, "energy-limit", "", "energy budget per inference for the search's scenario, e.g. 0.05mJ or 50uJ (default: none)")
	f.StringVar(&flashLimit, "flash-limit", "", "Flash budget of the edge part, e.g. 64KiB (default: none)")
	f.StringVar(&ramLimit, "ram-limit", "", "RAM budget of the edge part, e.g. 16KiB (default: none)")
	f.BoolVar(&asJSON, "json", false, "print the chosen member as JSON")
	return cmd
}

// printMember prints what printBest shows for a search's best model, for a
// Pareto member chosen under budget b.
func printMember(w io.Writer, dir string, r *search.Result, b search.Budget, m search.ParetoMember) {
	fmt.Fprintf(w, "budget:  %s (%s scenario)\n", b, r.Settings.Scenario)
	split := fmt.Sprintf("P = %d of %d", m.Partition, len(m.Layers))
	if m.Partition >= 0 && m.Partition < len(m.Partitions) {
		pt := m.Partitions[m.Partition]
		split += fmt.Sprintf(" (sends %s, %d B)", pt.Tensor, pt.SendBytes)
	}
	fmt.Fprintf(w, "chosen:  %s split at %s, candidate %d, member %s of %d\n", m.Arch, split, m.Candidate,
		memberRank(r, m), len(r.Pareto.Members))
	fmt.Fprintf(w, "         validation A %.4f, B %.4f (chose it); test %.4f (macro-F1 %.4f)\n",
		m.ValAccuracy, m.ValBAccuracy, m.TestAccuracy, m.TestMacroF1)
	if f := m.Final; f != nil && len(f.Runs) > 0 {
		run := f.Runs[f.Chosen]
		fmt.Fprintf(w, "         final training: %d runs of %d epochs, run %d kept: A %.4f, B %.4f\n",
			len(f.Runs), f.Epochs, f.Chosen+1, run.ValAccuracy, run.ValBAccuracy)
	}
	fmt.Fprintf(w, "         %d params, %d MACs; Flash %d B, RAM %d B; E_edge %.4f mJ, E_total %.4f mJ\n",
		m.Params, m.MACs, m.FlashBytes, m.RAMBytes, m.EEdge, m.ETotal)
	model := "not saved"
	if m.Model != "" {
		model = filepath.Join(dir, m.Model)
	}
	fmt.Fprintf(w, "model:   %s\n", model)
}

// memberRank is m's position in the Pareto set by energy, from 1.
func memberRank(r *search.Result, m search.ParetoMember) string {
	for i, o := range r.Pareto.Members {
		if o.Candidate == m.Candidate {
			return fmt.Sprint(i + 1)
		}
	}
	return "?"
}
