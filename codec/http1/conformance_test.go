package http1

// Conformance against llhttp's request fixtures (shared/conformance, see its
// README): every fixture of llhttp/request/*.md is decoded, its log turned
// into expected requests, and our parser is run over the input whole, one
// byte at a time and split in two at every offset.
//
// Where our strict server-side expectation differs from llhttp's log, the
// fixture is named in cfOverrides with the reason (README §2 and §2.1).
// HTTP/1.1 requests without Host are handled for every fixture alike
// (README §2.1): the raw input must get 400 R27, and the input with
// "Host: example.com" added after each request-line must give the
// expected result.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// cfCorpus is the llhttp request corpus, relative to this package.
var cfCorpus = filepath.Join("..", "..", "..", "shared", "conformance", "llhttp", "request")

// cfFixtureCount is the number of request fixtures README §1 reports.
const cfFixtureCount = 166

// cfOffsetSlack is how far past llhttp's error offset ours may be. llhttp
// reports most errors at or after the offending byte, so none is needed.
const cfOffsetSlack = 0

// cfHostLine is added after the request-line of requests that lack Host.
const cfHostLine = "Host: example.com\r\n"

// cfVerdict is what our parser must do with a fixture's input.
type cfVerdict int

const (
	cfAccept      cfVerdict = iota // every logged request parses; then end of input, or ErrNeedMore
	cfReject                       // an *Error, no request after the offending bytes
	cfFirstOnly                    // the first request parses with KeepAlive false; nothing more is read
	cfHeadOnly                     // CONNECT: the head parses (ParseHeader); what follows is not HTTP
	cfBodyPending                  // the first request's head parses and its body is still to come
)

func (v cfVerdict) String() string {
	return [...]string{"accept", "reject", "first-only", "head-only", "body-pending"}[v]
}

// cfOverride replaces llhttp's expectation for one fixture.
type cfOverride struct {
	heading string      // the fixture's heading, checked
	v       cfVerdict   // our verdict
	status  int         // cfReject: the Status wanted (0: any)
	rule    string      // cfReject: the Rule wanted ("": any)
	deliver int         // cfReject: requests parsed before the error
	msgs    []cfWantMsg // cfAccept: the expected requests, when llhttp's log has none
	why     string
}

