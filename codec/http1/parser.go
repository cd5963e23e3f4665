package http1

import (
	"bytes"

	"github.com/sluice-go/sluice/internal/bytesconv"
)

// Byte classes in byteClass (tables.go).
const (
	clsToken  = 1 << 0 // tchar
	clsValue  = 1 << 1 // field-vchar, SP, HTAB, obs-text
	clsTarget = 1 << 2 // VCHAR except '#'
	clsHost   = 1 << 3 // reg-name bytes (no ',')
	clsHex    = 1 << 4 // HEXDIG
)

// maxEmptyLines bounds the empty lines skipped before a request-line (R4).
// One is what old clients send after a POST body; 8 is generous.
const maxEmptyLines = 8

// headerCap is the capacity Request.Headers starts with: a browser sends
// about 15 field lines, so 32 avoids growing in the common case.
const headerCap = 32

type phase uint8

const (
	phIdle    phase = iota // no request under way
	phLine                 // in the request-line (or the empty lines before it)
	phHeaders              // in the header section
	phBody                 // head complete, body incomplete (Parse only)
)

// Parser parses HTTP/1.1 requests from byte slices: RFC 9112 framing with
// the strict policy of RFC9112-RULES.md, no I/O, no copies.
//
// Parsing is incremental. When the input ends inside a request, Parse
// returns ErrNeedMore; call it again with the same bytes plus more (the
// bytes may have moved to a new buffer) and the same *Request. It resumes
// where it stopped, so a request trickled one byte at a time costs time
// linear in its length. After a complete request, or after an error, the
// next call starts a new request.
//
// The zero value uses the default Limits. A Parser is owned by one
// goroutine at a time (typically the connection's loop).
type Parser struct {
	lim   Limits         // resolved; MaxHeaders == 0 means not yet resolved
	chunk ChunkedDecoder // reset when a chunked body begins
	parseState
}

// parseState is the Parser's state for one request, zeroed in one store
// when a request begins.
type parseState struct {
	ph         phase
	pos        int       // start of the line being parsed; in phBody, the body start
	ls         lineState // where the parse of the current line stopped
	sectStart  int       // offset of the first field line
	base       *byte     // &buf[0] of the last call, to notice a moved buffer
	baseCap    int       // cap(buf) of the last call
	staticPath bool      // req.Path is slashPath, not a view into the input

	hostSeen  bool
	clSeen    bool
	teSeen    bool
	teChunked bool // "chunked" seen in Transfer-Encoding
	teLast    bool // the last coding so far is chunked
	teOther   bool // a coding other than chunked was seen
	connClose bool
	connKeep  bool
	expect    uint8 // 0 none, 1 100-continue, 2 something else

	withBody  bool
	chunkAt   int   // offset in buf where the chunk decoder resumes
	bodyLimit int64 // SetBodyLimit's limit for this request; 0: the Limits'
}

// slashPath is the Path of an absolute-form target with an empty path.
// Read-only.
var slashPath = []byte{'/'}

// NewParser returns a Parser enforcing l (zero fields mean defaults).
func NewParser(l Limits) *Parser {
	p := &Parser{}
	p.SetLimits(l)
	return p
}

// SetLimits replaces the parser's limits. Call it between requests.
func (p *Parser) SetLimits(l Limits) {
	p.lim = l.Resolved()
	p.chunk.lim = p.lim
}

// Limits returns the limits in force, defaults resolved.
func (p *Parser) Limits() Limits {
	if p.lim.MaxHeaders == 0 {
		p.SetLimits(Limits{})
	}
	return p.lim
}

// Reset abandons any request under way.
func (p *Parser) Reset() { p.ph = phIdle }

// Parse parses one request, body included, from the start of buf. It
// returns the number of bytes the request used (leading empty lines, head
// and body), ErrNeedMore, or an *Error. Content-Length bodies are views of
// buf; chunked bodies are de-chunked into req.BodyBuf and their trailers
// stored in req.Trailers.
//
// Borrowed: req's views point into buf; see Request.
func (p *Parser) Parse(buf []byte, req *Request) (int, error) {
	return p.parse(buf, req, true)
}

// ParseHeader is Parse without the body: it returns once the head is
// complete, with n the head's length, so the caller can stream the body
// itself (req.ContentLength bytes, or a chunked body through a
// ChunkedDecoder). The body-size limit is still applied to Content-Length.
func (p *Parser) ParseHeader(buf []byte, req *Request) (int, error) {
	return p.parse(buf, req, false)
}

