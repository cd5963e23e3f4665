package http1

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
	"time"
)

// The benchmark inputs. bench/codecbench/codec_test.go holds a copy of the
// same bytes for the comparison with fasthttp (which must stay out of this
// module); TestBenchInputsUnchanged in both files pins them to the same
// SHA-256, so change both files together.

// benchBrowserGET is a navigation request as Chrome sends it: 12 field
// lines, 541 bytes.
var benchBrowserGET = []byte("GET /docs/getting-started?lang=en HTTP/1.1\r\n" +
	"Host: example.com\r\n" +
	"Connection: keep-alive\r\n" +
	"Upgrade-Insecure-Requests: 1\r\n" +
	"User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
	"Sec-Fetch-Site: same-origin\r\n" +
	"Sec-Fetch-Mode: navigate\r\n" +
	"Sec-Fetch-Dest: document\r\n" +
	"Referer: https://example.com/docs/\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Cookie: sid=7f3c9a1e5b2d; theme=dark\r\n" +
	"\r\n")

// benchPostJSON is an API call with a 300-byte JSON body framed by
// Content-Length.
var benchPostJSON = []byte("POST /api/v1/orders HTTP/1.1\r\n" +
	"Host: api.example.com\r\n" +
	"User-Agent: checkout-web/2.3.1\r\n" +
	"Accept: application/json\r\n" +
	"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXNfOGYyazFtIn0.c2lnbmF0dXJl\r\n" +
	"Content-Type: application/json\r\n" +
	"Content-Length: 300\r\n" +
	"\r\n" +
	`{"customer_id":"cus_8f2k1m","currency":"EUR","items":[{"sku":"TSHIRT-BLK-M","qty":2,"price":1999},` +
	`{"sku":"MUG-WHT","qty":1,"price":1250}],"shipping":{"name":"Ada Lovelace","line1":"12 Analytical Way",` +
	`"city":"London","postcode":"N1 9GU","country":"GB"},"coupon":"SPRING24","notes":"Leave at the door"}`)