// cfOverrides: every fixture whose expected outcome for us is not llhttp's,
// keyed by "file:line" of the ```http fence.
var cfOverrides = map[string]cfOverride{
	// README §2: request-lenient-* fixtures. llhttp accepts these only with a
	// leniency flag on; the strict outcome applies.
	"connection.md:113":                   {heading: "Resetting flags when keep-alive is off (1.0, lenient)", v: cfFirstOnly, why: "§2 keep-alive: HTTP/1.0 without keep-alive: answer the first request, close (9112 §9.3)"},
	"connection.md:397":                   {heading: "CRLF between requests, explicit `close` (lenient)", v: cfFirstOnly, why: "§2 keep-alive: Connection: close: answer the first request, close (9112 §9.6)"},
	"connection.md:484":                   {heading: "Multiple tokens with folding", v: cfReject, status: 400, rule: "R22", why: "§2 headers: obs-fold in Connection (9112 §5.2)"},
	"connection.md:579":                   {heading: "Multiple tokens with folding, LWS, and CRLF", v: cfReject, status: 400, rule: "R22", why: "§2 headers: obs-fold (9112 §5.2)"},
	"connection.md:640":                   {heading: "Invalid whitespace token with `Connection` header field (lenient)", v: cfReject, status: 400, rule: "R20", why: "§2 headers: space before the colon (9112 §5.1)"},
	"content-length.md:192":               {heading: "Invalid whitespace token with `Content-Length` header field (lenient)", v: cfReject, status: 400, rule: "R20", why: "§2 headers: `Content-Length : 4` (9112 §5.1)"},
	"content-length.md:232":               {heading: "No error on simultaneous `Content-Length` and `Transfer-Encoding: identity` (lenient)", v: cfReject, status: 400, rule: "R36", why: "§2 chunked-length: CL and TE together (9112 §6.1, §6.3)"},
	"content-length.md:522":               {heading: "Missing CRLF-CRLF before body (lenient)", v: cfReject, status: 400, rule: "R3", why: "§2 optional-lf-after-cr: bare CR ends the head (9112 §2.2)"},
	"invalid.md:184":                      {heading: "Headers separated by dummy characters (lenient)", v: cfReject, status: 400, rule: "R3", why: "§2 optional-lf-after-cr: `\\r\\n\\rZ` (9112 §2.2)"},
	"invalid.md:571":                      {heading: "Only LFs present (lenient)", v: cfReject, status: 400, rule: "R2", why: "§2 all: bare LF everywhere (9112 §2.2, §7.1)"},
	"invalid.md:690":                      {heading: "Spaces before headers (lenient)", v: cfReject, status: 400, rule: "R22", why: "§2 headers: whitespace-led field line (9112 §2.2, §5.2)"},
	"lenient-header-value-relaxed.md:13":  {heading: "Control char in header value (relaxed)", v: cfReject, status: 400, rule: "R23", why: "§2 header-value-relaxed: FF in a value (9110 §5.5)"},
	"lenient-header-value-relaxed.md:71":  {heading: "LF in header value should be rejected even with relaxed flag", v: cfReject, status: 400, rule: "R2", why: "§2 header-value-relaxed: bare LF (still an error in llhttp)"},
	"lenient-header-value-relaxed.md:106": {heading: "CR without LF in header value should be rejected even with relaxed flag", v: cfReject, status: 400, rule: "R3", why: "§2 header-value-relaxed: bare CR (still an error in llhttp)"},
	"lenient-header-value-relaxed.md:141": {heading: "Space after start line must still fail", v: cfReject, status: 400, rule: "R5", why: "§2 header-value-relaxed: whitespace after the request-line (still an error in llhttp)"},
	"lenient-headers.md:9":                {heading: "Header value (lenient)", v: cfReject, status: 400, rule: "R23", why: "§2 headers: FF in a value (9110 §5.5)"},
	"lenient-headers.md:37":               {heading: "Second request header value (lenient)", v: cfReject, status: 400, rule: "R23", deliver: 1, why: "§2 headers: FF in the second request's value; the first is answered (R54)"},
	"lenient-headers.md:112":              {heading: "Empty headers separated by CR (lenient)", v: cfReject, status: 400, rule: "R3", why: "§2 headers: `x:\\rTransfer-Encoding` bare CR (9112 §2.2)"},
	"lenient-version.md:7":                {heading: "Invalid HTTP version (lenient)", v: cfReject, status: 505, rule: "R17", why: "§2 version: HTTP/5.6 (9110 §6.2)"},
	"sample.md:336":                       {heading: "Line folding in header value with CRLF", v: cfReject, status: 400, rule: "R22", why: "§2 headers: obs-fold (9112 §5.2)"},
	"sample.md:458":                       {heading: "No LF after CR (lenient)", v: cfReject, status: 400, rule: "R3", why: "§2 optional-lf-after-cr: request-line ended by a bare CR (9112 §2.2)"},
	"sample.md:576":                       {heading: "X-SSL-Nonsense", v: cfReject, status: 400, rule: "R22", why: "§2 headers: PEM folded over many lines (9112 §5.2)"},
	"transfer-encoding.md:539":            {heading: "POST with `Transfer-Encoding` and `Content-Length` (lenient)", v: cfReject, status: 400, rule: "R12", why: "§2 chunked-length: 400; the `#hey` fragment in the target is refused first (R12)"},
	"transfer-encoding.md:683":            {heading: "POST with `chunked` before other transfer-coding (lenient)", v: cfReject, status: 400, rule: "R12", why: "§2 transfer-encoding: 400; the `#hey` fragment in the target is refused first (R12)"},
	"transfer-encoding.md:716":            {heading: "POST with `chunked` and duplicate transfer-encoding (lenient)", v: cfReject, status: 400, rule: "R12", why: "§2 transfer-encoding: 400; the `#hey` fragment in the target is refused first (R12)"},
	"transfer-encoding.md:945":            {heading: "Invalid OBS fold after chunked value", v: cfReject, status: 400, rule: "R22", why: "§2 headers: fold after `chunked` (9112 §5.2)"},
	"transfer-encoding.md:1029":           {heading: "Chunk header not terminated by CRLF (lenient)", v: cfReject, status: 400, rule: "R49", why: "§2 optional-lf-after-cr: `6\\r\\r;ABCD` chunk line (9112 §7.1)"},
	"transfer-encoding.md:1144":           {heading: "Chunk data not terminated by CRLF (lenient)", v: cfReject, status: 400, rule: "R47", why: "§2 optional-crlf-after-chunk: no CRLF after chunk-data (9112 §7.1)"},
	"transfer-encoding.md:1218":           {heading: "Space after chunk header (lenient)", v: cfReject, status: 400, rule: "R44", why: "§2 spaces-after-chunk-size: `a \\r\\n` (9112 §7.1)"},

	// README §2.1: default-mode fixtures where a server's answer is not llhttp's.
	"connection.md:84":         {heading: "No restart when keep-alive is off (1.0)", v: cfFirstOnly, why: "§2.1 data after close: answer the first request, ignore the rest (9112 §9.3)"},
	"connection.md:297":        {heading: "CRLF between requests, explicit `close`", v: cfFirstOnly, why: "§2.1 data after close: answer the first request, ignore the rest (9112 §9.6)"},
	"connection.md:347":        {heading: "CRLF between requests, explicit `close` followed by tab", v: cfFirstOnly, why: "§2.1 data after close (same case as :297, `close\\t`)"},
	"invalid.md:69":            {heading: "HTTP protocol and ANNOUNCE method", v: cfAccept, msgs: []cfWantMsg{{method: "ANNOUNCE", url: "/music/sweet/music", protocol: "HTTP", version: "1.0", headers: [][2]string{{"Host", "example.com"}}}}, why: "§2.1 unknown methods are tokens (9112 §3.1)"},
	"invalid.md:359":           {heading: "Invalid method", v: cfAccept, msgs: []cfWantMsg{{method: "MKCOLA", url: "/", protocol: "HTTP", version: "1.1"}}, why: "§2.1 unknown methods are tokens (9112 §3.1)"},
	"method.md:30":             {heading: "CONNECT request", v: cfHeadOnly, why: "§2.1 CONNECT: head parsed, the rest is tunnel data, not ours"},
	"method.md:65":             {heading: "CONNECT request with CAPS", v: cfHeadOnly, why: "§2.1 CONNECT: head parsed, the rest is tunnel data, not ours"},
	"method.md:99":             {heading: "CONNECT with body", v: cfHeadOnly, why: "§2.1 CONNECT: head parsed, the rest is tunnel data, not ours"},
	"method.md:375":            {heading: "SOURCE request with ICE", v: cfReject, status: 400, rule: "R16", why: "§2.1 non-HTTP protocol ICE/1.0 (9112 §2.3)"},
	"method.md:405":            {heading: "OPTIONS request with RTSP", v: cfReject, status: 400, rule: "R16", why: "§2.1 non-HTTP protocol RTSP/1.0 (9112 §2.3)"},
	"method.md:433":            {heading: "ANNOUNCE request with RTSP", v: cfReject, status: 400, rule: "R16", why: "§2.1 non-HTTP protocol RTSP/1.0 (9112 §2.3)"},
	"method.md:461":            {heading: "PRI request HTTP2", v: cfReject, status: 400, rule: "R14", why: "§2.1 PRI preface refused; this one says HTTP/1.1, so `PRI *` is asterisk-form without OPTIONS (R14), not 505"},
	"sample.md:317":            {heading: "No HTTP version", v: cfReject, status: 400, rule: "R16", why: "§2.1 HTTP/0.9 request-line (9112 §2.3)"},
	"transfer-encoding.md:754": {heading: "POST with `chunked` as last transfer-encoding", v: cfReject, status: 400, rule: "R12", why: "§2.1 `deflate, chunked` is 501, but the `#hey` fragment in the target is refused first (R12)"},
	"transfer-encoding.md:796": {heading: "POST with `chunked` as last transfer-encoding (multiple headers)", v: cfReject, status: 400, rule: "R12", why: "§2.1 `deflate` + `chunked` is 501, but the `#hey` fragment in the target is refused first (R12)"},
	"uri.md:168":               {heading: "Fragment in URI", v: cfReject, status: 400, rule: "R12", why: "§2.1 fragment in the request-target (9112 §3.2.1)"},
	"uri.md:191":               {heading: "Underscore in hostname", v: cfHeadOnly, why: "§2.1 CONNECT: head parsed, the rest is not ours"},
	"uri.md:225":               {heading: "`host:port` and basic auth", v: cfReject, status: 400, rule: "R64", why: "§2.1 userinfo in the target (9110 §4.2.4)"},
	"method.md:138":            {heading: "M-SEARCH request", v: cfReject, status: 400, rule: "R14", why: "SSDP's M-SEARCH * is HTTPU over UDP; over HTTP/1.1 asterisk-form is only for OPTIONS (9112 §3.2.4)"},

	// README §1.1: skipBody is llhttp's HEAD-response mode, "not meaningful for
	// a server": for us the bytes after the head are the 123-byte body.
	"content-length.md:447": {heading: "Content-Length reset when no body is received", v: cfBodyPending, why: "§1.1 skipBody: the next request is body bytes to us; the body is incomplete"},
}