func (p *Parser) parse(buf []byte, req *Request, withBody bool) (int, error) {
	if p.lim.MaxHeaders == 0 {
		p.SetLimits(Limits{})
	}
	if p.ph == phIdle {
		p.start(req, withBody)
	} else if p.ph >= phHeaders && len(buf) > 0 && &buf[0] != p.base {
		p.rebase(buf, req)
	}
	if len(buf) > 0 {
		p.base, p.baseCap = &buf[0], cap(buf)
	}
	var err error
	if p.ph == phLine {
		if err = p.requestLine(buf, req); err != nil {
			return p.fail(err)
		}
	}
	if p.ph == phHeaders {
		if err = p.headers(buf, req); err != nil {
			return p.fail(err)
		}
	}
	if p.ph == phBody {
		if err = p.body(buf, req); err != nil {
			return p.fail(err)
		}
	}
	n := p.pos
	p.ph = phIdle
	return n, nil
}

func (p *Parser) fail(err error) (int, error) {
	if err != ErrNeedMore {
		p.ph = phIdle
	}
	return 0, err
}

func (p *Parser) start(req *Request, withBody bool) {
	req.Reset()
	if cap(req.Headers) == 0 {
		req.Headers = make([]Header, 0, headerCap)
	}
	p.parseState = parseState{ph: phLine, withBody: withBody}
}

// rebase moves req's views from the previous buffer to buf, which holds
// the same bytes at the same offsets.
func (p *Parser) rebase(buf []byte, req *Request) {
	path := req.Path
	req.moveViews(p.baseCap, buf)
	if p.staticPath {
		req.Path = path
	}
}

// InBody reports whether the request under way has a complete head and
// is waiting for its body: req's head fields are valid then, so a server
// can answer "Expect: 100-continue" (R56) or switch to a body timeout.
func (p *Parser) InBody() bool { return p.ph == phBody }

// Pending reports whether a request is under way: some of its bytes were
// seen and it is not complete.
func (p *Parser) Pending() bool { return p.ph != phIdle }

// SetBodyLimit replaces the body-size limit (Limits.MaxBodyBytes) for the
// request under way. Call it while InBody is true, when the head has
// shown how the request will be handled: a server that streams large
// bodies configures a large limit and lowers it for the requests it
// buffers. A Content-Length above n then fails the next Parse with 413; a
// chunked body fails as soon as it would pass n.
func (p *Parser) SetBodyLimit(n int64) {
	if p.ph != phBody {
		return
	}
	p.bodyLimit = n
	p.chunk.lim.MaxBodyBytes = n
}

// BodyNeeded returns how many bytes, counted from the start of the
// request, must be buffered before Parse can complete a Content-Length
// body, or 0 when that is not known yet. A caller can wait for that much
// input instead of calling Parse on every read of a large body.
func (p *Parser) BodyNeeded(req *Request) int {
	if p.ph != phBody || req.Chunked {
		return 0
	}
	return p.pos + int(req.ContentLength)
}

// lineState records where the parse of an unfinished line stopped, so the
// next call resumes at the first byte it has not examined: every byte is
// looked at once however the input is split.
type lineState struct {
	st uint8 // the part of the line the parse is in (rl* or fl*)
	i  int   // next byte to examine
	a  int   // request-line: method start; field line: name end
	b  int   // request-line: target start; field line: value start
	q  int   // request-line: first '?' in the target, or -1
	v  int   // request-line: version start
}

// Parts of a request-line.
const (
	rlEmpty   = iota // empty lines before it (R4)
	rlMethod         // in the method
	rlTarget         // in the request-target
	rlVersion        // in the HTTP-version
	rlCR             // at the CR that ends it
)

