package json

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

type person struct {
	Name  string   `json:"name"`
	Email string   `json:"email"`
	Tags  []string `json:"tags"`
	N     int      `json:"n"`
}

type numbers struct {
	I   int     `json:"i"`
	I64 int64   `json:"i64"`
	U8  uint8   `json:"u8"`
	U64 uint64  `json:"u64"`
	F   float64 `json:"f"`
	Any any     `json:"any"`
}

type nested struct {
	Items []struct {
		Price int `json:"price"`
	} `json:"items"`
}

// errKind is what a test expects of an error, as plain fields.
type errKind struct {
	syntax bool   // a *SyntaxError (else a *DecodeError)
	offset int    // Offset, or -2 to skip the check
	msg    string // substring of Msg
	field  string // DecodeError.Field
}

func checkErr(t *testing.T, err error, want *errKind) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var se *SyntaxError
	var de *DecodeError
	switch {
	case err == nil:
		t.Fatalf("no error, want %+v", *want)
	case want.syntax && errors.As(err, &se):
		if want.offset != -2 && se.Offset != want.offset {
			t.Errorf("Offset = %d, want %d (%v)", se.Offset, want.offset, err)
		}
		if !strings.Contains(se.Msg, want.msg) {
			t.Errorf("Msg = %q, want it to contain %q", se.Msg, want.msg)
		}
	case !want.syntax && errors.As(err, &de):
		if want.offset != -2 && de.Offset != want.offset {
			t.Errorf("Offset = %d, want %d (%v)", de.Offset, want.offset, err)
		}
		if !strings.Contains(de.Msg, want.msg) {
			t.Errorf("Msg = %q, want it to contain %q", de.Msg, want.msg)
		}
		if de.Field != want.field {
			t.Errorf("Field = %q, want %q", de.Field, want.field)
		}
	default:
		t.Fatalf("error %T %v, want %+v", err, err, *want)
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		opts Options
		new  func() any // a pointer to the target
		want any        // the value pointed to, when err is nil
		err  *errKind
	}{
		{name: "struct", doc: `{"name":"Ada","email":"ada@example.org","tags":["math"],"n":7}`, new: func() any { return new(person) },
			want: person{Name: "Ada", Email: "ada@example.org", Tags: []string{"math"}, N: 7}},
		{name: "case-insensitive names", doc: `{"NAME":"Ada","Email":"a@b","N":1}`, new: func() any { return new(person) },
			want: person{Name: "Ada", Email: "a@b", N: 1}},
		{name: "unknown field ignored", doc: `{"name":"Ada","extra":{"deep":[1,2,{"x":null}]}}`, new: func() any { return new(person) },
			want: person{Name: "Ada"}},
		{name: "unknown field refused", doc: `{"name":"Ada","extra":1}`, opts: Options{DisallowUnknownFields: true}, new: func() any { return new(person) },
			err: &errKind{offset: -1, msg: `unknown field "extra"`, field: "extra"}},
		{name: "whitespace around", doc: " \t\r\n{\"n\":1} \n", new: func() any { return new(person) }, want: person{N: 1}},
		{name: "number into any is float64", doc: `{"a":1,"b":[2.5]}`, new: func() any { return new(any) },
			want: any(map[string]any{"a": 1.0, "b": []any{2.5}})},
		{name: "UseNumber", doc: `{"a":12345678901234567890,"b":1e400}`, opts: Options{UseNumber: true}, new: func() any { return new(any) },
			want: any(map[string]any{"a": stdjson.Number("12345678901234567890"), "b": stdjson.Number("1e400")})},
		{name: "surrogate escape becomes U+FFFD", doc: `"a\ud800b"`, new: func() any { return new(string) }, want: "a\ufffdb"},
		{name: "escapes", doc: `"\u00e9\n\"\\\/\t"`, new: func() any { return new(string) }, want: "é\n\"\\/\t"},

		{name: "empty", doc: ``, new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 0, msg: "unexpected end of JSON input"}},
		{name: "only spaces", doc: `   `, new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 3, msg: "unexpected end of JSON input"}},
		{name: "truncated string", doc: `{"name":"a`, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 10, msg: "unexpected end"}},
		{name: "trailing data", doc: `{"n":1} x`, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 9, msg: "after top-level value"}},
		{name: "two values", doc: `{"n":1}{"n":2}`, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 8, msg: "after top-level value"}},
		{name: "missing value", doc: `{"name":"a", "n":}`, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 18, msg: "looking for beginning of value"}},
		{name: "bad escape", doc: `{"name":"a\q"}`, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 12, msg: "in string escape code"}},
		{name: "short unicode escape", doc: `{"name":"a\u00"}`, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 15, msg: `\u hexadecimal`}},
		{name: "raw control character", doc: "{\"name\":\"a\x01\"}", new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 11, msg: `'\x01' in string literal`}},
		{name: "raw control character in skipped value", doc: "{\"zz\":\"a\x01\",\"name\":\"x\"}", new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 9, msg: `'\x01' in string literal`}},
		{name: "invalid escape in skipped value", doc: `{"x":"\q0000000000000000000000000000000000"}`, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 8, msg: "in string escape code"}},
		{name: "invalid unicode escape in skipped value", doc: `{"x":["\u00zz000000000000000000000000000000000"]}`, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 12, msg: `\u hexadecimal`}},
		{name: "valid escapes in skipped value", doc: `{"x":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00000000000000000000000000000000","name":"\\"}`, new: func() any { return new(person) },
			want: person{Name: "\\"}},
		{name: "leading zero", doc: `{"n":01}`, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 7, msg: "after object key:value pair"}},
		{name: "single quotes", doc: `{'n':1}`, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 2, msg: "looking for beginning of object key"}},
		{name: "literal typo", doc: `nul`, new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 3, msg: "in literal null (expecting 'l')"}},
		{name: "trailing comma", doc: `[1,2,]`, new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 6, msg: "looking for beginning of value"}},

		{name: "string into int", doc: `{"name":"a","n":"x"}`, new: func() any { return new(person) },
			err: &errKind{offset: 19, msg: `field "n": cannot use string as int`, field: "n"}},
		{name: "number into []string element", doc: `{"tags":["a",1]}`, new: func() any { return new(person) },
			err: &errKind{offset: 14, msg: "cannot use number as string", field: "tags"}},
		{name: "object into slice", doc: `{"tags":{}}`, new: func() any { return new(person) },
			err: &errKind{offset: 9, msg: "cannot use object as []string", field: "tags"}},
		{name: "nested field path", doc: `{"items":[{"price":1},{"price":"x"}]}`, new: func() any { return new(nested) },
			err: &errKind{offset: 34, msg: `field "items.price"`, field: "items.price"}},
		{name: "top-level mismatch", doc: `[1]`, new: func() any { return new(string) },
			err: &errKind{offset: 1, msg: "cannot use array as string"}},
		{name: "syntax error wins over type error", doc: `{"n":"x",}`, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 10, msg: "looking for beginning of object key"}},
		{name: "syntax error with options", doc: `{"n":1} x`, opts: Options{UseNumber: true, DisallowUnknownFields: true}, new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 9, msg: "after top-level value"}},
		{name: "type error with options", doc: ` {"name":"a","n":"x"}`, opts: Options{UseNumber: true}, new: func() any { return new(person) },
			err: &errKind{offset: 20, msg: `cannot use string as int`, field: "n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.new()
			err := Decode([]byte(tt.doc), v, tt.opts)
			checkErr(t, err, tt.err)
			if tt.err == nil {
				if got := reflect.ValueOf(v).Elem().Interface(); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("got %#v, want %#v", got, tt.want)
				}
			}
		})
	}
}

