package http1

import (
	"encoding/binary"
	"math/bits"
)

// SWAR ("SIMD within a register") scans of 8 input bytes at a time. Field
// values and targets are most of a request's bytes; testing a word per
// step instead of a byte per step is what keeps the parser near half a
// nanosecond per byte.
//
// The masks below flag, in the top bit of each byte, bytes that need a
// closer look. A flag can spill into the bytes after a flagged byte (the
// borrow of the subtraction), never before it, so the lowest flag of a
// word is exact: that is the first byte to look at.

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// lessMask flags the bytes of x below n (n <= 128).
func lessMask(x, n uint64) uint64 { return (x - lsb*n) &^ x & msb }

// byteMask flags the bytes of x equal to c.
func byteMask(x uint64, c byte) uint64 {
	y := x ^ (lsb * uint64(c))
	return (y - lsb) &^ y & msb
}

// nameWord flags the bytes of x that are ASCII letters, digits or '-':
// field names are almost always made of those; the rest of tchar (R19) is
// checked byte by byte. Every flag is exact, not only the lowest: each
// test stays inside its byte.
func nameWord(x uint64) uint64 {
	z := x ^ lsb*'-' // compared on x: 0x0D|0x20 is '-' and 0x10|0x20 is '0'
	ok := inRange(x|lsb*0x20, 'a', 'z') | inRange(x&^msb, '0', '9') | ^((z&^msb+lsb*0x7f)|z)&msb
	return ok &^ (x & msb)
}

// nameStop returns the offset of the first byte at or after i in w that is
// not an ASCII letter, digit or '-', or len(w).
func nameStop(w []byte, i int) int {
	for ; i+8 <= len(w); i += 8 {
		if ok := nameWord(binary.LittleEndian.Uint64(w[i:])); ok != msb {
			return i + bits.TrailingZeros64(^ok&msb)>>3
		}
	}
	for ; i < len(w); i++ {
		if c := w[i]; !(c|0x20 >= 'a' && c|0x20 <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return i
		}
	}
	return i
}

// inRange flags the bytes of y (each below 0x80) in [lo, hi].
func inRange(y uint64, lo, hi byte) uint64 {
	return (y + lsb*uint64(0x80-lo)) &^ (y + lsb*uint64(0x7f-hi)) & msb
}

// valueMask flags the bytes of x that are not field-value bytes other
// than HTAB (0x20-0x7E, obs-text; R23). Only the lowest flag is exact.
func valueMask(x uint64) uint64 { return lessMask(x, 0x20) | byteMask(x, 0x7f) }

// valueStop returns the offset of the first byte at or after i in w that
// is not a field-value byte other than HTAB (0x20-0x7E, obs-text; R23), or
// len(w). The caller checks whether that byte is an HTAB and goes on.
func valueStop(w []byte, i int) int {
	for ; i+8 <= len(w); i += 8 {
		x := binary.LittleEndian.Uint64(w[i:])
		if m := valueMask(x); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(w); i++ {
		if c := w[i]; c < 0x20 || c == 0x7f {
			return i
		}
	}
	return i
}

// targetStop returns the offset of the first byte at or after i in w that
// is not 0x21-0x7E, or is '#' or '?' (R11, R12), or len(w).
func targetStop(w []byte, i int) int {
	for ; i+8 <= len(w); i += 8 {
		x := binary.LittleEndian.Uint64(w[i:])
		if m := lessMask(x, 0x21) | x&msb | byteMask(x, 0x7f) | byteMask(x, '#') | byteMask(x, '?'); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(w); i++ {
		if c := w[i]; c <= 0x20 || c >= 0x7f || c == '#' || c == '?' {
			return i
		}
	}
	return i
}
