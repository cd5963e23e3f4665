package sluice

// Handler serves one request. Serve reads the request from c and writes
// the response to it; the response is sent when Serve returns (or, for a
// streamed body, as Ctx.Flush is called).
//
// Serve runs on a worker of the server's pool, or on the connection's
// event loop when the handler is wrapped with Inline or the server's
// Dispatch is DispatchInline. A handler that runs on the loop must never
// block: every connection of that loop waits for it.
type Handler interface {
	Serve(c *Ctx)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(c *Ctx)

// Serve calls f(c).
func (f HandlerFunc) Serve(c *Ctx) { f(c) }

// Inline marks h to run on the connection's event loop instead of the
// worker pool, saving the hand-off to a worker and back (about a
// microsecond and a copy of the request bytes). Use it only for handlers
// that never block — no I/O, no locks held long, no heavy computation —
// because the loop serves every other connection assigned to it.
func Inline(h Handler) Handler {
	if _, ok := h.(inlineHandler); ok {
		return h
	}
	return inlineHandler{h}
}

// InlineFunc is Inline(HandlerFunc(f)).
func InlineFunc(f func(c *Ctx)) Handler { return Inline(HandlerFunc(f)) }

type inlineHandler struct{ h Handler }

func (i inlineHandler) Serve(c *Ctx) { i.h.Serve(c) }

// isInline reports whether h asked to run on the loop (and did not also
// ask to stream its body, which needs a worker).
func isInline(h Handler) bool {
	i, ok := h.(inlineHandler)
	return ok && !isStreaming(i.h)
}

// Streaming marks h to receive its request bodies as a stream, whatever
// their size (chunked ones included): Ctx.BodyReader returns bytes as the
// client sends them, and the connection is not read faster than h reads.
// A streaming handler always runs on a worker (it blocks in Read), even
// under DispatchInline or the Single model.
func Streaming(h Handler) Handler {
	if _, ok := h.(streamingHandler); ok {
		return h
	}
	return streamingHandler{h}
}

type streamingHandler struct{ h Handler }

func (s streamingHandler) Serve(c *Ctx) { s.h.Serve(c) }

func isStreaming(h Handler) bool {
	switch v := h.(type) {
	case streamingHandler:
		return true
	case inlineHandler:
		return isStreaming(v.h)
	}
	return false
}
