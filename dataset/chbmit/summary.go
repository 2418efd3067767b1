package chbmit

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Interval is a seizure, in seconds from the start of its EDF file.
type Interval struct {
	Start, End float64
}

// Recording is one EDF file as a summary describes it.
type Recording struct {
	Name      string     // EDF file name, e.g. "chb01_03.edf"
	Line      int        // line of its "File Name:" entry, counted from 1
	StartTime string     // "File Start Time:" as written ("" if absent; may exceed 24:00:00)
	EndTime   string     // "File End Time:" as written
	Seizures  []Interval // in the order listed
	Channels  []string   // channel list in force for this file (the latest "Channels ..." block); nil if none
}

// Summary is the content of a chbNN-summary.txt file.
type Summary struct {
	File         string      // path or name as given to ParseSummary
	SamplingRate float64     // "Data Sampling Rate: 256 Hz"; 0 if absent
	Recordings   []Recording // in file order
	Unknown      []string    // lines not understood, as "line N: text"; they are otherwise ignored
}

// Recording returns the entry for the EDF file name, or nil.
func (s *Summary) Recording(name string) *Recording {
	for i := range s.Recordings {
		if s.Recordings[i].Name == name {
			return &s.Recordings[i]
		}
	}
	return nil
}

// WithSeizures returns the names of the recordings that have at least one
// seizure, in file order.
func (s *Summary) WithSeizures() []string {
	var names []string
	for _, r := range s.Recordings {
		if len(r.Seizures) > 0 {
			names = append(names, r.Name)
		}
	}
	return names
}

// The line forms of a summary. Seizure lines come as "Seizure Start Time:"
// (early patients) or "Seizure 2 Start Time:" (later ones).
var (
	seizureRE = regexp.MustCompile(`^Seizure(?:\s+(\d+))?\s+(Start|End)\s+Time\s*:\s*(.*)$`)
	channelRE = regexp.MustCompile(`^Channel\s+(\d+)\s*:\s*(.*)$`)
)

