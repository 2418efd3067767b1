package nn

import (
	"math"
	"strconv"
	"strings"

	"github.com/splitnas/splitnas/dataset"
)

// The training recipe's choices are small typed enumerations. Each has a
// String (its name, as the command line spells it), Valid, a Parse
// function whose error is a *ConfigError naming the Config field, and
// MarshalText/UnmarshalText so that it is a string in JSON.

// ClassBalance says how training compensates for classes of unequal size
// in the training data.
type ClassBalance uint8

const (
	// BalanceNone treats every sample alike: the loss is the plain mean
	// over the batch and every epoch visits each sample once (or, with
	// Config.SamplesPerEpoch, that many distinct samples).
	BalanceNone ClassBalance = iota
	// BalanceWeights weights each sample's loss by its class weight,
	// ClassWeights of the training data (inverse class frequency,
	// normalised so that the mean weight over the training samples is 1).
	BalanceWeights
	// BalanceSampler draws each epoch's len(train) samples (or
	// Config.SamplesPerEpoch) with replacement, first a class uniformly
	// among those present in the training data, then a sample of that
	// class uniformly, from the shuffling stream of Config.Seed.
	BalanceSampler
	numClassBalances
)

var classBalanceNames = [numClassBalances]string{"none", "weights", "sampler"}

// String returns "none", "weights" or "sampler", or "ClassBalance(N)" for
// a value that is none of them.
func (b ClassBalance) String() string {
	if b < numClassBalances {
		return classBalanceNames[b]
	}
	return "ClassBalance(" + strconv.Itoa(int(b)) + ")"
}

// Valid reports whether b is one of the balancing methods.
func (b ClassBalance) Valid() bool { return b < numClassBalances }

// ParseClassBalance returns the ClassBalance named s ("none", "weights" or
// "sampler"); an unknown name is a *ConfigError for "ClassBalance".
func ParseClassBalance(s string) (ClassBalance, error) {
	v, err := parseEnum(s, classBalanceNames[:], "ClassBalance")
	return ClassBalance(v), err
}

func (b ClassBalance) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

func (b *ClassBalance) UnmarshalText(text []byte) (err error) {
	*b, err = ParseClassBalance(string(text))
	return err
}

// SelectBy is the validation score that picks the best epoch (and that
// Patience waits to improve).
type SelectBy uint8

const (
	// SelectAccuracy picks the epoch with the highest validation accuracy.
	SelectAccuracy SelectBy = iota
	// SelectBalanced picks the epoch with the highest validation balanced
	// accuracy (mean recall over the classes present; see Metrics), the
	// score for imbalanced validation data.
	SelectBalanced
	numSelectBys
)

var selectByNames = [numSelectBys]string{"accuracy", "balanced"}

// String returns "accuracy" or "balanced", or "SelectBy(N)" for a value
// that is neither.
func (s SelectBy) String() string {
	if s < numSelectBys {
		return selectByNames[s]
	}
	return "SelectBy(" + strconv.Itoa(int(s)) + ")"
}

// Valid reports whether s is one of the selection scores.
func (s SelectBy) Valid() bool { return s < numSelectBys }

// ParseSelectBy returns the SelectBy named s ("accuracy" or "balanced");
// an unknown name is a *ConfigError for "Select".
func ParseSelectBy(s string) (SelectBy, error) {
	v, err := parseEnum(s, selectByNames[:], "Select")
	return SelectBy(v), err
}

func (s SelectBy) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *SelectBy) UnmarshalText(text []byte) (err error) {
	*s, err = ParseSelectBy(string(text))
	return err
}

// Schedule is the shape of the learning rate over the run; see
// Config.LearningRate.
type Schedule uint8

const (
	// ScheduleConstant keeps the learning rate at Config.LR (after any
	// warm-up).
	ScheduleConstant Schedule = iota
	// ScheduleCosine anneals it from Config.LR to 0 along half a cosine
	// over the steps after the warm-up.
	ScheduleCosine
	numSchedules
)

var scheduleNames = [numSchedules]string{"constant", "cosine"}

// String returns "constant" or "cosine", or "Schedule(N)" for a value that
// is neither.
func (s Schedule) String() string {
	if s < numSchedules {
		return scheduleNames[s]
	}
	return "Schedule(" + strconv.Itoa(int(s)) + ")"
}

// Valid reports whether s is one of the schedules.
func (s Schedule) Valid() bool { return s < numSchedules }

// ParseSchedule returns the Schedule named s ("constant" or "cosine"); an
// unknown name is a *ConfigError for "Schedule".
func ParseSchedule(s string) (Schedule, error) {
	v, err := parseEnum(s, scheduleNames[:], "Schedule")
	return Schedule(v), err
}

func (s Schedule) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s *Schedule) UnmarshalText(text []byte) (err error) {
	*s, err = ParseSchedule(string(text))
	return err
}

func parseEnum(s string, names []string, field string) (uint8, error) {
	for i, name := range names {
		if s == name {
			return uint8(i), nil
		}
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	want := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	return 0, &ConfigError{Field: field, Value: strconv.Quote(s), Problem: "want " + want}
}

// LearningRate returns the learning rate of Adam step s (counted from 0)
// of a run of c.Epochs epochs of stepsPerEpoch steps each (⌈samples /
// Batch⌉; the engine steps the schedule per batch). With W =
// c.WarmupEpochs·stepsPerEpoch warm-up steps and S = c.Epochs·stepsPerEpoch
// steps in all:
//
//	s < W:             LR·(s+1)/W                       (linear warm-up)
//	s ≥ W, constant:   LR
//	s ≥ W, cosine:     LR·½·(1 + cos(π·(s−W)/(S−W)))
//
// so the cosine starts at LR right after the warm-up and reaches 0 just
// past the last step (the last step, S−1, still moves the weights a
// little). Steps at or beyond S, which a run never takes, get 0 under the
// cosine schedule. An early-stopped run (Patience) leaves the schedule
// where it stopped: it is laid out over Epochs, not over the epochs run.
func (c Config) LearningRate(s, stepsPerEpoch int) float64 {
	w := float64(c.WarmupEpochs) * float64(stepsPerEpoch)
	step := float64(s)
	if step < w {
		return c.LR * (step + 1) / w
	}
	if c.Schedule != ScheduleCosine {
		return c.LR
	}
	total := float64(c.Epochs) * float64(stepsPerEpoch)
	progress := min((step-w)/(total-w), 1)
	return c.LR * 0.5 * (1 + math.Cos(math.Pi*progress))
}

// ClassWeights returns the weight of each class of d under BalanceWeights:
// n/(K·n_c) for a class with n_c of the n samples of d, K being the number
// of classes with at least one sample, and 0 for a class without any. The
// weights are inverse class frequencies scaled so that their mean over the
// samples of d, Σ_c n_c·w_c / n, is 1: the loss keeps its scale and only
// its balance between the classes changes. Train computes them from the
// training data alone. d must be valid (Dataset.Validate).
func ClassWeights(d *dataset.Dataset) []float64 {
	counts := make([]int, len(d.Classes))
	for _, l := range d.Labels {
		counts[l]++
	}
	present := 0
	for _, c := range counts {
		if c > 0 {
			present++
		}
	}
	w := make([]float64, len(counts))
	for c, n := range counts {
		if n > 0 {
			w[c] = float64(d.Len()) / (float64(present) * float64(n))
		}
	}
	return w
}
