package form

import (
	"iter"
	"strings"
)

// Defaults of Limits.
const (
	// DefaultMaxBytes bounds a URL-encoded body: 1 MiB is hundreds of
	// pages of typed text, more than any HTML form sends, and bounds the
	// parse at about a millisecond. (net/http allows 10 MB.)
	DefaultMaxBytes = 1 << 20
	// DefaultMaxFields bounds the pairs of a URL-encoded body: 1000 is
	// PHP's max_input_vars and mime/multipart's part limit; it bounds the
	// work of every linear lookup on the Form.
	DefaultMaxFields = 1000
)

// Limits bounds Parse. The zero value applies the defaults. It is a small
// value, passed by copy. Safe for concurrent use.
type Limits struct {
	// MaxBytes is the longest body accepted, in bytes. Zero means
	// DefaultMaxBytes (1 MiB); negative means no limit.
	MaxBytes int
	// MaxFields is the most key=value pairs accepted; empty pairs ("&&")
	// do not count. Zero means DefaultMaxFields (1000); negative means no
	// limit.
	MaxFields int
}

func (l Limits) resolve() (maxBytes, maxFields int) {
	maxBytes, maxFields = l.MaxBytes, l.MaxFields
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxFields == 0 {
		maxFields = DefaultMaxFields
	}
	return maxBytes, maxFields
}

// field is one pair: views into the body, still encoded.
type field struct {
	key, value     []byte
	keyEsc, valEsc bool // contains '%' or '+': decode on access
}

// Form is a parsed application/x-www-form-urlencoded body: the pairs in
// the order sent, as views into the body. The zero value is an empty form,
// ready for Parse.
//
// Borrowed: a Form points into the body it parsed; it is valid until that
// body changes or the Form is parsed again or reset. Strings returned by
// its methods are copies and stay valid; byte slices returned by RawField
// are views. Reading methods are safe for concurrent use; Parse and Reset
// are not.
type Form struct {
	fields []field
}

// Parse parses body into a new Form. See (*Form).Parse.
func Parse(body []byte, limits Limits) (*Form, error) {
	f := new(Form)
	if err := f.Parse(body, limits); err != nil {
		return nil, err
	}
	return f, nil
}

// special marks the bytes the parser must look at; all others are data.
var special = [256]bool{'&': true, '=': true, '%': true, '+': true, ';': true}

// Parse replaces the contents of f with the pairs of body. It validates
// every escape but decodes none. It returns nil or an *Error: ErrTooLarge
// or ErrTooManyFields (413), ErrBadEscape or ErrSemicolon (400), with the
// offset of the offending byte. On error f is left empty. Parsing into a
// reused Form does not allocate once its field slice has grown.
func (f *Form) Parse(body []byte, limits Limits) error {
	f.Reset()
	maxBytes, maxFields := limits.resolve()
	if maxBytes >= 0 && len(body) > maxBytes {
		return newError(ErrTooLarge, body, maxBytes)
	}
	start := 0   // start of the current pair
	eq := -1     // offset of its first '=', or -1
	esc := false // '%' or '+' seen in the current key or value
	keyEsc := false
	for i := 0; ; i++ {
		if i < len(body) && !special[body[i]] {
			continue
		}
		if i == len(body) || body[i] == '&' {
			if i > start { // "&&" and a trailing '&' make empty pairs: skipped
				if maxFields >= 0 && len(f.fields) == maxFields {
					f.Reset()
					return newError(ErrTooManyFields, body, start)
				}
				fl := field{key: body[start:i:i], keyEsc: esc}
				if eq >= 0 {
					fl = field{key: body[start:eq:eq], value: body[eq+1 : i : i], keyEsc: keyEsc, valEsc: esc}
				}
				f.fields = append(f.fields, fl)
			}
			if i == len(body) {
				return nil
			}
			start, eq, esc, keyEsc = i+1, -1, false, false
			continue
		}
		switch body[i] {
		case '=':
			if eq < 0 {
				eq, keyEsc, esc = i, esc, false
			}
		case '+':
			esc = true
		case '%':
			if i+2 >= len(body) || unhex[body[i+1]] < 0 || unhex[body[i+2]] < 0 {
				f.Reset()
				return newError(ErrBadEscape, body, i)
			}
			esc = true
			i += 2
		case ';':
			f.Reset()
			return newError(ErrSemicolon, body, i)
		}
	}
}

