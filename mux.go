package sluice

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/sluice-go/sluice/codec/http1"
)

// Mux routes requests by the pattern syntax of Go 1.22's net/http
// ServeMux, which Go users already know:
//
//	[METHOD ][HOST]/[PATH]
//
// "GET /users/{id}" matches GET (and HEAD) requests for /users/42 and sets
// PathValue("id") to "42"; "/static/" matches every path under /static/;
// "/files/{path...}" captures the rest of the path; "/{$}" matches only
// "/"; "api.example.com/" matches only requests for that host.
//
// Precedence follows the shape of the pattern, segment by segment: a
// literal segment beats a wildcard, a wildcard beats a "..." or trailing-
// slash remainder, a host pattern beats a host-less one, and a pattern
// with a method beats one without. Registering the same pattern twice
// panics (net/http also panics on patterns that overlap with no order
// between them; Mux applies the order above instead). Where net/http
// accepts a set of patterns, both pick the same one for every request,
// apart from the differences listed below.
//
// A request whose path matches patterns but not its method gets 405 with
// an Allow header; one that matches nothing gets 404. A path that is not
// clean ("//", "." or ".." segments) is redirected to its clean form, and
// "/dir" to "/dir/" when "/dir/" matches exactly, as net/http does (307,
// both at once for "//dir"). Wildcards match whole segments of the
// percent-decoded path; their values are decoded.
//
// Mux differs from net/http where net/http is arguably wrong: host names
// match case-insensitively, an IPv6 host keeps its brackets whether or
// not a port follows, an escaped slash ("%2F") is an ordinary character
// of its segment, and redirects keep the request's escaping. A pattern
// with an unclean path, a malformed escape or more than 8 wildcards
// panics. CONNECT and "OPTIONS *" requests have no path to route and get
// 404.
//
// Safe for concurrent use: routes may be added while serving; lookups take
// no lock.
type Mux struct {
	mu     sync.Mutex // guards routes
	routes []*route   // guarded by mu; each route is immutable once added
	tree   atomic.Pointer[muxTree]
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{} }

type route struct {
	pattern string
	method  string // "" for any
	host    string // lower case, "" for any
	segs    []patSeg
	multi   string // name of a trailing "{name...}"; "" with prefix for "/dir/"
	prefix  bool   // ends in a remainder wildcard (named or trailing slash)
	handler Handler
	names   []string // wildcard names in pattern order, multi last
}

type patSeg struct {
	lit  string // literal (decoded), when wild == ""; "" for {$}
	wild string // single-segment wildcard name
}

// muxTree is an immutable snapshot of a Mux's routes: Handle builds a new
// one and swaps it in, so lookups need no lock.
type muxTree struct {
	hosts map[string]*muxNode
	any   *muxNode
}

type muxNode struct {
	lit  map[string]*muxNode
	wild *muxNode
	end  *muxLeaf // patterns that end here
	rest *muxLeaf // patterns whose remainder wildcard starts here
}

type muxLeaf struct {
	byMethod map[string]*route // "" is any method
	methods  []string          // sorted, for Allow
}

// emptyTree is what a Mux with no routes matches against. Read-only.
var emptyTree = muxTree{any: &muxNode{}}

// Handle registers h for pattern. It panics on a malformed or duplicate
// pattern, as net/http does.
func (m *Mux) Handle(pattern string, h Handler) {
	if h == nil {
		panic("sluice: nil handler for pattern " + pattern)
	}
	r, err := parsePattern(pattern)
	if err != nil {
		panic(err)
	}
	r.handler = h
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range m.routes {
		if o.method == r.method && o.host == r.host && sameShape(o, r) {
			panic(fmt.Sprintf("sluice: pattern %q conflicts with %q: they match the same requests", pattern, o.pattern))
		}
	}
	m.routes = append(m.routes, r)
	m.tree.Store(buildTree(m.routes))
}

// HandleFunc registers f for pattern.
func (m *Mux) HandleFunc(pattern string, f func(c *Ctx)) { m.Handle(pattern, HandlerFunc(f)) }

// Serve routes c and serves it: a Mux is a Handler, so Muxes nest. (The
// server routes on the loop before dispatch, so inline routes stay
// inline; nested Muxes route on whatever runs them.) The inner Mux sees
// the whole path and replaces the outer pattern and path values, as a
// nested net/http ServeMux does.
func (m *Mux) Serve(c *Ctx) {
	m.route(c)
	c.route.Serve(c)
}

func sameShape(a, b *route) bool {
	if a.prefix != b.prefix || len(a.segs) != len(b.segs) {
		return false
	}
	for i := range a.segs {
		if (a.segs[i].wild == "") != (b.segs[i].wild == "") || a.segs[i].lit != b.segs[i].lit {
			return false
		}
	}
	return true
}

