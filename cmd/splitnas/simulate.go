package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/partition"
)

// simulateReport is what `splitnas simulate --json` prints.
type simulateReport struct {
	Arch     string `json:"arch"`
	Profile  string `json:"profile"`
	Scenario string `json:"scenario"`
	Trace    string `json:"trace"`
	partition.Simulation
	Policy partition.Policy `json:"policy"`
}

func newSimulateCmd() *cobra.Command {
	var (
		af      archFlags
		hf      hwFlags
		model   string
		trace   string
		retrans []float64
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "simulate (--arch A | --model M) --trace F [--profile P] [--json]",
		Short: "Play a link-quality trace through the adaptive split policy against the best fixed split",
		Long: `simulate runs one inference per row of a link-quality trace and reports, for each, the split point
the adaptive policy chooses for the row's link condition and its energy, against the best fixed split
(the one split point that minimises the total energy over the whole trace) and the nominal-best split
(the best at the link's nominal condition, what a non-adaptive edge uses); then totals, means per
inference, and the policy table (as inspect --link-sweep prints it, over --retrans).

The trace is a CSV file with a header row naming the columns time_s (seconds, not decreasing), phy
(1M, 2M, coded-s2 or coded-s8: a PHY of the profile's link model), tx_dbm (one of that PHY's TX levels)
and retransmission_rate (in [0, 1)), in any order; other columns are ignored and lines beginning with #
are comments. examples/traces/walking-away.csv is a synthetic example.

--model takes the architecture of a model file (.snnm or .snqm); an integer model defaults --profile
to stm32l476-int8 (int4: stm32l476-int4). The profile's radio needs a link model ([radio.link]).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if trace == "" {
				return fmt.Errorf("--trace is required")
			}
			var net arch.Network
			switch {
			case model != "" && af.arch != "":
				return fmt.Errorf("give --arch or --model, not both")
			case model != "":
				n, err := loadAnyModel(model)
				if err != nil {
					return fmt.Errorf("--model: %w", err)
				}
				net = n.Network()
				if !cmd.Flags().Changed("profile") && n.Int != nil {
					hf.profile = "stm32l476-int8"
					if n.Int.Bits == 4 {
						hf.profile = "stm32l476-int4"
					}
				}
			case af.arch != "":
				var err error
				if net, err = af.network(); err != nil {
					return err
				}
			default:
				return fmt.Errorf("give --arch or --model")
			}
			prof, sc, lim, err := hf.resolve(cmd)
			if err != nil {
				return err
			}
			if prof.Link == nil {
				return fmt.Errorf("--profile %s: radio %q has no link model ([radio.link]; the built-in stm32l476 profiles have one)", prof.Name, prof.Radio.Name)
			}
			for _, r := range retrans {
				if !(r >= 0 && r < 1) {
					return fmt.Errorf("--retrans %v: a retransmission rate is in [0, 1)", r)
				}
			}
			f, err := os.Open(trace)
			if err != nil {
				return fmt.Errorf("--trace: %w", err)
			}
			rows, err := partition.ReadTrace(f, trace, prof.Link)
			f.Close()
			if err != nil {
				return fmt.Errorf("--trace: %w", err)
			}
			pol, err := partition.NewPolicy(net, prof, sc, lim, prof.Link.Conditions(retrans))
			if err != nil {
				return err
			}
			sim, err := partition.Simulate(net, prof, sc, lim, pol, rows)
			if err != nil {
				return err
			}
			rep := simulateReport{Arch: net.String(), Profile: prof.Name, Scenario: sc.String(), Trace: trace, Simulation: sim, Policy: pol}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			printSimulation(cmd.OutOrStdout(), rep, prof)
			return nil
		},
	}
	// --arch is optional here (or --model).
	af.rule = arch.DefaultKernelRule()
	f := cmd.Flags()
	f.StringVar(&af.arch, "arch", "", `architecture, e.g. "2048x1-128x2-8x4-64x2-5" (or --model)`)
	f.IntVar(&af.rule.Same, "same-kernel", af.rule.Same, "kernel of a length-keeping convolution (odd)")
	f.IntVar(&af.rule.Overlap, "overlap", af.rule.Overlap, "kernel of a strided layer, in strides (1 = non-overlapping)")
	f.StringVar(&model, "model", "", "model file (.snnm or .snqm) whose architecture to simulate (or --arch)")
	hf.register(cmd)
	f.StringVar(&trace, "trace", "", "link-quality trace, CSV: time_s,phy,tx_dbm,retransmission_rate (required)")
	f.Float64SliceVar(&retrans, "retrans", hw.DefaultRetransRates(), "retransmission rates of the policy's condition grid")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

func printSimulation(w io.Writer, r simulateReport, prof hw.Profile) {
	e := "E_edge"
	if r.Policy.Scenario == partition.Total {
		e = "E_total"
	}
	s := r.Simulation
	fmt.Fprintf(w, "arch:     %s\n", r.Arch)
	fmt.Fprintf(w, "profile:  %s (scenario %s); radio %s\n", r.Profile, r.Scenario, prof.Radio.Name)
	fmt.Fprintf(w, "trace:    %s: %d inferences, %g s to %g s\n", r.Trace, len(s.Rows), s.Rows[0].TimeS, s.Rows[len(s.Rows)-1].TimeS)
	fmt.Fprintf(w, "splits:   adaptive (policy, Pmax = %d); best fixed P = %d; nominal-best P = %d\n\n", r.Policy.Pmax, s.FixedSplit, s.NominalSplit)
	fmt.Fprintf(w, "per inference (%s in mJ):\n", e)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "time s\tPHY\tTX dBm\tr\tµJ/byte\tµJ/packet\tadaptive P\tadaptive\tfixed P=%d\tnominal P=%d\t\n", s.FixedSplit, s.NominalSplit)
	for _, row := range s.Rows {
		fmt.Fprintf(tw, "%g\t%s\t%g\t%g\t%.4f\t%.3f\t%d\t%.4f\t%.4f\t%.4f\t\n", row.TimeS, row.Cond.PHY, row.Cond.TXdBm, row.Cond.Retrans,
			row.PerByteUJ, row.PerPacketUJ, row.AdaptiveSplit, row.EAdaptive, row.EFixed, row.ENominal)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntotal over %d inferences (mean per inference), %s:\n", len(s.Rows), e)
	pct := func(a, b float64) string { return fmt.Sprintf("%+.1f%%", 100*(a-b)/b) }
	fmt.Fprintf(w, "  adaptive         %.4f mJ (%.5f mJ)\n", s.TotalAdaptive, s.MeanAdaptive)
	fmt.Fprintf(w, "  best fixed P=%d   %.4f mJ (%.5f mJ); adaptive %s\n", s.FixedSplit, s.TotalFixed, s.MeanFixed, pct(s.TotalAdaptive, s.TotalFixed))
	fmt.Fprintf(w, "  nominal P=%d      %.4f mJ (%.5f mJ); adaptive %s\n", s.NominalSplit, s.TotalNominal, s.MeanNominal, pct(s.TotalAdaptive, s.TotalNominal))
	fmt.Fprintf(w, "  oracle           %.4f mJ (%.5f mJ): every row at its own best split, all layers on the edge\n\n", s.TotalOracle, s.MeanOracle)
	printPolicy(w, r.Policy, prof)
}
