// Package wfdb reads PhysioNet WFDB records, such as those of the MIT-BIH
// Arrhythmia Database: the header (.hea) that describes a record, its signal
// files (.dat) in formats 212 and 16, and its MIT-format annotation files
// (.atr).
//
// The reader follows the conventions of the WFDB library
// (https://physionet.org/physiotools/wfdb.shtml): defaults for missing header
// fields, the packing of format 212, and the pseudo-annotations (SKIP, NUM,
// SUB, CHN, AUX) of annotation files. ReadSignals verifies what the header
// promises about the data (length, initial values and checksums), so a
// damaged download is reported rather than silently decoded.
//
// Malformed input is reported as a *FormatError naming the file and, where
// it applies, the byte offset or header line of the problem. Small writers
// (WriteHeader, Encode212, Encode16, WriteAnnotations) exist for tests and
// for making fixtures.
package wfdb

import "fmt"

// FormatError reports malformed input: a header line that cannot be parsed,
// signal data that are short or disagree with the header, or an annotation
// file that cannot be decoded.
type FormatError struct {
	File   string // the file at fault, as named by the caller
	Offset int64  // byte offset of the problem in File, or -1 when not applicable
	Msg    string // what is wrong; header errors start with "line N: "
}

func (e *FormatError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("wfdb: %s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("wfdb: %s: byte %d: %s", e.File, e.Offset, e.Msg)
}