// cfMeta is a fixture's <!-- meta=... --> comment.
type cfMeta struct {
	Type     string `json:"type"`
	NoScan   bool   `json:"noScan"`
	Pause    any    `json:"pause"`
	SkipBody bool   `json:"skipBody"`
}

type cfFixture struct {
	file    string
	line    int // line of the ```http fence
	heading string
	meta    cfMeta
	input   []byte
	log     []string
}

func (f *cfFixture) key() string { return fmt.Sprintf("%s:%d", f.file, f.line) }

// cfWantMsg is one request as llhttp's log describes it. Offsets are
// absolute; 0 means unknown.
type cfWantMsg struct {
	begin             int // "message begin"
	headEnd           int // "headers complete"
	end               int // "message complete"
	method, url       string
	protocol, version string
	headers, trailers [][2]string
	body              string
	flags             int
	contentLength     int64
	complete          bool
	inserted          bool // Host line added by the test
}

func (m *cfWantMsg) hasHost() bool {
	for _, h := range m.headers {
		if strings.EqualFold(h[0], "host") {
			return true
		}
	}
	return false
}

// cfLog is the parsed ```log block.
type cfLog struct {
	msgs      []cfWantMsg
	errOff    int // -1: no error line
	errCode   int
	errReason string
	pause     bool // code 22 or 23: accepted up to there
	finish    int  // -1: no finish line
}

// cfGot is one request our parser returned, copied out of the buffer.
type cfGot struct {
	Method, Target, Proto string
	Headers, Trailers     [][2]string
	Body                  string
	ContentLength         int64
	Chunked, KeepAlive    bool
	Start, End            int // absolute
}

type cfFinal int

const (
	cfClean    cfFinal = iota // input used up
	cfNeedMore                // input ends inside a request
	cfStopped                 // the test stopped reading
	cfErr                     // an error
)

func (f cfFinal) String() string {
	return [...]string{"end of input", "ErrNeedMore", "stopped", "error"}[f]
}

// cfResult is everything one run produced.
type cfResult struct {
	msgs  []cfGot
	final cfFinal
	err   Error // cfErr with an *Error: Offset absolute, Excerpt cleared
	other string
}

func (r cfResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d request(s)", len(r.msgs))
	for _, m := range r.msgs {
		fmt.Fprintf(&b, " [%s %s %s @%d-%d]", m.Method, m.Target, m.Proto, m.Start, m.End)
	}
	b.WriteString(", then ")
	b.WriteString(r.final.String())
	if r.final == cfErr {
		if r.other != "" {
			b.WriteString(" " + r.other)
		} else {
			fmt.Fprintf(&b, " %d %s %q at %d", r.err.Status, r.err.Rule, r.err.Reason, r.err.Offset)
		}
	}
	return b.String()
}

// cfExpect is the expected outcome for one input.
type cfExpect struct {
	v       cfVerdict
	all     []cfWantMsg // every request the log (or the override) describes
	deliver int         // requests parsed; cfReject: -1 means at most len(complete)
	maxMsgs int         // stop after this many requests (0: no limit)
	partial int         // index in all of a request that must end in ErrNeedMore, or -1
	errOff  int         // llhttp's error offset, or -1
	status  int
	rule    string
	finish  int
	ov      bool
}

