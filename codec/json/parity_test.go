package json

import (
	"bytes"
	"encoding/base64"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The backends must be indistinguishable. In the default build decodeFast
// and appendFast are sonic and decodeStd and appendStd are encoding/json;
// under sluice_stdjson both sides are encoding/json and the test is
// trivially true.

type parityDoc struct {
	Name    string             `json:"name"`
	Email   string             `json:"email,omitempty"`
	Tags    []string           `json:"tags"`
	N       int                `json:"n"`
	U       uint16             `json:"u"`
	F       float64            `json:"f"`
	F32     float32            `json:"f32"`
	B       bool               `json:"b"`
	P       *int               `json:"p"`
	Any     any                `json:"any"`
	M       map[string]int     `json:"m"`
	Arr     [2]int             `json:"arr"`
	Str     int                `json:"str,string"`
	Time    time.Time          `json:"time"`
	Raw     stdjson.RawMessage `json:"raw"`
	Num     stdjson.Number     `json:"num"`
	Bytes   []byte             `json:"bytes"`
	Inner   *parityInner       `json:"inner"`
	Skipped int                `json:"-"`
	parityEmbedded
}

type parityInner struct {
	X int `json:"x"`
	Y []parityInner
}

type parityEmbedded struct {
	E string `json:"e"`
}

var parityDocs = []string{
	`{"name":"Ada","email":"ada@example.org","tags":["a","b"],"n":7}`,
	`{"NAME":"x","Tags":null,"N":-3,"u":65535,"f":-0.0,"f32":3.4e38,"b":true,"p":5}`,
	`{"f":1.7976931348623157e308,"f32":1e-45,"n":-9223372036854775808}`,
	`{"f":0.1,"any":[0.30000000000000004,1e21,123456789012345678901234567890,-0.0,5e-324]}`,
	`{"f":-0.0,"f32":-0e0,"any":[-0.0,-0e1]}`,
	`{"f":2.2250738585072011e-308,"any":4.9406564584124654e-324}`,
	`{"f":9007199254740993,"any":9007199254740993}`,
	`{"any":{"a":[1,"x",null,true,{"b":{}}],"c":""}}`,
	`{"m":{"a":1,"b":2},"arr":[1,2,3],"str":"42"}`,
	`{"arr":[1]}`,
	`{"str":42}`,
	`{"str":"x"}`,
	`{"time":"2024-02-29T12:00:00Z"}`,
	`{"time":"yesterday"}`,
	`{"raw":{"x": [1, 2]},"num":12.50,"bytes":"aGVsbG8="}`,
	`{"bytes":"not base64!"}`,
	`{"num":"12"}`,
	`{"num":"abc"}`,
	`{"inner":{"x":1,"Y":[{"x":2}]}}`,
	`{"e":"embedded","Skipped":1,"-":2}`,
	`{"name":"dup","name":"last"}`,
	`{"name":"\u00e9\ud83d\ude00\ud800\u0041\n\t\"\\\/"}`,
	`{"name":"ſ","NAMe":"k"}`,
	`{"name":null,"tags":[null],"n":null,"p":null,"inner":null}`,
	`{"n":"7"}`,
	`{"n":7.0}`,
	`{"n":1e2}`,
	`{"u":-1}`,
	`{"u":65536}`,
	`{"f32":3.5e38}`,
	`{"f":1e400}`,
	`{"any":-1e400}`,
	`{"n":18446744073709551616}`,
	`{"tags":"x"}`,
	`{"tags":[1,2]}`,
	`{"m":{"a":"x"}}`,
	`{"m":[]}`,
	`{"inner":{"x":"1"}}`,
	`{"inner":{"Y":[{"x":true}]}}`,
	`{"unknown":1,"name":"x"}`,
	`{"unknown":{"deep":[1,{"x":[]}]},"name":"x"}`,
	`{"name":"x",}`,
	`{"name" "x"}`,
	`{"name":"x"`,
	`{"name":"x"}}`,
	`[]`,
	`"string"`,
	`null`,
	`true`,
	`12`,
	`-`,
	`-01`,
	`1.`,
	`.5`,
	`1e`,
	`+1`,
	`0x10`,
	`NaN`,
	`Infinity`,
	`[1,2,]`,
	`{"a":1,,"b":2}`,
	"{\"name\":\"tab\tinside\"}",
	"{\"name\":\"nul\x00inside\"}",
	"\ufeff{}",
	"{\"name\":\"bad utf8 \xc3\x28\"}",
	`{"name":"\x"}`,
	`{"name":"\u12"}`,
	`{"name":"\uZZZZ"}`,
	`/* comment */ {}`,
	`{"a":tru}`,
	`{"a":nulll}`,
	`{"a":falsey}`,
	"  \n\t{}\r\n  ",
	``,
	`[[[[[[[[[[]]]]]]]]]]`,
	`{"any":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}`,
	`{"tags":["` + strings.Repeat("long string ", 500) + `"]}`,
	`{"n":` + strings.Repeat("9", 400) + `}`,
	`{"f":` + "0." + strings.Repeat("0", 400) + "1" + `}`,
}

var parityTargets = []struct {
	name string
	new  func() any
}{
	{name: "struct", new: func() any { return new(parityDoc) }},
	{name: "any", new: func() any { return new(any) }},
	{name: "map", new: func() any { return new(map[string]any) }},
	{name: "slice", new: func() any { return new([]any) }},
	{name: "string", new: func() any { return new(string) }},
	{name: "raw", new: func() any { return new(stdjson.RawMessage) }},
}

var parityOptions = []Options{{}, {UseNumber: true}, {DisallowUnknownFields: true}, {MaxDepth: 5}}

// compareDecode decodes data with both backends and reports a difference.
// Unless strict, the known differences are tolerated.
func compareDecode(data []byte, newTarget func() any, opts Options, strict bool) string {
	fast, std := newTarget(), newTarget()
	errFast := Decode(data, fast, opts)
	errStd := precheck(data, opts.maxDepth())
	if errStd == nil {
		errStd = decodeStd(data, std, opts)
	}
	var corrupt base64.CorruptInputError
	if !strict && errFast == nil && errors.As(errStd, &corrupt) {
		return "" // a known difference: sonic's lenient base64
	}
	if describe(errFast) != describe(errStd) {
		return fmt.Sprintf("errors differ:\n fast %s\n std  %s", describe(errFast), describe(errStd))
	}
	if errFast == nil && (!reflect.DeepEqual(fast, std) || strict && !sameValue(fast, std)) {
		return fmt.Sprintf("values differ:\n fast %#v\n std  %#v", reflect.ValueOf(fast).Elem(), reflect.ValueOf(std).Elem())
	}
	return ""
}

// describe prints an error's type and fields, except DecodeError.Err,
// whose identity differs between two decodes.
func describe(err error) string {
	switch e := err.(type) {
	case nil:
		return "<nil>"
	case *DecodeError:
		return fmt.Sprintf("DecodeError{Offset:%d Field:%q Value:%q Type:%q Msg:%q Err:%v}", e.Offset, e.Field, e.Value, e.Type, e.Msg, e.Err)
	}
	return fmt.Sprintf("%T %+v", err, err)
}

// sameValue compares the JSON encodings of a and b, which tells -0 from
// +0 where reflect.DeepEqual does not.
func sameValue(a, b any) bool {
	ja, errA := stdjson.Marshal(a)
	jb, errB := stdjson.Marshal(b)
	return bytes.Equal(ja, jb) && (errA == nil) == (errB == nil)
}

func TestBackendParityDecode(t *testing.T) {
	for i, doc := range parityDocs {
		for _, target := range parityTargets {
			for _, opts := range parityOptions {
				name := fmt.Sprintf("%d/%s/%+v", i, target.name, opts)
				t.Run(name, func(t *testing.T) {
					if diff := compareDecode([]byte(doc), target.new, opts, true); diff != "" {
						t.Errorf("doc %.80q:\n%s", doc, diff)
					}
				})
			}
		}
	}
}

// knownDifferences are the documents on which sonic and encoding/json
// are known to disagree, each with the reason; the package doc lists them.
// The test fails if one of them stops differing, so that the list stays
// true.
var knownDifferences = []struct {
	name string
	doc  string
	new  func() any
}{
	// sonic parses the integer literal -0 as the integer 0 and converts
	// it: +0. encoding/json gives -0. (-0.0 and -0e0 agree.)
	{name: "integer -0 into interface", doc: `[-0]`, new: func() any { return new(any) }},
	{name: "integer -0 into float64", doc: `{"f":-0}`, new: func() any { return new(parityDoc) }},
	// sonic matches keys to field names case-insensitively in ASCII only;
	// encoding/json uses Unicode simple folding, so "ſtr" (U+017F) matches
	// the field "str" and "\u212a" (KELVIN SIGN) matches "k".
	{name: "Unicode folding of keys", doc: `{"ſtr":"1"}`, new: func() any { return new(parityDoc) }},
	// sonic's base64 decoder (cloudwego/base64x) accepts some malformed
	// input for []byte fields that encoding/base64 refuses.
	{name: "lenient base64", doc: `{"bytes":"00="}`, new: func() any { return new(parityDoc) }},
}

func TestBackendKnownDifferences(t *testing.T) {
	if Backend != "sonic" {
		t.Skip("one backend only")
	}
	for _, tt := range knownDifferences {
		t.Run(tt.name, func(t *testing.T) {
			if compareDecode([]byte(tt.doc), tt.new, Options{}, true) == "" {
				t.Errorf("doc %q: the backends now agree; remove it from knownDifferences and the package doc", tt.doc)
			}
		})
	}
}

type parityOut struct {
	S    string             `json:"s"`
	Es   string             `json:"es,omitempty"`
	I    int64              `json:"i"`
	U    uint64             `json:"u"`
	F    float64            `json:"f"`
	F32  float32            `json:"f32"`
	B    []byte             `json:"b"`
	P    *parityOut         `json:"p,omitempty"`
	A    any                `json:"a"`
	Arr  []int              `json:"arr"`
	M    map[string]string  `json:"m"`
	T    time.Time          `json:"t"`
	Str  int                `json:"str,string"`
	Raw  stdjson.RawMessage `json:"raw"`
	Zero struct{}           `json:"zero,omitzero"`
}

func TestBackendParityEncode(t *testing.T) {
	values := []any{
		parityOut{},
		parityOut{S: "a<b>&c\u2028\u2029\x00\x7f\xff\"\\/é😀", I: math.MinInt64, U: math.MaxUint64, F: 1e-7, F32: 0.1,
			B: []byte{0, 1, 255}, P: &parityOut{S: "inner"}, A: []any{1.5, "x", nil, true, map[string]any{"k": []int{1}}},
			Arr: []int{}, M: map[string]string{"only": "one"}, T: time.Date(2024, 2, 29, 12, 0, 0, 5, time.UTC), Str: 9,
			Raw: stdjson.RawMessage(`{ "x" : 1 }`)},
		[]float64{0, -0.0, 1, 1e20, 1e21, 1e-6, 1e-7, 123456789.123456789, math.MaxFloat64, math.SmallestNonzeroFloat64},
		[]float32{1e20, 1e21, 1e-6, 1e-7, 3.4e38, 1.1},
		map[string]int{"single": 1},
		"plain",
		nil,
		[]string(nil),
		map[string]any(nil),
		json1KiB(),
	}
	for i, v := range values {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			fast, errFast := Append(nil, v)
			std, errStd := appendStd(nil, v)
			if (errFast == nil) != (errStd == nil) || !bytes.Equal(fast, std) {
				t.Errorf("fast %s (%v)\nstd  %s (%v)", fast, errFast, std, errStd)
			}
		})
	}
}

