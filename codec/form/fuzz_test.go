package form

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"os"
	"strings"
	"testing"
)

// FuzzURLEncoded checks that Parse never panics, gives net/url.ParseQuery's
// verdict, and, when both accept, the same values in the same order.
func FuzzURLEncoded(f *testing.F) {
	for _, s := range []string{
		"", "a=1&b=2", "a=1&a=2&b", "q=hello+world%21", "&&=&", "a=%", "a=%4", "a=%zz", "a;b=1",
		"%41%42=%43", "k=v=w&=x&y=", "a=\x00\xff&%e2%82%ac=1", "+=+&%2B=%2b",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if bytes.Count(body, []byte("&")) >= 10000 {
			return // net/url's own parameter limit
		}
		checkAgainstNetURL(t, body)
		// A reused Form gives the same answer, and AppendValue agrees with Get.
		var form Form
		form.Parse([]byte("stale=1"), Limits{})
		if err := form.Parse(body, Limits{MaxBytes: -1, MaxFields: -1}); err != nil {
			if form.Len() != 0 {
				t.Fatal("pairs left after an error")
			}
			return
		}
		for i := range form.Len() {
			k := form.Key(i)
			v, ok := form.AppendValue(nil, k)
			if !ok || string(v) != form.Get(k) {
				t.Fatalf("AppendValue(%q) = %q %v, Get = %q", k, v, ok, form.Get(k))
			}
		}
	})
}

// fuzzOptions are small limits, so that the fuzzer reaches them.
var fuzzOptions = MultipartOptions{
	MaxBytes:        4096,
	MaxParts:        8,
	MaxHeaderBytes:  256,
	MaxValueBytes:   300,
	MaxFileBytes:    1000,
	MemoryThreshold: 64,
}

// FuzzMultipart checks that ParseMultipart never panics, that it reads no
// more than the limits allow, that what it accepts respects every limit,
// that it leaves no temporary file behind, and that it agrees with
// mime/multipart's ReadForm on the forms both accept.
func FuzzMultipart(f *testing.F) {
	f.Add(body(part{name: "a", content: "1"}, part{name: "f", filename: "x.txt", content: strings.Repeat("y", 100)}))
	f.Add(body(part{name: "a", content: "1"}, part{name: "a", content: "2"}, part{content: "anon"}))
	f.Add(body(part{name: "q", header: map[string]string{"Content-Transfer-Encoding": "quoted-printable"}, content: "a=3Db"}))
	f.Add(manyParts(9))
	f.Add([]byte("--" + testBoundary + "--\r\n"))
	f.Add([]byte("preamble\r\n--" + testBoundary + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--" + testBoundary + "--"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := fuzzOptions
		opts.TempDir = dir
		c := &countingReader{r: bytes.NewReader(data)}
		m, err := ParseMultipart(c, testContentType, opts)
		// Bounded reading: the total limit, plus the one byte that proves
		// it passed.
		if c.n > opts.MaxBytes+1 {
			t.Fatalf("read %d bytes, limit %d", c.n, opts.MaxBytes)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Status != 400 && e.Status != 413) {
				t.Fatalf("err = %v", err)
			}
			if m != nil {
				t.Fatal("form with an error")
			}
			leftovers(t, dir)
			return
		}
		defer func() {
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			leftovers(t, dir)
		}()
		if len(m.values)+len(m.files) > opts.MaxParts {
			t.Fatalf("%d parts, limit %d", len(m.values)+len(m.files), opts.MaxParts)
		}
		for _, v := range m.values {
			if int64(len(v.value)) > opts.MaxValueBytes {
				t.Fatalf("value of %d bytes, limit %d", len(v.value), opts.MaxValueBytes)
			}
		}
		for _, nf := range m.files {
			fh := nf.fh
			if fh.Size > opts.MaxFileBytes || fh.InMemory() != (fh.Size <= opts.MemoryThreshold) {
				t.Fatalf("file %q: size %d, in memory %v", nf.name, fh.Size, fh.InMemory())
			}
		}
		compareReadForm(t, data, m)
	})
}

// leftovers fails if a temporary file survived.
func leftovers(t *testing.T, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("%d temporary files left", len(entries))
	}
}

// compareReadForm checks m against mime/multipart's ReadForm, when that
// accepts the body too.
func compareReadForm(t *testing.T, data []byte, m *Multipart) {
	want, err := multipart.NewReader(bytes.NewReader(data), testBoundary).ReadForm(1 << 20)
	if err != nil {
		return
	}
	defer want.RemoveAll()
	for name, vs := range want.Value {
		if got := m.Values(name); strings.Join(got, "\x00") != strings.Join(vs, "\x00") || len(got) != len(vs) {
			t.Fatalf("Values(%q) = %q, ReadForm %q", name, got, vs)
		}
	}
	for name, fhs := range want.File {
		got := m.Files(name)
		if len(got) != len(fhs) {
			t.Fatalf("Files(%q): %d, ReadForm %d", name, len(got), len(fhs))
		}
		for i, fh := range fhs {
			if got[i].Filename != fh.Filename || got[i].Size != fh.Size {
				t.Fatalf("file %q: %q %d, ReadForm %q %d", name, got[i].Filename, got[i].Size, fh.Filename, fh.Size)
			}
			a, b := openAll(t, got[i].Open), openAll(t, fh.Open)
			if !bytes.Equal(a, b) {
				t.Fatalf("file %q: content differs", name)
			}
		}
	}
	n := len(m.values) + len(m.files)
	for _, vs := range want.Value {
		n -= len(vs)
	}
	for _, fhs := range want.File {
		n -= len(fhs)
	}
	if n != 0 {
		t.Fatalf("%d more fields than ReadForm", n)
	}
}

func openAll(t *testing.T, open func() (multipart.File, error)) []byte {
	f, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
