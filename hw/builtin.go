package hw

import (
	"embed"
	"path"
	"slices"
	"strings"
)

// profileFiles holds the built-in profiles, one TOML file each, named after
// the profile, and the layer tables (CSV) they name.
//
//go:embed profiles/*.toml profiles/*.csv
var profileFiles embed.FS

// DefaultProfile is the profile used when none is given: the paper's board.
const DefaultProfile = "stm32l476"

// Builtins lists the names of the built-in profiles, sorted.
func Builtins() []string {
	entries, err := profileFiles.ReadDir("profiles")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	var names []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".toml"); ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// BuiltinTOML returns the text of a built-in profile, comments included, as
// a starting point for a custom one.
func BuiltinTOML(name string) ([]byte, bool) { return builtinFile(name) }

func builtinFile(name string) ([]byte, bool) {
	if !slices.Contains(Builtins(), name) {
		return nil, false
	}
	b, err := profileFiles.ReadFile(path.Join("profiles", name+".toml"))
	return b, err == nil
}