// benchChunkedUpload streams 4 KiB of NDJSON logs in five chunks (the
// third with a chunk extension) and ends with a trailer field.
var benchChunkedUpload = []byte("POST /ingest/logs HTTP/1.1\r\n" +
	"Host: logs.example.com\r\n" +
	"User-Agent: fluent-bit/3.0.4\r\n" +
	"Content-Type: application/x-ndjson\r\n" +
	"Transfer-Encoding: chunked\r\n" +
	"Trailer: X-Checksum\r\n" +
	"\r\n" +
	"400\r\n" +
	"{\"ts\":\"2024-05-14T09:21:00.000Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order placed\",\"id\":48210}\n" +
	"{\"ts\":\"2024-05-14T09:21:01.137Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"cart updated\",\"id\":48217}\n" +
	"{\"ts\":\"2024-05-14T09:21:02.274Z\",\"level\":\"warn\",\"svc\":\"checkout\",\"msg\":\"payment retry\",\"id\":48224}\n" +
	"{\"ts\":\"2024-05-14T09:21:03.411Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order shipped\",\"id\":48231}\n" +
	"{\"ts\":\"2024-05-14T09:21:04.548Z\",\"level\":\"debug\",\"svc\":\"checkout\",\"msg\":\"cache miss\",\"id\":48238}\n" +
	"{\"ts\":\"2024-05-14T09:21:05.685Z\",\"level\":\"error\",\"svc\":\"checkout\",\"msg\":\"upstream timeout\",\"id\":48245}\n" +
	"{\"ts\":\"2024-05-14T09:21:06.822Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order placed\",\"id\":48252}\n" +
	"{\"ts\":\"2024-05-14T09:21:07.959Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"cart updated\",\"id\":48259}\n" +
	"{\"ts\":\"2024-05-14T09:21:08.096Z\",\"level\":\"warn\",\"svc\":\"checkout\",\"msg\":\"payment retry\",\"id\":48266}\n" +
	"{\"ts\":\"2024-05-14T09:21:09.233Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order shipped\",\"id\":48273}\n" +
	"{\"ts\":\"2024-05-14T09:21:10.370Z\",\"le" +
	"\r\n" +
	"400\r\n" +
	"vel\":\"debug\",\"svc\":\"checkout\",\"msg\":\"cache miss\",\"id\":48280}\n" +
	"{\"ts\":\"2024-05-14T09:21:11.507Z\",\"level\":\"error\",\"svc\":\"checkout\",\"msg\":\"upstream timeout\",\"id\":48287}\n" +
	"{\"ts\":\"2024-05-14T09:21:12.644Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order placed\",\"id\":48294}\n" +
	"{\"ts\":\"2024-05-14T09:21:13.781Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"cart updated\",\"id\":48301}\n" +
	"{\"ts\":\"2024-05-14T09:21:14.918Z\",\"level\":\"warn\",\"svc\":\"checkout\",\"msg\":\"payment retry\",\"id\":48308}\n" +
	"{\"ts\":\"2024-05-14T09:21:15.055Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order shipped\",\"id\":48315}\n" +
	"{\"ts\":\"2024-05-14T09:21:16.192Z\",\"level\":\"debug\",\"svc\":\"checkout\",\"msg\":\"cache miss\",\"id\":48322}\n" +
	"{\"ts\":\"2024-05-14T09:21:17.329Z\",\"level\":\"error\",\"svc\":\"checkout\",\"msg\":\"upstream timeout\",\"id\":48329}\n" +
	"{\"ts\":\"2024-05-14T09:21:18.466Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order placed\",\"id\":48336}\n" +
	"{\"ts\":\"2024-05-14T09:21:19.603Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"cart updated\",\"id\":48343}\n" +
	"{\"ts\":\"2024-05-14T09:21:20.740Z\",\"level\":\"warn\",\"svc\":\"checkout\",\"msg\"" +
	"\r\n" +
	"400;sig=\"c2lnbmVk\"\r\n" +
	":\"payment retry\",\"id\":48350}\n" +
	"{\"ts\":\"2024-05-14T09:21:21.877Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order shipped\",\"id\":48357}\n" +
	"{\"ts\":\"2024-05-14T09:21:22.014Z\",\"level\":\"debug\",\"svc\":\"checkout\",\"msg\":\"cache miss\",\"id\":48364}\n" +
	"{\"ts\":\"2024-05-14T09:21:23.151Z\",\"level\":\"error\",\"svc\":\"checkout\",\"msg\":\"upstream timeout\",\"id\":48371}\n" +
	"{\"ts\":\"2024-05-14T09:21:24.288Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order placed\",\"id\":48378}\n" +
	"{\"ts\":\"2024-05-14T09:21:25.425Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"cart updated\",\"id\":48385}\n" +
	"{\"ts\":\"2024-05-14T09:21:26.562Z\",\"level\":\"warn\",\"svc\":\"checkout\",\"msg\":\"payment retry\",\"id\":48392}\n" +
	"{\"ts\":\"2024-05-14T09:21:27.699Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order shipped\",\"id\":48399}\n" +
	"{\"ts\":\"2024-05-14T09:21:28.836Z\",\"level\":\"debug\",\"svc\":\"checkout\",\"msg\":\"cache miss\",\"id\":48406}\n" +
	"{\"ts\":\"2024-05-14T09:21:29.973Z\",\"level\":\"error\",\"svc\":\"checkout\",\"msg\":\"upstream timeout\",\"id\":48413}\n" +
	"{\"ts\":\"2024-05-14T09:21:30.110Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order placed\",\"id\":48420}\n" +
	"{\"ts" +
	"\r\n" +
	"300\r\n" +
	"\":\"2024-05-14T09:21:31.247Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"cart updated\",\"id\":48427}\n" +
	"{\"ts\":\"2024-05-14T09:21:32.384Z\",\"level\":\"warn\",\"svc\":\"checkout\",\"msg\":\"payment retry\",\"id\":48434}\n" +
	"{\"ts\":\"2024-05-14T09:21:33.521Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order shipped\",\"id\":48441}\n" +
	"{\"ts\":\"2024-05-14T09:21:34.658Z\",\"level\":\"debug\",\"svc\":\"checkout\",\"msg\":\"cache miss\",\"id\":48448}\n" +
	"{\"ts\":\"2024-05-14T09:21:35.795Z\",\"level\":\"error\",\"svc\":\"checkout\",\"msg\":\"upstream timeout\",\"id\":48455}\n" +
	"{\"ts\":\"2024-05-14T09:21:36.932Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order placed\",\"id\":48462}\n" +
	"{\"ts\":\"2024-05-14T09:21:37.069Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"cart updated\",\"id\":48469}\n" +
	"{\"ts\":\"2024-05-14T09:21:38.206Z\",\"level\":\"warn\",\"svc\":\"checkout\",\"msg\":\"payment " +
	"\r\n" +
	"100\r\n" +
	"retry\",\"id\":48476}\n" +
	"{\"ts\":\"2024-05-14T09:21:39.343Z\",\"level\":\"info\",\"svc\":\"checkout\",\"msg\":\"order shipped\",\"id\":48483}\n" +
	"{\"ts\":\"2024-05-14T09:21:40.480Z\",\"level\":\"debug\",\"svc\":\"checkout\",\"msg\":\"cache miss\",\"id\":48490}\n" +
	"{\"ts\":\"2024-05-14T09:21:41.617Z\",\"level\":" +
	"\r\n" +
	"0\r\n" +
	"X-Checksum: sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\r\n" +
	"\r\n")

// benchInputSHA256 is the SHA-256 of each input, identical in
// bench/codecbench/codec_test.go.
var benchInputSHA256 = map[string]string{
	"BrowserGET":    "c5d1bc06277e2fe81367961f5990cf73f2186df57562788053ca2358dc59dd56",
	"PostJSON":      "7a5a527752142841923c26c825fce96c8a85e434ebde670005b0ca09c61f1a2c",
	"ChunkedUpload": "307f5a3a3db2cfca5f2eedaae4e0cb841feed7bdd5f49e78700b42a4963dac91",
}

