// Package form is the forms half of sluice's Decode stage: request bodies
// of type application/x-www-form-urlencoded and multipart/form-data.
//
// It imports only the standard library, starts no goroutines and keeps
// nothing between calls. Every limit has a safe default and a reason, and
// every refusal is an *Error carrying the HTTP status to answer: 413 when
// a limit is passed, 400 when the input is malformed, 415 when the content
// type is not the expected one.
//
// # URL-encoded bodies
//
// Parse splits a body into key=value pairs without copying: a Form holds
// views into the body and percent-decodes ('+' as space, %XX) only when a
// key or value is asked for. Parsing a reused Form allocates nothing in the
// steady state. The syntax and verdicts are net/url.ParseQuery's: pairs are
// separated by '&', empty pairs are skipped, a pair without '=' has an
// empty value, and the same values come out in the same order.
//
// Policy on malformed input: strict. A '%' not followed by two hex digits
// is refused (400, with the offset of the '%'), as net/url does, rather
// than passed through: a value that means two things to two parsers is how
// filters are bypassed. A raw ';' is refused too (400), as net/url does
// since Go 1.17, because some proxies split pairs on it. Decoded bytes are
// not checked for UTF-8: forms may be sent in the page's legacy charset.
//
// # Multipart bodies
//
// ParseMultipart streams a multipart/form-data body from an io.Reader with
// the standard mime/multipart reader. Field values are kept in memory;
// files stay in memory up to a threshold (1 MiB by default) and spill to
// temporary files above it. The caller must call Close on the result when
// the request is done, which removes the temporary files; ParseMultipart
// removes them itself when it fails.
package form
