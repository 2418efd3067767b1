package dataset

// Info summarises a dataset: its shape, classes, sample counts per class
// and split, and provenance.
type Info struct {
	Classes  []string                  `json:"classes"`   // names in label order
	Counts   map[string]int            `json:"counts"`    // class → samples over all splits
	Splits   map[string]int            `json:"splits"`    // train/val/test → samples
	PerSplit map[string]map[string]int `json:"per_split"` // split → class → samples
	Length   int                       `json:"length"`
	Channels int                       `json:"channels"`
	Samples  int                       `json:"samples"`
	Records  int                       `json:"records"` // distinct records (patients, files)
	Source   Source                    `json:"source"`
}

// Info summarises d.
func (d *Dataset) Info() Info {
	in := Info{
		Classes: d.Classes, Length: d.Length, Channels: d.Channels, Samples: d.Len(),
		Records: len(d.RecordIDs()), Source: d.Source,
		Counts: map[string]int{}, Splits: map[string]int{}, PerSplit: map[string]map[string]int{},
	}
	for _, s := range Splits() {
		in.Splits[s.String()] = 0
		in.PerSplit[s.String()] = map[string]int{}
		for _, c := range d.Classes {
			in.PerSplit[s.String()][c] = 0
		}
	}
	for _, c := range d.Classes {
		in.Counts[c] = 0
	}
	for i, l := range d.Labels {
		c, s := d.Classes[l], d.Splits[i].String()
		in.Counts[c]++
		in.Splits[s]++
		in.PerSplit[s][c]++
	}
	return in
}
