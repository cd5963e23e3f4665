package http1

// maxSizeDigits bounds a chunk-size's digits, leading zeros included:
// 16 hex digits hold any 64-bit size, and a bound stops a peer from
// padding size lines with endless zeros.
const maxSizeDigits = 16

type chunkState uint8

const (
	csSizeStart     chunkState = iota // first HEXDIG of a chunk-size
	csSize                            // more HEXDIG, or what ends the size
	csSizeWS                          // BWS after the size: only ";" may follow
	csExtStart                        // after ";": BWS, then an ext-name
	csExtName                         // in an ext-name
	csExtNameWS                       // BWS after an ext-name: "=" or ";" must follow
	csExtValStart                     // after "=": BWS, then token or quoted-string
	csExtToken                        // in a token ext-val
	csExtQuoted                       // in a quoted-string ext-val
	csExtQuotedPair                   // after a backslash in a quoted-string
	csExtAfterQuote                   // right after the closing quote
	csExtAfterVal                     // BWS after an ext-val: only ";" may follow
	csSizeLF                          // CR seen at the end of the size line
	csData                            // in chunk-data
	csDataCR                          // chunk-data done, CR expected
	csDataLF                          // LF expected after chunk-data
	csTrailer                         // in the trailer section
	csDone                            // final CRLF consumed
)

// ChunkedDecoder decodes the chunked transfer coding (RFC 9112 §7.1)
// incrementally: feed it the body bytes as they arrive and it appends the
// chunk-data to dst. Chunk-size syntax, 64-bit overflow, extension syntax
// and the CRLF after every chunk are checked (R44-R49); extensions are then
// ignored. Trailer fields are checked like header fields and kept in
// Trailers, apart from the header section (R50).
//
// The zero value uses the default Limits. A ChunkedDecoder is owned by one
// goroutine at a time.
type ChunkedDecoder struct {
	lim   Limits
	st    chunkState
	size  uint64    // the chunk-size being read, then the chunk-data bytes left
	nd    int       // hex digits of the chunk-size read so far
	total int64     // chunk-data bytes decoded so far
	ext   int       // chunk-extension bytes so far
	off   int       // bytes consumed by earlier calls, for error offsets
	tpos  int       // trailer section: start of the next unparsed line, relative to it
	tls   lineState // trailer section: where the parse of that line stopped

	// Trailers holds the trailer fields once Decode has returned nil.
	// Borrowed: views into the src of that last call.
	Trailers []Header
}

// NewChunkedDecoder returns a decoder enforcing l: MaxBodyBytes on the
// decoded size, MaxChunkExtBytes, and MaxHeaderBytes and MaxHeaders on the
// trailer section.
func NewChunkedDecoder(l Limits) *ChunkedDecoder {
	return &ChunkedDecoder{lim: l.Resolved()}
}

// Reset prepares d for a new body, keeping its limits and the capacity of
// Trailers.
func (d *ChunkedDecoder) Reset() {
	*d = ChunkedDecoder{lim: d.lim, Trailers: d.Trailers[:0]}
}

// Done reports whether the whole body, trailers included, was decoded.
func (d *ChunkedDecoder) Done() bool { return d.st == csDone }

