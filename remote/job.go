package remote

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/splitnas/splitnas/arch"
	"github.com/splitnas/splitnas/dataset"
	"github.com/splitnas/splitnas/internal/frame"
	"github.com/splitnas/splitnas/nn"
	"github.com/splitnas/splitnas/quant/scheme"
)

// jobVersion is the version of the job and result formats; it is part of
// every key, so results of another version are never reused.
const jobVersion = 1

// job is one training, as published on JobSubject (JSON). Everything the
// training's outcome depends on is in it, so its hash is the key of its
// result.
type job struct {
	Version int           `json:"version"`
	Engine  string        `json:"engine"` // the engine workers train with: "native"
	Layers  []frame.Layer `json:"layers"`
	// Config is the training configuration without its two pointers:
	// Teacher travels as an object and Init as a model file below.
	Config  nn.Config `json:"config"`
	Train   string    `json:"train"`             // object name of the training data
	Val     string    `json:"val,omitempty"`     // object name of the validation data, "" for none
	Teacher string    `json:"teacher,omitempty"` // object name of the soft targets, "" for none
	Init    []byte    `json:"init,omitempty"`    // model file (nn.Save) to start from, nil for none
}

// envelope is a job message: the job and its key.
type envelope struct {
	Key string `json:"key"`
	Job job    `json:"job"`
}

// key returns the job's key: the SHA-256 of its JSON form, in hex (a
// valid key-value key and subject token). JSON of a Go struct has a fixed
// field order and floats that round-trip exactly, so equal jobs have
// equal keys.
func (j *job) key() (string, error) {
	b, err := json.Marshal(j)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// network returns the architecture the job trains.
func (j *job) network() (arch.Network, error) {
	net := arch.Network{Layers: make([]arch.Layer, len(j.Layers))}
	for i, fl := range j.Layers {
		l, err := fl.Arch(arch.Conv, arch.ConvTranspose, arch.Dense)
		if err != nil {
			return arch.Network{}, fmt.Errorf("layer %d: %w", i+1, err)
		}
		net.Layers[i] = l
	}
	return net, nil
}

// Object names: the kind of object and the SHA-256 of its content (for a
// dataset, dataset.Hash, which covers every sample, label, split and
// record), so that a receiver can verify what it got.
func datasetObject(d *dataset.Dataset) string { return "dataset-" + d.Hash() }

func targetsObject(b []byte) string {
	sum := sha256.Sum256(b)
	return "targets-" + hex.EncodeToString(sum[:])
}

// result is what a worker stores under a job's key. It is gob-encoded,
// not JSON: a training that diverged records NaN losses, which JSON cannot
// hold.
type result struct {
	Key      string  // the job's key, which the coordinator checks
	Worker   string  // the worker's name
	Delivery uint64  // 1 for the first delivery of the job, more when it was delivered again
	Seconds  float64 // wall time of the training on the worker

	// The training's outcome (nn.Result), or Error if Train refused or
	// failed (a configuration or data error a local run would also have
	// returned).
	Model   []byte // model file, nn.Save
	History []nn.Epoch
	Best    int
	Ranges  []scheme.Range
	Error   string
}

func (r *result) encode() ([]byte, error) {
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(r)
	return buf.Bytes(), err
}

func decodeResult(b []byte) (*result, error) {
	var r result
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}

// errRejected is wrapped by the reason a stored result does not fit its
// job.
var errRejected = errors.New("result rejected")

// TrainingError is a training a worker ran and the engine refused or
// failed (nn.Engine.Train's error, as text): what a local run would have
// returned as an error.
type TrainingError struct {
	Worker string
	Msg    string
}

func (e *TrainingError) Error() string { return "worker " + e.Worker + ": " + e.Msg }

// check decodes a stored result and verifies it against the job it is
// stored for: it must name key, hold a model of exactly net, a history
// whose chosen epoch exists, tensor ranges exactly when the training was
// quantization-aware, and — when there is validation data and no
// quantization-aware training (whose recorded scores are the quantized
// network's) — the validation score the history records for the chosen
// epoch must be what the model scores on val. A *TrainingError is the
// worker's report that training failed; any other error wraps errRejected.
func check(b []byte, key string, net arch.Network, val *dataset.Dataset, cfg nn.Config) (*result, *nn.Result, error) {
	reject := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errRejected, fmt.Sprintf(format, args...))
	}
	r, err := decodeResult(b)
	if err != nil {
		return nil, nil, reject("undecodable (%d bytes): %v", len(b), err)
	}
	if r.Key != key {
		return r, nil, reject("it is the result of job %.12s…, stored under %.12s…", r.Key, key)
	}
	if r.Error != "" {
		return r, nil, &TrainingError{Worker: r.Worker, Msg: r.Error}
	}
	m, err := nn.Load(bytes.NewReader(r.Model), "result model")
	if err != nil {
		return r, nil, reject("%v", err)
	}
	if got := m.Network(); !slices.Equal(got.Layers, net.Layers) {
		return r, nil, reject("model of %s, the job trains %s", got, net)
	}
	if r.Best < 0 || r.Best >= len(r.History) || len(r.History) > cfg.Epochs {
		return r, nil, reject("best epoch %d of a history of %d epochs (%d trained at most)", r.Best, len(r.History), cfg.Epochs)
	}
	switch {
	case cfg.QATBits == 0 && r.Ranges != nil:
		return r, nil, reject("tensor ranges from a training that was not quantization-aware")
	case cfg.QATBits != 0 && len(r.Ranges) != len(net.Layers)+1:
		return r, nil, reject("%d tensor ranges, want %d", len(r.Ranges), len(net.Layers)+1)
	}
	if cfg.QATBits == 0 && val != nil && val.Len() > 0 {
		met, err := nn.Evaluate(m, val)
		if err != nil {
			return r, nil, reject("scoring the model: %v", err)
		}
		ep := r.History[r.Best]
		if math.Abs(met.Accuracy-ep.ValAcc) > 1e-9 || math.Abs(met.BalancedAccuracy-ep.ValBalancedAccuracy) > 1e-9 {
			return r, nil, reject("the model scores %.6g on the validation data, its history says %.6g", met.Accuracy, ep.ValAcc)
		}
	}
	return r, &nn.Result{Model: m, History: r.History, Best: r.Best, Ranges: r.Ranges}, nil
}
