package form

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

const testBoundary = "----sluiceBoundary7MA4YWxkTrZu0gW"

const testContentType = "multipart/form-data; boundary=" + testBoundary

// part is one part of a test body.
type part struct {
	name, filename string
	header         map[string]string // extra header fields
	content        string
}

// body builds a multipart body with mime/multipart's writer.
func body(parts ...part) []byte {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if err := w.SetBoundary(testBoundary); err != nil {
		panic(err)
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		switch {
		case p.name == "" && p.filename == "":
		case p.filename != "":
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.name, p.filename))
			h.Set("Content-Type", "application/octet-stream")
		default:
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q`, p.name))
		}
		for k, v := range p.header {
			h.Set(k, v)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			panic(err)
		}
		io.WriteString(pw, p.content)
	}
	w.Close()
	return b.Bytes()
}

// emptyDir fails if dir holds any file.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("%d temporary files left in %s", len(entries), dir)
	}
}

func readAll(t *testing.T, fh *FileHeader) string {
	t.Helper()
	f, err := fh.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseMultipart(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 3<<16) // 3 MiB
	type wantFile struct {
		name, filename string
		size           int64
		inMemory       bool
	}
	tests := []struct {
		name   string
		ct     string // default testContentType
		body   []byte
		opts   MultipartOptions
		values map[string][]string
		files  []wantFile
		err    error // kind, or nil
		status int
	}{
		{name: "values and a small file",
			body:   body(part{name: "title", content: "hello"}, part{name: "tag", content: "a"}, part{name: "tag", content: "b"}, part{name: "doc", filename: "a.txt", content: "file body"}),
			values: map[string][]string{"title": {"hello"}, "tag": {"a", "b"}},
			files:  []wantFile{{name: "doc", filename: "a.txt", size: 9, inMemory: true}}},
		{name: "empty form", body: []byte("--" + testBoundary + "--\r\n")},
		{name: "empty file", body: body(part{name: "f", filename: "empty.bin"}),
			files: []wantFile{{name: "f", filename: "empty.bin", size: 0, inMemory: true}}},
		{name: "directory stripped from filename", body: body(part{name: "f", filename: "../../etc/passwd", content: "x"}),
			files: []wantFile{{name: "f", filename: "passwd", size: 1, inMemory: true}}},
		{name: "file at the threshold stays in memory", opts: MultipartOptions{MemoryThreshold: 1000},
			body:  body(part{name: "f", filename: "a", content: strings.Repeat("x", 1000)}),
			files: []wantFile{{name: "f", filename: "a", size: 1000, inMemory: true}}},
		{name: "file past the threshold spills", opts: MultipartOptions{MemoryThreshold: 1000},
			body:  body(part{name: "f", filename: "a", content: strings.Repeat("x", 1001)}),
			files: []wantFile{{name: "f", filename: "a", size: 1001, inMemory: false}}},
		{name: "big file spills at the default threshold", body: body(part{name: "f", filename: "big.bin", content: big}),
			files: []wantFile{{name: "f", filename: "big.bin", size: int64(len(big)), inMemory: false}}},
		{name: "every file to disk", opts: MultipartOptions{MemoryThreshold: -1},
			body:  body(part{name: "f", filename: "a", content: "x"}, part{name: "g", filename: "b"}),
			files: []wantFile{{name: "f", filename: "a", size: 1}, {name: "g", filename: "b", size: 0}}},
		{name: "parts without a name are skipped", body: body(part{content: "anonymous"}, part{name: "a", content: "1"}),
			values: map[string][]string{"a": {"1"}}},
		{name: "quoted-printable is decoded", body: body(part{name: "q", header: map[string]string{"Content-Transfer-Encoding": "quoted-printable"}, content: "caf=C3=A9"}),
			values: map[string][]string{"q": {"café"}}},
		{name: "many small parts at the limit", opts: MultipartOptions{MaxParts: 500}, body: manyParts(500),
			values: map[string][]string{"p0": {"v0"}, "p499": {"v499"}}},
		{name: "many small parts past the limit", opts: MultipartOptions{MaxParts: 500}, body: manyParts(501), err: ErrTooManyFields, status: 413},
		{name: "default part limit", body: manyParts(1001), err: ErrTooManyFields, status: 413},

		{name: "body at the size limit", opts: MultipartOptions{MaxBytes: int64(len(body(part{name: "a", content: "1"})))},
			body: body(part{name: "a", content: "1"}), values: map[string][]string{"a": {"1"}}},
		{name: "body past the size limit", opts: MultipartOptions{MaxBytes: int64(len(body(part{name: "a", content: "1"}))) - 1},
			body: body(part{name: "a", content: "1"}), err: ErrTooLarge, status: 413},
		{name: "file past its limit in memory", opts: MultipartOptions{MaxFileBytes: 10},
			body: body(part{name: "f", filename: "a", content: strings.Repeat("x", 11)}), err: ErrFileTooLarge, status: 413},
		{name: "file at its limit on disk", opts: MultipartOptions{MaxFileBytes: 100, MemoryThreshold: 10},
			body:  body(part{name: "f", filename: "a", content: strings.Repeat("x", 100)}),
			files: []wantFile{{name: "f", filename: "a", size: 100}}},
		{name: "file past its limit on disk", opts: MultipartOptions{MaxFileBytes: 100, MemoryThreshold: 10},
			body: body(part{name: "f", filename: "a", content: strings.Repeat("x", 101)}), err: ErrFileTooLarge, status: 413},
		{name: "value at its limit", opts: MultipartOptions{MaxValueBytes: 5},
			body: body(part{name: "v", content: "12345"}), values: map[string][]string{"v": {"12345"}}},
		{name: "value past its limit", opts: MultipartOptions{MaxValueBytes: 5},
			body: body(part{name: "v", content: "123456"}), err: ErrValueTooLarge, status: 413},
		{name: "part header past its limit", opts: MultipartOptions{MaxHeaderBytes: 200},
			body: body(part{name: "v", header: map[string]string{"X-Pad": strings.Repeat("p", 200)}, content: "1"}), err: ErrHeaderTooLarge, status: 413},
		{name: "huge part header stops the read", body: body(part{name: "v", header: map[string]string{"X-Pad": strings.Repeat("p", 1<<20)}, content: "1"}),
			err: ErrHeaderTooLarge, status: 413},

		{name: "not multipart", ct: "application/json", body: []byte("{}"), err: ErrContentType, status: 415},
		{name: "multipart/mixed", ct: "multipart/mixed; boundary=x", body: []byte("--x--"), err: ErrContentType, status: 415},
		{name: "unparsable content type", ct: "multipart/form-data; boundary", body: []byte("--x--"), err: ErrBoundary, status: 400},
		{name: "missing boundary", ct: "multipart/form-data", body: []byte("--x--"), err: ErrBoundary, status: 400},
		{name: "empty boundary", ct: `multipart/form-data; boundary=""`, body: []byte("----"), err: ErrBoundary, status: 400},
		{name: "boundary too long", ct: "multipart/form-data; boundary=" + strings.Repeat("b", 71), body: []byte("x"), err: ErrBoundary, status: 400},
		{name: "boundary with a bad character", ct: `multipart/form-data; boundary="a;b"`, body: []byte("x"), err: ErrBoundary, status: 400},
		{name: "boundary ending in a space", ct: `multipart/form-data; boundary="ab "`, body: []byte("x"), err: ErrBoundary, status: 400},
		{name: "quoted boundary", ct: `multipart/form-data; boundary="` + testBoundary + `"`, body: body(part{name: "a", content: "1"}),
			values: map[string][]string{"a": {"1"}}},

		{name: "empty body", body: nil, err: ErrMalformed, status: 400},
		{name: "no final boundary", body: bytes.TrimSuffix(body(part{name: "a", content: "1"}), []byte("--"+testBoundary+"--\r\n")), err: ErrMalformed, status: 400},
		{name: "truncated inside a file", opts: MultipartOptions{MemoryThreshold: 10},
			body: body(part{name: "f", filename: "a", content: strings.Repeat("x", 1000)})[:500], err: ErrMalformed, status: 400},
		{name: "garbage after a part", body: []byte("--" + testBoundary + "\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--" + testBoundary + "\r\nno colon here\r\n\r\n"), err: ErrMalformed, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.opts.TempDir = dir
			ct := tt.ct
			if ct == "" {
				ct = testContentType
			}
			m, err := ParseMultipart(bytes.NewReader(tt.body), ct, tt.opts)
			if tt.err != nil {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if e.Status != tt.status {
					t.Errorf("status %d, want %d", e.Status, tt.status)
				}
				if m != nil {
					t.Error("non-nil form with an error")
				}
				emptyDir(t, dir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.values {
				if got := m.Values(name); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("Values(%q) = %q, want %q", name, got, want)
				}
				if got := m.Value(name); got != want[0] {
					t.Errorf("Value(%q) = %q", name, got)
				}
			}
			var got []wantFile
			for name, fh := range m.AllFiles() {
				got = append(got, wantFile{name: name, filename: fh.Filename, size: fh.Size, inMemory: fh.InMemory()})
				if content := readAll(t, fh); int64(len(content)) != fh.Size {
					t.Errorf("file %q: read %d bytes, Size %d", name, len(content), fh.Size)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.files) {
				t.Errorf("files %+v\nwant  %+v", got, tt.files)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			emptyDir(t, dir)
			if err := m.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func manyParts(n int) []byte {
	ps := make([]part, n)
	for i := range ps {
		ps[i] = part{name: fmt.Sprint("p", i), content: fmt.Sprint("v", i)}
	}
	return body(ps...)
}

func TestMultipartFiles(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("sluice", 400_000) // 2.4 MB
	b := body(part{name: "doc", filename: "small.txt", content: "small"}, part{name: "doc", filename: "big.bin", content: big}, part{name: "note", content: "n"})
	m, err := ParseMultipart(bytes.NewReader(b), testContentType, MultipartOptions{TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	files := m.Files("doc")
	if len(files) != 2 || m.File("doc") != files[0] || m.File("nope") != nil || m.Files("nope") != nil {
		t.Fatalf("Files = %v", files)
	}
	if got := readAll(t, files[1]); got != big {
		t.Errorf("big file: %d bytes back", len(got))
	}
	if files[1].Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("Header = %v", files[1].Header)
	}
	// ReadAt and Seek, as with net/http's multipart.File.
	f, err := files[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 3)
	if _, err := f.ReadAt(p, 2); err != nil || string(p) != "all" {
		t.Errorf("ReadAt = %q, %v", p, err)
	}
	f.Close()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), "sluice-multipart-") {
		t.Errorf("temporary files %v", entries)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	emptyDir(t, dir)
	for _, fh := range files {
		if _, err := fh.Open(); err == nil {
			t.Error("Open after Close succeeded")
		}
	}
	if m.Value("note") != "n" {
		t.Error("values lost after Close")
	}
}

// TestMultipartReadError: a failing reader is the server's problem, not a
// 400: its error comes back wrapped, and spilled files are removed.
func TestMultipartReadError(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("connection reset")
	b := body(part{name: "f", filename: "a", content: strings.Repeat("x", 5000)})
	r := io.MultiReader(bytes.NewReader(b[:3000]), iotest.ErrReader(boom))
	m, err := ParseMultipart(r, testContentType, MultipartOptions{TempDir: dir, MemoryThreshold: 100})
	if m != nil || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	var e *Error
	if errors.As(err, &e) {
		t.Errorf("read error reported as %v", e)
	}
	emptyDir(t, dir)
}

func TestMultipartTempDirError(t *testing.T) {
	b := body(part{name: "f", filename: "a", content: "x"})
	_, err := ParseMultipart(bytes.NewReader(b), testContentType, MultipartOptions{TempDir: filepath.Join(t.TempDir(), "missing"), MemoryThreshold: -1})
	var pe *os.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want an *os.PathError", err)
	}
}

// countingReader counts what ParseMultipart pulls from the body.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestMultipartBoundedRead: a hostile body is not read past the limits.
func TestMultipartBoundedRead(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		opts MultipartOptions
		most int64 // bytes that may be read
	}{
		{name: "endless header", body: append([]byte("--"+testBoundary+"\r\nX-Pad: "), bytes.Repeat([]byte("p"), 1<<22)...),
			most: DefaultMaxHeaderBytes + headerSlack + 100},
		{name: "endless body", body: body(part{name: "f", filename: "a", content: strings.Repeat("x", 1<<22)}),
			opts: MultipartOptions{MaxBytes: 1 << 20}, most: 1<<20 + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.TempDir = t.TempDir()
			c := &countingReader{r: bytes.NewReader(tt.body)}
			if _, err := ParseMultipart(c, testContentType, tt.opts); err == nil {
				t.Fatal("accepted")
			}
			if c.n > tt.most {
				t.Errorf("read %d bytes, want at most %d", c.n, tt.most)
			}
		})
	}
}