// requestLine parses the empty lines and the request-line at the start of
// buf (R4, R8-R17). Verdicts follow byte order: the first offending byte
// decides, and running past MaxRequestLine offends at that offset, so the
// result does not depend on how the input was split (R1).
func (p *Parser) requestLine(buf []byte, req *Request) error {
	max := p.lim.MaxRequestLine
	w := buf[:min(len(buf), max)]
	ls := &p.ls
	i, ms, ts, q, vs := ls.i, ls.a, ls.b, ls.q, ls.v
	switch ls.st {
	case rlMethod:
		goto method
	case rlTarget:
		goto target
	case rlVersion:
		goto version
	case rlCR:
		goto cr
	}

	for { // R4: skip empty lines
		if i >= len(w) {
			ls.st, ls.i = rlEmpty, i
			return p.lineShort(buf, i, max, "too many empty lines before the request-line", 400)
		}
		if w[i] == '\n' {
			return badRequest("R2", "bare LF", buf, i)
		}
		if w[i] != '\r' {
			break
		}
		if i+1 >= len(buf) {
			ls.st, ls.i = rlEmpty, i
			return ErrNeedMore
		}
		if buf[i+1] != '\n' {
			return badRequest("R3", "bare CR", buf, i)
		}
		if i/2 == maxEmptyLines {
			return badRequest("R4", "too many empty lines before the request-line", buf, i)
		}
		i += 2
	}
	ms = i

method: // R9: a token ended by exactly one SP
	for i < len(w) && byteClass[w[i]]&clsToken != 0 {
		i++
	}
	if i >= len(w) {
		ls.st, ls.i, ls.a = rlMethod, i, ms
		return p.lineShort(buf, i, max, "method too long", 501)
	}
	if i == ms {
		return badRequest("R8", "request-line must start with a method", buf, i)
	}
	if w[i] != ' ' {
		return badRequest("R9", "invalid byte in method", buf, i)
	}
	i++
	ts, q = i, -1

target: // R11, R12: no whitespace, no fragment
	for i = targetStop(w, i); i < len(w) && w[i] == '?'; i = targetStop(w, i+1) {
		if q < 0 {
			q = i
		}
	}
	if i >= len(w) {
		ls.st, ls.i, ls.a, ls.b, ls.q = rlTarget, i, ms, ts, q
		return p.lineShort(buf, i, max, "request-target too long", 414)
	}
	switch c := w[i]; {
	case c == ' ' && i == ts:
		return badRequest("R8", "more than one space after the method", buf, i)
	case c == '#':
		return badRequest("R12", "fragment in request-target", buf, i)
	case c == '\r' || c == '\n':
		return badRequest("R16", "request-line has no HTTP-version", buf, i)
	case c != ' ':
		return badRequest("R11", "invalid byte in request-target", buf, i)
	}
	i++
	vs = i

version: // R16: exactly "HTTP/" DIGIT "." DIGIT, then CRLF
	for ; i < vs+len(protoPattern); i++ {
		if i >= len(w) {
			ls.st, ls.i, ls.a, ls.b, ls.q, ls.v = rlVersion, i, ms, ts, q, vs
			return p.lineShort(buf, i, max, "request-target too long", 414)
		}
		want, c := protoPattern[i-vs], w[i]
		if want == '0' && (c < '0' || c > '9') || want != '0' && c != want {
			return badRequest("R16", "malformed HTTP-version", buf, i)
		}
		if i == vs+6 && w[vs+5] != '1' {
			// R17, decided once "HTTP/" DIGIT "." is in, so an HTTP/2
			// preface is refused before its request-line ends.
			return newError(505, "R17", "HTTP version not supported", buf, vs+5)
		}
	}
	if i >= len(w) {
		ls.st, ls.i, ls.a, ls.b, ls.q, ls.v = rlVersion, i, ms, ts, q, vs
		return p.lineShort(buf, i, max, "request-target too long", 414)
	}
	switch w[i] {
	case '\r':
	case ' ', '\t':
		return badRequest("R8", "whitespace after the HTTP-version", buf, i)
	case '\n':
		return badRequest("R2", "bare LF", buf, i)
	default:
		return badRequest("R16", "malformed HTTP-version", buf, i)
	}

cr:
	if i+1 >= len(buf) {
		ls.st, ls.i, ls.a, ls.b, ls.q, ls.v = rlCR, i, ms, ts, q, vs
		return ErrNeedMore
	}
	if buf[i+1] != '\n' {
		return badRequest("R3", "bare CR", buf, i)
	}
	if i+1 >= max {
		return newError(414, "R15", "request-target too long", buf, max)
	}

	// The line is complete and within the limit: semantic checks.
	req.ProtoMinor = 0
	if buf[vs+7] != '0' {
		req.ProtoMinor = 1 // R17: HTTP/1.2 and later minors are served as 1.1
	}
	req.Method = buf[ms : ts-1]
	req.Target = buf[ts : vs-1]
	req.Proto = buf[vs : vs+len(protoPattern)]
	if err := p.target(buf, req, ts, vs-1, q); err != nil {
		return err
	}
	p.pos = i + 2
	p.sectStart = p.pos
	p.ls = lineState{}
	p.ph = phHeaders
	return nil
}

// protoPattern is the shape of an HTTP-version; '0' stands for any DIGIT.
const protoPattern = "HTTP/0.0"

