package json

import (
	stdjson "encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The benchmark documents: one object of the shape
// {"name": str, "email": str, "tags": [str], "n": int} of about 300 bytes,
// and an array of such objects (each different) of about 64 KiB.
var (
	benchSmall = []byte(`{"name":"Margaret Ellen Hamilton-Okonkwo","email":"margaret.hamilton-okonkwo@apollo-guidance.example.org",` +
		`"tags":["flight-software","apollo-11","lunar-module","priority-scheduling","asynchronous-executive",` +
		`"error-recovery","rope-memory","mit-instrumentation-lab","software-eng","nasa"],"n":1969072016}`)
	benchLarge = largeDoc(64 << 10)
)

var (
	benchFirst = []string{"Margaret", "Grace", "Katherine", "Dorothy", "Annie", "Frances", "Radia", "Barbara", "Adele", "Hedy"}
	benchLast  = []string{"Hamilton", "Hopper", "Johnson", "Vaughan", "Easley", "Allen", "Perlman", "Liskov", "Goldberg", "Lamarr"}
	benchTags  = []string{"flight-software", "compilers", "orbital-mechanics", "numerical-analysis", "networking",
		"spanning-tree", "abstraction", "smalltalk", "frequency-hopping", "cobol", "fortran", "error-recovery"}
)

// largeDoc builds a JSON array of person objects no longer than limit.
func largeDoc(limit int) []byte {
	out := []byte{'['}
	for i := 0; ; i++ {
		p := person{
			Name:  fmt.Sprintf("%s %s-%d", benchFirst[i%10], benchLast[(i/10)%10], i),
			Email: fmt.Sprintf("%s.%s%d@mail%d.example.org", strings.ToLower(benchFirst[i%10]), strings.ToLower(benchLast[(i/10)%10]), i, i%7),
			N:     1_000_003 * (i + 1),
		}
		for j := range 3 + i%6 {
			p.Tags = append(p.Tags, benchTags[(i+j*5)%len(benchTags)])
		}
		obj, _ := stdjson.Marshal(p)
		if len(out)+len(obj)+2 > limit {
			break
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, obj...)
	}
	return append(out, ']')
}

func TestBenchDocs(t *testing.T) {
	var p person
	var ps []person
	if err := Decode(benchSmall, &p, Options{}); err != nil || len(benchSmall) < 290 || len(benchSmall) > 310 {
		t.Fatalf("small: %d bytes, %v", len(benchSmall), err)
	}
	if err := Decode(benchLarge, &ps, Options{}); err != nil || len(benchLarge) < 60<<10 || len(benchLarge) > 64<<10 {
		t.Fatalf("large: %d bytes, %v", len(benchLarge), err)
	}
}

func benchDecode[T any](b *testing.B, data []byte) {
	b.Run("sluice", func(b *testing.B) { // Backend: sonic, or encoding/json
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var v T
			if err := Decode(data, &v, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sluice_std", func(b *testing.B) { // the fallback path, policies included
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var v T
			if err := precheck(data, DefaultMaxDepth); err != nil {
				b.Fatal(err)
			}
			if err := decodeStd(data, &v, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) { // the baseline
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var v T
			if err := stdjson.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchEncode[T any](b *testing.B, data []byte) {
	var v T
	if err := stdjson.Unmarshal(data, &v); err != nil {
		b.Fatal(err)
	}
	b.Run("sluice", func(b *testing.B) { // Append into a reused buffer
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = Append(buf[:0], &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sluice_std", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = appendStd(buf[:0], &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) { // the baseline: json.Marshal
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := stdjson.Marshal(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecode300B(b *testing.B) { benchDecode[person](b, benchSmall) }
func BenchmarkDecode64K(b *testing.B)  { benchDecode[[]person](b, benchLarge) }
func BenchmarkEncode300B(b *testing.B) { benchEncode[person](b, benchSmall) }
func BenchmarkEncode64K(b *testing.B)  { benchEncode[[]person](b, benchLarge) }

// BenchmarkPrecheck is the cost of the depth and UTF-8 policies alone.
func BenchmarkPrecheck64K(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchLarge)))
	for b.Loop() {
		if err := precheck(benchLarge, DefaultMaxDepth); err != nil {
			b.Fatal(err)
		}
	}
}
