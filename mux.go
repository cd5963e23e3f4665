package sluice

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

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
// between them; Mux applies the order above instead).
//
// A request whose path matches patterns but not its method gets 405 with
// an Allow header; one that matches nothing gets 404. A path that is not
// clean ("//", "." or ".." segments) is redirected to its clean form, and
// "/dir" to "/dir/" when only "/dir/" is registered, as net/http does.
// Wildcards match whole segments of the percent-decoded path; their values
// are decoded.
//
// Safe for concurrent use: routes may be added while serving; lookups take
// no lock.
type Mux struct {
	mu     sync.Mutex // guards routes
	routes []*route
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
	names   []string
}

type patSeg struct {
	lit  string // literal (decoded), when wild == ""
	wild string // single-segment wildcard name
}

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

// Handle registers h for pattern. It panics on a malformed or duplicate
// pattern, as net/http does.
func (m *Mux) Handle(pattern string, h Handler) {
	if h == nil {
		panic("sluice: nil handler for " + pattern)
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
			panic(fmt.Sprintf("sluice: pattern %q conflicts with %q", pattern, o.pattern))
		}
	}
	m.routes = append(m.routes, r)
	m.tree.Store(buildTree(m.routes))
}

// HandleFunc registers f for pattern.
func (m *Mux) HandleFunc(pattern string, f func(c *Ctx)) { m.Handle(pattern, HandlerFunc(f)) }

// Serve routes c and serves it: a Mux is a Handler, so Muxes nest. (The
// server routes on the loop before dispatch, so inline routes stay
// inline; nested Muxes route on whatever runs them.)
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
	r.host, rest = strings.ToLower(rest[:i]), rest[i+1:]
	if strings.ContainsAny(r.host, "{}") {
		return nil, fmt.Errorf("sluice: wildcard in the host of pattern %q", p)
	}
	seen := map[string]bool{}
	segs := strings.Split(rest, "/")
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
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			multi := strings.HasSuffix(name, "...")
			name = strings.TrimSuffix(name, "...")
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
		case strings.ContainsAny(s, "{}"):
			return nil, fmt.Errorf("sluice: a wildcard must be a whole segment in pattern %q", p)
		default:
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

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
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

// route sets x.route (and the path values) for x's request. It runs on the
// loop for every request, so the common case allocates nothing.
func (m *Mux) route(x *Ctx) {
	t := m.tree.Load()
	if t == nil {
		x.route = notFound
		return
	}
	p := x.Path()
	method := x.Method()
	if x.req.Form == http1.AuthorityForm || x.req.Form == http1.AsteriskForm { // no path to route
		x.route = notFound
		return
	}
	if method != "CONNECT" && !cleanPath(p) {
		x.route = redirectTo(301, cleanedPath(p), x.RawQuery())
		return
	}
	host := hostOnly(x.Host())
	if r := t.find(host, p[1:], method, x); r != nil {
		x.route, x.pattern = r.handler, r.pattern
		return
	}
	x.nparams = 0
	var allow []string
	t.allowed(host, p[1:], &allow)
	if len(allow) > 0 {
		x.route = methodNotAllowed(allow)
		return
	}
	if !strings.HasSuffix(p, "/") {
		if r := t.find(host, p[1:]+"/", method, x); r != nil && r.prefix {
			x.nparams = 0
			x.route = redirectTo(301, p+"/", x.RawQuery())
			return
		}
		x.nparams = 0
	}
	x.route = notFound
}

func (t *muxTree) find(host, p, method string, x *Ctx) *route {
	if n := t.hosts[host]; n != nil && host != "" {
		if r := n.match(p, method, x); r != nil {
			return r
		}
	}
	return t.any.match(p, method, x)
}

func (t *muxTree) allowed(host, p string, allow *[]string) {
	if n := t.hosts[host]; n != nil && host != "" {
		n.collect(p, allow)
	}
	t.any.collect(p, allow)
}

// match finds the route for the remaining path p (after a '/'), trying a
// literal segment, then a wildcard, then a remainder, backtracking on
// failure. Path values are recorded in x as it goes.
func (n *muxNode) match(p, method string, x *Ctx) *route {
	seg, rest, more := strings.Cut(p, "/")
	key := seg
	if strings.IndexByte(seg, '%') >= 0 {
		if u, err := url.PathUnescape(seg); err == nil {
			key = u
		}
	}
	if c := n.lit[key]; c != nil {
		if r := c.next(rest, more, method, x); r != nil {
			return r
		}
	}
	if n.wild != nil && seg != "" {
		mark := x.nparams
		x.nparams++
		if r := n.wild.next(rest, more, method, x); r != nil {
			x.params[mark] = param{value: key}
			return r.fill(x, mark)
		}
		x.nparams = mark
	}
	if n.rest != nil {
		if r := n.rest.pick(method); r != nil {
			if r.multi != "" {
				v := p
				if strings.IndexByte(v, '%') >= 0 {
					if u, err := url.PathUnescape(v); err == nil {
						v = u
					}
				}
				x.params[x.nparams] = param{name: r.multi, value: v}
				x.nparams++
			}
			return r
		}
	}
	return nil
}

// next continues matching below n: at the end of the path, n's own
// patterns; otherwise the next segment.
func (n *muxNode) next(rest string, more bool, method string, x *Ctx) *route {
	if !more {
		if n.end != nil {
			if r := n.end.pick(method); r != nil {
				return r
			}
		}
		return nil
	}
	return n.match(rest, method, x)
}

// fill names the wildcard values of r recorded from position mark on.
func (r *route) fill(x *Ctx, mark int) *route {
	// Wildcards are recorded outermost first and named in pattern order.
	k := 0
	for _, s := range r.segs {
		if s.wild != "" {
			if k >= mark && k < x.nparams {
				x.params[k].name = s.wild
			}
			k++
		}
	}
	return r
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

// collect gathers the methods of every pattern matching p.
func (n *muxNode) collect(p string, allow *[]string) {
	seg, rest, more := strings.Cut(p, "/")
	key := seg
	if strings.IndexByte(seg, '%') >= 0 {
		if u, err := url.PathUnescape(seg); err == nil {
			key = u
		}
	}
	visit := func(c *muxNode) {
		if !more {
			if c.end != nil {
				addMethods(allow, c.end)
			}
			return
		}
		c.collect(rest, allow)
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

func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		h = h[:i]
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
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

func redirectTo(code int, to, query string) Handler {
	if query != "" {
		to += "?" + query
	}
	return Inline(HandlerFunc(func(c *Ctx) {
		c.Redirect(code, to)
		_ = c.Error(code, "")
	}))
}
