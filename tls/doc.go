// Package tls is sluice's Decrypt stage: TLS 1.2 and 1.3 terminated on the
// event loop with the standard crypto/tls, unforked, so every Go security
// release fixes it with no change here.
//
// crypto/tls cannot resume a handshake after its connection reports "would
// block" (the error is kept in handshakeErr, and the handshake's progress
// lives on the calling goroutine's stack), but it does resume record reads
// when the connection's Read fails with an error whose own type is a
// net.Error with Temporary() true. The design follows from that:
//
//  1. Gate (loop): the first bytes must be a TLS handshake record holding a
//     ClientHello of sane size; plain HTTP on the TLS port is told so and
//     closed. The ClientHello is buffered until it is whole: a half-open
//     handshake costs a buffer, no goroutine.
//  2. Handshake (a short-lived goroutine, at most Config.MaxHandshakes at
//     once): HandshakeContext with a deadline over a Wire whose Read blocks
//     for the bytes the loop feeds it and whose Write hands records to the
//     loop's asynchronous write path, in order.
//  3. Records (loop): after the handshake the loop owns the tls.Conn. On
//     every read it feeds ciphertext and calls Read until the Wire says
//     "would block"; responses are encrypted by Write on the loop, so the
//     record sequence always matches the byte order on the wire. Workers
//     hand plaintext to the loop, never encrypt themselves.
//  4. Close: the peer's close_notify ends the stream (io.EOF) and ours is
//     sent back; a record cut short by the peer's FIN is dropped; any other
//     error is final.
//
// The package does no socket I/O itself: the layer above moves bytes. It
// imports only the standard library.
package tls