func parsePattern(p string) (*route, error) {
	r := &route{pattern: p}
	rest := p
	if i := strings.IndexAny(rest, " \t"); i >= 0 {
		r.method, rest = rest[:i], strings.TrimLeft(rest[i:], " \t")
		for j := 0; j < len(r.method); j++ {
			if c := r.method[j]; c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
				return nil, fmt.Errorf("sluice: bad method in pattern %q", p)
			}
		}
	}
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return nil, fmt.Errorf("sluice: pattern %q has no path (it must contain a '/')", p)
	}
	r.host, rest = lowerASCII(rest[:i]), rest[i:]
	if strings.IndexByte(r.host, '{') >= 0 {
		return nil, fmt.Errorf("sluice: wildcard in the host of pattern %q (missing initial '/'?)", p)
	}
	// Request paths are cleaned before matching, so such a pattern could
	// never match. (net/http accepts one without a method, for CONNECT
	// requests, which Mux does not route.)
	if rest != cleanedPath(rest) {
		return nil, fmt.Errorf("sluice: pattern %q has an unclean path and can never match", p)
	}
	seen := map[string]bool{}
	segs := strings.Split(rest[1:], "/")
	for k, s := range segs {
		last := k == len(segs)-1
		switch {
		case last && s == "":
			// "/dir/": a trailing slash matches everything below.
			r.prefix = true
		case s == "{$}":
			if !last {
				return nil, fmt.Errorf("sluice: {$} not at the end of pattern %q", p)
			}
			r.segs = append(r.segs, patSeg{lit: ""})
		case strings.IndexByte(s, '{') >= 0:
			if s[0] != '{' || s[len(s)-1] != '}' {
				return nil, fmt.Errorf("sluice: a wildcard must be a whole segment in pattern %q", p)
			}
			name, multi := strings.CutSuffix(s[1:len(s)-1], "...")
			if !validName(name) {
				return nil, fmt.Errorf("sluice: bad wildcard name %q in pattern %q", name, p)
			}
			if seen[name] {
				return nil, fmt.Errorf("sluice: duplicate wildcard %q in pattern %q", name, p)
			}
			seen[name] = true
			r.names = append(r.names, name)
			if multi {
				if !last {
					return nil, fmt.Errorf("sluice: {%s...} not at the end of pattern %q", name, p)
				}
				r.prefix, r.multi = true, name
			} else {
				r.segs = append(r.segs, patSeg{wild: name})
			}
		default:
			// A malformed escape could only match a request that both
			// net/http and sluice reject with 400: it is a typo.
			lit, err := url.PathUnescape(s)
			if err != nil {
				return nil, fmt.Errorf("sluice: bad escape in pattern %q: %v", p, err)
			}
			r.segs = append(r.segs, patSeg{lit: lit})
		}
	}
	if len(r.names) > maxParams {
		return nil, fmt.Errorf("sluice: pattern %q has more than %d wildcards", p, maxParams)
	}
	return r, nil
}

// validName reports whether s is a wildcard name: a Go identifier, as
// net/http requires.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !unicode.IsLetter(c) && c != '_' && (i == 0 || !unicode.IsDigit(c)) {
			return false
		}
	}
	return true
}

func buildTree(routes []*route) *muxTree {
	t := &muxTree{hosts: map[string]*muxNode{}, any: &muxNode{}}
	for _, r := range routes {
		root := t.any
		if r.host != "" {
			if t.hosts[r.host] == nil {
				t.hosts[r.host] = &muxNode{}
			}
			root = t.hosts[r.host]
		}
		n := root
		for _, s := range r.segs {
			if s.wild != "" {
				if n.wild == nil {
					n.wild = &muxNode{}
				}
				n = n.wild
				continue
			}
			if n.lit == nil {
				n.lit = map[string]*muxNode{}
			}
			if n.lit[s.lit] == nil {
				n.lit[s.lit] = &muxNode{}
			}
			n = n.lit[s.lit]
		}
		leaf := &n.end
		if r.prefix {
			leaf = &n.rest
		}
		if *leaf == nil {
			*leaf = &muxLeaf{byMethod: map[string]*route{}}
		}
		(*leaf).byMethod[r.method] = r
		(*leaf).methods = append((*leaf).methods, r.method)
		slices.Sort((*leaf).methods)
	}
	return t
}

