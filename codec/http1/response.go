package http1

import "strconv"

// Framing says how the body after a response head is delimited.
type Framing uint8

const (
	// FramingNone: no body follows (HEAD, 1xx, 204, 304) (R59, R60).
	FramingNone Framing = iota
	// FramingLength: exactly ContentLength bytes follow.
	FramingLength
	// FramingChunked: the body is written with AppendChunk and ended with
	// AppendLastChunk (HTTP/1.1 only, R62).
	FramingChunked
	// FramingClose: the body runs until the server closes the connection
	// (an HTTP/1.0 response of unknown length, R62, R63).
	FramingClose
)

// ResponseHeader describes a response head for AppendResponseHeader. It is
// a plain value owned by its caller.
type ResponseHeader struct {
	// Status is the status code, 100-599; zero means 200.
	Status int
	// ContentLength is the body length in bytes, or -1 when unknown (the
	// body is then chunked for HTTP/1.1 and close-delimited for HTTP/1.0).
	// For HEAD it is the length GET would send (R59); ignored for 1xx, 204
	// and 304.
	ContentLength int64
	// ContentType is the Content-Type value; nil writes none.
	ContentType []byte
	// Server is the Server value; nil writes none.
	Server []byte
	// Headers are further fields, written in order after the ones above.
	// Content-Length, Transfer-Encoding and Connection are skipped: the
	// encoder owns framing. A Date field replaces the automatic one. Names
	// that are not tokens are skipped and CR, LF and NUL in values become
	// SP, so no value can split the response.
	Headers []Header
	// Close asks for the connection to be closed after this response.
	Close bool
	// DateLine, when set, is the Date field line to write (from
	// DateLine, taken at most a moment ago); nil reads the clock.
	DateLine []byte
}

// AppendResponseHeader appends the status-line and header section of a
// response to req (nil for a request that could not be parsed: HTTP/1.1,
// not HEAD, not keep-alive). It returns dst, how the body must be framed,
// and whether the connection may serve another request afterwards; when
// keep is false the response carries "Connection: close" (R52) and the
// caller must close after writing it.
func AppendResponseHeader(dst []byte, req *Request, h *ResponseHeader) (out []byte, framing Framing, keep bool) {
	status := h.Status
	if status == 0 {
		status = 200
	}
	minor, head := 1, false
	keep = !h.Close
	if req != nil {
		minor, head = req.ProtoMinor, req.IsHead()
		keep = keep && req.KeepAlive
	} else {
		keep = false
	}
	switch {
	case status < 200 || status == 204 || status == 304 || head:
		framing = FramingNone
	case h.ContentLength >= 0:
		framing = FramingLength
	case minor == 0:
		framing, keep = FramingClose, false
	default:
		framing = FramingChunked
	}

	dst = AppendStatusLine(dst, status)
	if h.Server != nil {
		dst = appendField(dst, "Server: ", h.Server)
	}
	userDate := false
	for i := range h.Headers {
		if equalFold(h.Headers[i].Name, "date") {
			userDate = true
		}
	}
	if !userDate {
		if h.DateLine != nil {
			dst = append(dst, h.DateLine...)
		} else {
			dst = AppendDate(dst)
		}
	}
	if h.ContentType != nil {
		dst = appendField(dst, "Content-Type: ", h.ContentType)
	}
	switch framing {
	case FramingLength:
		dst = append(dst, "Content-Length: "...)
		dst = strconv.AppendInt(dst, h.ContentLength, 10)
		dst = append(dst, "\r\n"...)
	case FramingNone:
		if head && h.ContentLength >= 0 && status >= 200 && status != 204 && status != 304 {
			dst = append(dst, "Content-Length: "...)
			dst = strconv.AppendInt(dst, h.ContentLength, 10)
			dst = append(dst, "\r\n"...)
		}
	case FramingChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	if status >= 200 { // 1xx responses are interim: no connection options
		if !keep {
			dst = append(dst, "Connection: close\r\n"...)
		} else if minor == 0 {
			dst = append(dst, "Connection: keep-alive\r\n"...) // R51
		}
	}
	for i := range h.Headers {
		f := &h.Headers[i]
		if !validName(f.Name) || equalFold(f.Name, "content-length") ||
			equalFold(f.Name, "transfer-encoding") || equalFold(f.Name, "connection") {
			continue
		}
		dst = append(dst, f.Name...)
		dst = append(dst, ':', ' ')
		dst = appendValue(dst, f.Value)
		dst = append(dst, '\r', '\n')
	}
	return append(dst, '\r', '\n'), framing, keep
}

func appendField(dst []byte, prefix string, v []byte) []byte {
	dst = append(dst, prefix...)
	dst = appendValue(dst, v)
	return append(dst, '\r', '\n')
}

// appendValue appends v with CR, LF and NUL replaced by SP.
func appendValue(dst, v []byte) []byte {
	clean := true
	for _, c := range v {
		if c == '\r' || c == '\n' || c == 0 {
			clean = false
			break
		}
	}
	if clean {
		return append(dst, v...)
	}
	for _, c := range v {
		if c == '\r' || c == '\n' || c == 0 {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

func validName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if byteClass[c]&clsToken == 0 {
			return false
		}
	}
	return true
}

// AppendChunk appends p as one chunk. An empty p appends nothing: a
// zero-size chunk would end the body.
func AppendChunk(dst, p []byte) []byte {
	if len(p) == 0 {
		return dst
	}
	dst = strconv.AppendUint(dst, uint64(len(p)), 16)
	dst = append(dst, '\r', '\n')
	dst = append(dst, p...)
	return append(dst, '\r', '\n')
}

// AppendLastChunk appends the last chunk, the trailer fields (checked like
// ResponseHeader.Headers) and the final CRLF.
func AppendLastChunk(dst []byte, trailers []Header) []byte {
	dst = append(dst, '0', '\r', '\n')
	for i := range trailers {
		f := &trailers[i]
		if !validName(f.Name) {
			continue
		}
		dst = append(dst, f.Name...)
		dst = append(dst, ':', ' ')
		dst = appendValue(dst, f.Value)
		dst = append(dst, '\r', '\n')
	}
	return append(dst, '\r', '\n')
}

// AppendContinue appends the interim "100 Continue" response (R56). Never
// send it to an HTTP/1.0 client (R57); Request.Expect100 is only set for
// HTTP/1.1.
func AppendContinue(dst []byte) []byte {
	return append(dst, "HTTP/1.1 100 Continue\r\n\r\n"...)
}

// AppendError appends a complete error response: the status-line, Date, a
// plain-text body "<code> <reason phrase>: <detail>\n", and
// "Connection: close" — the connection must be closed after it (R6). This
// is the canned answer to every parse error; detail says what was wrong.
func AppendError(dst []byte, status int, detail string) []byte {
	text := StatusText(status)
	n := 3 + 1 + len(text) + 1
	if detail != "" {
		n += 2 + len(detail)
	}
	dst = AppendStatusLine(dst, status)
	dst = AppendDate(dst)
	dst = append(dst, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	dst = append(dst, "\r\nConnection: close\r\n\r\n"...)
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = append(dst, text...)
	if detail != "" {
		dst = append(dst, ':', ' ')
		dst = append(dst, detail...)
	}
	return append(dst, '\n')
}

// AppendErrorResponse appends the error response for a parse error.
func AppendErrorResponse(dst []byte, e *Error) []byte {
	return AppendError(dst, e.Status, e.Reason)
}
