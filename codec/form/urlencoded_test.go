package form

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// pairs lists a form's decoded pairs.
func pairs(f *Form) [][2]string {
	var out [][2]string
	for k, v := range f.All() {
		out = append(out, [2]string{k, v})
	}
	return out
}

func TestParse(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		limits Limits
		want   [][2]string // when err is nil
		err    error       // kind
		status int
		offset int64
	}{
		{name: "simple", body: "a=1&b=2", want: [][2]string{{"a", "1"}, {"b", "2"}}},
		{name: "plus is space", body: "q=hello+world", want: [][2]string{{"q", "hello world"}}},
		{name: "percent escapes", body: "q=%41%62%2b%2F%25%00%e2%82%AC", want: [][2]string{{"q", "Ab+/%\x00€"}}},
		{name: "escaped key", body: "user+name=x&first%20name=y", want: [][2]string{{"user name", "x"}, {"first name", "y"}}},
		{name: "empty body", body: "", want: nil},
		{name: "empty pairs skipped", body: "&&a=1&&&b=2&", want: [][2]string{{"a", "1"}, {"b", "2"}}},
		{name: "no equals sign", body: "flag&a=1", want: [][2]string{{"flag", ""}, {"a", "1"}}},
		{name: "empty key", body: "=v", want: [][2]string{{"", "v"}}},
		{name: "empty value", body: "a=", want: [][2]string{{"a", ""}}},
		{name: "second equals is data", body: "a==b=c", want: [][2]string{{"a", "=b=c"}}},
		{name: "repeated keys keep order", body: "k=1&x=0&k=2&k=3", want: [][2]string{{"k", "1"}, {"x", "0"}, {"k", "2"}, {"k", "3"}}},
		{name: "raw bytes pass through", body: "name=Zo\xc3\xab&bad=\xff", want: [][2]string{{"name", "Zoë"}, {"bad", "\xff"}}},
		{name: "raw specials in values", body: "a=?/:@!$'()*,", want: [][2]string{{"a", "?/:@!$'()*,"}}},

		{name: "lone percent", body: "a=%", err: ErrBadEscape, status: 400, offset: 2},
		{name: "one hex digit", body: "a=%4", err: ErrBadEscape, status: 400, offset: 2},
		{name: "not hex", body: "a=1&b=%zz", err: ErrBadEscape, status: 400, offset: 6},
		{name: "half hex", body: "a=%4g&b=1", err: ErrBadEscape, status: 400, offset: 2},
		{name: "bad escape in key", body: "%x=1", err: ErrBadEscape, status: 400, offset: 0},
		{name: "percent before ampersand", body: "a=%&b=1", err: ErrBadEscape, status: 400, offset: 2},
		{name: "semicolon", body: "a=1;b=2", err: ErrSemicolon, status: 400, offset: 3},
		{name: "semicolon in key", body: "a;=1", err: ErrSemicolon, status: 400, offset: 1},

		{name: "size at the limit", body: "a=123456", limits: Limits{MaxBytes: 8}, want: [][2]string{{"a", "123456"}}},
		{name: "size past the limit", body: "a=1234567", limits: Limits{MaxBytes: 8}, err: ErrTooLarge, status: 413, offset: 8},
		{name: "default size limit", body: "a=" + strings.Repeat("x", DefaultMaxBytes-1), err: ErrTooLarge, status: 413, offset: DefaultMaxBytes},
		{name: "no size limit", body: "a=" + strings.Repeat("x", DefaultMaxBytes), limits: Limits{MaxBytes: -1}, want: [][2]string{{"a", strings.Repeat("x", DefaultMaxBytes)}}},
		{name: "fields at the limit", body: "a&b&c", limits: Limits{MaxFields: 3}, want: [][2]string{{"a", ""}, {"b", ""}, {"c", ""}}},
		{name: "fields past the limit", body: "a&b&c&d", limits: Limits{MaxFields: 3}, err: ErrTooManyFields, status: 413, offset: 6},
		{name: "empty pairs do not count", body: "a&&&&b&&&&c&&&", limits: Limits{MaxFields: 3}, want: [][2]string{{"a", ""}, {"b", ""}, {"c", ""}}},
		{name: "default field limit", body: strings.Repeat("a&", DefaultMaxFields) + "z", err: ErrTooManyFields, status: 413, offset: 2 * DefaultMaxFields},
		{name: "no field limit", body: strings.Repeat("a&", 5000), limits: Limits{MaxFields: -1}, want: func() [][2]string {
			out := make([][2]string, 5000)
			for i := range out {
				out[i] = [2]string{"a", ""}
			}
			return out
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse([]byte(tt.body), tt.limits)
			if tt.err != nil {
				var e *Error
				if !errors.As(err, &e) || !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if e.Status != tt.status || e.Offset != tt.offset {
					t.Errorf("status %d offset %d, want %d %d (%v)", e.Status, e.Offset, tt.status, tt.offset, err)
				}
				if f != nil {
					t.Error("non-nil form with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := pairs(f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
			if f.Len() != len(tt.want) {
				t.Errorf("Len = %d", f.Len())
			}
		})
	}
}

func TestFormAccessors(t *testing.T) {
	body := []byte("name=Ada+Lovelace&tag=math&tag=poetry&first+name=A%26B&empty=&flag&x=%2B")
	f, err := Parse(body, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{name: "Get", got: f.Get("name"), want: "Ada Lovelace"},
		{name: "Get escaped key", got: f.Get("first name"), want: "A&B"},
		{name: "Get escaped plus", got: f.Get("x"), want: "+"},
		{name: "Get missing", got: f.Get("nope"), want: ""},
		{name: "Get raw key does not match", got: f.Get("first+name"), want: ""},
		{name: "Values", got: f.Values("tag"), want: []string{"math", "poetry"}},
		{name: "Values missing", got: f.Values("nope"), want: []string(nil)},
		{name: "Has empty value", got: f.Has("empty"), want: true},
		{name: "Has flag", got: f.Has("flag"), want: true},
		{name: "Has missing", got: f.Has("nope"), want: false},
		{name: "Key", got: f.Key(3), want: "first name"},
		{name: "Value", got: f.Value(3), want: "A&B"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.name, c.got, c.want)
		}
	}
	k, v := f.RawField(3)
	if string(k) != "first+name" || string(v) != "A%26B" {
		t.Errorf("RawField = %q %q", k, v)
	}
	if &k[0] != &body[len("name=Ada+Lovelace&tag=math&tag=poetry&")] {
		t.Error("RawField is not a view into the body")
	}
	buf, ok := f.AppendValue([]byte("v:"), "first name")
	if !ok || string(buf) != "v:A&B" {
		t.Errorf("AppendValue = %q %v", buf, ok)
	}
	if buf, ok := f.AppendValue(nil, "nope"); ok || buf != nil {
		t.Errorf("AppendValue(missing) = %q %v", buf, ok)
	}
	n := 0
	for range f.All() {
		n++
		break
	}
	if n != 1 {
		t.Error("All did not stop")
	}
	f.Reset()
	if f.Len() != 0 || f.Has("name") {
		t.Error("Reset left pairs")
	}
}

func TestAppendUnescape(t *testing.T) {
	tests := []struct{ in, want string }{
		{in: "a+b%20c", want: "a b c"},
		{in: "%", want: "%"},
		{in: "%4", want: "%4"},
		{in: "%zz%41", want: "%zzA"},
		{in: "", want: ""},
	}
	for _, tt := range tests {
		if got := string(AppendUnescape(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("AppendUnescape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	body := []byte("name=Ada+Lovelace&email=ada%40example.org&tag=a&tag=b&agree=on")
	var f Form
	buf := make([]byte, 0, 64)
	allocs := testing.AllocsPerRun(100, func() {
		if err := f.Parse(body, Limits{}); err != nil {
			t.Fatal(err)
		}
		var ok bool
		buf, ok = f.AppendValue(buf[:0], "email")
		if !ok || !f.Has("agree") {
			t.Fatal("missing field")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Parse on a reused Form, want 0", allocs)
	}
}

func TestParseMatchesNetURL(t *testing.T) {
	for _, body := range []string{
		"a=1&b=2&a=3", "x+y=%7e%7E+", "&&=&=x&y", "a=%41&%42=b", "k=v=w", "%", "a=%x", "a;b", "a=\x00\xff",
	} {
		checkAgainstNetURL(t, []byte(body))
	}
}

// checkAgainstNetURL fails if Parse and url.ParseQuery disagree on body:
// the verdict, and when both accept, every key's values in order.
func checkAgainstNetURL(t *testing.T, body []byte) {
	t.Helper()
	f, err := Parse(body, Limits{MaxBytes: -1, MaxFields: -1})
	want, wantErr := url.ParseQuery(string(body))
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("body %q: Parse error %v, url.ParseQuery error %v", body, err, wantErr)
	}
	if err != nil {
		return
	}
	got := url.Values{}
	for k, v := range f.All() {
		got[k] = append(got[k], v)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("body %q:\nParse    %q\nnet/url  %q", body, got, want)
	}
	for k, vs := range want {
		if g := f.Values(k); !reflect.DeepEqual(g, vs) {
			t.Fatalf("body %q: Values(%q) = %q, want %q", body, k, g, vs)
		}
		if g := f.Get(k); g != vs[0] {
			t.Fatalf("body %q: Get(%q) = %q, want %q", body, k, g, vs[0])
		}
	}
}
