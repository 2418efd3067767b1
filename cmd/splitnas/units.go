package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// parseBytes reads a memory size such as "131072", "128KiB", "128KB",
// "1MiB" or "1.5MB". KiB/MiB/GiB are powers of 1024; KB/MB/GB are powers of
// 1000, as in datasheets; K/M/G alone mean KiB/MiB/GiB. flag names the
// flag in errors.
func parseBytes(flag, s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("--%s %q: not a size (want e.g. 131072, 128KiB, 1MiB)", flag, s)
	}
	b := v * mult
	if b <= 0 || b >= math.MaxInt64/2 || b != math.Trunc(b) {
		return 0, fmt.Errorf("--%s %q: must be a positive whole number of bytes", flag, s)
	}
	return int64(b), nil
}

// parseEnergyMJ reads an energy such as "0.3mJ", "300uJ", "300µJ", "1.2J"
// or a bare number of millijoules, and returns millijoules.
func parseEnergyMJ(flag, s string) (float64, error) {
	t := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"mJ", 1}, {"uJ", 1e-3}, {"µJ", 1e-3}, {"nJ", 1e-6}, {"J", 1e3}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("--%s %q: not an energy (want e.g. 0.3mJ, 300uJ)", flag, s)
	}
	if v <= 0 {
		return 0, fmt.Errorf("--%s %q: must be positive", flag, s)
	}
	return v * mult, nil
}