// route sets x.route, x.pattern and the path values for x's request. It
// runs on the loop for every request, so a request that matches a
// pattern allocates nothing (unless it needs decoding or lower-casing).
func (m *Mux) route(x *Ctx) {
	// A nested Mux replaces the outer one's values, as net/http's does.
	x.nparams, x.pattern = 0, ""
	t := m.tree.Load()
	if t == nil {
		t = &emptyTree
	}
	if x.req.Form == http1.AuthorityForm || x.req.Form == http1.AsteriskForm { // no path to route
		x.route = notFound
		return
	}
	p := x.Path()
	method := x.Method()
	host := t.hostNode(x.Host())
	if !cleanPath(p) {
		// One redirect, straight to "/dir/" for "//dir", as net/http.
		c := cleanedPath(p)
		if !strings.HasSuffix(c, "/") {
			mt := matcher{method: method, probe: true}
			if t.wantsSlash(host, c, t.find(host, c[1:], &mt), &mt) {
				c += "/"
			}
		}
		x.route = redirectTo(c, x.RawQuery())
		return
	}
	mt := matcher{method: method}
	r := t.find(host, p[1:], &mt)
	// "/dir" redirects to "/dir/" even when "/" would serve it: net/http
	// does so whenever the match is missing or not exact.
	if !strings.HasSuffix(p, "/") && (r == nil || r.prefix) {
		probe := matcher{method: method, probe: true}
		if t.wantsSlash(host, p, r, &probe) {
			x.route = redirectTo(p+"/", x.RawQuery())
			return
		}
	}
	if r != nil {
		x.route, x.pattern = r.handler, r.pattern
		for i, name := range r.names {
			x.params[i] = param{name: name, value: mt.vals[i]}
		}
		x.nparams = len(r.names)
		return
	}
	var allow []string
	t.allowed(host, p[1:], !strings.HasSuffix(p, "/"), &allow)
	if len(allow) > 0 {
		x.route = methodNotAllowed(allow)
		return
	}
	x.route = notFound
}

// wantsSlash reports whether p (clean, without a trailing slash), whose
// match is r, should redirect to p+"/": r is missing or matched only a
// prefix of p, and p+"/" has an exact match (every segment matched, with
// an empty remainder if any).
func (t *muxTree) wantsSlash(host *muxNode, p string, r *route, probe *matcher) bool {
	if r != nil && !r.prefix {
		return false
	}
	probe.n = 0
	r2 := t.findSlash(host, p[1:], probe)
	return r2 != nil && (!r2.prefix || len(r2.segs) == strings.Count(p, "/"))
}

// matcher walks a muxTree for one request. It lives on the caller's
// stack: path values are copied into the Ctx only for the route that
// wins, so a failed walk or a probe leaves the Ctx alone.
type matcher struct {
	method string
	probe  bool // find the route only: record no path values
	n      int  // path values recorded so far
	vals   [maxParams]string
}

// hostNode returns the root of the patterns for the request's host (the
// Host field or absolute-form authority, port and case aside), or nil.
func (t *muxTree) hostNode(h string) *muxNode {
	if len(t.hosts) == 0 {
		return nil
	}
	// Drop a ":port"; an IPv6 literal keeps its brackets.
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h[i:], ']') < 0 {
		h = h[:i]
	}
	if n := t.hosts[h]; n != nil {
		return n
	}
	// Host names are case-insensitive (RFC 3986 §3.2.2). Lower-case on
	// the stack: a map lookup keyed by string(bytes) does not allocate.
	// 255 bytes hold any DNS name (RFC 1035 §2.3.4: 253 as text).
	var buf [255]byte
	if len(h) > len(buf) {
		return nil
	}
	b, upper := buf[:len(h)], false
	for i := 0; i < len(h); i++ {
		c := h[i]
		if 'A' <= c && c <= 'Z' {
			c, upper = c+'a'-'A', true
		}
		b[i] = c
	}
	if !upper {
		return nil
	}
	return t.hosts[string(b)]
}

// find returns the route for the path p (after its leading '/'): the
// host's patterns first (host may be nil), then the host-less ones.
func (t *muxTree) find(host *muxNode, p string, m *matcher) *route {
	if host != nil {
		if r := m.match(host, p, false); r != nil {
			return r
		}
	}
	return m.match(t.any, p, false)
}

// findSlash is find for the path p+"/", without building it.
func (t *muxTree) findSlash(host *muxNode, p string, m *matcher) *route {
	if host != nil {
		if r := m.match(host, p, true); r != nil {
			return r
		}
	}
	return m.match(t.any, p, true)
}

// allowed gathers the methods of the patterns matching p, and p+"/" when
// slash is set (as net/http does).
func (t *muxTree) allowed(host *muxNode, p string, slash bool, allow *[]string) {
	for _, n := range [2]*muxNode{host, t.any} {
		if n != nil {
			n.collect(p, false, allow)
			if slash {
				n.collect(p, true, allow)
			}
		}
	}
}

