// Package hw models the hardware a split network runs on: the edge
// microcontroller (clock, power, Flash, RAM, number formats, a latency
// surrogate per layer kind and, optionally, a table of measured per-layer
// latencies that takes precedence over it), the radio that carries the tensor at the split,
// and the fog node that runs the rest. A Profile holds all three; profiles
// are TOML files (see profiles/stm32l476.toml for a documented example) and
// a few are built in.
//
// Units: energies in millijoules (mJ), power in milliwatts (mW), so that
// seconds × mW = mJ; radio energies in the file are in microjoules (µJ).
package hw

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/splitnas/splitnas/arch"
)

// Profile is a device pair and the link between them.
type Profile struct {
	Name        string `toml:"name"`
	Description string `toml:"description"`
	Edge        Device `toml:"edge"`
	Radio       Radio  `toml:"radio"`
	Fog         Fog    `toml:"fog"`
	// Link, if not nil, is the radio's link model (the optional
	// `[radio.link]` section): how Radio's two energies, which are its
	// nominal condition's, change with the PHY, the TX power and the
	// retransmission rate (see Link and RadioAt).
	Link *Link `toml:"-"`
}

// Device is a processor that runs layers: the edge MCU, or a fog node with
// its own model.
type Device struct {
	Name          string  `toml:"name"`
	ClockHz       float64 `toml:"clock_hz"`
	ActivePowerMW float64 `toml:"active_power_mw"` // while computing
	FlashBytes    int64   `toml:"flash_bytes"`
	RAMBytes      int64   `toml:"ram_bytes"`
	// Bytes per stored weight and per activation value: 4 for float32, 1
	// for int8, 0.5 for int4 (a multiple of 1/8).
	BytesPerWeight     float64 `toml:"bytes_per_weight"`
	BytesPerActivation float64 `toml:"bytes_per_activation"`
	// Latency maps a layer kind ("conv1d", "conv1d_transpose", "dense",
	// optionally "maxpool1d") to its latency surrogate.
	Latency map[string]LatencyModel `toml:"latency"`
	// InputCyclesPerValue is the cost of the input stage, per value of
	// the input window, in cycles: what the edge does to a window before
	// layer 1 (an integer network quantizes each float value to int8:
	// a float division and TFLite's rounding, package export's
	// splitnas_load). Optional; 0 when the window is used as it is
	// (float32).
	InputCyclesPerValue float64 `toml:"input_cycles_per_value"`
	// LayerTableFile, if not empty, names a measurement CSV beside the
	// profile file (for a built-in profile, beside it in hw/profiles):
	// the device's per-layer latency table. Load reads it into Table.
	LayerTableFile string `toml:"layer_table"`
	// Table predicts the layers it holds instead of Latency (see
	// LayerTable); nil when LayerTableFile is empty.
	Table *LayerTable `toml:"-"`
	// Sparse maps "conv1d" and "dense" to the latency surrogate of the
	// kernels that run a layer stored sparse (only its non-zero weights,
	// arch.SparseWeightBytes); optional (the [edge.sparse.KIND] tables).
	// A device without one runs every layer dense.
	Sparse map[string]SparseModel `toml:"sparse"`
	// SparseTableFile, if not empty, names the device's sparse table (a
	// CSV beside the profile, like LayerTableFile): the measured costs of
	// the sparse kernel of each layer of the search space, which predict
	// those layers instead of Sparse. Load reads it into SparseTable.
	SparseTableFile string       `toml:"sparse_table"`
	SparseTable     *SparseTable `toml:"-"`
}

// Radio is the link from edge to fog. Sending n bytes costs
// n·EnergyPerByteUJ + ⌈n / PayloadBytesPerPacket⌉·EnergyPerPacketUJ.
type Radio struct {
	Name                  string  `toml:"name"`
	EnergyPerByteUJ       float64 `toml:"energy_per_byte_uj"`
	EnergyPerPacketUJ     float64 `toml:"energy_per_packet_uj"`
	PayloadBytesPerPacket int     `toml:"payload_bytes_per_packet"`
}

