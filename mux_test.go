package sluice

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-go/sluice/codec/http1"
)

// muxOutcome is what a router decided for one request, as a client and
// the handler see it.
type muxOutcome struct {
	status   int
	pattern  string // of the handler that ran, when status is 200
	values   string // its path values (muxValues), when status is 200
	allow    string // the Allow methods, sorted, when status is 405
	location string // when status is a redirect
}

func (o muxOutcome) String() string {
	switch {
	case o.status == 200:
		return fmt.Sprintf("200 %q %s", o.pattern, o.values)
	case o.status == 405:
		return fmt.Sprintf("405 Allow: %s", o.allow)
	case o.status >= 300 && o.status < 400:
		return fmt.Sprintf("%d Location: %s", o.status, o.location)
	}
	return strconv.Itoa(o.status)
}

// muxWildcards returns the wildcard names of pattern in order.
func muxWildcards(pattern string) []string {
	var names []string
	for _, s := range strings.Split(pattern, "/") {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && s != "{$}" {
			names = append(names, strings.TrimSuffix(s[1:len(s)-1], "..."))
		}
	}
	return names
}

// muxValues formats the path values of names, and that of a name no
// pattern has, which must be "".
func muxValues(names []string, get func(string) string) string {
	var b strings.Builder
	for _, n := range append(names, "unknown") {
		fmt.Fprintf(&b, "%s=%q ", n, get(n))
	}
	return b.String()
}

func sortedAllow(v string) string {
	if v == "" {
		return ""
	}
	ms := strings.Split(v, ", ")
	slices.Sort(ms)
	return strings.Join(ms, ", ")
}

// muxRecorder registers patterns on a Mux with handlers that report
// which pattern ran and its path values.
func newTestMux(t testing.TB, patterns []string) *Mux {
	t.Helper()
	m := NewMux()
	for _, p := range patterns {
		names := muxWildcards(p)
		m.Handle(p, HandlerFunc(func(c *Ctx) {
			if c.Pattern() != p {
				t.Errorf("handler of %q: Ctx.Pattern() = %q", p, c.Pattern())
			}
			c.SetHeader("X-Pattern", p)
			c.SetHeader("X-Values", muxValues(names, c.PathValue))
		}))
	}
	return m
}

// newTestServeMux is newTestMux for net/http. It reports whether
// net/http accepted every pattern.
func newTestServeMux(t testing.TB, patterns []string) (_ *http.ServeMux, err error) {
	t.Helper()
	sm := http.NewServeMux()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	for _, p := range patterns {
		names := muxWildcards(p)
		sm.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			if r.Pattern != p {
				t.Errorf("handler of %q: Request.Pattern = %q", p, r.Pattern)
			}
			w.Header().Set("X-Pattern", p)
			w.Header().Set("X-Values", muxValues(names, r.PathValue))
		})
	}
	return sm, nil
}

// muxCtx parses the raw request into a fresh Ctx.
func muxCtx(t testing.TB, raw string) *Ctx {
	t.Helper()
	x := new(Ctx)
	var p http1.Parser
	if _, err := p.Parse([]byte(raw), &x.req); err != nil {
		t.Fatalf("sluice rejects %q: %v", raw, err)
	}
	return x
}

// muxRoute routes raw through m and runs the chosen handler.
func muxRoute(t testing.TB, m *Mux, raw string) muxOutcome {
	t.Helper()
	x := muxCtx(t, raw)
	m.route(x)
	x.route.Serve(x)
	o := muxOutcome{status: x.status}
	if o.status == 0 {
		o.status = 200
	}
	for _, h := range x.hdrs {
		v := string(h.Value)
		switch strings.ToLower(string(h.Name)) {
		case "x-pattern":
			o.pattern = v
		case "x-values":
			o.values = v
		case "allow":
			o.allow = sortedAllow(v)
		case "location":
			o.location = v
		}
	}
	return o
}

// stdRoute routes raw through net/http's ServeMux, as its server would.
func stdRoute(t testing.TB, sm *http.ServeMux, raw string) muxOutcome {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatalf("net/http rejects %q: %v", raw, err)
	}
	w := httptest.NewRecorder()
	sm.ServeHTTP(w, r)
	return muxOutcome{
		status:   w.Code,
		pattern:  w.Header().Get("X-Pattern"),
		values:   w.Header().Get("X-Values"),
		allow:    sortedAllow(w.Header().Get("Allow")),
		location: w.Header().Get("Location"),
	}
}

