package main

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/hw"
	"github.com/splitnas/splitnas/partition"
)

// hwFlags select a device profile, the scenario and the memory limits.
type hwFlags struct {
	profile    string
	scenario   string
	fogFactor  float64
	flashLimit string
	ramLimit   string
}

func (h *hwFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&h.profile, "profile", hw.DefaultProfile, fmt.Sprintf("device profile: a built-in %v or a TOML file", hw.Builtins()))
	f.StringVar(&h.scenario, "scenario", "edge", "what the split minimises: edge (E_edge) or total (E_edge + E_fog)")
	f.Float64Var(&h.fogFactor, "fog-factor", 0, "model the fog as this many times more energy-efficient than the edge (overrides the profile's fog)")
	f.StringVar(&h.flashLimit, "flash-limit", "", "edge Flash budget, e.g. 1MiB (default: the profile's Flash size)")
	f.StringVar(&h.ramLimit, "ram-limit", "", "edge RAM budget, e.g. 128KiB (default: the profile's RAM size)")
}

func (h *hwFlags) resolve(cmd *cobra.Command) (hw.Profile, partition.Scenario, partition.Limits, error) {
	var lim partition.Limits
	sc, err := partition.ParseScenario(h.scenario)
	if err != nil {
		return hw.Profile{}, 0, lim, fmt.Errorf("--scenario: %w", err)
	}
	prof, err := hw.Load(h.profile)
	if err != nil {
		return hw.Profile{}, 0, lim, fmt.Errorf("--profile: %w", err)
	}
	if cmd.Flags().Changed("fog-factor") {
		if !(h.fogFactor > 0) || math.IsInf(h.fogFactor, 1) {
			return hw.Profile{}, 0, lim, fmt.Errorf("--fog-factor %v: must be positive and finite", h.fogFactor)
		}
		prof.Fog = hw.Fog{Factor: h.fogFactor}
	}
	if h.flashLimit != "" {
		if lim.FlashBytes, err = parseBytes("flash-limit", h.flashLimit); err != nil {
			return hw.Profile{}, 0, lim, err
		}
	}
	if h.ramLimit != "" {
		if lim.RAMBytes, err = parseBytes("ram-limit", h.ramLimit); err != nil {
			return hw.Profile{}, 0, lim, err
		}
	}
	return prof, sc, lim, nil
}

// fogText describes the profile's fog model in one phrase.
func fogText(f hw.Fog) string {
	if f.Device != nil {
		return fmt.Sprintf("%s (own model, %.0f mW)", f.Device.Name, f.Device.ActivePowerMW)
	}
	return fmt.Sprintf("%g× more energy-efficient than the edge", f.Factor)
}

// inspectReport is what `splitnas inspect --json` prints.
type inspectReport struct {
	Arch       string  `json:"arch"`
	Params     int     `json:"params"`
	MACs       int     `json:"macs"`
	Profile    string  `json:"profile"`
	Scenario   string  `json:"scenario"`
	FogFactor  float64 `json:"fog_factor,omitempty"`
	FogDevice  string  `json:"fog_device,omitempty"`
	FlashLimit int64   `json:"flash_limit_bytes"`
	RAMLimit   int64   `json:"ram_limit_bytes"`
	// The input stage (quantizing the window on an integer edge), part of
	// every split point's edge compute.
	InputMS    float64           `json:"input_stage_ms"`
	InputMJ    float64           `json:"input_stage_mj"`
	Layers     []partition.Layer `json:"layers"`
	Partitions []partition.Point `json:"partitions"`
	Best       *partition.Point  `json:"best"` // null when no split point fits
}