// Fog is the node that runs the layers after the split. Either Factor > 0:
// the fog runs a layer Factor times more energy-efficiently than the edge
// would (the paper's model); or Device is set: the fog has its own latency
// model and power.
type Fog struct {
	Factor float64
	Device *Device
}

// Precision is the number format the edge stores weights and activations
// in, for arch's Flash and RAM.
func (d Device) Precision() arch.Precision {
	w, a := int(math.Round(8*d.BytesPerWeight)), int(math.Round(8*d.BytesPerActivation))
	name := fmt.Sprintf("w%d/a%d", w, a)
	switch {
	case w == 32 && a == 32:
		name = "float32"
	case w == 8 && a == 8:
		name = "int8"
	case w == 4 && a == 8:
		name = "int4"
	}
	return arch.Precision{Name: name, WeightBits: w, ActBits: a}
}

// LayerSeconds is the predicted latency of layer l on d: the measured
// cycles of l in d.Table if it holds l, else d's latency model of l's kind,
// over the clock. It fails if d has
// no latency model for l's kind, or if d's clock or that model's
// coefficients are not valid (see Profile.Validate; the *FieldError names
// the field within the device, e.g. "clock_hz").
func (d Device) LayerSeconds(l arch.Layer) (float64, error) {
	m, ok := d.Latency[l.Kind.String()]
	if !ok {
		return 0, fmt.Errorf("hw: device %q has no latency model for %s layers", d.Name, l.Kind)
	}
	if err := positive("clock_hz", d.ClockHz); err != nil {
		return 0, fmt.Errorf("hw: device %q: %w", d.Name, err)
	}
	if err := m.check("latency." + l.Kind.String()); err != nil {
		return 0, fmt.Errorf("hw: device %q: %w", d.Name, err)
	}
	if d.LayerTableFile != "" && d.Table == nil {
		return 0, fmt.Errorf("hw: device %q: layer_table %s is not loaded (read the profile with hw.Load)", d.Name, d.LayerTableFile)
	}
	if c, ok := d.Table.Cycles(l); ok {
		return c / d.ClockHz, nil
	}
	return m.Cycles(l) / d.ClockHz, nil
}

// InputSeconds is the latency of the input stage for a window of shape
// in: InputCyclesPerValue · in.Size() / ClockHz (0 if d's clock is not
// positive, which Validate refuses).
func (d Device) InputSeconds(in arch.Shape) float64 {
	if d.ClockHz <= 0 {
		return 0
	}
	return d.InputCyclesPerValue * float64(in.Size()) / d.ClockHz
}

// LayerEnergyMJ is the energy of running layer l on d: latency × power.
// It fails as LayerSeconds does, and if d's power is not positive.
func (d Device) LayerEnergyMJ(l arch.Layer) (float64, error) {
	if err := positive("active_power_mw", d.ActivePowerMW); err != nil {
		return 0, fmt.Errorf("hw: device %q: %w", d.Name, err)
	}
	s, err := d.LayerSeconds(l)
	if err != nil {
		return 0, err
	}
	return s * d.ActivePowerMW, nil
}

// Packets is the number of packets that carry n bytes (0 for n = 0). The
// radio's payload must be positive (Profile.Validate checks it); Packets
// panics otherwise.
func (r Radio) Packets(n int) int {
	if r.PayloadBytesPerPacket <= 0 {
		panic(fmt.Sprintf("hw: radio %q: payload_bytes_per_packet is %d; a profile must pass Validate before use", r.Name, r.PayloadBytesPerPacket))
	}
	return (n + r.PayloadBytesPerPacket - 1) / r.PayloadBytesPerPacket
}