func muxRaw(method, target, host string) string {
	s := method + " " + target + " HTTP/1.1\r\n"
	if host != "" {
		s += "Host: " + host + "\r\n"
	}
	return s + "\r\n"
}

// muxGroups are pattern sets that net/http accepts, each registered on
// both routers. Every request of muxTargets x muxMethods x muxHosts is
// routed through each group.
var muxGroups = []struct {
	name     string
	patterns []string
}{
	{"empty", nil},
	{"root prefix", []string{"/"}},
	{"root exact", []string{"/{$}", "/a"}},
	{"classic", []string{"/", "/a", "/a/", "/a/b", "/static/", "/files/{path...}"}},
	{"methods", []string{"GET /items", "POST /items", "GET /items/{id}", "PUT /items/{id}", "DELETE /items/{id}", "/items/{id}/tags/", "HEAD /h", "GET /g"}},
	{"wildcards", []string{"/users/{id}", "/users/me", "/users/{id}/posts/{post}", "/users/{id}/files/{rest...}", "/x/{a}/{b}/{c}", "/x/{a}/{b}/"}},
	{"trailing slash", []string{"/dir/", "/dir2/{$}", "/dir3/{rest...}", "/dir4/{x}/", "GET /dir5/", "POST /dir5", "/deep/a/b/"}},
	{"slash beside root", []string{"/", "/dir/", "GET /api/", "/dir3/{rest...}"}},
	{"hosts", []string{"example.com/", "example.com/a", "/a", "/b", "api.example.com/v1/{x}", "GET api.example.com/v1/items", "/", "[::1]/v6", "other.org/dir/", "/dir/"}},
	{"host methods", []string{"GET example.com/m", "/m", "POST api.example.com/items/{id}"}},
	{"escapes", []string{"/caf%C3%A9", "/a%2Fb", "/sp%20ace", "/q/{v}", "/r/{v...}", "/%61/b", "/brace}/x"}},
	{"method and any", []string{"GET /m", "/m", "POST /m/{x}", "/m/{x}", "DELETE /m/{x}/"}},
	{"head", []string{"HEAD /h", "GET /h", "/any", "GET /g", "POST /p"}},
	{"specificity", []string{"/posts/", "GET /posts/{id}", "GET /posts/latest", "POST /posts/{id}", "GET /posts/{id}/edit", "/posts/{id}/{rest...}"}},
	{"exact dirs", []string{"/api/{$}", "GET /api/x", "/{$}", "/w/{x}", "/w/"}},
	{"named root", []string{"/{rest...}", "GET /a", "POST /a/{$}"}},
	{"names", []string{"/n/{é}", "/n/{_x1}/{y2}", "GET /n/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}"}},
	{"escaped dir", []string{"/", "/e%20d/"}},
}

var muxMethods = []string{"GET", "HEAD", "POST", "DELETE"}

// muxHosts: net/http is sent the lower-cased host (see the "host case"
// difference).
var muxHosts = []string{"example.com", "example.com:8080", "EXAMPLE.COM", "Api.Example.com:443", "other.org", "[::1]"}

