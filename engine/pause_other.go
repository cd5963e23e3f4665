//go:build !linux || poll_opt

package engine

import "github.com/panjf2000/gnet/v2"

// Pausing reads is not available: gnet keeps reading into its buffer and
// the layer above bounds that buffer (Config.MaxBufferedInput) instead.
func epollFD(gnet.EventLoop) int { return -1 }

func setReadInterest(epfd, fd int, on, wantWrite bool) error { return nil }

func epollUnavailable() bool { return true }