func TestDecodeNumbers(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want numbers
		err  *errKind
	}{
		{name: "limits fit", doc: `{"i":-2147483648,"i64":9223372036854775807,"u8":255,"u64":18446744073709551615,"f":1.7976931348623157e308}`,
			want: numbers{I: math.MinInt32, I64: math.MaxInt64, U8: 255, U64: math.MaxUint64, F: math.MaxFloat64}},
		{name: "int64 minimum", doc: `{"i64":-9223372036854775808}`, want: numbers{I64: math.MinInt64}},
		{name: "2^64 into int", doc: `{"i":18446744073709551616}`,
			err: &errKind{offset: 25, msg: "cannot use number 18446744073709551616 as int", field: "i"}},
		{name: "2^63 into int64", doc: `{"i64":9223372036854775808}`,
			err: &errKind{offset: 26, msg: "as int64", field: "i64"}},
		{name: "-2^63-1 into int", doc: `{"i":-9223372036854775809}`,
			err: &errKind{offset: 25, msg: "as int", field: "i"}},
		{name: "2^64 into uint64", doc: `{"u64":18446744073709551616}`,
			err: &errKind{offset: 27, msg: "as uint64", field: "u64"}},
		{name: "negative into uint64", doc: `{"u64":-1}`,
			err: &errKind{offset: 9, msg: "cannot use number -1 as uint64", field: "u64"}},
		{name: "300 into uint8", doc: `{"u8":300}`,
			err: &errKind{offset: 9, msg: "cannot use number 300 as uint8", field: "u8"}},
		{name: "fraction into int", doc: `{"i":1.5}`,
			err: &errKind{offset: 8, msg: "cannot use number 1.5 as int", field: "i"}},
		{name: "exponent into int", doc: `{"i":1e3}`,
			err: &errKind{offset: 8, msg: "cannot use number 1e3 as int", field: "i"}},
		{name: "1e400 into float64", doc: `{"f":1e400}`,
			err: &errKind{offset: 10, msg: "cannot use number 1e400 as float64", field: "f"}},
		{name: "-1e400 into float64", doc: `{"f":-1e400}`,
			err: &errKind{offset: 11, msg: "as float64", field: "f"}},
		{name: "1e400 into interface", doc: `{"any":1e400}`,
			err: &errKind{offset: 13, msg: "cannot use number 1e400 as float64", field: "any"}},
		{name: "1e-400 underflows to zero", doc: `{"f":1e-400}`, want: numbers{}},
		{name: "long literal is truncated in the error", doc: `{"i":` + strings.Repeat("9", 5000) + `}`,
			err: &errKind{offset: 5005, msg: "cannot use number " + strings.Repeat("9", maxQuoted-len("number ")) + "... as int", field: "i"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v numbers
			err := Decode([]byte(tt.doc), &v, Options{})
			checkErr(t, err, tt.err)
			if tt.err == nil && !reflect.DeepEqual(v, tt.want) {
				t.Errorf("got %+v, want %+v", v, tt.want)
			}
		})
	}
}

