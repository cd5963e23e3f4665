package json

import (
	"bytes"
	"reflect"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/bytebufferpool"
)

// DefaultMaxDepth is the nesting limit when Options.MaxDepth is zero: far
// deeper than any real API document (a few tens of levels), shallow enough
// that a hostile body of brackets is refused before it is parsed.
const DefaultMaxDepth = 1000

// maxMaxDepth caps Options.MaxDepth: sonic's parser keeps an explicit stack
// of 4096 levels and fails with its own error past it; staying below
// keeps the limit, and the error, ours on both backends.
const maxMaxDepth = 4000

// Options tunes Decode. The zero value is the default: encoding/json's
// behaviour with a nesting limit of 1000. Options is a small value, passed
// by copy. Safe for concurrent use.
type Options struct {
	// UseNumber decodes numbers into interface{} as json.Number (the
	// literal, exact) instead of float64. Default false.
	UseNumber bool
	// DisallowUnknownFields makes an object key that matches no field of
	// the target struct a *DecodeError instead of being ignored.
	// Default false.
	DisallowUnknownFields bool
	// MaxDepth is the deepest nesting of arrays and objects accepted,
	// in levels (`[[1]]` is 2). Zero or negative means DefaultMaxDepth
	// (1000); values above 4000 mean 4000 (sonic's own stack ends at 4096).
	MaxDepth int
}

func (o Options) maxDepth() int {
	switch {
	case o.MaxDepth <= 0:
		return DefaultMaxDepth
	case o.MaxDepth > maxMaxDepth:
		return maxMaxDepth
	}
	return o.MaxDepth
}

// Decode parses the JSON document data into v, which must be a non-nil
// pointer, with the policies of the package doc. It returns nil,
// ErrInvalidTarget, a *SyntaxError or a *DecodeError. After an error, v
// may have been partly filled.
//
// data is only read, and only during the call: nothing decoded into v
// aliases it, so the caller may reuse it as soon as Decode returns. It must
// not change during the call. Safe for concurrent use (with distinct v).
func Decode(data []byte, v any, opts Options) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return ErrInvalidTarget
	}
	if err := precheck(data, opts.maxDepth()); err != nil {
		return err
	}
	return decodeFast(data, v, opts)
}

// precheck applies the policies neither backend applies by itself, in
// this order: the nesting limit, then UTF-8. Both backends run it first,
// so a document breaking a policy gets the same verdict from both.
func precheck(data []byte, maxDepth int) error {
	if err := checkDepth(data, maxDepth); err != nil {
		return err
	}
	if !utf8.Valid(data) {
		return invalidUTF8(data)
	}
	return nil
}

// checkDepth refuses documents nested deeper than maxDepth. Nesting can
// only exceed maxDepth with more than maxDepth opening brackets, so short
// documents and documents with few brackets (two SIMD counts, ~2µs for
// 64 KiB) skip the walk; the walk itself skips strings with IndexByte.
func checkDepth(data []byte, maxDepth int) error {
	if len(data) <= maxDepth {
		return nil
	}
	if bytes.Count(data, []byte{'{'})+bytes.Count(data, []byte{'['}) <= maxDepth {
		return nil
	}
	depth := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			depth++
			if depth > maxDepth {
				return &SyntaxError{Offset: i + 1, Msg: "nesting deeper than " + strconv.Itoa(maxDepth) + " levels"}
			}
		case '}', ']':
			depth--
		case '"':
			i = skipString(data, i+1)
		}
	}
	return nil
}

// skipString returns the index of the quote closing the string whose
// contents start at i, or len(data)-1 when it is unterminated (the parser
// will say so).
func skipString(data []byte, i int) int {
	for {
		q := bytes.IndexByte(data[i:], '"')
		if q < 0 {
			return len(data) - 1
		}
		q += i
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for j := q - 1; j >= i && data[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return q
		}
		i = q + 1
	}
}

// invalidUTF8 builds the error for the first invalid UTF-8 sequence.
func invalidUTF8(data []byte) error {
	i := 0
	for i < len(data) {
		if data[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	b := byte(0)
	if i < len(data) {
		b = data[i]
	}
	return &SyntaxError{Offset: i + 1, Msg: "invalid UTF-8 byte 0x" + string([]byte{hexDigits[b>>4], hexDigits[b&0xf]})}
}

// Append appends the JSON encoding of v to dst and returns the extended
// buffer, with the encoding policies of the package doc. On error it
// returns dst unchanged in length (bytes past len(dst) may have been
// written) and an error wrapping ErrEncode. Safe for concurrent use (with
// distinct dst).
func Append(dst []byte, v any) ([]byte, error) {
	return appendFast(dst, v)
}

// pool holds the buffers of Marshal and GetBuffer; bytebufferpool
// calibrates the size it allocates to the sizes it sees returned, and
// drops unusually large buffers instead of keeping them.
var pool bytebufferpool.Pool

// GetBuffer returns an empty buffer from the package's pool. The caller
// owns it until it passes it to PutBuffer. Safe for concurrent use.
func GetBuffer() *bytebufferpool.ByteBuffer { return pool.Get() }

// PutBuffer returns b to the pool. After the call, neither b nor any slice
// of b.B may be used again by anyone: a buffer handed to an asynchronous
// write goes back only in that write's completion callback. nil is
// ignored. Safe for concurrent use.
func PutBuffer(b *bytebufferpool.ByteBuffer) {
	if b != nil {
		pool.Put(b)
	}
}

// Marshal encodes v into a buffer from the pool. On success the caller
// owns the buffer (the encoding is b.B) and must give it back with
// PutBuffer once the bytes are written; on error the buffer is already
// back in the pool and Marshal returns nil. Safe for concurrent use.
func Marshal(v any) (*bytebufferpool.ByteBuffer, error) {
	b := pool.Get()
	var err error
	b.B, err = appendFast(b.B[:0], v)
	if err != nil {
		pool.Put(b)
		return nil, err
	}
	return b, nil
}

// Pretouch compiles the encoder and decoder of each type (and of a pointer
// to it) ahead of time, so the first request that uses a type does not pay
// sonic's JIT compilation (milliseconds for a large struct). Call it at
// start-up with the types the handlers decode and encode. It does nothing
// on the encoding/json backend. Safe for concurrent use.
func Pretouch(types ...reflect.Type) error {
	return pretouch(types)
}

// escapeLineSeparators rewrites raw U+2028 and U+2029 in b (encoded JSON,
// where they can only occur inside strings) as \u2028 and \u2029, as
// encoding/json writes them: they end lines in pre-2019 JavaScript. The
// scan is an IndexByte for 0xE2, their first byte.
func escapeLineSeparators(b []byte) []byte {
	i := bytes.IndexByte(b, 0xe2)
	if i < 0 {
		return b
	}
	var out []byte
	last := 0
	for ; i >= 0; i = nextE2(b, i+1) {
		if i+2 < len(b) && b[i+1] == 0x80 && (b[i+2] == 0xa8 || b[i+2] == 0xa9) {
			if out == nil {
				out = make([]byte, 0, len(b)+16)
			}
			out = append(out, b[last:i]...)
			out = append(out, '\\', 'u', '2', '0', '2', '8'+(b[i+2]-0xa8))
			last = i + 3
		}
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

func nextE2(b []byte, from int) int {
	if from >= len(b) {
		return -1
	}
	j := bytes.IndexByte(b[from:], 0xe2)
	if j < 0 {
		return -1
	}
	return from + j
}