func json1KiB() []person {
	var ps []person
	for i := range 8 {
		ps = append(ps, person{Name: fmt.Sprint("name ", i), Email: "e@x", Tags: []string{"t"}, N: i})
	}
	return ps
}

// FuzzDecode checks that Decode never panics and that both backends give
// the same verdict and the same value on any input, into a struct and into
// interface{}.
func FuzzDecode(f *testing.F) {
	for _, doc := range parityDocs {
		f.Add([]byte(doc), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		if foldsToASCII(data) {
			return // a known difference
		}
		opts := Options{UseNumber: mode&1 != 0, DisallowUnknownFields: mode&2 != 0, MaxDepth: int(mode >> 4)}
		for _, target := range parityTargets[:2] {
			if diff := compareDecode(data, target.new, opts, false); diff != "" {
				t.Errorf("%s %+v: doc %q:\n%s", target.name, opts, data, diff)
			}
		}
	})
}

// foldsToASCII reports whether data may hold one of the two non-ASCII
// letters that encoding/json folds to ASCII when matching keys.
func foldsToASCII(data []byte) bool {
	lower := bytes.ToLower(data)
	for _, s := range []string{"\u017f", "\u212a", "\xc5\xbf", "\xe2\x84\xaa"} {
		if bytes.Contains(lower, []byte(s)) {
			return true
		}
	}
	return false
}
