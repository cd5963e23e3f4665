package http1

import "testing"

// TestSWARMatchesBytes checks the word scans against a byte-by-byte scan
// for every byte value at every position, in inputs long enough for the
// word loop and short enough for the tail loop, and with two odd bytes so
// a spilled flag after the first one cannot hide it.
func TestSWARMatchesBytes(t *testing.T) {
	valueOK := func(c byte) bool { return c >= 0x20 && c != 0x7f }
	nameOK := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
	}
	targetOK := func(c byte) bool { return c > 0x20 && c < 0x7f && c != '#' && c != '?' }
	slow := func(w []byte, ok func(byte) bool) int {
		for i, c := range w {
			if !ok(c) {
				return i
			}
		}
		return len(w)
	}
	for _, n := range []int{5, 8, 13, 24} {
		for c := 0; c < 256; c++ {
			for pos := 0; pos < n; pos++ {
				for _, second := range []int{-1, 0x00, 0x7f, '#'} {
					w := make([]byte, n)
					for i := range w {
						w[i] = 'a' + byte(i%26)
					}
					w[pos] = byte(c)
					if second >= 0 && pos+1 < n {
						w[pos+1] = byte(second)
					}
					if got, want := valueStop(w, 0), slow(w, valueOK); got != want {
						t.Fatalf("valueStop(%q) = %d, want %d", w, got, want)
					}
					if got, want := nameStop(w, 0), slow(w, nameOK); got != want {
						t.Fatalf("nameStop(%q) = %d, want %d", w, got, want)
					}
					if got, want := targetStop(w, 0), slow(w, targetOK); got != want {
						t.Fatalf("targetStop(%q) = %d, want %d", w, got, want)
					}
				}
			}
		}
	}
}