var muxTargets = []string{
	"/", "/a", "/a/", "/a/b", "/a/b/", "/a/b/c", "/b", "/b/", "/a?x=1&y=2",
	// unclean
	"//a", "//", "/a//b", "/a/./b", "/a/../b", "/./a", "/a/.", "/a/..", "/..", "/a/b/..",
	"/dir/./", "//dir", "/x/../dir", "/x/../dir?q=1", "/x/../dir2", "/deep/a/./b", "/items/1/../2",
	// trailing slashes
	"/dir", "/dir/", "/dir?q=1", "/dir?", "/dir/x", "/dir/x/", "/dir/x/y", "/dir2", "/dir2/", "/dir2/x",
	"/dir3", "/dir3/", "/dir3/x/y", "/dir4/x", "/dir4/x/", "/dir4/x/y", "/dir5", "/dir5/",
	"/deep/a", "/deep/a/b", "/deep/a/b/", "/deep/a/b/c",
	"/static", "/static/", "/static/css/site.css", "/files", "/files/", "/files/a/b%20c.txt", "/files/%2e%2e/x",
	// wildcards
	"/users", "/users/", "/users/42", "/users/me", "/users/42/", "/users/42/posts/7", "/users/42/posts/7/",
	"/users/%34%32", "/users/a%2Fb", "/users/42/files", "/users/42/files/", "/users/42/files/x/y", "/users/caf%C3%A9",
	"/x/1/2/3", "/x/1/2", "/x/1/2/", "/x/1/2/3/4",
	"/items", "/items/", "/items/1", "/items/1/tags", "/items/1/tags/", "/items/1/tags/x", "/items/1?x",
	// escapes
	"/caf%C3%A9", "/caf%c3%a9", "/a%2Fb", "/a%2fb", "/a%2Fb/", "/sp%20ace", "/q/%20", "/q/a%2Fb", "/q/", "/q",
	"/r", "/r/", "/r/x%2Fy/z", "/%2e%2e/a", "/a/%2e%2e", "/%61", "/%61/b", "/brace%7D/x", "/n/%C3%A9",
	// methods, hosts, roots
	"/h", "/g", "/p", "/any", "/m", "/m/", "/m/1", "/m/1/", "/m/1/2", "/api", "/api/", "/api/x", "/api/y",
	"/w", "/w/", "/w/a", "/w/a/b", "/v6", "/v1", "/v1/", "/v1/9", "/v1/items",
	"/posts", "/posts/", "/posts/latest", "/posts/1", "/posts/1/edit", "/posts/1/edit/", "/posts/1/x/y",
	"/n/a", "/n/a/b", "/n/1/2/3/4/5/6/7/8", "/x", "/e%20d", "/e%20d/f",
	// absolute form: the target's authority is the host
	"http://example.com/a", "http://api.example.com/v1/7", "https://other.org/dir", "http://example.com/x/../a",
}

// TestMuxMatchesServeMux routes every request through a Mux and a
// net/http ServeMux holding the same patterns, and wants the same
// outcome: pattern and path values, 404, 405 and Allow, redirect and
// Location (compared decoded: Mux keeps the request's escaping, net/http
// re-escapes the decoded path; see muxDifferences).
func TestMuxMatchesServeMux(t *testing.T) {
	for _, g := range muxGroups {
		t.Run(g.name, func(t *testing.T) {
			sm, err := newTestServeMux(t, g.patterns)
			if err != nil {
				t.Fatalf("net/http rejects the group (move it to muxDifferences): %v", err)
			}
			m := newTestMux(t, g.patterns)
			for _, target := range muxTargets {
				for _, method := range muxMethods {
					for _, host := range muxHosts {
						got := muxRoute(t, m, muxRaw(method, target, host))
						want := stdRoute(t, sm, muxRaw(method, target, strings.ToLower(host)))
						got.location, want.location = decodedLocation(got.location), decodedLocation(want.location)
						if got != want {
							t.Errorf("%s %s (Host: %s):\n\tsluice   %v\n\tnet/http %v", method, target, host, got, want)
						}
					}
				}
			}
		})
	}
}

// TestMuxRandomMatchesServeMux is TestMuxMatchesServeMux over random
// small pattern sets (those net/http accepts) and random requests, built
// from few names so that patterns overlap and requests hit them.
func TestMuxRandomMatchesServeMux(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	randPattern := func() string {
		var b strings.Builder
		b.WriteString(pick("", "", "GET ", "POST ", "HEAD "))
		b.WriteString(pick("", "", "", "h.com"))
		names := []string{"x", "y", "z"}
		for range rng.IntN(4) {
			switch s := pick("a", "b", "{w}", "{w}"); s {
			case "{w}":
				b.WriteString("/{" + names[0] + "}")
				names = names[1:]
			default:
				b.WriteString("/" + s)
			}
		}
		b.WriteString(pick("", "/", "/", "/{$}", "/{rest...}"))
		if b.Len() == 0 || !strings.Contains(b.String(), "/") {
			b.WriteString("/")
		}
		return b.String()
	}
	randTarget := func() string {
		var b strings.Builder
		for range rng.IntN(5) {
			b.WriteString("/" + pick("a", "b", "c", "a", "b", "%61", "%2F", ".", ".."))
		}
		b.WriteString(pick("", "", "/", "//"))
		if b.Len() == 0 {
			return "/"
		}
		return b.String()
	}
	groups, checked := 0, 0
	for groups < 3000 {
		patterns := make([]string, 1+rng.IntN(5))
		for i := range patterns {
			patterns[i] = randPattern()
		}
		sm, err := newTestServeMux(t, patterns)
		if err != nil {
			continue // overlapping or duplicate: net/http refuses it
		}
		groups++
		m := newTestMux(t, patterns)
		for range 20 {
			target, method, host := randTarget(), pick("GET", "HEAD", "POST", "PUT"), pick("h.com", "H.com:80", "i.com")
			if strings.Contains(target, "%2F/") || strings.HasSuffix(target, "%2F") {
				continue // a segment that is just an escaped slash: see muxDifferences
			}
			if !cleanPath(target) && strings.Contains(target, "%") {
				continue // net/http escapes the clean path twice: see muxDifferences
			}
			checked++
			got := muxRoute(t, m, muxRaw(method, target, host))
			want := stdRoute(t, sm, muxRaw(method, target, strings.ToLower(host)))
			got.location, want.location = decodedLocation(got.location), decodedLocation(want.location)
			if got != want {
				t.Errorf("patterns %q\n\t%s %s (Host: %s):\n\tsluice   %v\n\tnet/http %v", patterns, method, target, host, got, want)
			}
		}
	}
	t.Logf("%d requests over %d pattern sets", checked, groups)
}

