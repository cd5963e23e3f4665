// The negation of backend_sonic.go's constraint: platforms where sonic
// v1.15 would fall back to encoding/json itself, or the sluice_stdjson tag.

//go:build sluice_stdjson || !((amd64 && go1.17 && !go1.28) || (arm64 && go1.20 && !go1.28))

package json

import "reflect"

// Backend names the implementation compiled in: "sonic" or "encoding/json".
const Backend = "encoding/json"

func decodeFast(data []byte, v any, opts Options) error { return decodeStd(data, v, opts) }

func appendFast(dst []byte, v any) ([]byte, error) { return appendStd(dst, v) }

// pretouch has nothing to compile: encoding/json builds its per-type
// codecs lazily and cheaply.
func pretouch([]reflect.Type) error { return nil }