func TestConformance(t *testing.T) {
	if _, err := os.Stat(cfCorpus); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v (CI must not skip the conformance corpus)", cfCorpus, err)
		}
		t.Skip("../shared/conformance not found: run inside the sluice workspace")
	}
	files, err := filepath.Glob(filepath.Join(cfCorpus, "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s: %v", cfCorpus, err)
	}
	var fixtures []*cfFixture
	for _, path := range files {
		fs, err := cfLoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		fixtures = append(fixtures, fs...)
	}
	if len(fixtures) != cfFixtureCount {
		t.Errorf("loaded %d fixtures, README says %d", len(fixtures), cfFixtureCount)
	}

	// The override table must name existing fixtures by their heading.
	byKey := map[string]*cfFixture{}
	for _, f := range fixtures {
		byKey[f.key()] = f
	}
	var keys []string
	for k := range cfOverrides {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f, ok := byKey[k]
		switch {
		case !ok:
			t.Errorf("override %s: no fixture at that line", k)
		case f.heading != cfOverrides[k].heading:
			t.Errorf("override %s: heading is %q, table says %q", k, f.heading, cfOverrides[k].heading)
		}
	}

	var total, accepted, rejected, overridden, hostAdded, splitTested int
	for _, f := range fixtures {
		name := fmt.Sprintf("%s:%d %s", f.file, f.line, f.heading)
		t.Run(name, func(t *testing.T) {
			total++
			ov, hasOv := cfOverrides[f.key()]
			if strings.HasPrefix(f.meta.Type, "request-lenient-") && !hasOv {
				t.Fatalf("lenient fixture (%s) missing from cfOverrides (README §2)", f.meta.Type)
			}
			lg, err := cfParseLog(f.log, f.input)
			if err != nil {
				t.Fatalf("log: %v", err)
			}
			exp, err := cfBuildExpect(f, lg, ov, hasOv)
			if err != nil {
				t.Fatalf("expectation: %v", err)
			}
			if hasOv {
				overridden++
				t.Logf("override: %s (%s)", ov.v, ov.why)
			}
			if exp.v == cfReject {
				rejected++
			} else {
				accepted++
			}
			added := cfRun(t, f, exp)
			if added {
				hostAdded++
			}
			if !f.meta.NoScan {
				splitTested++
			}
		})
	}
	cfSummary = fmt.Sprintf("conformance: %d fixtures, %d accepted, %d rejected, %d overridden; %d needed an added Host, %d split-tested",
		total, accepted, rejected, overridden, hostAdded, splitTested)
	t.Log(cfSummary)
}

// cfSummary is TestConformance's summary line.
var cfSummary string

// TestConformanceSummary repeats the summary so that it is the last thing
// `go test -v` prints (the parent's log comes before its subtests' results).
func TestConformanceSummary(t *testing.T) {
	if cfSummary == "" {
		t.Skip("TestConformance did not run")
	}
	t.Log(cfSummary)
}

// cfRun checks one fixture and reports whether a Host line had to be added.
func cfRun(t *testing.T, f *cfFixture, exp *cfExpect) bool {
	raw := cfDrive(f.input, []int{len(f.input)}, false, exp.v == cfHeadOnly, exp.maxMsgs)

	// Requests without Host (README §2.1): decide which request, if any,
	// our parser must refuse with R27 before the fixture's own verdict.
	hostless := -1
	if exp.v == cfReject {
		k := len(raw.msgs)
		if raw.final == cfErr && raw.err.Rule == "R27" && k < len(exp.all) && !exp.all[k].hasHost() &&
			(exp.deliver < 0 || k <= exp.deliver) {
			hostless = k
		}
	} else {
		n := exp.deliver
		if exp.partial >= 0 && exp.all[exp.partial].headEnd > 0 {
			n = exp.partial + 1
		}
		for i := 0; i < n; i++ {
			if m := &exp.all[i]; m.version == "1.1" && !m.hasHost() {
				hostless = i
				break
			}
		}
	}

	inputs := [][]byte{f.input}
	if hostless < 0 {
		cfCheck(t, "", f.input, exp, raw)
	} else {
		cfCheckHostless(t, exp, raw, hostless)
		in2, exp2 := cfAddHost(f.input, exp)
		res2 := cfDrive(in2, []int{len(in2)}, false, exp2.v == cfHeadOnly, exp2.maxMsgs)
		cfCheck(t, "with Host added: ", in2, exp2, res2)
		inputs = append(inputs, in2)
	}

	if f.meta.NoScan {
		return hostless >= 0
	}
	for i, in := range inputs {
		label := ""
		if i == 1 {
			label = "with Host added: "
		}
		cfSplits(t, label, in, exp.v == cfHeadOnly, exp.maxMsgs)
	}
	return hostless >= 0
}

// cfSplits requires the same result whether in arrives whole, one byte at
// a time (in place, and in a new buffer each call), or in two pieces.
func cfSplits(t *testing.T, label string, in []byte, headOnly bool, maxMsgs int) {
	want := cfDrive(in, []int{len(in)}, false, headOnly, maxMsgs)
	bytewise := make([]int, len(in))
	for i := range bytewise {
		bytewise[i] = i + 1
	}
	for _, fresh := range []bool{false, true} {
		if got := cfDrive(in, bytewise, fresh, headOnly, maxMsgs); !cfSame(got, want) {
			t.Errorf("%sbyte by byte (new buffer each call: %v): %s", label, fresh, cfExplain(got, want))
		}
	}
	for s := 1; s < len(in); s++ {
		if got := cfDrive(in, []int{s, len(in)}, false, headOnly, maxMsgs); !cfSame(got, want) {
			t.Errorf("%ssplit at %d: %s", label, s, cfExplain(got, want))
			return
		}
	}
}

// cfExplain shows how a split run differs from the whole-input run.
func cfExplain(got, want cfResult) string {
	for i := 0; i < len(got.msgs) && i < len(want.msgs); i++ {
		if !reflect.DeepEqual(got.msgs[i], want.msgs[i]) {
			return fmt.Sprintf("request %d differs:\n got %+v\nwant %+v", i+1, got.msgs[i], want.msgs[i])
		}
	}
	return fmt.Sprintf("\n got %v\nwant %v", got, want)
}

func cfSame(a, b cfResult) bool {
	return reflect.DeepEqual(a.msgs, b.msgs) && a.final == b.final && a.other == b.other &&
		a.err.Status == b.err.Status && a.err.Rule == b.err.Rule && a.err.Reason == b.err.Reason && a.err.Offset == b.err.Offset
}