func decodedLocation(loc string) string {
	if u, err := url.PathUnescape(loc); err == nil {
		return u
	}
	return loc
}

// muxDifferences are the requests where Mux and net/http's ServeMux
// disagree on purpose, each with the reason. The test pins both sides, so
// a change in either shows up here.
var muxDifferences = []struct {
	name     string
	patterns []string
	raw      string
	sluice   muxOutcome // ignored when sluicePanics
	std      muxOutcome // ignored when stdPanics or raw is ""
	// Exactly one router refuses the patterns.
	sluicePanics, stdPanics bool
	reason                  string
}{
	{
		name:      "overlap: literal segment first",
		patterns:  []string{"/a/{x}/c", "/a/b/{y}"},
		raw:       muxRaw("GET", "/a/b/c", "example.com"),
		sluice:    muxOutcome{status: 200, pattern: "/a/b/{y}", values: `y="c" unknown="" `},
		stdPanics: true,
		reason:    "Mux orders overlapping patterns segment by segment instead of refusing them",
	},
	{
		name:      "overlap: path shape before method",
		patterns:  []string{"GET /{x}", "/a"},
		raw:       muxRaw("GET", "/a", "example.com"),
		sluice:    muxOutcome{status: 200, pattern: "/a", values: `unknown="" `},
		stdPanics: true,
		reason:    "Mux orders overlapping patterns: a literal segment beats a method",
	},
	{
		name:     "host case",
		patterns: []string{"example.com/h"},
		raw:      muxRaw("GET", "/h", "EXAMPLE.com"),
		sluice:   muxOutcome{status: 200, pattern: "example.com/h", values: `unknown="" `},
		std:      muxOutcome{status: 404},
		reason:   "host names are case-insensitive (RFC 3986 §3.2.2); net/http compares bytes",
	},
	{
		name:     "IPv6 host with a port",
		patterns: []string{"[::1]/v6"},
		raw:      muxRaw("GET", "/v6", "[::1]:8080"),
		sluice:   muxOutcome{status: 200, pattern: "[::1]/v6", values: `unknown="" `},
		std:      muxOutcome{status: 404},
		reason:   "net/http drops the brackets with the port, so [::1] patterns match only port-less requests",
	},
	{
		name:     "escaped slash segment and wildcard",
		patterns: []string{"/", "/q/{v}"},
		raw:      muxRaw("GET", "/q/%2F", "example.com"),
		sluice:   muxOutcome{status: 200, pattern: "/q/{v}", values: `v="/" unknown="" `},
		std:      muxOutcome{status: 200, pattern: "/", values: `unknown="" `},
		reason:   `net/http takes a segment that decodes to "/" for the end of the path`,
	},
	{
		name:     "escaped slash segment and {$}",
		patterns: []string{"/z/{$}"},
		raw:      muxRaw("GET", "/z/%2F", "example.com"),
		sluice:   muxOutcome{status: 404},
		std:      muxOutcome{status: 200, pattern: "/z/{$}", values: `unknown="" `},
		reason:   `net/http takes a segment that decodes to "/" for the end of the path`,
	},
	{
		name:   "clean redirect keeps the escaping",
		raw:    muxRaw("GET", "/a%20b//c", "example.com"),
		sluice: muxOutcome{status: 307, location: "/a%20b/c"},
		std:    muxOutcome{status: 307, location: "/a%2520b/c"},
		reason: "net/http escapes the already escaped path a second time",
	},
	{
		name:     "slash redirect keeps %2F",
		patterns: []string{"/a%2Fb/"},
		raw:      muxRaw("GET", "/a%2Fb", "example.com"),
		sluice:   muxOutcome{status: 307, location: "/a%2Fb/"},
		std:      muxOutcome{status: 307, location: "/a/b/"},
		reason:   "net/http builds Location from the decoded path, which names another resource",
	},
	{
		name:     "absolute form without a path",
		patterns: []string{"/"},
		raw:      muxRaw("GET", "http://example.com", "example.com"),
		sluice:   muxOutcome{status: 200, pattern: "/", values: `unknown="" `},
		std:      muxOutcome{status: 307, location: "/"},
		reason:   `an empty path is "/" (RFC 9110 §4.2.3); the codec says so, net/http redirects`,
	},
	{
		name:     "CONNECT",
		patterns: []string{"GET /"},
		raw:      "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		sluice:   muxOutcome{status: 404},
		std:      muxOutcome{status: 405, allow: "GET, HEAD"},
		reason:   "an authority-form target has no path to route; net/http matches it as \"/\" for Allow",
	},
	{
		name:     "OPTIONS *",
		patterns: []string{"/"},
		raw:      "OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n",
		sluice:   muxOutcome{status: 404},
		std:      muxOutcome{status: 400},
		reason:   "an asterisk-form target has no path to route; it is a valid request, not a bad one",
	},
	{
		name:         "unclean pattern without a method",
		patterns:     []string{"//x"},
		raw:          muxRaw("GET", "/dir/x", "example.com"),
		std:          muxOutcome{status: 200, pattern: "//x", values: `unknown="" `},
		sluicePanics: true,
		reason:       `only CONNECT paths stay unclean, and Mux does not route CONNECT (net/http even matches "//x" to "/dir/x")`,
	},
	{
		name:         "malformed escape in a pattern",
		patterns:     []string{"/100%"},
		sluicePanics: true,
		reason:       "the pattern could match only requests both reject with 400: a typo",
	},
	{
		name:         "nine wildcards",
		patterns:     []string{"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}"},
		sluicePanics: true,
		reason:       "path values live in a fixed array in Ctx, so routing allocates nothing",
	},
}