// lineShort is the verdict when the request-line scan ran out of input at
// i: past the limit it is the limit's error, otherwise wait for more.
func (p *Parser) lineShort(buf []byte, i, max int, reason string, status int) error {
	if i < max {
		return ErrNeedMore
	}
	rule := "R15"
	switch status {
	case 501:
		rule = "R10"
	case 400:
		rule = "R4"
	}
	return newError(status, rule, reason, buf, max)
}

// target classifies the request-target buf[ts:te] (q is its first '?', or
// -1) and checks its form against the method (R12-R14, R64).
func (p *Parser) target(buf []byte, req *Request, ts, te, q int) error {
	method := bytesconv.B2S(req.Method)
	pathEnd := te
	if q >= 0 {
		pathEnd = q
		req.Query = buf[q+1 : te]
	}
	switch {
	case buf[ts] == '/':
		if method == "CONNECT" {
			return badRequest("R14", "CONNECT needs an authority-form target", buf, ts)
		}
		req.Form = OriginForm
		req.Path = buf[ts:pathEnd]
		return nil
	case te-ts == 1 && buf[ts] == '*':
		if method != "OPTIONS" {
			return badRequest("R14", "asterisk-form is only for OPTIONS", buf, ts)
		}
		req.Form = AsteriskForm
		req.Path = buf[ts:te]
		return nil
	case method == "CONNECT":
		if q >= 0 || bytes.IndexByte(buf[ts:te], '/') >= 0 {
			return badRequest("R14", "CONNECT needs an authority-form target", buf, ts)
		}
		if !validAuthority(buf[ts:te], true) {
			return badRequest("R12", "invalid authority-form target", buf, ts)
		}
		req.Form = AuthorityForm
		req.Host = buf[ts:te]
		return nil
	}
	// absolute-form (R13): http(s)://authority[/path][?query]
	sep := bytes.Index(buf[ts:te], []byte("://"))
	if sep < 0 {
		if bytes.IndexByte(buf[ts:te], ':') > 0 {
			return badRequest("R14", "authority-form is only for CONNECT", buf, ts)
		}
		return badRequest("R12", "invalid request-target", buf, ts)
	}
	scheme := buf[ts : ts+sep]
	if !equalFold(scheme, "http") && !equalFold(scheme, "https") {
		return badRequest("R12", "absolute-form scheme must be http or https", buf, ts)
	}
	as := ts + sep + 3
	ae := as
	for ae < pathEnd && buf[ae] != '/' {
		ae++
	}
	auth := buf[as:ae]
	if bytes.IndexByte(auth, '@') >= 0 {
		return badRequest("R64", "userinfo in request-target", buf, as)
	}
	if len(auth) == 0 || !validAuthority(auth, false) {
		return badRequest("R12", "invalid authority in request-target", buf, as)
	}
	req.Form = AbsoluteForm
	req.Host = auth
	if ae == pathEnd {
		req.Path = slashPath
		p.staticPath = true
	} else {
		req.Path = buf[ae:pathEnd]
	}
	return nil
}

// headers parses the header section, then applies the whole-head checks.
func (p *Parser) headers(buf []byte, req *Request) error {
	limitEnd := p.sectStart + p.lim.MaxHeaderBytes
	if err := fieldLines(buf, p.sectStart, limitEnd, p.lim.MaxHeaders, &p.pos, &p.ls, &req.Headers, p, req); err != nil {
		return err
	}
	req.HeadLen = p.pos
	if err := p.endOfHead(buf, req); err != nil {
		return err
	}
	if p.withBody && req.HasBody() {
		p.ph = phBody
		p.chunkAt = p.pos
		p.chunk.Reset()
		p.chunk.lim = p.lim
		p.chunk.Trailers = req.Trailers[:0]
	} else {
		p.ph = phIdle
	}
	return nil
}

