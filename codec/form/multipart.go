package form

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"mime"
	"mime/multipart"
	"net/textproto"
	"os"
	"sync/atomic"
)

// Defaults of MultipartOptions.
const (
	// DefaultMultipartMaxBytes bounds a multipart body: 32 MiB is
	// net/http's default ParseMultipartForm memory, room for a few photos.
	DefaultMultipartMaxBytes = 32 << 20
	// DefaultMaxParts is mime/multipart's own ReadForm limit: a form with
	// a thousand inputs is already unusual, and each part costs a header
	// map and a lookup.
	DefaultMaxParts = 1000
	// DefaultMaxHeaderBytes bounds one part's header section: browsers
	// send about 150 bytes (Content-Disposition and Content-Type); 8 KiB
	// is nginx's header buffer. mime/multipart alone would allow 10 MiB.
	DefaultMaxHeaderBytes = 8 << 10
	// DefaultMaxValueBytes bounds one non-file field, kept in memory as a
	// string: 1 MiB is a long novel of textarea.
	DefaultMaxValueBytes = 1 << 20
	// DefaultMemoryThreshold is the largest file kept in memory: most
	// uploads (avatars, documents) fit, larger ones go to disk, and the
	// memory of a request stays below MaxBytes whatever the files.
	DefaultMemoryThreshold = 1 << 20
)

// headerSlack is how many bytes beyond MaxHeaderBytes the reader may pull
// while reading a part's header: the boundary line (at most the 4 KiB
// buffer of mime/multipart, which refuses longer lines) plus one buffer of
// read-ahead. It bounds memory; the verdict on the header itself is exact.
const headerSlack = 3 * 4096

// MultipartOptions bounds ParseMultipart and says where large files go.
// The zero value applies the defaults. Safe for concurrent use.
type MultipartOptions struct {
	// MaxBytes is the most bytes read from the body, in bytes. Zero means
	// DefaultMultipartMaxBytes (32 MiB); negative means no limit.
	MaxBytes int64
	// MaxParts is the most parts accepted, named or not. Zero means
	// DefaultMaxParts (1000); negative means no limit.
	MaxParts int
	// MaxHeaderBytes is the longest header section of one part, counted
	// as name + ": " + value + CRLF per field. Zero means
	// DefaultMaxHeaderBytes (8 KiB); negative means mime/multipart's own
	// limit (10 MiB). A preamble before the first part (browsers send
	// none) is read within the first part's header budget, this limit
	// plus 12 KiB.
	MaxHeaderBytes int
	// MaxValueBytes is the longest non-file field. Zero means
	// DefaultMaxValueBytes (1 MiB); negative means no limit but MaxBytes.
	MaxValueBytes int64
	// MaxFileBytes is the longest file. Zero or negative means no limit
	// but MaxBytes.
	MaxFileBytes int64
	// MemoryThreshold is the largest file kept in memory, in bytes; a
	// file of exactly this size stays in memory, a larger one goes to a
	// temporary file. Zero means DefaultMemoryThreshold (1 MiB); negative
	// means every file goes to disk.
	MemoryThreshold int64
	// TempDir is the directory of the temporary files. Empty means
	// os.TempDir().
	TempDir string
}

// Multipart is a parsed multipart/form-data body: the field values and
// files, in the order sent. The caller owns it and must call Close when
// the request is done. Safe for concurrent use, except that Close must
// not run concurrently with Open.
type Multipart struct {
	values []namedValue
	files  []namedFile
	closed atomic.Bool
}

type namedValue struct{ name, value string }

type namedFile struct {
	name string
	fh   *FileHeader
}

// FileHeader describes one uploaded file. Safe for concurrent use.
type FileHeader struct {
	// Filename is the filename parameter of the part's
	// Content-Disposition without any directory (filepath.Base); it is
	// what the client claims, not a safe path.
	Filename string
	// Header is the part's MIME header.
	Header textproto.MIMEHeader
	// Size is the length of the content, in bytes.
	Size int64

	content []byte     // the content when in memory
	path    string     // the temporary file when on disk
	owner   *Multipart // for the closed check
}