func nest(open, leaf, close string, n int) []byte {
	var b bytes.Buffer
	b.Grow(n*(len(open)+len(close)) + len(leaf))
	for range n {
		b.WriteString(open)
	}
	b.WriteString(leaf)
	for range n {
		b.WriteString(close)
	}
	return b.Bytes()
}

type tree struct {
	Kids []tree `json:"kids"`
}

func TestDecodeDepth(t *testing.T) {
	tests := []struct {
		name string
		doc  []byte
		opts Options
		new  func() any
		err  *errKind // nil: accepted
	}{
		{name: "arrays at the limit", doc: nest("[", "1", "]", 1000), new: func() any { return new(any) }},
		{name: "arrays past the limit", doc: nest("[", "1", "]", 1001), new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 1001, msg: "nesting deeper than 1000 levels"}},
		{name: "objects past the limit", doc: nest(`{"a":`, "1", "}", 1001), new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 5001, msg: "nesting deeper than 1000 levels"}},
		{name: "1e5 arrays", doc: nest("[", "", "]", 100_000), new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 1001, msg: "nesting deeper"}},
		{name: "1e6 arrays", doc: nest("[", "", "]", 1_000_000), new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 1001, msg: "nesting deeper"}},
		{name: "1e6 objects", doc: nest(`{"a":`, "null", "}", 1_000_000), new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 5001, msg: "nesting deeper"}},
		{name: "1e6 unclosed arrays", doc: bytes.Repeat([]byte("["), 1_000_000), new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 1001, msg: "nesting deeper"}},
		{name: "1e6 into a recursive struct", doc: nest(`{"kids":[`, "", "]}", 1_000_000), new: func() any { return new(tree) },
			err: &errKind{syntax: true, offset: 500*9 + 1, msg: "nesting deeper"}}, // two levels per step
		{name: "1e5 into a struct skipping the value", doc: append(append([]byte(`{"name":"x","extra":`), nest("[", "", "]", 100_000)...), '}'), new: func() any { return new(person) },
			err: &errKind{syntax: true, offset: 20 + 1000, msg: "nesting deeper"}},
		{name: "custom limit", doc: nest("[", "1", "]", 11), opts: Options{MaxDepth: 10}, new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 11, msg: "nesting deeper than 10 levels"}},
		{name: "limit is capped at 4000", doc: nest("[", "1", "]", 4001), opts: Options{MaxDepth: 1 << 20}, new: func() any { return new(any) },
			err: &errKind{syntax: true, offset: 4001, msg: "nesting deeper than 4000 levels"}},
		{name: "capped limit accepts 4000", doc: nest("[", "1", "]", 4000), opts: Options{MaxDepth: 1 << 20}, new: func() any { return new(any) }},
		{name: "brackets in strings do not count", doc: []byte(`["` + strings.Repeat("[{", 3000) + `"]`), new: func() any { return new(any) }},
		{name: "escaped quotes do not end strings", doc: []byte(`["\"` + strings.Repeat("[", 3000) + `\\", "\\\"x"]`), new: func() any { return new(any) }},
		{name: "many shallow brackets", doc: []byte("[" + strings.Repeat("[],{},", 2000) + "[]]"), new: func() any { return new(any) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, Decode(tt.doc, tt.new(), tt.opts), tt.err)
		})
	}
}