// EnergyMJ is the edge's energy to send n bytes. Like Packets, it needs a
// positive payload.
func (r Radio) EnergyMJ(n int) float64 {
	return (float64(n)*r.EnergyPerByteUJ + float64(r.Packets(n))*r.EnergyPerPacketUJ) / 1000
}

// Load reads a profile: a built-in name (see Builtins) or a TOML file path,
// with the layer tables its devices name (Device.LayerTableFile), read from
// beside the profile.
func Load(nameOrPath string) (Profile, error) {
	if b, ok := builtinFile(nameOrPath); ok {
		p, err := Parse(bytes.NewReader(b), nameOrPath)
		if err != nil {
			return Profile{}, err
		}
		return p, p.loadTables(nameOrPath, func(file string) (fs.File, error) { return profileFiles.Open(path.Join("profiles", file)) })
	}
	f, err := os.Open(nameOrPath)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(nameOrPath, `/\.`) {
			return Profile{}, fmt.Errorf("hw: no built-in profile %q (built-in: %s) and no such file", nameOrPath, strings.Join(Builtins(), ", "))
		}
		return Profile{}, fmt.Errorf("hw: %w", err)
	}
	defer f.Close()
	p, err := Parse(f, nameOrPath)
	if err != nil {
		return Profile{}, err
	}
	dir := filepath.Dir(nameOrPath)
	return p, p.loadTables(nameOrPath, func(file string) (fs.File, error) { return os.Open(filepath.Join(dir, file)) })
}

// loadTables reads the layer table of each device that names one, opening
// it with open; name is the profile's, for errors.
func (p *Profile) loadTables(name string, open func(file string) (fs.File, error)) error {
	devs := []struct {
		table string
		d     *Device
	}{{"edge", &p.Edge}}
	if p.Fog.Device != nil {
		devs = append(devs, struct {
			table string
			d     *Device
		}{"fog", p.Fog.Device})
	}
	for _, dv := range devs {
		if file := dv.d.LayerTableFile; file != "" {
			f, err := open(file)
			if err != nil {
				return fmt.Errorf("profile %s: %s.layer_table: %w", name, dv.table, err)
			}
			t, err := ReadLayerTable(f, file, dv.d.ClockHz)
			f.Close()
			if err != nil {
				return fmt.Errorf("profile %s: %s.layer_table: %w", name, dv.table, err)
			}
			dv.d.Table = t
		}
		if file := dv.d.SparseTableFile; file != "" {
			f, err := open(file)
			if err != nil {
				return fmt.Errorf("profile %s: %s.sparse_table: %w", name, dv.table, err)
			}
			t, err := ReadSparseTable(f, file)
			f.Close()
			if err != nil {
				return fmt.Errorf("profile %s: %s.sparse_table: %w", name, dv.table, err)
			}
			dv.d.SparseTable = t
		}
	}
	return nil
}

// Parse reads a TOML profile; name (a file name) prefixes its errors. It
// does not read the layer tables a profile names (Load does): a device
// whose table is not loaded refuses to predict (LayerSeconds). Every
// field is required except descriptions, the optional [radio.link]
// section (Profile.Link; its fields are required when it is given), and
// the fog's: exactly one of fog.factor or a fog device (fog.name,
// fog.clock_hz, …). Unknown fields
// and unknown layer kinds are errors, and the values must pass Validate.
// Errors name the field with a *FieldError, e.g.
// `profile my.toml: edge.active_power_mw: must be positive, got -3`, or the
// line of a TOML syntax error.
func Parse(r io.Reader, name string) (Profile, error) {
	p, err := parse(r)
	if err != nil {
		return Profile{}, fmt.Errorf("profile %s: %w", name, err)
	}
	return p, nil
}

// fileProfile is the TOML layout; the fog table is either a factor or a
// device, so it is decoded loosely and checked by hand.
type fileProfile struct {
	Name        string    `toml:"name"`
	Description string    `toml:"description"`
	Edge        Device    `toml:"edge"`
	Radio       fileRadio `toml:"radio"`
	Fog         fileFog   `toml:"fog"`
}

