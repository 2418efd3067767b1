package bonn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxLine is the longest line ReadSegment accepts. A sample is a short
// number; anything longer is not a Bonn file.
const maxLine = 64 << 10

// ReadSegment parses one Bonn segment: one number a line (the files hold
// integers). Surrounding spaces, CRLF line ends, a UTF-8 byte-order mark and
// trailing blank lines are tolerated; a blank line followed by more data, a
// line that is not a finite decimal number, or a file with no samples is an
// error naming file and line.
func ReadSegment(r io.Reader, file string) ([]float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	x := make([]float64, 0, SegmentLength)
	line, blank := 0, 0 // blank: first line of the current run of blank lines
	for sc.Scan() {
		line++
		s := sc.Bytes()
		if line == 1 {
			s = bytes.TrimPrefix(s, []byte("\ufeff"))
		}
		s = bytes.TrimSpace(s)
		if len(s) == 0 {
			if blank == 0 {
				blank = line
			}
			continue
		}
		if blank != 0 {
			return nil, fmt.Errorf("bonn: %s: line %d: blank line inside the data", file, blank)
		}
		v, ok := parseNumber(s)
		if !ok {
			return nil, fmt.Errorf("bonn: %s: line %d: %q is not a number", file, line, clip(string(s)))
		}
		x = append(x, v)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("bonn: %s: line %d: longer than %d bytes, not a number", file, line+1, maxLine)
		}
		return nil, fmt.Errorf("bonn: %s: after line %d: %w", file, line, err)
	}
	if len(x) == 0 {
		return nil, fmt.Errorf("bonn: %s: no samples (empty file)", file)
	}
	return x, nil
}

// ReadFile opens path and parses it with ReadSegment.
func ReadFile(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bonn: %w", err)
	}
	defer f.Close()
	return ReadSegment(f, path)
}

// parseNumber accepts a finite decimal number such as "-12", "3.5" or
// "1e3". Hexadecimal floats, digit separators, "NaN" and "Inf", which
// strconv.ParseFloat would also take, are refused.
func parseNumber(s []byte) (float64, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '+', c == '-', c == '.', c == 'e', c == 'E':
		default:
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// clip shortens s for an error message.
func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// setLetter returns the set ("A".."E") a folder name stands for, or "" when
// the name is not a Bonn set folder. Accepted, case-insensitively:
//   - a set letter followed by an underscore and anything ("A_Z", "E_S");
//   - a set letter alone ("A".."E");
//   - the letter of the original file names alone ("Z", "O", "N", "F", "S"
//     for sets A–E).
func setLetter(name string) string {
	u := strings.ToUpper(name)
	if len(u) == 1 {
		if i := strings.Index(fileLetters, u); i >= 0 {
			return setLetters[i : i+1]
		}
	}
	if len(u) >= 1 && strings.Contains(setLetters, u[:1]) && (len(u) == 1 || u[1] == '_') {
		return u[:1]
	}
	return ""
}

// Set letters A–E and the letters their files are named with (Z001.txt …).
const (
	setLetters  = "ABCDE"
	fileLetters = "ZONFS"
)

// findSets maps each set letter in want to its folder inside src.
func findSets(src, want string) (map[string]string, error) {
	entries, err := os.ReadDir(src)
	if err != nil {
		return nil, fmt.Errorf("bonn: %w: reading the folder of sets (A_Z … E_S): %w", ErrNoData, err)
	}
	dirs := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		l := setLetter(e.Name())
		if l == "" || !strings.Contains(want, l) {
			continue
		}
		if prev, ok := dirs[l]; ok {
			return nil, fmt.Errorf("bonn: %s: folders %s and %s both hold set %s", src, filepath.Base(prev), e.Name(), l)
		}
		dirs[l] = filepath.Join(src, e.Name())
	}
	for _, l := range want {
		if _, ok := dirs[string(l)]; !ok {
			i := strings.IndexRune(setLetters, l)
			return nil, fmt.Errorf("bonn: %s: %w: no folder for set %c (name it %c_%c, %c or %c)",
				src, ErrNoData, l, l, fileLetters[i], l, fileLetters[i])
		}
	}
	return dirs, nil
}

// segmentFile is one file to read.
type segmentFile struct {
	path   string
	record string // "<set>/<stem>", e.g. "E/S001"
	set    string
}

// listFiles returns the .txt files (any case) of dir in name order.
func listFiles(dir, set string) ([]segmentFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("bonn: reading set %s: %w", set, err)
	}
	var files []segmentFile
	stems := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || !strings.EqualFold(ext, ".txt") {
			continue
		}
		stem := strings.TrimSuffix(name, ext)
		if prev, ok := stems[strings.ToUpper(stem)]; ok {
			return nil, fmt.Errorf("bonn: %s: files %s and %s are the same segment", dir, prev, name)
		}
		stems[strings.ToUpper(stem)] = name
		files = append(files, segmentFile{path: filepath.Join(dir, name), record: set + "/" + stem, set: set})
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("bonn: %s: %w: no .txt files for set %s", dir, ErrNoData, set)
	}
	slices.SortFunc(files, func(a, b segmentFile) int { return strings.Compare(a.path, b.path) })
	return files, nil
}