func TestDecodeUTF8(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		err  *errKind // nil: accepted
	}{
		{name: "valid multibyte", doc: `{"name":"Zoë 😀 日本"}`},
		{name: "invalid byte in value", doc: "{\"name\":\"a\xffb\"}", err: &errKind{syntax: true, offset: 11, msg: "invalid UTF-8 byte 0xff"}},
		{name: "invalid byte in key", doc: "{\"na\xc3me\":\"x\"}", err: &errKind{syntax: true, offset: 5, msg: "invalid UTF-8 byte 0xc3"}},
		{name: "invalid byte in skipped value", doc: "{\"zz\":\"\xfe\",\"name\":\"x\"}", err: &errKind{syntax: true, offset: 8, msg: "0xfe"}},
		{name: "truncated sequence at end", doc: "\"\xe6\x97", err: &errKind{syntax: true, offset: 2, msg: "0xe6"}},
		{name: "overlong encoding", doc: "\"\xc0\xaf\"", err: &errKind{syntax: true, offset: 2, msg: "0xc0"}},
		{name: "encoded surrogate", doc: "\"\xed\xa0\x80\"", err: &errKind{syntax: true, offset: 2, msg: "0xed"}},
		{name: "outside strings", doc: "[1,\xff]", err: &errKind{syntax: true, offset: 4, msg: "0xff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v person
			checkErr(t, Decode([]byte(tt.doc), &v, Options{}), tt.err)
		})
	}
}

type allKinds struct {
	S   string             `json:"s"`
	M   map[string]string  `json:"m"`
	A   any                `json:"a"`
	N   stdjson.Number     `json:"n"`
	Raw stdjson.RawMessage `json:"raw"`
	B   []byte             `json:"b"`
	P   *string            `json:"p"`
}