func TestMuxDifferences(t *testing.T) {
	for _, d := range muxDifferences {
		t.Run(d.name, func(t *testing.T) {
			if d.reason == "" {
				t.Error("no reason given")
			}
			sm, err := newTestServeMux(t, d.patterns)
			if gotPanic := err != nil; gotPanic != d.stdPanics {
				t.Fatalf("net/http panics = %v (%v), want %v", gotPanic, err, d.stdPanics)
			}
			if d.sluicePanics {
				if msg := muxPanic(func() { newTestMux(t, d.patterns) }); msg == "" {
					t.Fatal("Mux accepts the patterns, want a panic")
				}
				if d.raw != "" {
					if got := stdRoute(t, sm, d.raw); got != d.std {
						t.Errorf("net/http %v\n\twant     %v", got, d.std)
					}
				}
				return
			}
			if got := muxRoute(t, newTestMux(t, d.patterns), d.raw); got != d.sluice {
				t.Errorf("sluice   %v\n\twant     %v", got, d.sluice)
			}
			if d.stdPanics {
				return
			}
			if got := stdRoute(t, sm, d.raw); got != d.std {
				t.Errorf("net/http %v\n\twant     %v", got, d.std)
			}
		})
	}
}

// muxPanic runs f and returns what it panicked with, or "".
func muxPanic(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
			if msg == "" {
				msg = "(empty panic)"
			}
		}
	}()
	f()
	return ""
}

