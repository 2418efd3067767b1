package hw

import (
	"fmt"
	"maps"
	"slices"
)

// WithFittedLatency returns a copy of base in which the edge latency model
// of every kind in fits is the fitted one (FitResult.Model); the edge keeps
// base's model for the other kinds, which kept lists, sorted. The edge
// loses base's layer table (LayerTableFile, Table) and its sparse kernel
// models (SparseTableFile, SparseTable, Sparse): measured on the kernels
// the fit replaces, the tables named relative to base's file. Everything
// else (names, description, clock, power, memories, radio, fog) is base's;
// the copy shares no map or pointer with base, so changing one leaves the
// other alone. It fails naming the kind if fits holds an unknown kind or
// the same kind twice, and with a *FieldError if the result does not pass
// Validate.
func WithFittedLatency(base Profile, fits []FitResult) (p Profile, kept []string, err error) {
	p = base.clone()
	p.Edge.LayerTableFile, p.Edge.Table = "", nil
	p.Edge.SparseTableFile, p.Edge.SparseTable, p.Edge.Sparse = "", nil, nil
	fitted := make(map[string]bool, len(fits))
	for _, r := range fits {
		switch {
		case !knownKind(r.Kind):
			return Profile{}, nil, fmt.Errorf("hw: fitted model of unknown layer kind %q", r.Kind)
		case fitted[r.Kind]:
			return Profile{}, nil, fmt.Errorf("hw: two fitted models of %s layers", r.Kind)
		}
		fitted[r.Kind] = true
		p.Edge.Latency[r.Kind] = r.Model
	}
	kept = []string{}
	for k := range base.Edge.Latency {
		if !fitted[k] {
			kept = append(kept, k)
		}
	}
	slices.Sort(kept)
	if err := p.Validate(); err != nil {
		return Profile{}, nil, fmt.Errorf("hw: profile %q with the fitted models: %w", base.Name, err)
	}
	return p, kept, nil
}

// clone returns a deep copy of p: new latency maps and fog device.
func (p Profile) clone() Profile {
	c := p
	c.Edge.Latency = cloneLatency(p.Edge.Latency)
	c.Edge.Sparse = maps.Clone(p.Edge.Sparse)
	c.Link = p.Link.clone()
	if p.Fog.Device != nil {
		d := *p.Fog.Device
		d.Latency = cloneLatency(d.Latency)
		c.Fog.Device = &d
	}
	return c
}

func cloneLatency(m map[string]LatencyModel) map[string]LatencyModel {
	c := make(map[string]LatencyModel, len(m))
	maps.Copy(c, m)
	return c
}