// TestDecodeNoAlias overwrites the input after Decode: nothing decoded may
// change, because the server reuses its read buffers.
func TestDecodeNoAlias(t *testing.T) {
	doc := `{"s":"plain","m":{"key":"value"},"a":{"k":["x","y"],"n":1},"n":123.5,"raw":{"r":"raw"},"b":"aGVsbG8=","p":"ptr"}`
	for _, opts := range []Options{{}, {UseNumber: true}} {
		data := []byte(doc)
		var v allKinds
		if err := Decode(data, &v, opts); err != nil {
			t.Fatal(err)
		}
		var m any
		if err := Decode(data, &m, opts); err != nil {
			t.Fatal(err)
		}
		before, _ := stdjson.Marshal([]any{v, m})
		for i := range data {
			data[i] = 'X'
		}
		after, _ := stdjson.Marshal([]any{v, m})
		if !bytes.Equal(before, after) {
			t.Errorf("opts %+v: decoded values alias the input:\nbefore %s\nafter  %s", opts, before, after)
		}
	}
}

func TestDecodeInvalidTarget(t *testing.T) {
	var nilPtr *person
	for _, v := range []any{nil, person{}, nilPtr, 3} {
		if err := Decode([]byte(`{}`), v, Options{}); err != ErrInvalidTarget {
			t.Errorf("Decode(%T) = %v, want ErrInvalidTarget", v, err)
		}
	}
}

type marshaler struct{}

func (marshaler) MarshalJSON() ([]byte, error) { return []byte("{ \"a\" : [ 1 , 2 ] }"), nil }

type badMarshaler struct{}

func (badMarshaler) MarshalJSON() ([]byte, error) { return []byte("{oops"), nil }

type cycle struct {
	Next *cycle `json:"next"`
}

func TestAppend(t *testing.T) {
	loop := &cycle{}
	loop.Next = loop
	tests := []struct {
		name string
		v    any
		want string // "" when an error is expected
	}{
		{name: "struct", v: person{Name: "Ada", Tags: []string{"x"}, N: 3}, want: `{"name":"Ada","email":"","tags":["x"],"n":3}`},
		{name: "no HTML escaping", v: "<a href=\"x\">&</a>", want: `"<a href=\"x\">&</a>"`},
		{name: "line separators escaped", v: "a\u2028b\u2029c—d", want: `"a\u2028b\u2029c—d"`},
		{name: "invalid UTF-8 replaced", v: "a\xffb", want: `"a\ufffdb"`},
		{name: "control characters", v: "\x00\x1f\n", want: `"\u0000\u001f\n"`},
		{name: "floats like encoding/json", v: []float64{1e21, 1e20, 1e-7, 0.000001, 0.1, 3}, want: `[1e+21,100000000000000000000,1e-7,0.000001,0.1,3]`},
		{name: "bytes as base64", v: []byte("hi"), want: `"aGk="`},
		{name: "nil slice and empty map", v: []any{[]int(nil), map[string]int{}}, want: `[null,{}]`},
		{name: "MarshalJSON compacted", v: marshaler{}, want: `{"a":[1,2]}`},
		{name: "invalid MarshalJSON", v: badMarshaler{}},
		{name: "NaN", v: math.NaN()},
		{name: "infinity", v: math.Inf(1)},
		{name: "channel", v: make(chan int)},
		{name: "cycle", v: loop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("HTTP/1.1 200 OK\r\n\r\n\xff")
			dst := append(make([]byte, 0, 64), prefix...)
			got, err := Append(dst, tt.v)
			if tt.want == "" {
				if !errors.Is(err, ErrEncode) {
					t.Fatalf("err = %v, want ErrEncode", err)
				}
				if len(got) != len(prefix) {
					t.Errorf("len = %d after error, want %d", len(got), len(prefix))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("prefix changed: %q", got)
			}
			if s := string(got[len(prefix):]); s != tt.want {
				t.Errorf("got  %s\nwant %s", s, tt.want)
			}
		})
	}
}

func TestAppendGrows(t *testing.T) {
	v := strings.Repeat("x", 10_000)
	for _, c := range []int{0, 5, 20_000} {
		dst := append(make([]byte, 0, c), "ab"[:min(c, 2)]...)
		got, err := Append(dst, v)
		if err != nil {
			t.Fatal(err)
		}
		want := "ab"[:min(c, 2)] + `"` + v + `"`
		if string(got) != want {
			t.Errorf("cap %d: got %d bytes, want %d", c, len(got), len(want))
		}
	}
}