// special applies the rules for the fields that decide framing and
// routing, as each arrives (R26-R43, R56-R58).
func (p *Parser) special(buf []byte, req *Request, name, value []byte) error {
	off := p.pos + len(name) + 1
	switch len(name) {
	case 4:
		if !equalName(name, "host") {
			return nil
		}
		if p.hostSeen {
			return badRequest("R28", "more than one Host field", buf, p.pos)
		}
		p.hostSeen = true
		if len(value) > 0 && !validAuthority(value, false) {
			return badRequest("R29", "invalid Host", buf, off)
		}
		if req.Form == OriginForm || req.Form == AsteriskForm {
			req.Host = value
		}
	case 6:
		if equalName(name, "expect") && req.ProtoMinor == 1 { // R57: ignored in HTTP/1.0
			if equalFold(value, "100-continue") && p.expect == 0 {
				p.expect = 1
			} else {
				p.expect = 2
			}
		}
	case 7:
		if equalName(name, "upgrade") {
			req.Upgrade = true
		}
	case 10:
		if equalName(name, "connection") {
			p.connection(value)
		}
	case 14:
		if !equalName(name, "content-length") {
			return nil
		}
		if p.clSeen {
			return badRequest("R33", "more than one Content-Length", buf, p.pos)
		}
		if p.teSeen {
			return badRequest("R36", "both Transfer-Encoding and Content-Length", buf, p.pos)
		}
		p.clSeen = true
		n, err := parseContentLength(value, buf, off)
		if err != nil {
			return err
		}
		req.ContentLength = n
	case 17:
		if !equalName(name, "transfer-encoding") {
			return nil
		}
		if req.ProtoMinor == 0 {
			return badRequest("R40", "Transfer-Encoding in an HTTP/1.0 request", buf, p.pos)
		}
		if p.clSeen {
			return badRequest("R36", "both Transfer-Encoding and Content-Length", buf, p.pos)
		}
		if p.teSeen {
			// One Transfer-Encoding line only, as net/http and nginx
			// require: the field that decides framing is not assembled
			// from pieces (R39).
			return badRequest("R39", "more than one Transfer-Encoding field", buf, p.pos)
		}
		p.teSeen = true
		return p.transferEncoding(buf, value, off)
	}
	return nil
}

// parseContentLength parses 1*DIGIT without overflow (R32, R34).
func parseContentLength(v []byte, buf []byte, off int) (int64, error) {
	if len(v) == 0 {
		return 0, badRequest("R32", "empty Content-Length", buf, off)
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, badRequest("R32", "Content-Length is not a decimal number", buf, off)
		}
		if n > (1<<63-1-int64(c-'0'))/10 {
			return 0, badRequest("R34", "Content-Length overflows 63 bits", buf, off)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// transferEncoding folds one Transfer-Encoding line into the coding list
// seen so far (R37-R39, R41, R43).
func (p *Parser) transferEncoding(buf, v []byte, off int) error {
	for len(v) > 0 {
		el := v
		if k := bytes.IndexByte(v, ','); k >= 0 {
			el, v = v[:k], v[k+1:]
		} else {
			v = nil
		}
		el = trimOWS(el)
		if len(el) == 0 {
			continue // R43: empty list elements are ignored
		}
		nameEnd := 0
		for nameEnd < len(el) && byteClass[el[nameEnd]]&clsToken != 0 {
			nameEnd++
		}
		if nameEnd == 0 {
			return badRequest("R38", "invalid transfer-coding", buf, off)
		}
		params := trimOWS(el[nameEnd:])
		if len(params) > 0 && (params[0] != ';' || !validParams(params)) {
			return badRequest("R38", "invalid transfer-coding", buf, off)
		}
		if p.teChunked {
			if equalFold(el[:nameEnd], "chunked") {
				return badRequest("R39", "chunked applied more than once", buf, off)
			}
			return badRequest("R37", "chunked is not the final transfer-coding", buf, off)
		}
		if equalFold(el[:nameEnd], "chunked") {
			if len(params) > 0 {
				return badRequest("R41", "parameters on chunked", buf, off)
			}
			p.teChunked, p.teLast = true, true
		} else {
			p.teOther = true
		}
	}
	return nil
}

// validParams checks *( OWS ";" OWS token "=" ( token / quoted-string ) ).
func validParams(s []byte) bool {
	for len(s) > 0 {
		s = trimOWS(s)
		if len(s) == 0 {
			return true
		}
		if s[0] != ';' {
			return false
		}
		s = trimOWS(s[1:])
		i := 0
		for i < len(s) && byteClass[s[i]]&clsToken != 0 {
			i++
		}
		if i == 0 || i >= len(s) || s[i] != '=' {
			return false
		}
		s = s[i+1:]
		if len(s) > 0 && s[0] == '"' {
			n := quotedLen(s)
			if n < 0 {
				return false
			}
			s = s[n:]
		} else {
			i = 0
			for i < len(s) && byteClass[s[i]]&clsToken != 0 {
				i++
			}
			if i == 0 {
				return false
			}
			s = s[i:]
		}
	}
	return true
}

// quotedLen returns the length of the quoted-string at the start of s, or
// -1 if it is malformed or unterminated.
func quotedLen(s []byte) int {
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
			if i >= len(s) || !qpairByte(s[i]) {
				return -1
			}
		case !qdtextByte(c):
			return -1
		}
	}
	return -1
}

