// Package testenv locates the real datasets that tests may use.
//
// The project's CI clones the repository with the shared data folder beside it
// (../shared/data from the project root). Tests that need it call SharedData,
// which skips the test with a message naming the path when it is absent.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedData returns the path of ../shared/data/<sub> relative to the module
// root (found by walking up from the working directory to go.mod). When the
// folder does not exist the test is skipped with a message naming the path.
func SharedData(tb testing.TB, sub string) string {
	tb.Helper()
	root, err := moduleRoot()
	if err != nil {
		tb.Skipf("shared data: %v", err)
	}
	dir := filepath.Join(filepath.Dir(root), "shared", "data", sub)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		tb.Skipf("shared data folder %s is absent; skipping test that needs real data", dir)
	}
	return dir
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
