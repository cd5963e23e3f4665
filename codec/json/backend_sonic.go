// The constraint is sonic v1.15's own (sonic.go against compat.go): where
// it holds, sonic runs its JIT and SIMD code; elsewhere sonic would fall
// back to encoding/json internally, so backend_std.go takes over instead.

//go:build !sluice_stdjson && ((amd64 && go1.17 && !go1.28) || (arm64 && go1.20 && !go1.28))

package json

import (
	"bytes"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/bytedance/sonic/decoder"
	"github.com/bytedance/sonic/encoder"
)

// Backend names the implementation compiled in: "sonic" or "encoding/json".
const Backend = "sonic"

// decodeOptions is sonic's configuration for Decode:
//   - CopyString: decoded strings never point into the input (sonic's
//     default keeps them as views, which would keep the whole body alive
//     and break when the server reuses its read buffer);
//   - ValidateString: raw control characters in strings are errors, as in
//     encoding/json (sonic's default lets them through);
//   - not CaseSensitive (encoding/json matches names case-insensitively),
//     not NoValidateJSONSkip (skipped values are validated, like
//     encoding/json), not UseInt64 (numbers in interface{} stay float64).
const decodeOptions = decoder.OptionCopyString | decoder.OptionValidateString

// encodeOptions is sonic's configuration for Append:
//   - ValidateString: invalid UTF-8 becomes \ufffd, as in encoding/json;
//   - CompactMarshaler: MarshalJSON output is compacted, as in
//     encoding/json;
//   - no EscapeHTML and no SortMapKeys (see the package doc: both cost time
//     and buy nothing for an application/json response).
const encodeOptions = encoder.ValidateString | encoder.CompactMarshaler

// decodeFast decodes with sonic. sonic's own errors carry offsets that do
// not follow one convention (sometimes the offending byte, sometimes past
// it, sometimes the start of the value) and no field path, and on a few
// inputs sonic is stricter than encoding/json (a `,string` field holding
// "00"). So when sonic refuses a document, the encoding/json path decodes
// it again, into v, and its verdict is the answer: errors are the slow
// path, and this keeps verdicts, errors and values identical across
// backends.
func decodeFast(data []byte, v any, opts Options) error {
	if !escapesValid(data) {
		return decodeStd(data, v, opts)
	}
	f := decodeOptions
	if opts.UseNumber {
		f |= decoder.OptionUseNumber
	}
	if opts.DisallowUnknownFields {
		f |= decoder.OptionDisableUnknown
	}
	// sonic v1.15.5 ignores CopyString for the json.Number values it puts
	// in interface{} under UseNumber: they would point into data
	// (TestDecodeNoAlias). Decode a private copy then; the numbers keep
	// it alive, the caller's buffer is free.
	var src string
	if opts.UseNumber {
		src = string(data)
	} else {
		src = bytesView(data)
	}
	d := decoderPool.Get().(*decoder.Decoder)
	d.Reset(src)
	d.SetOptions(f)
	err := d.Decode(v)
	if err == nil {
		err = d.CheckTrailings()
	}
	d.Reset("") // keep no reference to data in the pool
	decoderPool.Put(d)
	if err == nil {
		return nil
	}
	return decodeStd(data, v, opts)
}

// escapesValid reports whether every backslash in data starts a valid
// JSON escape. sonic v1.15.5 does not check the escapes of a string it
// skips (the value of an unknown field) once the string is longer than
// about 24 bytes: `{"x":"\q000000000000000000000000000"}` decodes into a
// struct without error (TestDecode "invalid escape in skipped value").
// Documents that fail here go to encoding/json, which refuses them. In
// valid JSON every backslash is inside a string, so taking each one as the
// start of an escape, in order, is exact; a stray backslash outside a
// string is a syntax error sonic reports itself. Bodies without
// backslashes cost one IndexByte.
func escapesValid(data []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(data[i:], '\\')
		if j < 0 {
			return true
		}
		i += j + 1
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
		case 'u':
			if i+5 > len(data) || !isHex(data[i+1]) || !isHex(data[i+2]) || !isHex(data[i+3]) || !isHex(data[i+4]) {
				return false
			}
			i += 5
		default:
			return false
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// bytesView returns data as a string without copying. It is safe here
// because sonic only reads the string during Decode, CopyString keeps
// every decoded string out of it, and Decode's contract forbids changing
// data during the call. (The project keeps unsafe in internal/bytesconv,
// but codec/ may import only the standard library; this is the one use.)
func bytesView(data []byte) string {
	return unsafe.String(unsafe.SliceData(data), len(data))
}

// appendFast encodes with sonic into the spare capacity of dst. sonic's
// UTF-8 repair pass runs over the whole buffer it is given, so it gets an
// empty slice starting at len(dst): the caller's earlier bytes are never
// rewritten.
func appendFast(dst []byte, v any) ([]byte, error) {
	start := len(dst)
	tp := tailPool.Get().(*[]byte)
	*tp = dst[start:]
	err := encoder.EncodeInto(tp, v, encodeOptions)
	tail := *tp
	*tp = nil
	tailPool.Put(tp)
	if err != nil {
		return dst, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	if esc := escapeLineSeparators(tail); len(esc) != len(tail) {
		return append(dst[:start], esc...), nil
	}
	if start == 0 {
		return tail, nil // in place, or a new buffer: nothing to keep
	}
	if len(tail) > 0 && cap(dst) > start && &dst[start : start+1][0] == &tail[0] {
		return dst[:start+len(tail)], nil // encoded in place
	}
	return append(dst, tail...), nil // sonic had to grow the buffer
}

// decoderPool holds sonic decoders, which escape to the heap when used:
// one allocation less per Decode.
var decoderPool = sync.Pool{New: func() any { return new(decoder.Decoder) }}

// tailPool holds the slice headers appendFast hands to sonic by pointer,
// which would otherwise escape: one allocation less per Append.
var tailPool = sync.Pool{New: func() any { return new([]byte) }}

// pretouch compiles each type and a pointer to it, as sonic.Pretouch does.
func pretouch(types []reflect.Type) error {
	if len(types) == 0 {
		return nil
	}
	all := make([]reflect.Type, 0, 2*len(types))
	for _, t := range types {
		if t == nil {
			continue
		}
		all = append(all, t)
		if t.Kind() == reflect.Pointer {
			all = append(all, t.Elem())
		} else {
			all = append(all, reflect.PointerTo(t))
		}
	}
	if err := encoder.PretouchMany(all); err != nil {
		return fmt.Errorf("json: pretouch: %w", err)
	}
	if err := decoder.PretouchMany(all); err != nil {
		return fmt.Errorf("json: pretouch: %w", err)
	}
	return nil
}