// Decode decodes from src, appending chunk-data to dst. It returns the
// extended dst, the number of bytes of src consumed, and nil when the body
// is complete, ErrNeedMore when src ended first (call again with the
// unconsumed bytes plus more), or an *Error whose Offset counts from the
// start of the chunked body. A trailer section is consumed only once it is
// complete, so its bytes stay with the caller until then.
func (d *ChunkedDecoder) Decode(dst, src []byte) ([]byte, int, error) {
	if d.lim.MaxHeaders == 0 {
		d.lim = Limits{}.Resolved()
	}
	if lim := d.lim.MaxBodyBytes; lim >= 0 && d.st != csDone &&
		(d.total > lim || d.st == csData && d.size > uint64(lim-d.total)) {
		// The limit was lowered (Parser.SetBodyLimit) below what is
		// already decoded or promised by the chunk under way.
		return dst, 0, d.fail(413, "R42", "chunked body exceeds the body limit", src, 0)
	}
	i := 0
	for d.st != csDone {
		if d.st == csData {
			n := len(src) - i
			if uint64(n) > d.size {
				n = int(d.size)
			}
			dst = append(dst, src[i:i+n]...)
			i += n
			d.size -= uint64(n)
			d.total += int64(n)
			if d.size > 0 {
				break
			}
			d.st = csDataCR
			continue
		}
		if d.st == csTrailer {
			return d.trailers(dst, src, i)
		}
		if i >= len(src) {
			break
		}
		c := src[i]
		if d.st >= csSizeWS && d.st <= csExtAfterVal {
			d.ext++
			if d.ext > d.lim.MaxChunkExtBytes {
				return dst, i, d.fail(400, "R46", "chunk extensions too long", src, i)
			}
		}
		switch d.st {
		case csSizeStart:
			v := unhex(c)
			if v < 0 {
				if c == '\n' || c == '\r' {
					return dst, i, d.fail(400, "R44", "empty chunk size", src, i)
				}
				return dst, i, d.fail(400, "R44", "invalid chunk size", src, i)
			}
			d.size, d.nd = uint64(v), 1
			d.st = csSize
		case csSize:
			if v := unhex(c); v >= 0 {
				if d.size>>60 != 0 {
					return dst, i, d.fail(400, "R45", "chunk size overflows 64 bits", src, i)
				}
				if d.nd == maxSizeDigits {
					return dst, i, d.fail(400, "R44", "chunk size longer than 16 digits", src, i)
				}
				d.size = d.size<<4 | uint64(v)
				d.nd++
				break
			}
			if lim := d.lim.MaxBodyBytes; lim >= 0 && d.size > uint64(lim-d.total) {
				return dst, i, d.fail(413, "R42", "chunked body exceeds the body limit", src, i)
			}
			switch c {
			case ';':
				d.st = csExtStart
			case ' ', '\t':
				d.st = csSizeWS
			case '\r':
				d.st = csSizeLF
			case '\n':
				return dst, i, d.fail(400, "R49", "bare LF in chunked framing", src, i)
			default:
				return dst, i, d.fail(400, "R44", "invalid chunk size", src, i)
			}
		case csSizeWS:
			switch c {
			case ' ', '\t':
			case ';':
				d.st = csExtStart
			default:
				return dst, i, d.fail(400, "R44", "whitespace after chunk size", src, i)
			}
		case csExtStart:
			switch {
			case c == ' ' || c == '\t':
			case isToken(c):
				d.st = csExtName
			default:
				return dst, i, d.fail(400, "R46", "chunk extension without a name", src, i)
			}
		case csExtName:
			switch {
			case isToken(c):
			case c == ' ' || c == '\t':
				d.st = csExtNameWS
			case c == '=':
				d.st = csExtValStart
			case c == ';':
				d.st = csExtStart
			case c == '\r':
				d.st = csSizeLF
			default:
				return dst, i, d.fail(400, "R46", "invalid chunk extension", src, i)
			}
		case csExtNameWS:
			switch c {
			case ' ', '\t':
			case '=':
				d.st = csExtValStart
			case ';':
				d.st = csExtStart
			default:
				return dst, i, d.fail(400, "R46", "invalid chunk extension", src, i)
			}
		case csExtValStart:
			switch {
			case c == ' ' || c == '\t':
			case c == '"':
				d.st = csExtQuoted
			case isToken(c):
				d.st = csExtToken
			default:
				return dst, i, d.fail(400, "R46", "invalid chunk extension value", src, i)
			}
		case csExtToken:
			switch {
			case isToken(c):
			case c == ' ' || c == '\t':
				d.st = csExtAfterVal
			case c == ';':
				d.st = csExtStart
			case c == '\r':
				d.st = csSizeLF
			default:
				return dst, i, d.fail(400, "R46", "invalid chunk extension value", src, i)
			}
		case csExtQuoted:
			switch {
			case c == '"':
				d.st = csExtAfterQuote
			case c == '\\':
				d.st = csExtQuotedPair
			case !qdtextByte(c):
				return dst, i, d.fail(400, "R46", "invalid byte in quoted chunk extension", src, i)
			}
		case csExtQuotedPair:
			if !qpairByte(c) {
				return dst, i, d.fail(400, "R46", "invalid byte in quoted chunk extension", src, i)
			}
			d.st = csExtQuoted
		case csExtAfterQuote:
			switch c {
			case ';':
				d.st = csExtStart
			case ' ', '\t':
				d.st = csExtAfterVal
			case '\r':
				d.st = csSizeLF
			default:
				return dst, i, d.fail(400, "R46", "invalid chunk extension", src, i)
			}
		case csExtAfterVal:
			switch c {
			case ' ', '\t':
			case ';':
				d.st = csExtStart
			default:
				return dst, i, d.fail(400, "R46", "invalid chunk extension", src, i)
			}
		case csSizeLF:
			if c != '\n' {
				return dst, i, d.fail(400, "R49", "bare CR in chunked framing", src, i)
			}
			if d.size == 0 {
				d.st = csTrailer
			} else {
				d.st = csData
			}
		case csDataCR:
			if c != '\r' {
				return dst, i, d.fail(400, "R47", "chunk data not followed by CRLF", src, i)
			}
			d.st = csDataLF
		case csDataLF:
			if c != '\n' {
				return dst, i, d.fail(400, "R49", "bare CR in chunked framing", src, i)
			}
			d.st = csSizeStart
		}
		i++
	}
	d.off += i
	if d.st == csDone {
		return dst, i, nil
	}
	return dst, i, ErrNeedMore
}

// trailers parses the trailer section starting at src[i] (R48, R50). Each
// field line is checked as soon as it is complete; the views are taken
// once the empty line that ends the section has arrived.
func (d *ChunkedDecoder) trailers(dst, src []byte, i int) ([]byte, int, error) {
	sec := src[i:]
	limitEnd := d.lim.MaxHeaderBytes
	pos := d.tpos
	err := fieldLines(sec, 0, limitEnd, d.lim.MaxHeaders, &pos, &d.tls, &d.Trailers, nil, nil)
	switch err {
	case nil:
	case ErrNeedMore:
		d.tpos = pos
		d.off += i
		return dst, i, err
	default:
		e := err.(*Error)
		e.Offset += d.off + i
		return dst, i, e
	}
	// The section is complete: take the views again from this src, since
	// those of lines parsed by earlier calls point into older buffers.
	d.Trailers = d.Trailers[:0]
	var ls lineState
	start := 0
	fieldLines(sec, 0, limitEnd, d.lim.MaxHeaders, &start, &ls, &d.Trailers, nil, nil)
	d.st = csDone
	d.off += i + pos
	return dst, i + pos, nil
}

func (d *ChunkedDecoder) fail(status int, rule, reason string, src []byte, i int) error {
	e := newError(status, rule, reason, src, i)
	e.Offset += d.off
	return e
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

func isToken(c byte) bool { return byteClass[c]&clsToken != 0 }