func TestMarshal(t *testing.T) {
	b, err := Marshal(map[string]int{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	if string(b.B) != `{"a":1}` {
		t.Errorf("got %s", b.B)
	}
	PutBuffer(b)
	if b, err := Marshal(math.NaN()); b != nil || !errors.Is(err, ErrEncode) {
		t.Errorf("Marshal(NaN) = %v, %v; want nil, ErrEncode", b, err)
	}
	g := GetBuffer()
	if g.Len() != 0 {
		t.Errorf("GetBuffer returned %d bytes", g.Len())
	}
	PutBuffer(g)
	PutBuffer(nil)
}

func TestAppendErrorBody(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{name: "syntax", err: &SyntaxError{Offset: 17, Msg: "invalid character 'x' after top-level value"},
			want: `{"error":"invalid JSON","offset":17,"detail":"invalid character 'x' after top-level value"}`},
		{name: "decode", err: &DecodeError{Offset: 9, Field: "n", Msg: `field "n": cannot use string as int`},
			want: `{"error":"invalid JSON value","offset":9,"detail":"field \"n\": cannot use string as int"}`},
		{name: "unknown offset", err: &DecodeError{Offset: -1, Msg: `unknown field "<b>"`},
			want: `{"error":"invalid JSON value","detail":"unknown field \"\u003cb\u003e\""}`},
		{name: "hostile detail", err: &SyntaxError{Offset: 1, Msg: "\x01\xff\u2028\\&"},
			want: `{"error":"invalid JSON","offset":1,"detail":"\u0001\ufffd\u2028\\\u0026"}`},
		{name: "long detail", err: &SyntaxError{Offset: 0, Msg: strings.Repeat("é", 100)},
			want: `{"error":"invalid JSON","offset":0,"detail":"` + strings.Repeat("é", 60) + `..."}`},
		{name: "invalid target", err: ErrInvalidTarget, want: `{"error":"internal error"}`},
		{name: "other", err: errors.New("secret"), want: `{"error":"invalid JSON value"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendErrorBody([]byte("x"), tt.err)
			if string(got[1:]) != tt.want {
				t.Errorf("got  %s\nwant %s", got[1:], tt.want)
			}
			if !stdjson.Valid(got[1:]) {
				t.Errorf("not valid JSON: %s", got[1:])
			}
		})
	}
	// A real error, end to end.
	err := Decode([]byte(`{"n":1} x`), new(person), Options{})
	if got := string(AppendErrorBody(nil, err)); got != `{"error":"invalid JSON","offset":9,"detail":"invalid character 'x' after top-level value"}` {
		t.Errorf("got %s", got)
	}
}

type unmarshalerErr struct{}

func (*unmarshalerErr) UnmarshalJSON([]byte) error { return errors.New("want a date") }

func TestDecodeMethodError(t *testing.T) {
	var v struct {
		D unmarshalerErr `json:"d"`
	}
	err := Decode([]byte(`{"d":"x"}`), &v, Options{})
	var de *DecodeError
	if !errors.As(err, &de) || de.Err == nil || de.Err.Error() != "want a date" || de.Offset != -1 {
		t.Fatalf("err = %#v", err)
	}
	if got := string(AppendErrorBody(nil, err)); got != `{"error":"invalid JSON value","detail":"invalid value: want a date"}` {
		t.Errorf("body %s", got)
	}
}

func TestPretouch(t *testing.T) {
	if err := Pretouch(reflect.TypeFor[person](), reflect.TypeFor[*nested](), reflect.TypeFor[tree](), nil); err != nil {
		t.Fatal(err)
	}
	if err := Pretouch(); err != nil {
		t.Fatal(err)
	}
}

func TestConcurrentDecode(t *testing.T) {
	doc := []byte(`{"name":"Ada","email":"ada@example.org","tags":["a","b"],"n":7}`)
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 200 {
				var p person
				if err = Decode(doc, &p, Options{}); err == nil && p.N != 7 {
					err = errors.New("wrong value")
				}
				if err != nil {
					break
				}
				var b []byte
				if b, err = Append(nil, p); err == nil && len(b) == 0 {
					err = errors.New("empty")
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
