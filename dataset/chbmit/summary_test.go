package chbmit

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/splitnas/splitnas/internal/testenv"
)

func TestParseSummaryReal(t *testing.T) {
	dir := testenv.SharedData(t, "chbmit")
	path := filepath.Join(dir, "chb01", "chb01-summary.txt")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := ParseSummary(f, path)
	if err != nil {
		t.Fatal(err)
	}
	if s.SamplingRate != 256 {
		t.Errorf("sampling rate %g, want 256", s.SamplingRate)
	}
	if len(s.Unknown) != 0 {
		t.Errorf("lines not understood: %q", s.Unknown)
	}
	// 42 files: chb01_01 … chb01_43 without 44, 45 but with 46 — the same
	// 42 that RECORDS lists for chb01.
	if len(s.Recordings) != 42 {
		t.Fatalf("%d recordings, want 42", len(s.Recordings))
	}
	if first, last := s.Recordings[0], s.Recordings[41]; first.Name != "chb01_01.edf" || last.Name != "chb01_46.edf" || first.StartTime != "11:42:54" || last.EndTime != "9:15:51" {
		t.Errorf("first %+v, last %+v", first, last)
	}
	records, err := os.ReadFile(filepath.Join(dir, "RECORDS"))
	if err != nil {
		t.Fatal(err)
	}
	var inRecords []string
	for _, l := range strings.Fields(string(records)) {
		if name, ok := strings.CutPrefix(l, "chb01/"); ok {
			inRecords = append(inRecords, name)
		}
	}
	var names []string
	for _, r := range s.Recordings {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, inRecords) {
		t.Errorf("summary lists %v,\nRECORDS lists %v", names, inRecords)
	}

	// The table of PROVENANCE.md.
	want := map[string]Interval{
		"chb01_03.edf": {2996, 3036}, "chb01_04.edf": {1467, 1494}, "chb01_15.edf": {1732, 1772},
		"chb01_16.edf": {1015, 1066}, "chb01_18.edf": {1720, 1810}, "chb01_21.edf": {327, 420},
		"chb01_26.edf": {1862, 1963},
	}
	if got := s.WithSeizures(); len(got) != 7 {
		t.Errorf("%d files with seizures, want 7: %v", len(got), got)
	}
	for _, r := range s.Recordings {
		w, ok := want[r.Name]
		switch {
		case ok && !slices.Equal(r.Seizures, []Interval{w}):
			t.Errorf("%s: seizures %v, want [%v]", r.Name, r.Seizures, w)
		case !ok && len(r.Seizures) != 0:
			t.Errorf("%s: seizures %v, want none", r.Name, r.Seizures)
		}
		if len(r.Channels) != 23 || r.Channels[0] != "FP1-F7" || r.Channels[13] != "F8-T8" || r.Channels[22] != "T8-P8" {
			t.Errorf("%s: channels %q", r.Name, r.Channels)
		}
	}
	// Every seizure file has its WFDB .seizures annotation beside it.
	for name := range want {
		if _, err := os.Stat(filepath.Join(dir, "chb01", name+".seizures")); err != nil {
			t.Error(err)
		}
	}
}

// A summary in the later patients' style: numbered seizures, extra blanks,
// CRLF line ends, a channel list that changes between files, the chb09_08
// typo (the second seizure's end labelled "Seizure 1") and a file without
// start and end times (as in chb24).
const laterSummary = "Data Sampling Rate: 256 Hz\r\n" +
	"*************************\r\n\r\n" +
	"Channels in EDF Files:\r\n**********************\r\n" +
	"Channel 1: FP1-F7\r\nChannel 2: F7-T7\r\nChannel 3: F8-T8\r\n\r\n" +
	"File Name: chb09_07.edf\r\nFile Start Time: 13:52:30\r\nFile End Time: 17:52:31\r\n" +
	"Number of Seizures in File: 0\r\n\r\n" +
	"Channels changed:\r\n*****************\r\n" +
	"Channel 1: F8-T8\r\nChannel 2: -\r\nChannel 3: F7-T7\r\nChannel 4: VNS\r\n\r\n" +
	"File Name: chb09_08.edf\r\nFile Start Time: 20:22:16\r\nFile End Time: 24:22:17\r\n" +
	"Number of Seizures in File: 2\r\n" +
	"Seizure 1 Start Time: 2951 seconds\r\nSeizure 1 End Time:   3030 seconds\r\n" +
	"Seizure 2 Start Time: 9196 seconds\r\nSeizure 1 End Time:   9267 seconds\r\n\r\n" +
	"File Name: chb24_01.edf\r\nNumber of Seizures in File: 1\r\n" +
	"Seizure Start Time: 480 seconds\r\nSeizure End Time: 505.5 seconds\r\n"