func TestMuxBadPatterns(t *testing.T) {
	nop := HandlerFunc(func(*Ctx) {})
	tests := []struct {
		name     string
		patterns []string // the last one panics
		want     string   // in the panic message
		stdOK    bool     // net/http accepts them (a documented difference)
	}{
		{name: "empty", patterns: []string{""}, want: "must contain a '/'"},
		{name: "method only", patterns: []string{"GET"}, want: "must contain a '/'"},
		{name: "host only", patterns: []string{"example.com"}, want: "must contain a '/'"},
		{name: "bad method", patterns: []string{"G(T /a"}, want: "bad method"},
		{name: "wildcard in host", patterns: []string{"{x}/a"}, want: "wildcard in the host"},
		{name: "empty name", patterns: []string{"/a/{}"}, want: `bad wildcard name ""`},
		{name: "empty multi name", patterns: []string{"/a/{...}"}, want: `bad wildcard name ""`},
		{name: "digit first", patterns: []string{"/{1x}"}, want: `bad wildcard name "1x"`},
		{name: "dash in name", patterns: []string{"/{a-b}"}, want: `bad wildcard name "a-b"`},
		{name: "partial segment", patterns: []string{"/a{x}"}, want: "whole segment"},
		{name: "text after wildcard", patterns: []string{"/{x}a"}, want: "whole segment"},
		{name: "unclosed", patterns: []string{"/{x"}, want: "whole segment"},
		{name: "{$} not last", patterns: []string{"/{$}/a"}, want: "{$} not at the end"},
		{name: "{$} before slash", patterns: []string{"/a/{$}/"}, want: "{$} not at the end"},
		{name: "multi not last", patterns: []string{"/{x...}/a"}, want: "{x...} not at the end"},
		{name: "multi before slash", patterns: []string{"/{x...}/"}, want: "{x...} not at the end"},
		{name: "duplicate name", patterns: []string{"/{x}/{x}"}, want: `duplicate wildcard "x"`},
		{name: "duplicate multi name", patterns: []string{"/{x}/{x...}"}, want: `duplicate wildcard "x"`},
		{name: "unclean with method", patterns: []string{"GET /a/../b"}, want: "unclean path"},
		{name: "empty segment with method", patterns: []string{"GET //a"}, want: "unclean path"},
		{name: "unclean", patterns: []string{"/a/../b"}, want: "unclean path", stdOK: true},
		{name: "empty segment", patterns: []string{"//x"}, want: "unclean path", stdOK: true},
		{name: "duplicate", patterns: []string{"/a", "/a"}, want: `"/a" conflicts with "/a"`},
		{name: "duplicate shape", patterns: []string{"GET /u/{id}", "GET /u/{name}"}, want: "conflicts with"},
		{name: "slash and multi", patterns: []string{"/d/", "/d/{rest...}"}, want: "conflicts with"},
		{name: "host case", patterns: []string{"example.com/a", "EXAMPLE.com/a"}, want: "conflicts with", stdOK: true},
		{name: "malformed escape", patterns: []string{"/100%"}, want: "bad escape", stdOK: true},
		{name: "nine wildcards", patterns: []string{"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}"}, want: "more than 8 wildcards", stdOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewMux()
			last := len(tt.patterns) - 1
			for _, p := range tt.patterns[:last] {
				m.Handle(p, nop)
			}
			msg := muxPanic(func() { m.Handle(tt.patterns[last], nop) })
			if !strings.HasPrefix(msg, "sluice: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("panic %q, want one starting %q containing %q", msg, "sluice: ", tt.want)
			}
			if !strings.Contains(msg, strconv.Quote(tt.patterns[last])) {
				t.Errorf("panic %q does not quote the pattern", msg)
			}
			if _, err := newTestServeMux(t, tt.patterns); (err == nil) != tt.stdOK {
				t.Errorf("net/http panics: %v, want %v", err, !tt.stdOK)
			}
		})
	}
	t.Run("nil handler", func(t *testing.T) {
		if msg := muxPanic(func() { NewMux().Handle("/a", nil) }); !strings.Contains(msg, "nil handler") {
			t.Errorf("panic %q, want nil handler", msg)
		}
	})
}

// TestMuxZeroValue checks that a Mux{} routes (everything to 404) and
// accepts routes.
func TestMuxZeroValue(t *testing.T) {
	var m Mux
	if got := muxRoute(t, &m, muxRaw("GET", "/a", "x")); got.status != 404 {
		t.Errorf("empty Mux: %v, want 404", got)
	}
	if got := muxRoute(t, &m, muxRaw("GET", "//a", "x")); got.status != 307 || got.location != "/a" {
		t.Errorf("empty Mux, unclean path: %v, want 307 to /a", got)
	}
	m.HandleFunc("/a", func(c *Ctx) { c.SetStatus(204) })
	if got := muxRoute(t, &m, muxRaw("GET", "/a", "x")); got.status != 204 {
		t.Errorf("after HandleFunc: %v, want 204", got)
	}
}

