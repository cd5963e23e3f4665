package engine

import (
	"reflect"
	"sync"
	_ "unsafe" // go:linkname

	"github.com/panjf2000/gnet/v2"
)

// gnet v2.9.7 records every engine gnet.Run starts in a package map keyed
// by its address, for its deprecated package-level Stop, and deletes the
// entry only in that Stop: a process that starts and stops servers (tests,
// in-process restarts) keeps every stopped engine, with its loops' 64 KiB
// read buffers and, through the event handler, everything the server
// held. forgetEngine removes the entry of an engine that has stopped —
// only if it is still that engine's, so a newer engine on the same
// address (SO_REUSEPORT, or bound after StopAccepting freed the port) is
// left alone.
//
//go:linkname gnetEngines github.com/panjf2000/gnet/v2.allEngines
var gnetEngines sync.Map

// forgetEngine drops eng's entry for protoAddr ("tcp://host:port").
func forgetEngine(eng gnet.Engine, protoAddr string) {
	v := reflect.ValueOf(eng).FieldByName("eng")
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return
	}
	ours := v.Pointer()
	if cur, ok := gnetEngines.Load(protoAddr); ok {
		if p := reflect.ValueOf(cur); p.Kind() == reflect.Pointer && p.Pointer() == ours {
			gnetEngines.CompareAndDelete(protoAddr, cur)
		}
	}
}
