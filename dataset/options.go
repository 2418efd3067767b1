package dataset

import (
	"fmt"
	"strconv"
	"strings"
)

// Balance says how a builder evens out the classes of a dataset.
type Balance uint8

// The balancing methods. The zero value is PerClass.
const (
	// PerClass keeps the same number of samples of every class, chosen at
	// random with the seed (see BalanceIndices).
	PerClass Balance = iota
	// NoBalance keeps every sample.
	NoBalance
	// EvalOnly balances the validation and the test split (each keeps as
	// many samples of every class as its smallest class has) and keeps every
	// training sample, for training with class weights or a class-balanced
	// sampler on all the data while scoring on balanced splits. Builders
	// that support it say so (mitbih, random split).
	EvalOnly
	numBalances
)

var balanceNames = [numBalances]string{"per-class", "none", "eval"}

// String returns "per-class", "none" or "eval", or "Balance(N)" for a value
// that is none of them.
func (b Balance) String() string {
	if b < numBalances {
		return balanceNames[b]
	}
	return "Balance(" + strconv.Itoa(int(b)) + ")"
}

// Valid reports whether b is one of the balancing methods.
func (b Balance) Valid() bool { return b < numBalances }

// ParseBalance returns the Balance named s ("per-class", "none" or "eval"). An
// unknown name is an *OptionError for the option "Balance".
func ParseBalance(s string) (Balance, error) {
	for b, name := range balanceNames {
		if s == name {
			return Balance(b), nil
		}
	}
	return 0, &OptionError{Option: "Balance", Value: s, Problem: "want " + orList(balanceNames[:])}
}

// SplitBy says how a builder assigns samples to the train, validation and
// test splits. (Split is the split itself: Train, Val or Test.)
type SplitBy uint8

// The split methods. Each builder supports some of them; the zero value is
// SplitRandom.
const (
	// SplitRandom assigns samples at random, stratified by class
	// (SplitStratified).
	SplitRandom SplitBy = iota
	// SplitInterPatient follows a published division of the patients
	// into training and test sets (MIT-BIH: de Chazal et al.'s DS1/DS2).
	SplitInterPatient
	// SplitRecord assigns whole records (segments, files) to one split
	// (SplitByRecord).
	SplitRecord
	// SplitPatient assigns whole patients to one split (SplitByRecord on
	// patient ids).
	SplitPatient
	numSplitBys
)

var splitByNames = [numSplitBys]string{"random", "inter-patient", "record", "patient"}

// String returns the method's name ("random", "inter-patient", "record",
// "patient"), or "SplitBy(N)" for a value that is none of them.
func (s SplitBy) String() string {
	if s < numSplitBys {
		return splitByNames[s]
	}
	return "SplitBy(" + strconv.Itoa(int(s)) + ")"
}

// Valid reports whether s is one of the split methods.
func (s SplitBy) Valid() bool { return s < numSplitBys }

// ParseSplitBy returns the SplitBy named s. An unknown name is an
// *OptionError for the option "Split".
func ParseSplitBy(s string) (SplitBy, error) {
	for m, name := range splitByNames {
		if s == name {
			return SplitBy(m), nil
		}
	}
	return 0, &OptionError{Option: "Split", Value: s, Problem: "want " + orList(splitByNames[:])}
}

// OrList joins the names of vs as "a, b or c", for messages that list the
// allowed values of an option.
func OrList[T fmt.Stringer](vs []T) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.String()
	}
	return orList(names)
}

func orList(names []string) string {
	if len(names) <= 1 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// OptionError reports an option of a dataset builder (mitbih, bonn, chbmit)
// that cannot be used. Option names the field of the builder's Options
// struct ("Length", "Split", ...); With, when set, names a second field the
// problem involves. The message does not know how the option was given (a
// command-line flag, a configuration file): callers that do can word it
// from the fields.
type OptionError struct {
	Option    string // field of the Options struct, e.g. "Length"
	Value     any    // its value
	With      string // another field the problem involves, or ""
	WithValue any    // the value of With
	Problem   string // what is wrong, e.g. "must be at least 64"; may be empty when Err says it
	Err       error  // the underlying cause, or nil
}

func (e *OptionError) Error() string {
	var b strings.Builder
	b.WriteString("option " + e.Option + " " + FormatValue(e.Value))
	if e.With != "" {
		b.WriteString(" with " + e.With + " " + FormatValue(e.WithValue))
	}
	if e.Problem != "" {
		b.WriteString(": " + e.Problem)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *OptionError) Unwrap() error { return e.Err }

// FormatValue writes an option value for a message: strings and named
// values (Balance, SplitBy) quoted, lists comma-separated, numbers as Go
// prints them.
func FormatValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case fmt.Stringer:
		return strconv.Quote(v.String())
	case []string:
		return strconv.Quote(strings.Join(v, ","))
	case []int:
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.Itoa(x)
		}
		return strings.Join(s, ",")
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// Normalize says how a builder of EEG windows (bonn, chbmit) scales the
// values of each window before training.
type Normalize uint8

// The normalisation methods. The zero value is NormalizeWindow.
const (
	// NormalizeWindow z-scores every window (every channel of it) with
	// its own mean and standard deviation: only the shape of the signal
	// is left, its amplitude is gone.
	NormalizeWindow Normalize = iota
	// NormalizeRecording z-scores every window with the mean and standard
	// deviation of the whole (filtered) recording or segment it was cut
	// from, channel by channel: amplitude differences between the windows
	// of one recording (a seizure against the background) survive, those
	// between recordings (electrode gain, patient) are removed.
	NormalizeRecording
	// NormalizeGlobal z-scores every window with one mean and standard
	// deviation per channel, computed over the windows of the training
	// split only (see TrainMoments) and applied to every split: all
	// amplitude differences survive, and no validation or test value
	// shapes the constants.
	NormalizeGlobal
	numNormalizes
)

var normalizeNames = [numNormalizes]string{"window", "recording", "global"}

// String returns "window", "recording" or "global", or "Normalize(N)" for a
// value that is none of them.
func (n Normalize) String() string {
	if n < numNormalizes {
		return normalizeNames[n]
	}
	return "Normalize(" + strconv.Itoa(int(n)) + ")"
}

// Valid reports whether n is one of the normalisation methods.
func (n Normalize) Valid() bool { return n < numNormalizes }

// Normalizes lists the normalisation methods in order.
func Normalizes() []Normalize {
	return []Normalize{NormalizeWindow, NormalizeRecording, NormalizeGlobal}
}

// ParseNormalize returns the Normalize named s ("window", "recording" or
// "global"). An unknown name is an *OptionError for the option
// "Normalize".
func ParseNormalize(s string) (Normalize, error) {
	for n, name := range normalizeNames {
		if s == name {
			return Normalize(n), nil
		}
	}
	return 0, &OptionError{Option: "Normalize", Value: s, Problem: "want " + orList(normalizeNames[:])}
}
