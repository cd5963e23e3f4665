// Package bytesconv holds the project's only uses of unsafe: zero-copy
// conversions between string and []byte.
//
// Both conversions alias memory. The caller promises not to modify the bytes
// for as long as the other view is in use.
package bytesconv

import "unsafe"

// B2S returns a string that shares b's bytes. b must not be modified while
// the string is in use.
func B2S(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// S2B returns a byte slice that shares s's bytes. The slice must never be
// written to: string memory may be read-only.
func S2B(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// Offset reports where s's bytes start inside b, if s is a view into b
// (made with B2S of a part of b), so the view can be moved to a copy of b.
func Offset(s string, b []byte) (int, bool) {
	if len(s) == 0 || len(b) == 0 {
		return 0, false
	}
	sp := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	bp := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	if sp < bp || sp+uintptr(len(s)) > bp+uintptr(len(b)) {
		return 0, false
	}
	return int(sp - bp), true
}