// TestMuxConcurrentHandle adds routes while other goroutines route
// requests; run it with -race.
func TestMuxConcurrentHandle(t *testing.T) {
	const routes = 200
	m := NewMux()
	m.HandleFunc("/r/{n}", func(c *Ctx) {})
	var wg sync.WaitGroup
	done := make(chan struct{})
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				n := strconv.Itoa((i*7 + g) % routes)
				x := muxCtx(t, muxRaw("GET", "/r/"+n+"/x", "example.com"))
				m.route(x)
				// Either the route is not added yet, or it is and wins.
				if p := x.Pattern(); p != "" && p != "/r/"+n+"/x" {
					t.Errorf("/r/%s/x routed to %q", n, p)
					return
				}
				x = muxCtx(t, muxRaw("GET", "/r/"+n, "example.com"))
				m.route(x)
				if x.Pattern() != "/r/{n}" || x.PathValue("n") != n {
					t.Errorf("/r/%s routed to %q with n=%q", n, x.Pattern(), x.PathValue("n"))
					return
				}
			}
		}()
	}
	for i := range routes {
		m.HandleFunc("/r/"+strconv.Itoa(i)+"/x", func(c *Ctx) {})
	}
	close(done)
	wg.Wait()
	for i := range routes {
		x := muxCtx(t, muxRaw("GET", "/r/"+strconv.Itoa(i)+"/x", "example.com"))
		if m.route(x); x.Pattern() != "/r/"+strconv.Itoa(i)+"/x" {
			t.Fatalf("after Handle: /r/%d/x routed to %q", i, x.Pattern())
		}
	}
}

// TestMuxZeroAllocs pins the steady state: routing a request to a
// pattern allocates nothing when the path needs no decoding.
func TestMuxZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := benchMux()
	tests := []struct {
		name, raw, pattern string
	}{
		{"literal", muxRaw("GET", "/healthz", "example.com"), "GET /healthz"},
		{"one wildcard", muxRaw("GET", "/api/v1/users/42", "example.com"), "GET /api/v1/users/{id}"},
		{"HEAD to GET", muxRaw("HEAD", "/api/v1/users/42", "example.com"), "GET /api/v1/users/{id}"},
		{"prefix", muxRaw("GET", "/static/css/site.css", "example.com"), "GET /static/"},
		{"host", muxRaw("GET", "/intro", "Docs.Example.com:8080"), "docs.example.com/{page}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := muxCtx(t, tt.raw)
			if m.route(x); x.Pattern() != tt.pattern {
				t.Fatalf("routed to %q, want %q", x.Pattern(), tt.pattern)
			}
			if n := testing.AllocsPerRun(100, func() { m.route(x) }); n != 0 {
				t.Errorf("%v allocations per route, want 0", n)
			}
		})
	}
}