// Reset empties f, keeping its storage for the next Parse, and drops its
// views of the previous body.
func (f *Form) Reset() {
	clear(f.fields) // drop the views so the old body can be collected
	f.fields = f.fields[:0]
}

// Len returns the number of pairs.
func (f *Form) Len() int { return len(f.fields) }

// RawField returns the i-th pair as sent, still percent-encoded. Borrowed:
// views into the body; copy to keep. Decode with AppendUnescape.
func (f *Form) RawField(i int) (key, value []byte) {
	return f.fields[i].key, f.fields[i].value
}

// Key returns the i-th key, decoded.
func (f *Form) Key(i int) string { return decodeString(f.fields[i].key, f.fields[i].keyEsc) }

// Value returns the i-th value, decoded.
func (f *Form) Value(i int) string { return decodeString(f.fields[i].value, f.fields[i].valEsc) }

// index returns the index of the first pair at or after from whose decoded
// key is name, or -1. It does not allocate.
func (f *Form) index(name string, from int) int {
	for i := from; i < len(f.fields); i++ {
		fl := &f.fields[i]
		if fl.keyEsc {
			if equalUnescaped(fl.key, name) {
				return i
			}
		} else if string(fl.key) == name {
			return i
		}
	}
	return -1
}

// Has reports whether a pair has the decoded key name. No allocation.
func (f *Form) Has(name string) bool { return f.index(name, 0) >= 0 }

// Get returns the decoded value of the first pair whose decoded key is
// name, or "". The result is a copy (one allocation unless empty); use
// AppendValue to decode into a buffer of your own.
func (f *Form) Get(name string) string {
	if i := f.index(name, 0); i >= 0 {
		return f.Value(i)
	}
	return ""
}

// Values returns the decoded values of every pair whose decoded key is
// name, in order, or nil.
func (f *Form) Values(name string) []string {
	var vs []string
	for i := f.index(name, 0); i >= 0; i = f.index(name, i+1) {
		vs = append(vs, f.Value(i))
	}
	return vs
}

// AppendValue appends the decoded value of the first pair whose decoded
// key is name to dst, and reports whether there was one. It does not
// allocate when dst has room.
func (f *Form) AppendValue(dst []byte, name string) ([]byte, bool) {
	i := f.index(name, 0)
	if i < 0 {
		return dst, false
	}
	return AppendUnescape(dst, f.fields[i].value), true
}

// All iterates over the pairs in order, decoded (each a copy).
func (f *Form) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := range f.fields {
			if !yield(f.Key(i), f.Value(i)) {
				return
			}
		}
	}
}

// unhex maps a hex digit to its value and any other byte to -1.
var unhex = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
		t[c-'a'+'A'] = int8(c - 'a' + 10)
	}
	return t
}()

// AppendUnescape appends raw decoded as a form component ('+' is a space,
// %XX a byte) to dst. A '%' not followed by two hex digits is copied as
// is; views from a parsed Form never hold one. Safe for concurrent use.
func AppendUnescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '+':
			dst = append(dst, ' ')
		case c == '%' && i+2 < len(raw) && unhex[raw[i+1]] >= 0 && unhex[raw[i+2]] >= 0:
			dst = append(dst, byte(unhex[raw[i+1]]<<4|unhex[raw[i+2]]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// decodeString returns raw decoded, with a single allocation.
func decodeString(raw []byte, esc bool) string {
	if !esc {
		return string(raw)
	}
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(raw) && unhex[raw[i+1]] >= 0 && unhex[raw[i+2]] >= 0:
			b.WriteByte(byte(unhex[raw[i+1]]<<4 | unhex[raw[i+2]]))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// equalUnescaped reports whether raw, decoded, equals s, without decoding
// into memory.
func equalUnescaped(raw []byte, s string) bool {
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '+':
			c = ' '
		case c == '%' && i+2 < len(raw) && unhex[raw[i+1]] >= 0 && unhex[raw[i+2]] >= 0:
			c = byte(unhex[raw[i+1]]<<4 | unhex[raw[i+2]])
			i += 2
		}
		if j >= len(s) || s[j] != c {
			return false
		}
		j++
	}
	return j == len(s)
}