// match finds the route for the remaining path p (after a '/'), followed
// by one more '/' when slash is set, trying a literal segment, then a
// wildcard, then a remainder, backtracking on failure.
func (m *matcher) match(n *muxNode, p string, slash bool) *route {
	seg, rest, more := strings.Cut(p, "/")
	if !more && slash {
		more, slash = true, false // rest is "": the added slash
	}
	key := seg
	if strings.IndexByte(seg, '%') >= 0 {
		key = pathUnescape(seg)
	}
	if c := n.lit[key]; c != nil {
		if r := m.next(c, rest, more, slash); r != nil {
			return r
		}
	}
	if n.wild != nil && seg != "" {
		// m.n < maxParams: a wildcard this deep belongs to a pattern
		// with that many wildcards, and parsePattern bounds those.
		i := m.n
		m.vals[i] = key
		m.n++
		if r := m.next(n.wild, rest, more, slash); r != nil {
			return r
		}
		m.n = i
	}
	if n.rest != nil {
		if r := n.rest.pick(m.method); r != nil {
			if r.multi != "" && !m.probe {
				m.vals[m.n] = pathUnescape(p)
				m.n++
			}
			return r
		}
	}
	return nil
}

// next continues matching below n: at the end of the path, n's own
// patterns; otherwise the next segment.
func (m *matcher) next(n *muxNode, rest string, more, slash bool) *route {
	if !more {
		if n.end != nil {
			return n.end.pick(m.method)
		}
		return nil
	}
	return m.match(n, rest, slash)
}

func (l *muxLeaf) pick(method string) *route {
	if r := l.byMethod[method]; r != nil {
		return r
	}
	if method == "HEAD" {
		if r := l.byMethod["GET"]; r != nil {
			return r
		}
	}
	return l.byMethod[""]
}

// collect gathers the methods of every pattern matching p (followed by
// one more '/' when slash is set).
func (n *muxNode) collect(p string, slash bool, allow *[]string) {
	seg, rest, more := strings.Cut(p, "/")
	if !more && slash {
		more, slash = true, false
	}
	key := seg
	if strings.IndexByte(seg, '%') >= 0 {
		key = pathUnescape(seg)
	}
	visit := func(c *muxNode) {
		if !more {
			if c.end != nil {
				addMethods(allow, c.end)
			}
			return
		}
		c.collect(rest, slash, allow)
	}
	if c := n.lit[key]; c != nil {
		visit(c)
	}
	if n.wild != nil && seg != "" {
		visit(n.wild)
	}
	if n.rest != nil {
		addMethods(allow, n.rest)
	}
}

func addMethods(allow *[]string, l *muxLeaf) {
	for _, m := range l.methods {
		if m == "" {
			continue // any method: this path would have matched
		}
		if !slices.Contains(*allow, m) {
			*allow = append(*allow, m)
		}
		if m == "GET" && !slices.Contains(*allow, "HEAD") {
			*allow = append(*allow, "HEAD")
		}
	}
}

// pathUnescape decodes s, or returns it as it is if it is malformed (as
// net/http does).
func pathUnescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// lowerASCII returns s with A-Z lower-cased; s itself if it has none.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// cleanPath reports whether p has no empty, "." or ".." segments (a
// trailing slash is fine).
func cleanPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for i := 1; i < len(p); {
		j := strings.IndexByte(p[i:], '/')
		seg := p[i:]
		if j >= 0 {
			seg = p[i : i+j]
		}
		if seg == "." || seg == ".." || seg == "" && j >= 0 {
			return false
		}
		if j < 0 {
			break
		}
		i += j + 1
	}
	return true
}

// cleanedPath is path.Clean keeping a trailing slash, as net/http's
// cleanPath.
func cleanedPath(p string) string {
	c := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c
}

var notFound = Inline(HandlerFunc(func(c *Ctx) { _ = c.Error(404, "") }))

func methodNotAllowed(allow []string) Handler {
	slices.Sort(allow)
	v := strings.Join(allow, ", ")
	return Inline(HandlerFunc(func(c *Ctx) {
		c.SetHeader("Allow", v)
		_ = c.Error(405, "")
	}))
}

// redirectStatus is 307, as Go 1.26's ServeMux: unlike 301, clients keep
// the method and body of the request, and do not cache the redirect.
const redirectStatus = 307

func redirectTo(to, query string) Handler {
	if query != "" {
		to += "?" + query
	}
	return Inline(HandlerFunc(func(c *Ctx) {
		c.Redirect(redirectStatus, to)
		_ = c.Error(redirectStatus, "")
	}))
}
