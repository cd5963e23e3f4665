// Package json is the JSON half of sluice's Decode stage, and the encoder
// for JSON responses. It decodes request bodies into Go values and appends
// the JSON encoding of Go values to caller buffers.
//
// It is a pure function of bytes: no I/O, no goroutines, no buffers kept
// between calls except the pool behind GetBuffer. It imports only the
// standard library, sonic and bytebufferpool.
//
// # Backends
//
// The work is done by github.com/bytedance/sonic (JIT-compiled per type,
// SIMD scanning) where sonic has its fast path: amd64 with Go 1.17 to 1.27
// and arm64 with Go 1.20 to 1.27, the same build constraint sonic v1.15
// uses to choose between itself and its encoding/json fallback. Everywhere
// else, and under the build tag sluice_stdjson (for comparison), the
// standard library's encoding/json does the work. Backend names the one
// compiled in.
//
// Both backends have the same observable behaviour for decoding: the same
// options, limits, policies, error types and error fields. sonic is used
// as a fast path for documents it accepts; when it refuses a document, the
// encoding/json path decodes it again, into the same target, and its
// verdict is returned, so error offsets and messages do not depend on the
// backend. (An UnmarshalJSON or UnmarshalText method of the target may
// therefore run twice for a refused document.) Where sonic v1.15.5 would
// accept what encoding/json refuses (invalid escapes in the long strings
// of skipped values), a pre-check sends the document to encoding/json.
//
// Three differences remain, all pinned by TestBackendKnownDifferences:
// the integer literal -0 becomes +0.0 with sonic and -0.0 with
// encoding/json (numerically equal); sonic matches keys to field names
// case-insensitively in ASCII only, where encoding/json also folds "ſ"
// (U+017F) to "s" and "K" (U+212A) to "k"; and sonic accepts some
// malformed base64 for []byte fields ("00=") that encoding/json refuses.
//
// # Configuration and policies
//
// Decoding follows encoding/json.Unmarshal unless a rule below says
// otherwise:
//
//   - Field matching: `json` tags, then case-insensitive names; unknown
//     fields are ignored unless Options.DisallowUnknownFields is set.
//   - Numbers decoded into interface{} become float64, or json.Number with
//     Options.UseNumber. A number that does not fit its target (1e400 into
//     float64 or interface{}, 2^64 into int, 300 into uint8, 1.5 into int)
//     is a *DecodeError, never a panic, an infinity or a wrapped value.
//   - Nesting deeper than Options.MaxDepth (default 1000) is a *SyntaxError,
//     found by a check that runs before the parser: no input can make
//     either backend recurse deeper, so no input can overflow a stack.
//     The check counts brackets with SIMD-assisted bytes.Count first and
//     walks the document only when there are more brackets than the limit.
//   - Invalid UTF-8 anywhere in the input is refused with a *SyntaxError
//     naming the offset of the first bad byte. RFC 8259 §8.1 requires UTF-8;
//     encoding/json would silently replace the bytes with U+FFFD, which
//     changes user data (two different byte strings become one). The check
//     is utf8.Valid over the whole body (tens of GB/s on ASCII).
//     \u escapes of unpaired surrogates are valid JSON text and become
//     U+FFFD, as in encoding/json.
//   - Raw control characters inside strings are syntax errors; trailing
//     data after the value is a syntax error; leading and trailing JSON
//     whitespace is allowed.
//   - Decoded values never alias the input: strings are copied (sonic's
//     CopyString), so the caller may reuse the body as soon as Decode
//     returns.
//
// Encoding (Append, Marshal) follows encoding/json.Marshal except:
//
//   - HTML escaping is off: <, > and & are written as themselves. Responses
//     are served as application/json, where escaping them buys nothing and
//     costs time; a handler that embeds JSON in HTML must escape it itself.
//   - Map keys are not sorted. Sorting costs a sort per map per response
//     and buys only byte-stable output, which HTTP clients do not need.
//     (encoding/json always sorts, so the fallback backend's maps come out
//     sorted; the members are the same.)
//   - Like encoding/json, invalid UTF-8 in strings becomes \ufffd and
//     U+2028/U+2029 are escaped, so the output is valid JSON and valid
//     JavaScript; MarshalJSON output is validated and compacted.
//   - sonic refuses values nested a few thousand levels deep (its JIT
//     keeps an explicit stack of 4096 entries; 1000 levels encode, 5000 do
//     not); encoding/json refuses only cycles. Both report ErrEncode.
//
// # Errors
//
// Decode returns nil, ErrInvalidTarget (a programming error: answer 500),
// a *SyntaxError (the body is not acceptable JSON) or a *DecodeError (the
// JSON does not fit the target). The last two are the client's fault and
// map to 400; AppendErrorBody writes the small JSON body that says why.
package json
