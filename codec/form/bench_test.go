package form

import (
	"bytes"
	"mime/multipart"
	"net/url"
	"strings"
	"testing"
)

// A typical sign-up form, URL-encoded.
var benchURLEncoded = []byte("name=Margaret+Hamilton&email=margaret%40apollo.example.org&password=s3cr3t%21&" +
	"country=US&city=Boston&zip=02139&newsletter=on&terms=on&interests=software&interests=space&interests=rope+memory")

func BenchmarkParseURLEncoded(b *testing.B) {
	b.Run("sluice", func(b *testing.B) { // a reused Form, one value decoded
		b.ReportAllocs()
		b.SetBytes(int64(len(benchURLEncoded)))
		var f Form
		buf := make([]byte, 0, 64)
		for b.Loop() {
			if err := f.Parse(benchURLEncoded, Limits{}); err != nil {
				b.Fatal(err)
			}
			buf, _ = f.AppendValue(buf[:0], "email")
		}
	})
	b.Run("net_url", func(b *testing.B) { // the baseline: url.ParseQuery decodes everything
		b.ReportAllocs()
		b.SetBytes(int64(len(benchURLEncoded)))
		for b.Loop() {
			v, err := url.ParseQuery(string(benchURLEncoded))
			if err != nil {
				b.Fatal(err)
			}
			_ = v.Get("email")
		}
	})
}

// A form with three fields and a 100 KiB file (kept in memory by both).
var benchMultipart = body(part{name: "title", content: "Holiday"}, part{name: "tags", content: "beach,sun"},
	part{name: "public", content: "on"}, part{name: "photo", filename: "beach.jpg", content: strings.Repeat("J", 100<<10)})

func BenchmarkParseMultipart(b *testing.B) {
	b.Run("sluice", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchMultipart)))
		for b.Loop() {
			m, err := ParseMultipart(bytes.NewReader(benchMultipart), testContentType, MultipartOptions{})
			if err != nil {
				b.Fatal(err)
			}
			m.Close()
		}
	})
	b.Run("mime_multipart", func(b *testing.B) { // the baseline: ReadForm, as net/http uses it
		b.ReportAllocs()
		b.SetBytes(int64(len(benchMultipart)))
		for b.Loop() {
			f, err := multipart.NewReader(bytes.NewReader(benchMultipart), testBoundary).ReadForm(32 << 20)
			if err != nil {
				b.Fatal(err)
			}
			f.RemoveAll()
		}
	})
}