func TestParseSummaryVariants(t *testing.T) {
	s, err := ParseSummary(strings.NewReader(laterSummary), "x-summary.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Recordings) != 3 || len(s.Unknown) != 0 {
		t.Fatalf("recordings %+v, unknown %q", s.Recordings, s.Unknown)
	}
	r0, r1, r2 := s.Recordings[0], s.Recordings[1], s.Recordings[2]
	if r0.Name != "chb09_07.edf" || r0.Line != 10 || len(r0.Seizures) != 0 || !slices.Equal(r0.Channels, []string{"FP1-F7", "F7-T7", "F8-T8"}) {
		t.Errorf("first file: %+v", r0)
	}
	if r1.EndTime != "24:22:17" || !slices.Equal(r1.Seizures, []Interval{{2951, 3030}, {9196, 9267}}) ||
		!slices.Equal(r1.Channels, []string{"F8-T8", "-", "F7-T7", "VNS"}) {
		t.Errorf("second file: %+v", r1)
	}
	if r2.StartTime != "" || !slices.Equal(r2.Seizures, []Interval{{480, 505.5}}) || len(r2.Channels) != 4 {
		t.Errorf("third file: %+v", r2)
	}
	if s.Recording("chb09_08.edf") != &s.Recordings[1] || s.Recording("chb09_09.edf") != nil {
		t.Error("Recording lookup")
	}
	if got := s.WithSeizures(); !slices.Equal(got, []string{"chb09_08.edf", "chb24_01.edf"}) {
		t.Errorf("WithSeizures = %v", got)
	}

	// Lines of an unknown form are kept, not fatal.
	s, err = ParseSummary(strings.NewReader("File Name: a.edf\nRecording note: electrode off\nNumber of Seizures in File: 0\n"), "x")
	if err != nil || !slices.Equal(s.Unknown, []string{"line 2: Recording note: electrode off"}) {
		t.Errorf("unknown line: %v, %q", err, s.Unknown)
	}
}

func TestParseSummaryErrors(t *testing.T) {
	const head = "Data Sampling Rate: 256 Hz\n\nFile Name: chb01_03.edf\nNumber of Seizures in File: 1\n"
	for _, c := range []struct {
		name, text, want string
	}{
		{"start not a number", head + "Seizure Start Time: 29x6 seconds\nSeizure End Time: 3036 seconds\n",
			`x-summary.txt:5: seizure time "29x6 seconds" is not a number of seconds (line "Seizure Start Time: 29x6 seconds")`},
		{"wrong unit", head + "Seizure Start Time: 2996 minutes\n", `x-summary.txt:5: seizure time "2996 minutes" is not a number of seconds`},
		{"end first", head + "Seizure End Time: 3036 seconds\n", "x-summary.txt:5: seizure end time without a start time"},
		{"end before start", head + "Seizure Start Time: 3036 seconds\nSeizure End Time: 2996 seconds\n",
			"x-summary.txt:6: seizure ends at 2996 s, not after its start at 3036 s"},
		{"two starts", head + "Seizure 1 Start Time: 10 seconds\nSeizure 2 Start Time: 20 seconds\n",
			"x-summary.txt:6: seizure starts at 20 s before the one starting at 10 s (line 5) has ended"},
		{"no end", head + "Seizure Start Time: 10 seconds\n\nFile Name: chb01_04.edf\n",
			"x-summary.txt:5: seizure of chb01_03.edf starts at 10 s but has no end time"},
		{"count", head + "\nFile Name: chb01_04.edf\n", "x-summary.txt:3: chb01_03.edf declares 1 seizures but lists 0"},
		{"count at end", head, "x-summary.txt:3: chb01_03.edf declares 1 seizures but lists 0"},
		{"bad count", "File Name: a.edf\nNumber of Seizures in File: one\n", `x-summary.txt:2: number of seizures "one" is not a count`},
		{"bad seizure line", head + "Seizure Start: 12 seconds\n", "x-summary.txt:5: not a seizure start or end time"},
		{"seizure before file", "Seizure Start Time: 1 seconds\n", "x-summary.txt:1: seizure time before any File Name"},
		{"twice", "File Name: a.edf\n\nFile Name: a.edf\n", "x-summary.txt:3: a.edf is listed again (first on line 1)"},
		{"file name", "File Name: dir/a.edf\n", `x-summary.txt:1: file name "dir/a.edf" is not an EDF file name`},
		{"rate", "Data Sampling Rate: fast\n", `x-summary.txt:1: sampling rate "fast" is not a positive number of Hz`},
		{"channel", "Channels in EDF Files:\nChannel 0: FP1-F7\n", `x-summary.txt:2: channel number "0" out of range`},
		{"empty", "Data Sampling Rate: 256 Hz\n", `x-summary.txt: no "File Name:" entries`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseSummary(strings.NewReader(c.text), "x-summary.txt")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant an error containing %q", err, c.want)
			}
		})
	}
}
