package main

import (
	"math"
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"131072", 131072}, {"128KiB", 131072}, {"128K", 131072}, {"128KB", 128000}, {"1MiB", 1 << 20},
		{"1.5MB", 1500000}, {" 64 KiB ", 65536}, {"2GiB", 2 << 30}, {"100B", 100},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseBytes("ram-limit", c.in)
			if err != nil || got != c.want {
				t.Errorf("parseBytes(%q) = %d, %v; want %d", c.in, got, err, c.want)
			}
		})
	}
	for _, in := range []string{"", "lots", "-1KiB", "0", "0.5", "1.5KB2", "NaN"} {
		t.Run("bad "+in, func(t *testing.T) {
			_, err := parseBytes("ram-limit", in)
			if err == nil || !strings.HasPrefix(err.Error(), "--ram-limit ") {
				t.Errorf("parseBytes(%q) error = %v, want one naming --ram-limit", in, err)
			}
		})
	}
}

func TestParseEnergy(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
	}{
		{"0.3mJ", 0.3}, {"300uJ", 0.3}, {"300µJ", 0.3}, {"0.0003J", 0.3}, {"0.3", 0.3}, {"2 mJ", 2},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseEnergyMJ("energy-limit", c.in)
			if err != nil || math.Abs(got-c.want) > 1e-12 {
				t.Errorf("parseEnergyMJ(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
		})
	}
	for _, in := range []string{"", "cheap", "-1mJ", "0mJ", "Inf"} {
		t.Run("bad "+in, func(t *testing.T) {
			_, err := parseEnergyMJ("energy-limit", in)
			if err == nil || !strings.HasPrefix(err.Error(), "--energy-limit ") {
				t.Errorf("parseEnergyMJ(%q) error = %v", in, err)
			}
		})
	}
}