// cfDrive parses in as pipelined requests with one Parser and one Request.
// The bytes become visible in steps: cuts lists how many are visible after
// each ErrNeedMore (the last is len(in)). Consumed bytes are dropped, so
// every call gets in[start:visible]; fresh copies them to a new buffer
// and overwrites the previous one.
// headOnly uses ParseHeader. maxMsgs > 0 stops after that many requests.
func cfDrive(in []byte, cuts []int, fresh, headOnly bool, maxMsgs int) cfResult {
	var p Parser
	var req Request
	var res cfResult
	var prev []byte
	base, ci := 0, 0
	for {
		vis := cuts[ci]
		if maxMsgs > 0 && len(res.msgs) == maxMsgs {
			res.final = cfStopped
			return res
		}
		if base == len(in) {
			res.final = cfClean
			return res
		}
		if base == vis {
			ci++
			continue
		}
		buf := in[base:vis]
		if fresh {
			// The caller may reuse the old buffer once the bytes have
			// moved: clobber it so that stale views show.
			for i := range prev {
				prev[i] = 'X'
			}
			buf = append([]byte(nil), buf...)
			prev = buf
		}
		var n int
		var err error
		if headOnly {
			n, err = p.ParseHeader(buf, &req)
		} else {
			n, err = p.Parse(buf, &req)
		}
		var e *Error
		switch {
		case err == nil:
			if n <= 0 || n > len(buf) {
				res.final, res.other = cfErr, fmt.Sprintf("Parse returned n=%d for %d bytes", n, len(buf))
				return res
			}
			res.msgs = append(res.msgs, cfSnapshot(&req, base, base+n))
			base += n
		case err == ErrNeedMore:
			if vis == len(in) {
				res.final = cfNeedMore
				return res
			}
			ci++
		case errors.As(err, &e):
			res.final, res.err = cfErr, *e
			res.err.Offset += base
			res.err.Excerpt = ""
			return res
		default:
			res.final, res.other = cfErr, fmt.Sprintf("not an *Error: %v", err)
			return res
		}
	}
}

func cfSnapshot(r *Request, start, end int) cfGot {
	g := cfGot{
		Method: string(r.Method), Target: string(r.Target), Proto: string(r.Proto), Body: string(r.Body),
		ContentLength: r.ContentLength, Chunked: r.Chunked, KeepAlive: r.KeepAlive, Start: start, End: end,
	}
	for _, h := range r.Headers {
		g.Headers = append(g.Headers, [2]string{string(h.Name), string(h.Value)})
	}
	for _, h := range r.Trailers {
		g.Trailers = append(g.Trailers, [2]string{string(h.Name), string(h.Value)})
	}
	return g
}

// cfCheck compares one run with the expectation.
func cfCheck(t *testing.T, label string, in []byte, exp *cfExpect, res cfResult) {
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s"+format+"\n  got: %v", append(append([]any{label}, args...), res)...)
	}
	headOnly := exp.v == cfHeadOnly
	checkMsgs := func(n int) bool {
		ok := true
		for i := 0; i < n && i < len(res.msgs); i++ {
			for _, d := range cfDiffMsg(res.msgs[i], &exp.all[i], headOnly) {
				t.Errorf("%srequest %d: %s", label, i+1, d)
				ok = false
			}
		}
		return ok
	}

	switch exp.v {
	case cfReject:
		if res.final != cfErr || res.other != "" {
			fail("want an *Error")
			return
		}
		if exp.deliver >= 0 && len(res.msgs) != exp.deliver {
			fail("want %d request(s) before the error", exp.deliver)
		}
		if exp.deliver < 0 && len(res.msgs) > cfCountComplete(exp.all) {
			fail("want at most %d request(s) before the error (llhttp failed in request %d)", cfCountComplete(exp.all), cfCountComplete(exp.all)+1)
		}
		checkMsgs(len(res.msgs))
		if exp.status != 0 && res.err.Status != exp.status {
			fail("want Status %d", exp.status)
		}
		if exp.rule != "" && res.err.Rule != exp.rule {
			fail("want Rule %s", exp.rule)
		}
		if exp.errOff >= 0 {
			if res.err.Offset > exp.errOff+cfOffsetSlack {
				fail("error offset %d is past llhttp's %d", res.err.Offset, exp.errOff)
			}
			for i, m := range res.msgs {
				if m.End > exp.errOff {
					fail("request %d (bytes %d-%d) runs past llhttp's error at %d", i+1, m.Start, m.End, exp.errOff)
				}
			}
		}
		start := 0
		if n := len(res.msgs); n > 0 {
			start = res.msgs[n-1].End
		}
		if res.err.Offset < start || res.err.Offset > len(in) {
			fail("error offset %d outside the failing request (%d-%d)", res.err.Offset, start, len(in))
		}
		t.Logf("%srejected: %d %s %q at %d (llhttp: %d)", label, res.err.Status, res.err.Rule, res.err.Reason, res.err.Offset, exp.errOff)

	default:
		if len(res.msgs) != exp.deliver {
			fail("want %d request(s)", exp.deliver)
			return
		}
		if !checkMsgs(exp.deliver) {
			return
		}
		switch {
		case exp.maxMsgs > 0:
			if res.final != cfStopped {
				fail("want %d request(s) and nothing else", exp.maxMsgs)
			}
		case exp.partial >= 0:
			if res.final != cfNeedMore {
				fail("want ErrNeedMore for the incomplete request %d", exp.partial+1)
			}
		default:
			end := 0
			if n := len(res.msgs); n > 0 {
				end = res.msgs[n-1].End
			}
			rest := strings.Trim(string(in[end:]), "\r\n")
			if !(res.final == cfClean || res.final == cfNeedMore && rest == "") {
				fail("want end of input (or ErrNeedMore on trailing empty lines)")
			}
		}
		if exp.finish >= 0 {
			want := cfClean
			if exp.finish != 0 {
				want = cfNeedMore
			}
			if res.final != want {
				fail("finish=%d wants %v", exp.finish, want)
			}
		}
		if exp.v == cfFirstOnly && len(res.msgs) == 1 && res.msgs[0].KeepAlive {
			fail("request 1: KeepAlive true, want false")
		}
		// The head of a request whose body is incomplete: ParseHeader on a
		// fresh parser from where that request starts.
		if exp.partial >= 0 && exp.all[exp.partial].headEnd > 0 && res.final == cfNeedMore {
			start := 0
			if n := len(res.msgs); n > 0 {
				start = res.msgs[n-1].End
			}
			var p Parser
			var req Request
			n, err := p.ParseHeader(in[start:], &req)
			w := &exp.all[exp.partial]
			if err != nil || start+n != w.headEnd {
				t.Errorf("%sincomplete request %d: ParseHeader = %d, %v; want the head to end at %d", label, exp.partial+1, start+n, err, w.headEnd)
			} else {
				for _, d := range cfDiffMsg(cfSnapshot(&req, start, start+n), w, true) {
					t.Errorf("%sincomplete request %d (head): %s", label, exp.partial+1, d)
				}
			}
		}
	}
}