func TestBenchInputsUnchanged(t *testing.T) {
	for name, in := range map[string][]byte{
		"BrowserGET":    benchBrowserGET,
		"PostJSON":      benchPostJSON,
		"ChunkedUpload": benchChunkedUpload,
	} {
		sum := sha256.Sum256(in)
		if got := hex.EncodeToString(sum[:]); got != benchInputSHA256[name] {
			t.Errorf("%s: SHA-256 %s, want %s: keep the copy in bench/codecbench in step", name, got, benchInputSHA256[name])
		}
	}
}

// benchParse measures Parser.Parse on in, reusing the Parser and the
// Request (and so the chunked BodyBuf) as a connection loop does.
func benchParse(b *testing.B, in []byte) {
	var p Parser
	var req Request
	n, err := p.Parse(in, &req)
	if err != nil || n != len(in) {
		b.Fatalf("Parse = %d, %v; want %d, nil", n, err, len(in))
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := p.Parse(in, &req); err != nil {
			b.Fatal(err)
		}
	}
}

// benchNetHTTPReadRequest is the net/http baseline: http.ReadRequest over
// a bufio.Reader reset on the input each iteration, with the whole body
// read, so it does the work Parse does.
func benchNetHTTPReadRequest(b *testing.B, in []byte) {
	rd := bytes.NewReader(in)
	br := bufio.NewReader(rd)
	read := func() error {
		rd.Reset(in)
		br.Reset(rd)
		req, err := http.ReadRequest(br)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return err
		}
		return req.Body.Close()
	}
	if err := read(); err != nil {
		b.Fatal(err)
	}
	if br.Buffered() != 0 {
		b.Fatalf("http.ReadRequest left %d bytes unread", br.Buffered())
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if err := read(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseBrowserGET(b *testing.B)    { benchParse(b, benchBrowserGET) }
func BenchmarkParsePostJSON(b *testing.B)      { benchParse(b, benchPostJSON) }
func BenchmarkParseChunkedUpload(b *testing.B) { benchParse(b, benchChunkedUpload) }

func BenchmarkNetHTTPReadRequestBrowserGET(b *testing.B) {
	benchNetHTTPReadRequest(b, benchBrowserGET)
}

func BenchmarkNetHTTPReadRequestPostJSON(b *testing.B) {
	benchNetHTTPReadRequest(b, benchPostJSON)
}

func BenchmarkNetHTTPReadRequestChunkedUpload(b *testing.B) {
	benchNetHTTPReadRequest(b, benchChunkedUpload)
}

var (
	benchServer    = []byte("sluice")
	benchPlainType = []byte("text/plain")
	benchPlainBody = []byte("Hello, World!")
	benchJSONType  = []byte("application/json")
	benchJSONBody  = []byte(`{"message":"Hello, World!"}`)
)

// benchAppendResponse measures a whole small response, head and body,
// appended to a reused buffer in answer to benchBrowserGET.
func benchAppendResponse(b *testing.B, contentType, body []byte) {
	var p Parser
	var req Request
	if _, err := p.Parse(benchBrowserGET, &req); err != nil {
		b.Fatal(err)
	}
	h := ResponseHeader{
		ContentLength: int64(len(body)),
		ContentType:   contentType,
		Server:        benchServer,
	}
	buf := make([]byte, 0, 512)
	buf, framing, keep := AppendResponseHeader(buf, &req, &h)
	if framing != FramingLength || !keep {
		b.Fatalf("framing %d, keep %v; want FramingLength, true", framing, keep)
	}
	buf = append(buf, body...)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		buf, _, _ = AppendResponseHeader(buf[:0], &req, &h)
		buf = append(buf, body...)
	}
}

// benchNetHTTPResponseWrite is the net/http baseline: http.Response.Write
// of the same fields into a reused bytes.Buffer. Response.Write adds no
// Date, so the field is formatted once here; net/http's server formats it
// per response, so this slightly favours net/http.
func benchNetHTTPResponseWrite(b *testing.B, contentType, body []byte) {
	rd := bytes.NewReader(body)
	resp := &http.Response{
		StatusCode: http.StatusOK,
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header: http.Header{
			"Server":       {string(benchServer)},
			"Date":         {time.Now().UTC().Format(http.TimeFormat)},
			"Content-Type": {string(contentType)},
		},
		ContentLength: int64(len(body)),
		Body:          io.NopCloser(rd),
	}
	var buf bytes.Buffer
	buf.Grow(512)
	if err := resp.Write(&buf); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		rd.Reset(body)
		buf.Reset()
		if err := resp.Write(&buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendResponsePlaintext(b *testing.B) {
	benchAppendResponse(b, benchPlainType, benchPlainBody)
}

func BenchmarkAppendResponseJSON(b *testing.B) {
	benchAppendResponse(b, benchJSONType, benchJSONBody)
}

func BenchmarkNetHTTPResponseWritePlaintext(b *testing.B) {
	benchNetHTTPResponseWrite(b, benchPlainType, benchPlainBody)
}

func BenchmarkNetHTTPResponseWriteJSON(b *testing.B) {
	benchNetHTTPResponseWrite(b, benchJSONType, benchJSONBody)
}
