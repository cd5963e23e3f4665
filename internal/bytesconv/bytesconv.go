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