// fileRadio is the radio table with its optional link model.
type fileRadio struct {
	Radio
	Link *Link `toml:"link"`
}

type fileFog struct {
	Factor float64 `toml:"factor"`
	Device
}

// syntaxError is a TOML syntax error: its line, and the decoder's error.
type syntaxError struct {
	line int
	err  toml.ParseError
}

func (e *syntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.err.Message) }
func (e *syntaxError) Unwrap() error { return e.err }

// parse decodes the file and checks what only a file can get wrong
// (unknown and missing fields, the fog's form); Validate checks the values.
func parse(r io.Reader) (Profile, error) {
	var fp fileProfile
	md, err := toml.NewDecoder(r).Decode(&fp)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return Profile{}, &syntaxError{line: perr.Position.Line, err: perr}
		}
		return Profile{}, err
	}
	if und := md.Undecoded(); len(und) > 0 {
		return Profile{}, fieldErr(und[0].String(), "unknown field")
	}
	if !md.IsDefined("name") {
		return Profile{}, fieldErr("name", "missing field")
	}
	if err := checkDeviceFields(md, "edge", fp.Edge); err != nil {
		return Profile{}, err
	}
	for _, f := range []string{"name", "energy_per_byte_uj", "energy_per_packet_uj", "payload_bytes_per_packet"} {
		if !md.IsDefined("radio", f) {
			return Profile{}, fieldErr("radio."+f, "missing field")
		}
	}
	if md.IsDefined("radio", "link") {
		for _, f := range []string{"supply_v", "turnaround_us", "nominal_phy", "nominal_tx_dbm", "phy"} {
			if !md.IsDefined("radio", "link", f) {
				return Profile{}, fieldErr("radio.link."+f, "missing field")
			}
		}
	}
	p := Profile{Name: fp.Name, Description: fp.Description, Edge: fp.Edge, Radio: fp.Radio.Radio, Link: fp.Radio.Link}
	hasFactor := md.IsDefined("fog", "factor")
	hasDevice := false
	for _, k := range md.Keys() {
		if len(k) >= 2 && k[0] == "fog" && k[1] != "factor" {
			hasDevice = true
		}
	}
	switch {
	case !md.IsDefined("fog"):
		return Profile{}, fieldErr("fog", "missing table (set fog.factor, or describe the fog device)")
	case hasFactor && hasDevice:
		return Profile{}, fieldErr("fog", "give either factor or a device model, not both")
	case hasFactor:
		p.Fog.Factor = fp.Fog.Factor
	default:
		if err := checkDeviceFields(md, "fog", fp.Fog.Device); err != nil {
			return Profile{}, err
		}
		d := fp.Fog.Device
		p.Fog.Device = &d
	}
	if err := p.Validate(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// checkDeviceFields checks that a device table gives every field, and every
// coefficient of the latency models of known kinds (Validate refuses
// unknown kinds).
func checkDeviceFields(md toml.MetaData, table string, d Device) error {
	for _, f := range []string{"name", "clock_hz", "active_power_mw", "flash_bytes", "ram_bytes",
		"bytes_per_weight", "bytes_per_activation", "latency"} {
		if !md.IsDefined(table, f) {
			return fieldErr(table+"."+f, "missing field")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(d.Latency)) {
		if !knownKind(k) {
			continue
		}
		for _, f := range FeatureNames() {
			if !md.IsDefined(table, "latency", k, f) {
				return fieldErr(table+".latency."+k+"."+f, "missing field")
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(d.Sparse)) {
		for _, f := range SparseFeatureNames() {
			if !md.IsDefined(table, "sparse", k, f) {
				return fieldErr(table+".sparse."+k+"."+f, "missing field")
			}
		}
	}
	return nil
}
