package json

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
)

// This file is the encoding/json path. It is compiled into every build:
// it is the whole backend where sonic is not used, and the source of every
// decode error where sonic is (see decodeFast), which is what makes the two
// backends report the same errors.

// decodeStd decodes data (already prechecked) into v with encoding/json.
func decodeStd(data []byte, v any, opts Options) error {
	if !opts.UseNumber && !opts.DisallowUnknownFields {
		return fromStd(stdjson.Unmarshal(data, v))
	}
	// The options exist only on json.Decoder, which reads one value and
	// does not look past it; validate the whole document first so that
	// syntax errors, trailing data included, are exactly Unmarshal's.
	if !stdjson.Valid(data) {
		var discard struct{}
		return fromStd(stdjson.Unmarshal(data, &discard))
	}
	dec := stdjson.NewDecoder(bytes.NewReader(data))
	if opts.UseNumber {
		dec.UseNumber()
	}
	if opts.DisallowUnknownFields {
		dec.DisallowUnknownFields()
	}
	return fromStd(dec.Decode(v))
}

// appendWriter lets json.Encoder write straight into a caller's slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// appendStd appends the encoding of v to dst with encoding/json. Only the
// Encoder can turn HTML escaping off; its trailing newline is dropped.
func appendStd(dst []byte, v any) ([]byte, error) {
	w := appendWriter{b: dst}
	enc := stdjson.NewEncoder(&w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return dst, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	if n := len(w.b); n > len(dst) && w.b[n-1] == '\n' {
		w.b = w.b[:n-1]
	}
	return w.b, nil
}
