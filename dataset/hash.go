package dataset

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"math"
)

// Hash returns the SHA-256 of the dataset's content, in hex: its class
// names, shape, sample values (as float32 bit patterns), labels, splits and
// records, each length-prefixed. Source (how the data was made) is not part
// of it, so two files holding the same samples hash alike whatever their
// name, encoding or notes; any change to a value, label, split or record
// changes it. A search records it to refuse resuming on other data.
func (d *Dataset) Hash() string {
	h := sha256.New()
	var buf [8]byte
	u64 := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	str := func(s string) {
		u64(uint64(len(s)))
		h.Write([]byte(s))
	}
	u64(uint64(len(d.Classes)))
	for _, c := range d.Classes {
		str(c)
	}
	u64(uint64(d.Channels))
	u64(uint64(d.Length))
	hashFloats(h, d.X)
	u64(uint64(len(d.Labels)))
	h.Write(d.Labels)
	u64(uint64(len(d.Splits)))
	for _, s := range d.Splits {
		h.Write([]byte{byte(s)})
	}
	u64(uint64(len(d.Records)))
	for _, r := range d.Records {
		str(r)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hashFloats writes len(x) and then x's float32 bit patterns, little
// endian, through a fixed buffer.
func hashFloats(h hash.Hash, x []float32) {
	var buf [4096]byte
	binary.LittleEndian.PutUint64(buf[:8], uint64(len(x)))
	h.Write(buf[:8])
	for len(x) > 0 {
		n := min(len(x), len(buf)/4)
		for i, v := range x[:n] {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		h.Write(buf[:4*n])
		x = x[n:]
	}
}
