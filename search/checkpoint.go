package search

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/splitnas/splitnas/internal/atomicfile"
)

// CheckpointFile is the checkpoint's name in the output directory.
const CheckpointFile = "checkpoint.json"

// checkpointVersion changes when the checkpoint's layout does. Version 2
// added the data and profile content hashes and patience to Settings.
const checkpointVersion = 2

// checkpoint is the state of a search between generations: with the same
// configuration and data, it continues exactly as the search would have.
type checkpoint struct {
	Version  int      `json:"version"`
	Settings Settings `json:"settings"`
	Next     int      `json:"next_generation"` // generations finished
	RNG      []byte   `json:"rng"`             // the GA's PCG state
	// Population holds the current population's candidate IDs. For the
	// NSGA2 strategy these are the survivors of the last (μ+λ) selection,
	// the parents of the next generation: their ranks and crowding
	// distances follow from their candidates' scores (in Candidates), so
	// the population is the whole NSGA-II state besides the RNG.
	Population []int        `json:"population"`
	Candidates []Candidate  `json:"candidates"`
	History    []Generation `json:"history"`
	Seconds    float64      `json:"seconds"`
}

// saveCheckpoint writes the state after `next` generations, atomically,
// with rng the GA's generator state at the start of generation next.
// Without an output directory it does nothing.
func (s *searcher) saveCheckpoint(next int, rng []byte) error {
	if s.cfg.Dir == "" {
		return nil
	}
	// Only finished generations are saved: candidates first seen in an
	// unfinished one are left out (they are proposed again on resume).
	var cands []Candidate
	for _, c := range s.cands {
		if c.Generation < next {
			cands = append(cands, c)
		}
	}
	cp := checkpoint{
		Version: checkpointVersion, Settings: s.settings(), Next: next, RNG: rng,
		Population: s.pop, Candidates: cands, History: s.hist,
		Seconds: s.prior + time.Since(s.start).Seconds(),
	}
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("search: checkpoint: %w", err)
	}
	path := filepath.Join(s.cfg.Dir, CheckpointFile)
	err := atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(cp)
	})
	if err != nil {
		return fmt.Errorf("search: checkpoint: %w", err)
	}
	return nil
}

// loadCheckpoint restores the state from cfg.Dir and returns the number of
// finished generations.
func (s *searcher) loadCheckpoint() (int, error) {
	if s.cfg.Dir == "" {
		return 0, errors.New("no directory to resume from")
	}
	path := filepath.Join(s.cfg.Dir, CheckpointFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	var cp checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		return 0, fmt.Errorf("%s: not a checkpoint: %w", path, err)
	}
	if cp.Version != checkpointVersion {
		return 0, fmt.Errorf("%s: checkpoint version %d, this splitnas reads version %d", path, cp.Version, checkpointVersion)
	}
	if cp.Settings.Ties == "" {
		cp.Settings.Ties = string(TiesEnergy) // written before --ties: the order then
	}
	if cp.Settings.PickBy == "" {
		cp.Settings.PickBy = string(PickB) // written before --pick-by: the pick then
	}
	if changes := settingsDiff(cp.Settings, s.settings()); len(changes) > 0 {
		return 0, &SettingsChangedError{Checkpoint: path, Changes: changes}
	}
	if cp.Next < 0 || cp.Next > s.cfg.Generations || len(cp.History) != cp.Next {
		return 0, fmt.Errorf("%s: inconsistent: %d generations finished, %d in the history", path, cp.Next, len(cp.History))
	}
	if err := s.pcg.UnmarshalBinary(cp.RNG); err != nil {
		return 0, fmt.Errorf("%s: rng state: %w", path, err)
	}
	for i, c := range cp.Candidates {
		if c.ID != i {
			return 0, fmt.Errorf("%s: candidate %d has ID %d", path, i, c.ID)
		}
		net, err := s.cfg.Space.Decode(c.Genome)
		if err != nil {
			return 0, fmt.Errorf("%s: candidate %d: %w", path, i, err)
		}
		if net.String() != c.Arch {
			return 0, fmt.Errorf("%s: candidate %d: genome decodes to %s, not %s", path, i, net.String(), c.Arch)
		}
		s.byArch[c.Key()] = i
	}
	for _, id := range cp.Population {
		if id < 0 || id >= len(cp.Candidates) {
			return 0, fmt.Errorf("%s: population member %d is not a candidate", path, id)
		}
	}
	s.cands, s.pop, s.hist, s.prior = cp.Candidates, cp.Population, cp.History, cp.Seconds
	return cp.Next, nil
}

// settingsDiff lists the settings in which a checkpoint (was) and the
// configuration resuming it (now) differ, in Settings field order.
func settingsDiff(was, now Settings) []SettingsChange {
	va, vb := reflect.ValueOf(was), reflect.ValueOf(now)
	var diffs []SettingsChange
	for i := range va.NumField() {
		name := strings.Split(va.Type().Field(i).Tag.Get("json"), ",")[0]
		if name == "data" {
			continue // the data's name may change; its content hash may not
		}
		a, b := va.Field(i).Interface(), vb.Field(i).Interface()
		if !reflect.DeepEqual(a, b) {
			diffs = append(diffs, SettingsChange{Setting: name, Was: fmt.Sprint(a), Now: fmt.Sprint(b)})
		}
	}
	return diffs
}