// ParseSummary reads a CHB-MIT chbNN-summary.txt: the sampling rate, the
// channel lists (which may change between files) and, per EDF file, its
// seizure intervals. file names the source in errors.
//
// Seizure starts and ends are paired by position, not by their printed
// number (chb09-summary.txt labels the end of chb09_08's second seizure
// "Seizure 1 End Time"). It is an error, naming the line, for a known line
// to have a malformed value, for a seizure line to come before any file, for
// an end to have no start or to precede it, for a file to be listed twice,
// or for a file's seizure count to differ from its "Number of Seizures in
// File:". Lines of another form are kept in Summary.Unknown.
func ParseSummary(r io.Reader, file string) (*Summary, error) {
	s := &Summary{File: file}
	var (
		cur      *Recording // the file being described
		declared int        // its "Number of Seizures in File", -1 if not given
		open     = -1.0     // start of a seizure awaiting its end; -1 if none
		openLine int
		channels []string // the channel list in force
		inBlock  bool     // reading a "Channels ..." block
		seen     = map[string]int{}
	)
	finish := func() error {
		if cur == nil {
			return nil
		}
		if open >= 0 {
			return fmt.Errorf("chbmit: %s:%d: seizure of %s starts at %g s but has no end time", file, openLine, cur.Name, open)
		}
		if declared >= 0 && declared != len(cur.Seizures) {
			return fmt.Errorf("chbmit: %s:%d: %s declares %d seizures but lists %d", file, cur.Line, cur.Name, declared, len(cur.Seizures))
		}
		return nil
	}

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		errorf := func(format string, args ...any) error {
			return fmt.Errorf("chbmit: %s:%d: %s (line %q)", file, n, fmt.Sprintf(format, args...), line)
		}
		key, val, hasColon := strings.Cut(line, ":")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch {
		case line == "" || strings.Trim(line, "*") == "":
			continue
		case hasColon && (strings.EqualFold(key, "Channels in EDF Files") || strings.EqualFold(key, "Channels changed")):
			channels, inBlock = nil, true
			continue
		case channelRE.MatchString(line):
			m := channelRE.FindStringSubmatch(line)
			k, err := strconv.Atoi(m[1])
			if err != nil || k < 1 || k > 1000 {
				return nil, errorf("channel number %q out of range", m[1])
			}
			if !inBlock {
				channels = nil
				inBlock = true
			}
			if k > len(channels) {
				channels = append(channels, make([]string, k-len(channels))...)
			}
			channels[k-1] = m[2]
			continue
		}
		inBlock = false

		switch {
		case hasColon && key == "Data Sampling Rate":
			v, err := parseQuantity(val, "Hz")
			if err != nil || v <= 0 {
				return nil, errorf("sampling rate %q is not a positive number of Hz", val)
			}
			s.SamplingRate = v
		case hasColon && key == "File Name":
			if err := finish(); err != nil {
				return nil, err
			}
			if val == "" || strings.ContainsAny(val, `/\ `) {
				return nil, errorf("file name %q is not an EDF file name", val)
			}
			if prev, ok := seen[val]; ok {
				return nil, errorf("%s is listed again (first on line %d)", val, prev)
			}
			seen[val] = n
			s.Recordings = append(s.Recordings, Recording{Name: val, Line: n, Channels: channels})
			cur, declared, open = &s.Recordings[len(s.Recordings)-1], -1, -1
		case hasColon && (key == "File Start Time" || key == "File End Time"):
			if cur == nil {
				return nil, errorf("%s before any File Name", key)
			}
			if key == "File Start Time" {
				cur.StartTime = val
			} else {
				cur.EndTime = val
			}
		case hasColon && key == "Number of Seizures in File":
			if cur == nil {
				return nil, errorf("seizure count before any File Name")
			}
			v, err := strconv.Atoi(val)
			if err != nil || v < 0 {
				return nil, errorf("number of seizures %q is not a count", val)
			}
			declared = v
		case strings.HasPrefix(line, "Seizure"):
			m := seizureRE.FindStringSubmatch(line)
			if m == nil {
				return nil, errorf("not a seizure start or end time")
			}
			if cur == nil {
				return nil, errorf("seizure time before any File Name")
			}
			t, err := parseQuantity(m[3], "seconds", "second", "sec", "s")
			if err != nil || t < 0 {
				return nil, errorf("seizure time %q is not a number of seconds", m[3])
			}
			if m[2] == "Start" {
				if open >= 0 {
					return nil, errorf("seizure starts at %g s before the one starting at %g s (line %d) has ended", t, open, openLine)
				}
				open, openLine = t, n
				break
			}
			if open < 0 {
				return nil, errorf("seizure end time without a start time")
			}
			if t <= open {
				return nil, errorf("seizure ends at %g s, not after its start at %g s", t, open)
			}
			cur.Seizures = append(cur.Seizures, Interval{open, t})
			open = -1
		default:
			s.Unknown = append(s.Unknown, fmt.Sprintf("line %d: %s", n, line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("chbmit: %s: line %d: %w", file, n+1, err)
	}
	if err := finish(); err != nil {
		return nil, err
	}
	if len(s.Recordings) == 0 {
		return nil, fmt.Errorf("chbmit: %s: no \"File Name:\" entries; is this a CHB-MIT summary?", file)
	}
	return s, nil
}

// parseQuantity parses "2996 seconds" or "256 Hz": a non-negative decimal
// number, optionally followed by one of the units.
func parseQuantity(s string, units ...string) (float64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), " ")
	if unit = strings.TrimSpace(unit); unit != "" {
		ok := false
		for _, u := range units {
			ok = ok || strings.EqualFold(unit, u)
		}
		if !ok {
			return 0, fmt.Errorf("unit %q", unit)
		}
	}
	if num == "" || strings.Trim(num, "0123456789.") != "" {
		return 0, fmt.Errorf("number %q", num)
	}
	return strconv.ParseFloat(num, 64)
}
