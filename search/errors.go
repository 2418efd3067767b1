package search

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoValid is returned (as a *NoValidError, with the partial result) when
// a search ends without any candidate within every budget.
var ErrNoValid = errors.New("no candidate met every budget")

// ErrImpossibleBudget is wrapped by the errors of budgets no candidate can
// meet, found before any training (a RAM limit below the input buffer, an
// energy limit below the cheapest tensor) or while filling a generation
// (no genome fits Flash and RAM at any split point).
var ErrImpossibleBudget = errors.New("impossible budget")

// ConfigError says which Config field holds a value a search cannot run
// with. Field is the Go path of the field ("Population", "Space.Slots",
// "Train.LR"); Err, when set, is the underlying package's error.
type ConfigError struct {
	Field   string
	Value   any
	Problem string
	Err     error
}

func (e *ConfigError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Field, e.Err)
	}
	return fmt.Sprintf("%s %v: %s", e.Field, e.Value, e.Problem)
}

func (e *ConfigError) Unwrap() error { return e.Err }

// InterruptedError is returned when the context is cancelled during a
// search: Finished generations were completed and saved in Dir's checkpoint
// (none is saved without a Dir), so Config.Resume continues from there.
type InterruptedError struct {
	Generation int    // the generation that was running, from 0
	Finished   int    // generations finished and checkpointed
	Dir        string // where the checkpoint is; "" if none was written
	Err        error  // the context's error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("search: interrupted in generation %d (%d finished): %v", e.Generation, e.Finished, e.Err)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// NoValidError says why no candidate met every budget. It matches
// ErrNoValid with errors.Is.
type NoValidError struct {
	Trained, OverEnergy, Abandoned int
	EnergyLimitMJ                  float64
	Scenario                       string
	// The over-energy candidate with the lowest energy, if any.
	LowestEnergyMJ float64
	LowestArch     string
}

func (e *NoValidError) Error() string {
	msg := fmt.Sprintf("search: %v: %d candidates trained, %d over the energy limit of %g mJ, %d abandoned for Flash/RAM",
		ErrNoValid, e.Trained, e.OverEnergy, e.EnergyLimitMJ, e.Abandoned)
	if e.LowestArch != "" {
		msg += fmt.Sprintf("; the lowest %s energy found was %.4g mJ (%s)", e.Scenario, e.LowestEnergyMJ, e.LowestArch)
	}
	return msg
}

func (e *NoValidError) Is(target error) bool { return target == ErrNoValid }

// SettingsChange is one setting that differs between a checkpoint and the
// configuration asked to resume it.
type SettingsChange struct {
	Setting  string // the Settings field's JSON name, e.g. "population", "data_sha256"
	Was, Now string
}

// SettingsChangedError refuses to resume a checkpoint made with other
// settings, data or profile: the result would not be the one the
// checkpointed search gives.
type SettingsChangedError struct {
	Checkpoint string // the checkpoint file
	Changes    []SettingsChange
}

func (e *SettingsChangedError) Error() string {
	parts := make([]string, len(e.Changes))
	for i, c := range e.Changes {
		parts[i] = fmt.Sprintf("%s %s, now %s", c.Setting, c.Was, c.Now)
	}
	return fmt.Sprintf("%s was made with different settings (%s)", e.Checkpoint, strings.Join(parts, "; "))
}

// Changed reports whether the setting with the given JSON name changed.
func (e *SettingsChangedError) Changed(setting string) bool {
	for _, c := range e.Changes {
		if c.Setting == setting {
			return true
		}
	}
	return false
}