// TestMuxNested serves through a Mux registered in another: the inner one
// sees the whole path and replaces the outer pattern and path values, as a
// nested net/http ServeMux does.
func TestMuxNested(t *testing.T) {
	// The outer values and the inner ones are more than a Ctx holds.
	innerPatterns := []string{"GET /api/users/{id}", "/v/{p}/{q}/{r}/{s}/{t}/{u}/{w}/{y}"}
	outerPrefixes := []string{"/api/", "/v/{a}/{b}/{c}/{d}/{e}/"}
	inner := newTestMux(t, innerPatterns)
	outer := newTestMux(t, []string{"/"})
	for _, p := range outerPrefixes {
		outer.Handle(p, inner)
	}
	tests := []struct {
		name string
		raw  string
		want muxOutcome
	}{
		{"inner route", muxRaw("GET", "/api/users/7", "x"),
			muxOutcome{status: 200, pattern: "GET /api/users/{id}", values: `id="7" unknown="" `}},
		{"inner 405", muxRaw("POST", "/api/users/7", "x"),
			muxOutcome{status: 405, allow: "GET, HEAD"}},
		{"inner 404", muxRaw("GET", "/api/nope", "x"),
			muxOutcome{status: 404}},
		{"outer route", muxRaw("GET", "/other", "x"),
			muxOutcome{status: 200, pattern: "/", values: `unknown="" `}},
		{"values replaced", muxRaw("GET", "/v/1/2/3/4/5/6/7/8", "x"),
			muxOutcome{status: 200, pattern: "/v/{p}/{q}/{r}/{s}/{t}/{u}/{w}/{y}",
				values: `p="1" q="2" r="3" s="4" t="5" u="6" w="7" y="8" unknown="" `}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := muxRoute(t, outer, tt.raw); got != tt.want {
				t.Errorf("got  %v\n\twant %v", got, tt.want)
			}
			// net/http agrees.
			sm, _ := newTestServeMux(t, []string{"/"})
			in, err := newTestServeMux(t, innerPatterns)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range outerPrefixes {
				sm.Handle(p, in)
			}
			if got := stdRoute(t, sm, tt.raw); got != tt.want {
				t.Errorf("net/http %v\n\twant     %v", got, tt.want)
			}
		})
	}
	t.Run("pattern reset", func(t *testing.T) {
		x := muxCtx(t, muxRaw("GET", "/api/nope", "x"))
		outer.route(x)
		if x.Pattern() != "/api/" {
			t.Fatalf("outer pattern %q", x.Pattern())
		}
		x.route.Serve(x)
		if x.Pattern() != "" || x.nparams != 0 {
			t.Errorf("after the inner 404: pattern %q, %d path values; want none", x.Pattern(), x.nparams)
		}
	})
}

// benchRoutes is a typical service: an API, static files, a few hosts.
var benchRoutes = []string{
	"GET /{$}", "GET /healthz", "GET /metrics", "GET /favicon.ico", "GET /robots.txt",
	"GET /static/", "GET /assets/{path...}",
	"GET /api/v1/users", "POST /api/v1/users", "GET /api/v1/users/{id}", "PUT /api/v1/users/{id}",
	"DELETE /api/v1/users/{id}", "GET /api/v1/users/{id}/posts", "GET /api/v1/users/{id}/posts/{post}",
	"GET /api/v1/users/me", "GET /api/v1/posts", "POST /api/v1/posts", "GET /api/v1/posts/{id}",
	"GET /api/v1/posts/{id}/comments", "POST /api/v1/posts/{id}/comments", "GET /api/v1/search",
	"GET /api/v2/{resource}/{id}", "POST /api/v2/{resource}", "GET /login", "POST /login", "POST /logout",
	"GET /admin/", "docs.example.com/", "docs.example.com/{page}", "GET /blog/{year}/{slug}",
}

func benchMux() *Mux {
	m := NewMux()
	for _, p := range benchRoutes {
		m.HandleFunc(p, func(c *Ctx) {})
	}
	return m
}

var benchRequests = []struct{ name, method, target, host string }{
	{"literal", "GET", "/healthz", "example.com"},
	{"wildcard", "GET", "/api/v1/users/42", "example.com"},
	{"two wildcards", "GET", "/api/v1/users/42/posts/7", "example.com"},
	{"prefix", "GET", "/static/css/site.css", "example.com"},
	{"host", "GET", "/intro", "docs.example.com"},
	{"404", "GET", "/nope/nothing", "example.com"},
}

func BenchmarkMuxRoute(b *testing.B) {
	m := benchMux()
	for _, q := range benchRequests {
		b.Run(q.name, func(b *testing.B) {
			x := muxCtx(b, muxRaw(q.method, q.target, q.host))
			b.ReportAllocs()
			b.SetBytes(int64(len(q.target)))
			for b.Loop() {
				m.route(x)
			}
		})
	}
}

// BenchmarkServeMuxRoute is BenchmarkMuxRoute's work for net/http's
// ServeMux: finding the handler and pattern.
func BenchmarkServeMuxRoute(b *testing.B) {
	sm := http.NewServeMux()
	for _, p := range benchRoutes {
		sm.HandleFunc(p, func(http.ResponseWriter, *http.Request) {})
	}
	for _, q := range benchRequests {
		b.Run(q.name, func(b *testing.B) {
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(muxRaw(q.method, q.target, q.host))))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(q.target)))
			for b.Loop() {
				sm.Handler(r)
			}
		})
	}
}