// File is the content of an uploaded file, as mime/multipart returns it:
// a reader with ReadAt and Seek. One goroutine at a time may use it.
type File = multipart.File

// errClosed is returned by Open after the Multipart is closed.
var errClosed = errors.New("form: multipart form closed")

// Open returns a reader of the file's content; the caller closes it.
// After the Multipart is closed, Open fails. Safe for concurrent use.
func (fh *FileHeader) Open() (File, error) {
	if fh.owner != nil && fh.owner.closed.Load() {
		return nil, errClosed
	}
	if fh.path == "" {
		return sectionReadCloser{io.NewSectionReader(bytes.NewReader(fh.content), 0, int64(len(fh.content)))}, nil
	}
	return os.Open(fh.path)
}

// InMemory reports whether the content is held in memory rather than in a
// temporary file.
func (fh *FileHeader) InMemory() bool { return fh.path == "" }

type sectionReadCloser struct{ *io.SectionReader }

func (sectionReadCloser) Close() error { return nil }

// Value returns the first value of the field name, or "".
func (m *Multipart) Value(name string) string {
	for _, v := range m.values {
		if v.name == name {
			return v.value
		}
	}
	return ""
}

// Values returns every value of the field name, in order, or nil.
func (m *Multipart) Values(name string) []string {
	var vs []string
	for _, v := range m.values {
		if v.name == name {
			vs = append(vs, v.value)
		}
	}
	return vs
}

// File returns the first file of the field name, or nil.
func (m *Multipart) File(name string) *FileHeader {
	for _, f := range m.files {
		if f.name == name {
			return f.fh
		}
	}
	return nil
}

// Files returns every file of the field name, in order, or nil.
func (m *Multipart) Files(name string) []*FileHeader {
	var fs []*FileHeader
	for _, f := range m.files {
		if f.name == name {
			fs = append(fs, f.fh)
		}
	}
	return fs
}

// AllValues iterates over the non-file fields in order.
func (m *Multipart) AllValues() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, v := range m.values {
			if !yield(v.name, v.value) {
				return
			}
		}
	}
}

// AllFiles iterates over the files in order.
func (m *Multipart) AllFiles() iter.Seq2[string, *FileHeader] {
	return func(yield func(string, *FileHeader) bool) {
		for _, f := range m.files {
			if !yield(f.name, f.fh) {
				return
			}
		}
	}
}