// cfCheckHostless checks the raw input of a fixture whose request k lacks
// Host: the requests before it parse, then 400 R27 at the end of its head.
func cfCheckHostless(t *testing.T, exp *cfExpect, res cfResult, k int) {
	want := exp.all[k].headEnd
	if res.final != cfErr || res.other != "" || res.err.Status != 400 || res.err.Rule != "R27" || len(res.msgs) != k ||
		(want > 0 && res.err.Offset != want) {
		t.Errorf("request %d has no Host: want %d request(s), then 400 R27 at %d\n  got: %v", k+1, k, want, res)
		return
	}
	for i := 0; i < k; i++ {
		for _, d := range cfDiffMsg(res.msgs[i], &exp.all[i], exp.v == cfHeadOnly) {
			t.Errorf("request %d: %s", i+1, d)
		}
	}
	t.Logf("request %d has no Host: 400 R27 at %d as required; checking again with %q added", k+1, res.err.Offset, cfHostLine)
}

// cfAddHost inserts cfHostLine after the request-line of every request that
// lacks Host, and shifts the expectation to match.
func cfAddHost(in []byte, exp *cfExpect) ([]byte, *cfExpect) {
	var at []int
	exp2 := *exp
	exp2.all = make([]cfWantMsg, len(exp.all))
	copy(exp2.all, exp.all)
	for i := range exp2.all {
		m := &exp2.all[i]
		if m.hasHost() {
			continue
		}
		limit := len(in)
		if i+1 < len(exp.all) && exp.all[i+1].begin > 0 {
			limit = exp.all[i+1].begin
		}
		j := strings.Index(string(in[m.begin:limit]), "\r\n")
		if j < 0 {
			continue
		}
		at = append(at, m.begin+j+2)
		m.headers = append([][2]string{{"Host", "example.com"}}, m.headers...)
		m.inserted = true
	}
	shift := func(off int) int {
		if off <= 0 {
			return off
		}
		n := 0
		for _, p := range at {
			if p <= off {
				n++
			}
		}
		return off + n*len(cfHostLine)
	}
	var out []byte
	prev := 0
	for _, p := range at {
		out = append(out, in[prev:p]...)
		out = append(out, cfHostLine...)
		prev = p
	}
	out = append(out, in[prev:]...)
	for i := range exp2.all {
		m := &exp2.all[i]
		m.begin, m.headEnd, m.end = shift(m.begin), shift(m.headEnd), shift(m.end)
	}
	if exp2.errOff >= 0 {
		exp2.errOff = shift(exp2.errOff)
	}
	return out, &exp2
}

func cfCountComplete(ms []cfWantMsg) int {
	n := 0
	for n < len(ms) && ms[n].complete {
		n++
	}
	return n
}

// cfDiffMsg lists the differences between what we parsed and the log.
func cfDiffMsg(g cfGot, w *cfWantMsg, headOnly bool) []string {
	var d []string
	diff := func(what, got, want string) {
		if got != want {
			d = append(d, fmt.Sprintf("%s %q, want %q", what, got, want))
		}
	}
	diff("method", g.Method, w.method)
	diff("target", g.Target, w.url)
	diff("proto", g.Proto, w.protocol+"/"+w.version)
	diff("headers", fmt.Sprintf("%q", g.Headers), fmt.Sprintf("%q", cfTrimValues(w.headers)))
	chunked := w.flags&8 != 0
	if g.Chunked != chunked {
		d = append(d, fmt.Sprintf("Chunked %v, want %v", g.Chunked, chunked))
	}
	wantCL := int64(-1)
	if w.flags&0x20 != 0 {
		wantCL = w.contentLength
	}
	if g.ContentLength != wantCL {
		d = append(d, fmt.Sprintf("ContentLength %d, want %d", g.ContentLength, wantCL))
	}
	if w.begin > 0 && g.Start > w.begin {
		d = append(d, fmt.Sprintf("starts at %d, after llhttp's message begin at %d", g.Start, w.begin))
	}
	if headOnly {
		if w.headEnd > 0 && g.End != w.headEnd {
			d = append(d, fmt.Sprintf("head ends at %d, want %d", g.End, w.headEnd))
		}
		return d
	}
	diff("body", g.Body, w.body)
	diff("trailers", fmt.Sprintf("%q", g.Trailers), fmt.Sprintf("%q", cfTrimValues(w.trailers)))
	if w.end > 0 && g.End != w.end {
		d = append(d, fmt.Sprintf("ends at %d, want %d", g.End, w.end))
	}
	return d
}

