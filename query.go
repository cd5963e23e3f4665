package sluice

import (
	"bytes"

	"github.com/sluice-go/sluice/internal/bytesconv"
)

// Query returns the first value of the query parameter name, decoded
// (percent-escapes and '+' as space), or "". Keys are compared decoded.
// The query is scanned on each call, with no index kept: it allocates
// only when the value holds escapes. Borrowed when it does not.
func (x *Ctx) Query(name string) string {
	v, _ := x.LookupQuery(name)
	return v
}

// LookupQuery is Query that also reports whether the parameter is
// present (with any value, even empty).
func (x *Ctx) LookupQuery(name string) (string, bool) {
	q := x.req.Query
	for len(q) > 0 {
		pair := q
		if i := bytes.IndexByte(q, '&'); i >= 0 {
			pair, q = q[:i], q[i+1:]
		} else {
			q = nil
		}
		key, val := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			key, val = pair[:i], pair[i+1:]
		}
		if decodedEquals(key, name) {
			return decodeQuery(val), true
		}
	}
	return "", false
}

// decodedEquals reports whether the query component b, decoded, equals s.
func decodedEquals(b []byte, s string) bool {
	j := 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 < len(b) && unhex(b[i+1]) >= 0 && unhex(b[i+2]) >= 0 {
				c = byte(unhex(b[i+1])<<4 | unhex(b[i+2]))
				i += 2
			}
		}
		if j >= len(s) || s[j] != c {
			return false
		}
		j++
	}
	return j == len(s)
}

// decodeQuery decodes a query component; malformed escapes stay as sent.
func decodeQuery(b []byte) string {
	if bytes.IndexByte(b, '%') < 0 && bytes.IndexByte(b, '+') < 0 {
		return bytesconv.B2S(b)
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 < len(b) && unhex(b[i+1]) >= 0 && unhex(b[i+2]) >= 0 {
				c = byte(unhex(b[i+1])<<4 | unhex(b[i+2]))
				i += 2
			}
		}
		out = append(out, c)
	}
	return string(out)
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
