package main

import (
	"math"
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{
		"131072": 131072, "128KiB": 131072, "128K": 131072, "128KB": 128000, "1MiB": 1 << 20,
		"1.5MB": 1500000, " 64 KiB ": 65536, "2GiB": 2 << 30, "100B": 100,
	} {
		got, err := parseBytes("ram-limit", in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1KiB", "0", "0.5", "1.5KB2", "NaN"} {
		_, err := parseBytes("ram-limit", in)
		if err == nil || !strings.HasPrefix(err.Error(), "--ram-limit ") {
			t.Errorf("parseBytes(%q) error = %v, want one naming --ram-limit", in, err)
		}
	}
}

func TestParseEnergy(t *testing.T) {
	for in, want := range map[string]float64{"0.3mJ": 0.3, "300uJ": 0.3, "300µJ": 0.3, "0.0003J": 0.3, "0.3": 0.3, "2 mJ": 2} {
		got, err := parseEnergyMJ("energy-limit", in)
		if err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("parseEnergyMJ(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "cheap", "-1mJ", "0mJ", "Inf"} {
		_, err := parseEnergyMJ("energy-limit", in)
		if err == nil || !strings.HasPrefix(err.Error(), "--energy-limit ") {
			t.Errorf("parseEnergyMJ(%q) error = %v", in, err)
		}
	}
}