// cfTrimValues removes the OWS llhttp leaves at the end of some values
// ("close\t", "42 "): R21 says it is not part of the value.
func cfTrimValues(hs [][2]string) [][2]string {
	var out [][2]string
	for _, h := range hs {
		out = append(out, [2]string{h[0], strings.Trim(h[1], " \t")})
	}
	return out
}

// cfBuildExpect turns the log and the override into the expected outcome.
func cfBuildExpect(f *cfFixture, lg *cfLog, ov cfOverride, hasOv bool) (*cfExpect, error) {
	exp := &cfExpect{all: lg.msgs, partial: -1, errOff: -1, finish: lg.finish, ov: hasOv}
	nComplete := cfCountComplete(lg.msgs)
	for i := nComplete; i < len(lg.msgs); i++ {
		if lg.msgs[i].complete {
			return nil, fmt.Errorf("request %d is complete after an incomplete one", i+1)
		}
	}
	if len(lg.msgs) > nComplete+1 {
		return nil, fmt.Errorf("more than one incomplete request")
	}
	if lg.errOff >= 0 && !lg.pause {
		exp.errOff = lg.errOff
	}
	if !hasOv {
		if lg.errOff >= 0 && !lg.pause {
			exp.v, exp.deliver = cfReject, -1
			return exp, nil
		}
		exp.v, exp.deliver = cfAccept, nComplete
		switch {
		case lg.pause:
			if nComplete == 0 {
				return nil, fmt.Errorf("pause before any complete request needs an override")
			}
			exp.maxMsgs = nComplete
		case len(lg.msgs) > nComplete:
			exp.partial = nComplete
		}
		return exp, nil
	}

	exp.v = ov.v
	switch ov.v {
	case cfReject:
		exp.deliver, exp.status, exp.rule = ov.deliver, ov.status, ov.rule
		if ov.deliver > nComplete {
			return nil, fmt.Errorf("override delivers %d requests, the log has %d", ov.deliver, nComplete)
		}
	case cfAccept:
		if ov.msgs == nil {
			return nil, fmt.Errorf("accept override without requests")
		}
		exp.all = make([]cfWantMsg, len(ov.msgs))
		copy(exp.all, ov.msgs)
		pos := 0
		for i := range exp.all {
			m := &exp.all[i]
			for pos < len(f.input) && (f.input[pos] == '\r' || f.input[pos] == '\n') {
				pos++
			}
			m.begin = pos
			k := strings.Index(string(f.input[pos:]), "\r\n\r\n")
			if k < 0 {
				return nil, fmt.Errorf("override request %d: no end of head", i+1)
			}
			m.headEnd, m.complete = pos+k+4, true
			pos = m.headEnd
		}
		exp.deliver, exp.errOff = len(exp.all), -1
	case cfFirstOnly, cfHeadOnly:
		if len(lg.msgs) == 0 || (ov.v == cfFirstOnly && !lg.msgs[0].complete) || lg.msgs[0].headEnd == 0 {
			return nil, fmt.Errorf("%s override needs a logged first request", ov.v)
		}
		exp.deliver, exp.maxMsgs, exp.errOff = 1, 1, -1
	case cfBodyPending:
		if len(lg.msgs) == 0 || lg.msgs[0].headEnd == 0 {
			return nil, fmt.Errorf("body-pending override needs a logged head")
		}
		exp.deliver, exp.partial, exp.errOff = 0, 0, -1
		exp.all = lg.msgs[:1]
		exp.all[0].complete, exp.all[0].end, exp.all[0].body = false, 0, ""
	}
	return exp, nil
}

var (
	cfReLog    = regexp.MustCompile(`^off=(\d+|NULL) (.*)$`)
	cfReSpan   = regexp.MustCompile(`^len=(\d+) span\[(\w+)\]=(.*)$`)
	cfReHead   = regexp.MustCompile(`^headers complete method=(\d+) v=(\d+)/(\d+) flags=([0-9a-f]+) content_length=(\d+)$`)
	cfReErr    = regexp.MustCompile(`^error code=(\d+) reason="(.*)"$`)
	cfReFinish = regexp.MustCompile(`^finish=(\d+)$`)
	cfReHex    = regexp.MustCompile(`\\x([0-9a-fA-F]+)`)
	cfReOct    = regexp.MustCompile(`\\([0-7]{1,3})`)
)

