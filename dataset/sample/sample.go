// Package sample embeds the default dataset: a small, balanced sample of
// MIT-BIH Arrhythmia Database heartbeats in the five AAMI classes, for use
// when no other dataset is given, so a new user can run splitnas at once.
//
// It is regenerated from the full database (see README.md, "Data") with
//
//	splitnas prepare mitdb --src ../shared/data/mitdb --out dataset/sample/mitdb_beats.snds \
//	    --per-class 280 --encoding f16
//
// Data: MIT-BIH Arrhythmia Database (Moody & Mark 2001), PhysioNet
// (Goldberger et al. 2000), Open Data Commons Attribution License v1.0.
package sample

import (
	_ "embed"

	"github.com/splitnas/splitnas/dataset"
)

// Name is how the embedded file is called in messages.
const Name = "embedded:mitdb_beats.snds"

//go:embed mitdb_beats.snds
var mitdbBeats []byte

// Load decodes the embedded sample. Each call returns a fresh copy.
func Load() (*dataset.Dataset, error) {
	return dataset.Decode(mitdbBeats, Name)
}