// Close removes the temporary files. It is idempotent; after it, Open
// fails. Readers opened before stay readable on Unix until closed.
func (m *Multipart) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, f := range m.files {
		if f.fh.path != "" {
			if err := os.Remove(f.fh.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// source counts the bytes read from the body and stops at a limit: the
// total, or while a part header is read, that header's budget.
type source struct {
	r     io.Reader
	n     int64 // bytes read so far
	max   int64 // the total limit, or -1
	stop  int64 // the header budget's end, or -1
	hit   error // the limit that stopped a read: ErrTooLarge or ErrHeaderTooLarge
	rdErr error // the first error of r other than io.EOF
}

func (s *source) Read(p []byte) (int, error) {
	// Allow one byte past each limit, so that reaching the limit exactly
	// is not mistaken for passing it.
	limit, kind := int64(-1), error(nil)
	if s.max >= 0 {
		limit, kind = s.max+1, ErrTooLarge
	}
	if s.stop >= 0 && (limit < 0 || s.stop < limit) {
		limit, kind = s.stop, ErrHeaderTooLarge
	}
	if limit >= 0 {
		if s.n >= limit {
			s.hit = kind
			return 0, kind
		}
		if int64(len(p)) > limit-s.n {
			p = p[:limit-s.n]
		}
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if err != nil && err != io.EOF && s.rdErr == nil {
		s.rdErr = err
	}
	if s.max >= 0 && s.n > s.max {
		s.hit = ErrTooLarge
		return n, ErrTooLarge
	}
	return n, err
}

// ParseMultipart reads a multipart/form-data body from r. contentType is
// the request's Content-Type header, which must be multipart/form-data
// with a valid boundary parameter.
//
// It returns the parsed form, or nil and an error: an *Error (413 for a
// limit, 400 for a malformed body or boundary, 415 for another content
// type), or the reader's own error, wrapped, when reading r failed. On
// error, every temporary file already written is removed.
//
// Parts without a form-data name are read and skipped, as net/http does;
// they count against MaxParts. Parts with a filename are files, the others
// values. A Content-Transfer-Encoding of quoted-printable is decoded, as
// mime/multipart's NextPart does. Safe for concurrent use.
func ParseMultipart(r io.Reader, contentType string, opts MultipartOptions) (*Multipart, error) {
	boundary, err := boundaryOf(contentType)
	if err != nil {
		return nil, err
	}
	o := opts.resolve()
	src := &source{r: r, max: o.MaxBytes, stop: -1}
	p := &parser{src: src, mr: multipart.NewReader(src, boundary), o: o, m: &Multipart{}}
	if err := p.run(); err != nil {
		p.m.Close()
		return nil, err
	}
	return p.m, nil
}

func (o MultipartOptions) resolve() MultipartOptions {
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMultipartMaxBytes
	}
	if o.MaxParts == 0 {
		o.MaxParts = DefaultMaxParts
	}
	if o.MaxHeaderBytes == 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.MaxValueBytes == 0 {
		o.MaxValueBytes = DefaultMaxValueBytes
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = -1
	}
	if o.MemoryThreshold == 0 {
		o.MemoryThreshold = DefaultMemoryThreshold
	}
	return o
}

// boundaryOf extracts and checks the boundary of a multipart/form-data
// Content-Type.
func boundaryOf(contentType string) (string, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		if mediaType == "multipart/form-data" {
			return "", &Error{Status: 400, Err: ErrBoundary, Offset: -1, Cause: err}
		}
		return "", &Error{Status: 415, Err: ErrContentType, Offset: -1, Cause: err}
	}
	if mediaType != "multipart/form-data" {
		return "", &Error{Status: 415, Err: ErrContentType, Offset: -1, Excerpt: truncate(mediaType)}
	}
	b := params["boundary"]
	if !validBoundary(b) {
		return "", &Error{Status: 400, Err: ErrBoundary, Offset: -1, Excerpt: truncate(b)}
	}
	return b, nil
}

func truncate(s string) string { return s[:min(len(s), maxExcerpt)] }

// validBoundary applies RFC 2046 §5.1.1: 1 to 70 characters from bchars,
// not ending in a space.
func validBoundary(b string) bool {
	if len(b) < 1 || len(b) > 70 || b[len(b)-1] == ' ' {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case bytes.IndexByte([]byte("'()+_,-./:=? "), c) >= 0:
		default:
			return false
		}
	}
	return true
}

// parser is the state of one ParseMultipart.
type parser struct {
	src   *source
	mr    *multipart.Reader
	o     MultipartOptions
	m     *Multipart
	parts int
	mem   bytes.Buffer // reused for each value
}

func (p *parser) run() error {
	for {
		if p.o.MaxHeaderBytes >= 0 {
			p.src.stop = p.src.n + int64(p.o.MaxHeaderBytes) + headerSlack
		}
		part, err := p.mr.NextPart()
		p.src.stop = -1
		if err == io.EOF {
			if p.src.hit != nil { // the limit was passed in read-ahead
				return p.limit(p.src.hit)
			}
			return nil
		}
		if err != nil {
			return p.fail(err)
		}
		p.parts++
		if p.o.MaxParts >= 0 && p.parts > p.o.MaxParts {
			return p.limit(ErrTooManyFields)
		}
		if p.o.MaxHeaderBytes >= 0 && headerSize(part.Header) > p.o.MaxHeaderBytes {
			return p.limit(ErrHeaderTooLarge)
		}
		name := part.FormName()
		switch {
		case name == "":
			_, err = io.Copy(io.Discard, part)
		case part.FileName() == "":
			err = p.value(name, part)
		default:
			err = p.file(name, part)
		}
		if err != nil {
			return p.fail(err)
		}
	}
}

// headerSize counts a header as it would be sent.
func headerSize(h textproto.MIMEHeader) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// value reads a field into the reused buffer and keeps a string copy.
func (p *parser) value(name string, part *multipart.Part) error {
	p.mem.Reset()
	var r io.Reader = part
	if p.o.MaxValueBytes >= 0 {
		r = io.LimitReader(part, p.o.MaxValueBytes+1)
	}
	n, err := p.mem.ReadFrom(r)
	if err != nil {
		return err
	}
	if p.o.MaxValueBytes >= 0 && n > p.o.MaxValueBytes {
		return p.limit(ErrValueTooLarge)
	}
	p.m.values = append(p.m.values, namedValue{name: name, value: p.mem.String()})
	return nil
}

func (p *parser) file(name string, part *multipart.Part) error {
	fh := &FileHeader{Filename: part.FileName(), Header: part.Header, owner: p.m}
	// A buffer of its own, kept as the content if the file stays in
	// memory: no copy.
	var buf bytes.Buffer
	threshold := max(p.o.MemoryThreshold, 0)
	n, err := buf.ReadFrom(io.LimitReader(part, threshold+1))
	if err != nil {
		return err
	}
	if p.o.MaxFileBytes >= 0 && n > p.o.MaxFileBytes {
		return p.limit(ErrFileTooLarge) // a threshold above the file limit
	}
	if n <= threshold && p.o.MemoryThreshold >= 0 {
		fh.content = buf.Bytes()
		if fh.content == nil {
			fh.content = []byte{}
		}
		fh.Size = n
		p.m.files = append(p.m.files, namedFile{name: name, fh: fh})
		return nil
	}
	// Spill: what was read so far, then the rest, into a temporary file.
	f, err := os.CreateTemp(p.o.TempDir, "sluice-multipart-")
	if err != nil {
		return err
	}
	fh.path = f.Name()
	p.m.files = append(p.m.files, namedFile{name: name, fh: fh}) // so Close removes it
	var rest io.Reader = part
	if p.o.MaxFileBytes >= 0 {
		rest = io.LimitReader(part, p.o.MaxFileBytes-n+1)
	}
	_, err = buf.WriteTo(f)
	if err == nil {
		var m int64
		m, err = io.Copy(f, rest)
		n += m
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fh.Size = n
	if p.o.MaxFileBytes >= 0 && n > p.o.MaxFileBytes {
		return p.limit(ErrFileTooLarge)
	}
	return nil
}

// limit builds the Error for a limit passed at the current position.
func (p *parser) limit(kind error) error {
	return &Error{Status: statusOf(kind), Err: kind, Offset: p.src.n}
}

// fail classifies an error met while reading: a limit of the source, a
// failure of the reader itself, a file system error, or a malformed body.
func (p *parser) fail(err error) error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case p.src.hit != nil:
		return p.limit(p.src.hit)
	case p.src.rdErr != nil:
		return fmt.Errorf("form: reading the multipart body: %w", p.src.rdErr)
	case errors.Is(err, multipart.ErrMessageTooLarge):
		return p.limit(ErrHeaderTooLarge)
	}
	var pathErr *os.PathError
	if errors.As(err, &pathErr) {
		return err // the temporary directory: the server's problem, not the client's
	}
	return &Error{Status: 400, Err: ErrMalformed, Offset: p.src.n, Cause: err}
}