// cfParseLog reads a ```log block. Spans are checked against the input,
// which validates the decoding of the ```http block.
func cfParseLog(lines []string, in []byte) (*cfLog, error) {
	lg := &cfLog{errOff: -1, finish: -1}
	var m *cfWantMsg
	prevSpan := "" // kind of the previous event if it was a span
	for _, line := range lines {
		if strings.HasPrefix(line, "/") && strings.HasSuffix(line, "/") {
			return nil, fmt.Errorf("regexp log lines are not supported: %s", line)
		}
		sm := cfReLog.FindStringSubmatch(line)
		if sm == nil {
			return nil, fmt.Errorf("bad log line %q", line)
		}
		off := -1
		if sm[1] != "NULL" {
			off, _ = strconv.Atoi(sm[1])
		}
		ev := sm[2]
		span := ""
		switch {
		case ev == "message begin":
			lg.msgs = append(lg.msgs, cfWantMsg{begin: off})
			m = &lg.msgs[len(lg.msgs)-1]
		case cfReSpan.MatchString(ev):
			s := cfReSpan.FindStringSubmatch(ev)
			n, _ := strconv.Atoi(s[1])
			kind, val := s[2], s[3]
			switch val {
			case "cr":
				val = "\r"
			case "lf":
				val = "\n"
			case "crlf":
				val = "\r\n"
			default:
				if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
					return nil, fmt.Errorf("bad span value in %q", line)
				}
				val = cfUnescape(val[1 : len(val)-1])
			}
			if len(val) != n || off < 0 || off+n > len(in) || string(in[off:off+n]) != val {
				return nil, fmt.Errorf("span %q does not match the decoded input", line)
			}
			if m == nil {
				return nil, fmt.Errorf("span before message begin: %q", line)
			}
			span = kind
			switch kind {
			case "method":
				m.method += val
			case "url":
				m.url += val
			case "protocol":
				m.protocol += val
			case "version":
				m.version += val
			case "header_field", "header_value":
				hs := &m.headers
				if m.headEnd > 0 {
					hs = &m.trailers // after the head: the trailer section
				}
				if kind == "header_field" && prevSpan != "header_field" {
					*hs = append(*hs, [2]string{})
				}
				if len(*hs) == 0 {
					return nil, fmt.Errorf("header value without a name: %q", line)
				}
				h := &(*hs)[len(*hs)-1]
				if kind == "header_field" {
					h[0] += val
				} else {
					h[1] += val
				}
			case "body":
				m.body += val
			case "chunk_extension_name", "chunk_extension_value":
			default:
				return nil, fmt.Errorf("unknown span %q", kind)
			}
		case cfReHead.MatchString(ev):
			s := cfReHead.FindStringSubmatch(ev)
			if m == nil {
				return nil, fmt.Errorf("headers complete before message begin")
			}
			m.headEnd = off
			fl, _ := strconv.ParseInt(s[4], 16, 32)
			m.flags = int(fl)
			m.contentLength, _ = strconv.ParseInt(s[5], 10, 64)
			if v := s[2] + "." + s[3]; m.version != "" && m.version != v {
				return nil, fmt.Errorf("version %q but headers complete says %s", m.version, v)
			}
		case ev == "message complete":
			m.complete, m.end = true, off
		case cfReErr.MatchString(ev):
			s := cfReErr.FindStringSubmatch(ev)
			lg.errCode, _ = strconv.Atoi(s[1])
			lg.errOff, lg.errReason = off, s[2]
			lg.pause = lg.errCode == 22 || lg.errCode == 23
		case cfReFinish.MatchString(ev):
			lg.finish, _ = strconv.Atoi(cfReFinish.FindStringSubmatch(ev)[1])
		case strings.HasSuffix(ev, " complete"), ev == "reset", ev == "pause", ev == "skip body",
			strings.HasPrefix(ev, "chunk header len="):
		default:
			return nil, fmt.Errorf("unknown log event %q", line)
		}
		prevSpan = span
	}
	return lg, nil
}

// cfLoadFile reads the fixtures of one Markdown file (README §1).
func cfLoadFile(path string) ([]*cfFixture, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	file := filepath.Base(path)
	lines := strings.Split(string(data), "\n")
	var out []*cfFixture
	var cur *cfFixture
	var meta *cfMeta
	heading, prev := "", ""
	block := func(i int) ([]string, int, error) {
		for j := i + 1; j < len(lines); j++ {
			if lines[j] == "```" {
				return lines[i+1 : j], j, nil
			}
		}
		return nil, 0, fmt.Errorf("%s:%d: unterminated block", file, i+1)
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case strings.HasPrefix(l, "#"):
			heading = strings.TrimSpace(strings.TrimLeft(l, "#"))
		case l != "" && strings.Trim(l, "=") == "" && strings.TrimSpace(prev) != "":
			heading = strings.TrimSpace(prev)
		case strings.HasPrefix(strings.TrimSpace(l), "<!-- meta="):
			s := strings.TrimPrefix(strings.TrimSpace(l), "<!-- meta=")
			s, ok := strings.CutSuffix(s, "-->")
			if !ok {
				return nil, fmt.Errorf("%s:%d: unterminated meta comment", file, i+1)
			}
			var mt cfMeta
			if err := json.Unmarshal([]byte(s), &mt); err != nil {
				return nil, fmt.Errorf("%s:%d: meta: %v", file, i+1, err)
			}
			meta = &mt
		case l == "```http":
			if meta == nil {
				return nil, fmt.Errorf("%s:%d: http block without meta", file, i+1)
			}
			if cur != nil {
				return nil, fmt.Errorf("%s:%d: http block without a log block", file, cur.line)
			}
			b, end, err := block(i)
			if err != nil {
				return nil, err
			}
			cur = &cfFixture{file: file, line: i + 1, heading: heading, meta: *meta, input: cfDecode(b)}
			meta = nil
			i, l = end, "```"
		case l == "```log":
			if cur == nil {
				return nil, fmt.Errorf("%s:%d: log block without http block", file, i+1)
			}
			b, end, err := block(i)
			if err != nil {
				return nil, err
			}
			cur.log = b
			out = append(out, cur)
			cur = nil
			i, l = end, "```"
		}
		prev = l
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: http block without a log block", file, cur.line)
	}
	return out, nil
}

// cfDecode turns the lines of an ```http block into wire bytes (README §1.1).
func cfDecode(lines []string) []byte {
	s := strings.Join(lines, "\n") + "\n"
	s = strings.TrimSuffix(s, "\n")         // 1. one trailing line break
	s = strings.ReplaceAll(s, "\\\n", "")   // 2. line continuations
	s = strings.ReplaceAll(s, "\n", "\r\n") // 3. line breaks are CRLF
	return []byte(cfUnescape(s))            // 4. escapes; 5. Go strings are UTF-8
}

// cfUnescape applies step 4 of README §1.1.
func cfUnescape(s string) string {
	s = strings.ReplaceAll(s, `\r`, "\r")
	s = strings.ReplaceAll(s, `\n`, "\n")
	s = strings.ReplaceAll(s, `\t`, "\t")
	s = strings.ReplaceAll(s, `\f`, "\f")
	s = cfReHex.ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.ParseUint(m[2:], 16, 32)
		return string(rune(n))
	})
	return cfReOct.ReplaceAllStringFunc(s, func(m string) string {
		n, _ := strconv.ParseUint(m[1:], 8, 32)
		return string(rune(n))
	})
}