func newInspectCmd() *cobra.Command {
	var (
		af        archFlags
		hf        hwFlags
		classes   int
		asJSON    bool
		linkSweep bool
		retrans   []float64
	)
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show a network's layers and the cost of every split point on a device",
		Long: `inspect prints, for an architecture and a device profile, each layer's shape,
parameters, MACs and predicted latency and energy, then every split point P
(layers 1..P on the edge, tensor P sent over the radio, the rest on the fog)
with its Flash, RAM and energies, marking the optimum for the scenario.

--arch vgg11 is the paper's reference network: a 1-D VGG11 (2048x1 input,
--classes outputs, two hidden dense layers of 1024).

--link-sweep prints instead the adaptive split policy over the link model of
the profile's radio ([radio.link]): for every PHY, TX power level and
retransmission rate (--retrans), the radio's effective µJ per byte and per
packet, the best split point and its energy, and the energy of the nominal
condition's best split under that condition (the loss of not adapting); then
the policy's candidates and Pmax, the layers an adaptive edge holds.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var net arch.Network
			var err error
			if af.arch == "vgg11" {
				if net, err = arch.VGG11(arch.Shape{Len: 2048, Ch: 1}, classes, arch.VGG11Hidden); err != nil {
					return fmt.Errorf("--arch vgg11 --classes %d: %w", classes, err)
				}
			} else if net, err = af.network(); err != nil {
				return err
			}
			prof, sc, lim, err := hf.resolve(cmd)
			if err != nil {
				return err
			}
			if !linkSweep && cmd.Flags().Changed("retrans") {
				return fmt.Errorf("--retrans applies to --link-sweep only")
			}
			if linkSweep {
				if prof.Link == nil {
					return fmt.Errorf("--link-sweep: profile %s: radio %q has no link model ([radio.link]; the built-in stm32l476 profiles have one)", prof.Name, prof.Radio.Name)
				}
				for _, r := range retrans {
					if !(r >= 0 && r < 1) {
						return fmt.Errorf("--retrans %v: a retransmission rate is in [0, 1)", r)
					}
				}
				pol, err := partition.NewPolicy(net, prof, sc, lim, prof.Link.Conditions(retrans))
				if err != nil {
					return err
				}
				if af.arch == "vgg11" {
					pol.Arch = "vgg11"
				}
				if asJSON {
					return writeJSON(cmd.OutOrStdout(), policyReport{Scenario: sc.String(), Policy: pol})
				}
				printPolicy(cmd.OutOrStdout(), pol, prof)
				return nil
			}
			tab, err := partition.Evaluate(net, prof, sc, lim)
			if err != nil {
				return err
			}
			name := net.String()
			if af.arch == "vgg11" {
				name = "vgg11"
			}
			r := inspectReport{
				Arch: name, Params: net.Params(), MACs: net.MACs(), Profile: prof.Name, Scenario: sc.String(),
				FogFactor: prof.Fog.Factor, FlashLimit: tab.Limits.FlashBytes, RAMLimit: tab.Limits.RAMBytes,
				Layers: tab.Layers, Partitions: tab.Points, InputMS: 1000 * tab.InputSeconds, InputMJ: tab.InputMJ,
			}
			if prof.Fog.Device != nil {
				r.FogDevice = prof.Fog.Device.Name
			}
			if best, ok := tab.BestPoint(); ok {
				r.Best = &best
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), r)
			}
			printInspect(cmd.OutOrStdout(), r, prof)
			return nil
		},
	}
	af.register(cmd)
	hf.register(cmd)
	f := cmd.Flags()
	f.IntVar(&classes, "classes", 5, "number of classes of --arch vgg11")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.BoolVar(&linkSweep, "link-sweep", false, "print the best split point for each link condition (PHY, TX power, retransmission rate) of the profile's link model: the adaptive policy")
	f.Float64SliceVar(&retrans, "retrans", hw.DefaultRetransRates(), "with --link-sweep, the retransmission rates of the sweep")
	return cmd
}

// policyReport is the JSON form of an adaptive split policy.
type policyReport struct {
	Scenario string `json:"scenario"`
	partition.Policy
}

// printPolicy prints an adaptive policy: the table condition → split
// point, then its candidates and Pmax.
func printPolicy(w io.Writer, pol partition.Policy, prof hw.Profile) {
	sc := pol.Scenario
	e := "E_edge"
	if sc == partition.Total {
		e = "E_total"
	}
	fmt.Fprintf(w, "arch:     %s\n", pol.Arch)
	fmt.Fprintf(w, "profile:  %s: radio %s, %d B a packet; scenario %s\n", prof.Name, prof.Radio.Name, pol.Payload, sc)
	fmt.Fprintf(w, "nominal:  %v: best split P = %d\n\n", pol.Nominal, pol.NominalSplit)
	fmt.Fprintf(w, "policy (energies in mJ per inference; %s at the best split, and at the nominal best P = %d):\n", e, pol.NominalSplit)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "PHY\tTX dBm\tr\tµJ/byte\tµJ/packet\tbest P\t%s\t%s at P=%d\tloss\t\n", e, e, pol.NominalSplit)
	for _, r := range pol.Rows {
		loss := "-"
		if r.ENominal > r.E {
			loss = fmt.Sprintf("%.1f%%", 100*(r.ENominal-r.E)/r.E)
		}
		fmt.Fprintf(tw, "%s\t%g\t%g\t%.4f\t%.3f\t%d\t%.4f\t%.4f\t%s\t\n", r.Cond.PHY, r.Cond.TXdBm, r.Cond.Retrans,
			r.PerByteUJ, r.PerPacketUJ, r.Split, r.E, r.ENominal, loss)
	}
	tw.Flush()
	fmt.Fprintf(w, "\ncandidates (run time: the one of least E_comp_edge + (bytes·µJ/byte + packets·µJ/packet)/1000%s):\n",
		map[bool]string{true: " + E_fog", false: ""}[sc == partition.Total])
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "P\tsends\tbytes\tpackets\tE_comp_edge\tE_fog\t")
	for _, c := range pol.Candidates {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%.4f\t%.4f\t\n", c.P, c.Tensor, c.SendBytes, c.Packets, c.ECompEdgeMJ, c.EFogMJ)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nPmax = %d: an adaptive edge holds layers 1..%d, Flash %d B, RAM %d B\n", pol.Pmax, pol.Pmax, pol.FlashBytes, pol.RAMBytes)
}

func printInspect(w io.Writer, r inspectReport, prof hw.Profile) {
	fmt.Fprintf(w, "arch:     %s (%d params, %d MACs)\n", r.Arch, r.Params, r.MACs)
	fmt.Fprintf(w, "profile:  %s: %s, %.0f MHz, %.1f mW; radio %s; fog %s\n", prof.Name, prof.Edge.Name,
		prof.Edge.ClockHz/1e6, prof.Edge.ActivePowerMW, prof.Radio.Name, fogText(prof.Fog))
	fmt.Fprintf(w, "limits:   Flash %d B, RAM %d B (%s)\n", r.FlashLimit, r.RAMLimit, prof.Edge.Precision().Name)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	integer := prof.Edge.Precision().Integer()
	head := "layer\tkind\tshape\tparams\tMACs\tFlash B\t"
	if integer {
		head += "of it requant B\t"
	}
	fmt.Fprintln(tw, head+"edge ms\tE edge mJ\tE fog mJ\t")
	for _, l := range r.Layers {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t", l.Index, l.Kind, l.Shape, l.Params, l.MACs, l.FlashBytes)
		if integer {
			fmt.Fprintf(tw, "%d\t", l.RequantBytes)
		}
		fmt.Fprintf(tw, "%.4g\t%.4g\t%.4g\t\n", 1000*l.EdgeSeconds, l.EdgeMJ, l.FogMJ)
	}
	tw.Flush()
	if r.InputMJ > 0 {
		fmt.Fprintf(w, "input stage (quantizing the window, in every point's E_comp_edge): %.4g ms, %.4g mJ\n", r.InputMS, r.InputMJ)
	}
	fmt.Fprintf(w, "\nsplit points (scenario %s; energies in mJ; * = optimum):\n", r.Scenario)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "P\tsends\tbytes\tpackets\tFlash B\tRAM B\tE_comp_edge\tE_comm_edge\tE_edge\tE_fog\tE_total\tvalid\t")
	for _, p := range r.Partitions {
		mark := ""
		if r.Best != nil && p.P == r.Best.P {
			mark = " *"
		}
		valid := "yes"
		if !p.Valid {
			valid = "no"
		}
		fmt.Fprintf(tw, "%d%s\t%s\t%d\t%d\t%d\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%s\t\n", p.P, mark, p.Tensor, p.SendBytes,
			p.Packets, p.FlashBytes, p.RAMBytes, p.ECompEdge, p.ECommEdge, p.EEdge, p.EFog, p.ETotal, valid)
	}
	tw.Flush()
	if r.Best == nil {
		fmt.Fprintf(w, "\nno split point fits: even P = 0 needs %s\n", r.Partitions[0].Why)
		return
	}
	b := r.Best
	fmt.Fprintf(w, "\nbest (%s): P = %d of %d, send %s (%d B): E_edge %.4f mJ, E_total %.4f mJ, Flash %d B, RAM %d B\n",
		r.Scenario, b.P, len(r.Layers), b.Tensor, b.SendBytes, b.EEdge, b.ETotal, b.FlashBytes, b.RAMBytes)
}
