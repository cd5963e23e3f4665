package http1

import (
	"encoding/binary"
	"math/bits"
)

// Parts of a field line, for lineState.st.
const (
	flStart = iota // its first bytes: the empty line, or a field name
	flName         // in the field name
	flOWS          // in the whitespace after the colon
	flValue        // in the field value
	flCR           // at the CR that ends it
)

// fieldLines parses the field lines of a header or trailer section
// (R19-R23, R25) from *pos up to and including the empty line that ends
// it, appending each field to *hs and leaving *pos after that empty line.
//
// It resumes from ls, and on ErrNeedMore records in ls, *pos and *hs where
// to resume, so every byte is examined once however the input is split.
// Verdicts follow byte order; the section must end before limitEnd (each
// field line's LF comes before it; the empty line is not counted) and hold
// at most maxCount fields. sectStart is the offset of the section's first
// line (R5).
//
// p is the request's parser, whose special is told about every field, or
// nil for a trailer section, where framing fields are refused (R50).
//
// One loop for the whole section: a call per line costs a fifth of the
// parse time of a browser request.
func fieldLines(buf []byte, sectStart, limitEnd, maxCount int, posp *int, ls *lineState, hsp *[]Header, p *Parser, req *Request) error {
	w := buf[:min(len(buf), limitEnd)]
	pos, hs := *posp, *hsp
	i, ne, vs := ls.i, ls.a, ls.b
	var name, value []byte
	var err error
	var st uint8
	switch ls.st {
	case flName:
		goto name
	case flOWS:
		goto ows
	case flValue:
		goto value
	case flCR:
		goto cr
	}

line:
	i = pos
	if i >= len(buf) {
		st = flStart
		goto short
	}
	if buf[i] == '\r' {
		if i+1 >= len(buf) {
			st = flStart
			goto short
		}
		if buf[i+1] == '\n' {
			*posp, *hsp, *ls = i+2, hs, lineState{}
			return nil
		}
	}
	if i >= limitEnd {
		return newError(431, "R25", "header section too large", buf, limitEnd)
	}
	if len(hs) >= maxCount {
		return newError(431, "R25", "too many header fields", buf, i)
	}
	switch w[i] {
	case ' ', '\t':
		if i == sectStart && p != nil {
			return badRequest("R5", "whitespace before the first field line", buf, i)
		}
		return badRequest("R22", "obsolete line folding", buf, i)
	case '\n':
		return badRequest("R2", "bare LF", buf, i)
	case '\r':
		return badRequest("R3", "bare CR", buf, i)
	case ':':
		return badRequest("R19", "empty field name", buf, i)
	}

name:
	// The word loops of nameStop and valueStop are written out here: a
	// call per line spills every live register (Go's ABI saves none), and
	// these scans are most of the parse.
	for {
		for ; i+8 <= len(w); i += 8 {
			x := binary.LittleEndian.Uint64(w[i:])
			if ok := nameWord(x); ok != msb {
				i += bits.TrailingZeros64(^ok&msb) >> 3
				break
			}
		}
		if i >= len(w) || byteClass[w[i]]&clsToken == 0 {
			break
		}
		i++ // a rarer tchar ('_', '.', ...) or a byte of the tail
	}
	if i >= len(w) {
		st = flName
		goto short
	}
	switch w[i] {
	case ':':
	case ' ', '\t':
		return badRequest("R20", "whitespace in field name or before the colon", buf, i)
	default:
		return badRequest("R19", "invalid byte in field name", buf, i)
	}
	ne = i
	i++

ows:
	for i < len(w) && (w[i] == ' ' || w[i] == '\t') {
		i++
	}
	if i >= len(w) {
		st = flOWS
		goto short
	}
	vs = i

value:
	for {
		for ; i+8 <= len(w); i += 8 {
			x := binary.LittleEndian.Uint64(w[i:])
			if m := valueMask(x); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
		}
		if i >= len(w) {
			break
		}
		if c := w[i]; c < 0x20 && c != '\t' || c == 0x7f {
			break
		}
		i++ // an HTAB, or a byte of the tail
	}
	if i >= len(w) {
		st = flValue
		goto short
	}
	switch w[i] {
	case '\r':
	case '\n':
		return badRequest("R2", "bare LF", buf, i)
	case 0:
		return badRequest("R23", "NUL in field value", buf, i)
	default:
		return badRequest("R23", "control character in field value", buf, i)
	}

cr:
	if i+1 >= len(buf) {
		st = flCR
		goto short
	}
	if buf[i+1] != '\n' {
		return badRequest("R3", "bare CR", buf, i)
	}
	if i+1 >= limitEnd {
		return newError(431, "R25", "header section too large", buf, limitEnd)
	}
	name = buf[pos:ne]
	for ne = i; ne > vs && (buf[ne-1] == ' ' || buf[ne-1] == '\t'); ne-- {
	}
	value = buf[vs:ne]
	if n := len(hs); n < cap(hs) {
		// Field by field: a composite literal is built on the stack and
		// copied with 16-byte moves that stall store forwarding.
		hs = hs[:n+1]
		h := &hs[n]
		h.Name, h.Value = name, value
	} else {
		hs = append(hs, Header{Name: name, Value: value})
	}
	if p == nil {
		if trailerForbidden(name) {
			return badRequest("R50", "framing field in trailer section", buf, pos)
		}
	} else {
		if specialFirst[len(name)&31] == name[0]|0x20 { // maybe a field special looks at
			p.pos = pos
			if err = p.special(buf, req, name, value); err != nil {
				*hsp = hs
				return err
			}
		}
	}
	pos = i + 2
	goto line

short:
	if i >= limitEnd && st != flStart && st != flCR {
		return newError(431, "R25", "header section too large", buf, limitEnd)
	}
	*posp, *hsp = pos, hs
	*ls = lineState{st: st, i: i, a: ne, b: vs}
	return ErrNeedMore
}

// specialFirst maps the length of each field name Parser.special looks at
// to the name's first letter, so most fields skip the call.
var specialFirst = [32]byte{4: 'h', 6: 'e', 7: 'u', 10: 'c', 14: 'c', 17: 't'}

// trailerForbidden reports whether a field may not be sent as a trailer:
// those that frame or route the message (R50). net/http refuses the same
// names, so no server behind or in front of us reads them differently.
func trailerForbidden(name []byte) bool {
	switch len(name) {
	case 4:
		return equalName(name, "host")
	case 7:
		return equalName(name, "trailer")
	case 14:
		return equalName(name, "content-length")
	case 17:
		return equalName(name, "transfer-encoding")
	}
	return false
}