// qdtextByte: HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text.
func qdtextByte(c byte) bool {
	return c == '\t' || c == ' ' || c == 0x21 || c >= 0x23 && c <= 0x5b || c >= 0x5d && c != 0x7f
}

// qpairByte: the byte after a backslash: HTAB / SP / VCHAR / obs-text.
func qpairByte(c byte) bool { return c == '\t' || c >= 0x20 && c != 0x7f }

func trimOWS(s []byte) []byte {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// connection reads the Connection list (R26): the options are
// case-insensitive tokens and any element may be close or keep-alive.
func (p *Parser) connection(v []byte) {
	for len(v) > 0 {
		el := v
		if k := bytes.IndexByte(v, ','); k >= 0 {
			el, v = v[:k], v[k+1:]
		} else {
			v = nil
		}
		el = trimOWS(el)
		switch {
		case equalFold(el, "close"):
			p.connClose = true
		case equalFold(el, "keep-alive"):
			p.connKeep = true
		}
	}
}

// endOfHead applies the checks that need the whole header section (R7).
func (p *Parser) endOfHead(buf []byte, req *Request) error {
	off := req.HeadLen
	if req.ProtoMinor == 1 && !p.hostSeen {
		return badRequest("R27", "missing Host", buf, off)
	}
	if p.teSeen {
		if !p.teLast {
			return badRequest("R37", "chunked is not the final transfer-coding", buf, off)
		}
		if p.teOther {
			return newError(501, "R38", "transfer-coding not implemented", buf, off)
		}
		req.Chunked = true
	}
	if req.ContentLength > p.lim.MaxBodyBytes {
		return newError(413, "R42", "Content-Length exceeds the body limit", buf, off)
	}
	if p.expect == 2 {
		return newError(417, "R58", "unsupported expectation", buf, off)
	}
	req.Expect100 = p.expect == 1 && req.HasBody()
	if req.ProtoMinor == 1 {
		req.KeepAlive = !p.connClose
	} else {
		req.KeepAlive = p.connKeep && !p.connClose
	}
	return nil
}

// body completes the body once its bytes are in buf (R35, R44-R50).
func (p *Parser) body(buf []byte, req *Request) error {
	if p.bodyLimit > 0 && req.ContentLength > p.bodyLimit {
		return newError(413, "R42", "Content-Length exceeds the body limit", buf, p.pos)
	}
	if !req.Chunked {
		end := p.pos + int(req.ContentLength)
		if len(buf) < end {
			return ErrNeedMore
		}
		req.Body = buf[p.pos:end]
		p.pos = end
		return nil
	}
	out, n, err := p.chunk.Decode(req.BodyBuf, buf[p.chunkAt:])
	req.BodyBuf = out
	req.Trailers = p.chunk.Trailers
	p.chunkAt += n
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Offset += p.pos
		}
		return err
	}
	req.Body = req.BodyBuf
	p.pos = p.chunkAt
	return nil
}

// validAuthority checks uri-host [ ":" port ] (R29): an IP-literal in
// brackets or a reg-name/IPv4 of unreserved, sub-delims (no comma) and
// pct-encoded bytes; the port is digits. needPort requires ":port"
// (authority-form). The empty string is not valid here.
func validAuthority(a []byte, needPort bool) bool {
	i := 0
	if len(a) > 0 && a[0] == '[' {
		i = 1
		for i < len(a) && a[i] != ']' {
			c := a[i]
			if byteClass[c]&clsHex == 0 && c != ':' && c != '.' {
				return false
			}
			i++
		}
		if i == 1 || i >= len(a) {
			return false
		}
		i++
	} else {
		for i < len(a) && a[i] != ':' {
			c := a[i]
			if byteClass[c]&clsHost == 0 {
				return false
			}
			if c == '%' && (i+2 >= len(a) || byteClass[a[i+1]]&clsHex == 0 || byteClass[a[i+2]]&clsHex == 0) {
				return false
			}
			i++
		}
		if i == 0 {
			return false
		}
	}
	if i == len(a) {
		return !needPort
	}
	if a[i] != ':' {
		return false
	}
	i++
	if needPort && i == len(a) {
		return false
	}
	for ; i < len(a); i++ {
		if a[i] < '0' || a[i] > '9' {
			return false
		}
	}
	return true
}
