package uring

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// ErrUnsupported is wrapped by CheckServer's error, which names every
// missing piece.
var ErrUnsupported = errors.New("uring: kernel lacks io_uring features the server needs")

// Probe is what the running kernel's io_uring supports: the opcodes it
// reports (IORING_REGISTER_PROBE) and features ProbeKernel tested by using
// them, since per-opcode flags such as multishot cannot be probed.
// Read-only once ProbeKernel returns it: safe for concurrent use.
type Probe struct {
	Kernel   string    // kernel release (uname -r)
	LastOp   Op        // highest opcode the kernel knows
	Setup    SetupInfo // what New got on this kernel
	Features Features
	ops      [probeOpsMax]bool
}

// Features are capabilities beyond opcodes, each tested by ProbeKernel.
type Features struct {
	MultishotAccept  bool // IORING_ACCEPT_MULTISHOT (5.19)
	MultishotRecv    bool // IORING_RECV_MULTISHOT with IOSQE_BUFFER_SELECT (6.0)
	MultishotTimeout bool // IORING_TIMEOUT_MULTISHOT (6.4)
	CancelFdAll      bool // IORING_ASYNC_CANCEL_FD|ALL (5.19)
	BufRing          bool // IORING_REGISTER_PBUF_RING (5.19)
	BufRingStatus    bool // IORING_REGISTER_PBUF_STATUS (6.8), used by BufRing.Available
	SyncMsgRing      bool // IORING_REGISTER_SEND_MSG_RING (6.13), used by WakeMsgRing
}

// Supports reports whether the kernel supports op.
func (p *Probe) Supports(op Op) bool { return p.ops[op] }

// Ops returns the supported opcodes in order.
func (p *Probe) Ops() []Op {
	var ops []Op
	for i, ok := range p.ops {
		if ok {
			ops = append(ops, Op(i))
		}
	}
	return ops
}

// String summarizes the probe on a few lines.
func (p *Probe) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kernel %s, last opcode %s (%d)\n", p.Kernel, p.LastOp, p.LastOp)
	fmt.Fprintf(&b, "setup flags %#x, features %#x, SQ %d, CQ %d\n",
		p.Setup.Flags, p.Setup.Features, p.Setup.SQEntries, p.Setup.CQEntries)
	for _, f := range p.Setup.Fallbacks {
		fmt.Fprintf(&b, "fallback: %s\n", f)
	}
	var names, missing []string
	for i := 0; i <= int(p.LastOp); i++ {
		if p.ops[i] {
			names = append(names, Op(i).String())
		} else {
			missing = append(missing, Op(i).String())
		}
	}
	fmt.Fprintf(&b, "opcodes: %s\n", strings.Join(names, " "))
	if len(missing) > 0 {
		fmt.Fprintf(&b, "opcodes known but unsupported: %s\n", strings.Join(missing, " "))
	}
	fmt.Fprintf(&b, "features: %+v", p.Features)
	return b.String()
}

// requirement is one thing the server's io_uring engine cannot start without.
type requirement struct {
	name string
	ok   func(*Probe) bool
}

func op(o Op) func(*Probe) bool { return func(p *Probe) bool { return p.Supports(o) } }

// serverNeeds lists what the engine uses, in the order a connection meets
// it.
var serverNeeds = []requirement{
	{"IORING_OP_ACCEPT", op(OpAccept)},
	{"IORING_ACCEPT_MULTISHOT (Linux 5.19)", func(p *Probe) bool { return p.Features.MultishotAccept }},
	{"IORING_OP_RECV", op(OpRecv)},
	{"IORING_REGISTER_PBUF_RING (Linux 5.19)", func(p *Probe) bool { return p.Features.BufRing }},
	{"IORING_RECV_MULTISHOT with IOSQE_BUFFER_SELECT (Linux 6.0)", func(p *Probe) bool { return p.Features.MultishotRecv }},
	{"IORING_OP_SEND", op(OpSend)},
	{"IORING_OP_SEND_ZC (Linux 6.0)", op(OpSendZC)},
	{"IORING_OP_TIMEOUT", op(OpTimeout)},
	{"IORING_OP_ASYNC_CANCEL", op(OpAsyncCancel)},
	{"IORING_ASYNC_CANCEL_FD|ALL (Linux 5.19)", func(p *Probe) bool { return p.Features.CancelFdAll }},
	{"IORING_OP_CLOSE", op(OpClose)},
	{"a wakeup path: IORING_REGISTER_SEND_MSG_RING (Linux 6.13) or IORING_OP_READ of an eventfd",
		func(p *Probe) bool { return p.Features.SyncMsgRing || p.Supports(OpRead) }},
}

// CheckServer returns nil if p has everything the server's io_uring engine
// needs, or an error wrapping ErrUnsupported that names each missing piece.
// p must come from ProbeKernel.
func (p *Probe) CheckServer() error {
	var missing []string
	for _, req := range serverNeeds {
		if !req.ok(p) {
			missing = append(missing, req.name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: missing %s (kernel %s)", ErrUnsupported, strings.Join(missing, "; "), p.Kernel)
}

// CheckServer probes the kernel and checks it has what the server's
// io_uring engine needs, so the server fails at start-up with a reason.
// Safe for concurrent use.
func CheckServer() error {
	p, err := ProbeKernel()
	if err != nil {
		return err
	}
	return p.CheckServer()
}

// probeOps fills p's opcode table with IORING_REGISTER_PROBE. Loop-only.
func (r *Ring) probeOps(p *Probe) error {
	buf := new(probeBuf) // zeroed, as the kernel requires
	if _, err := sysRegister(r.fd, registerProbe, unsafe.Pointer(buf), probeOpsMax); err != nil {
		return fmt.Errorf("uring: probe: %w", err)
	}
	p.LastOp = Op(buf.lastOp)
	for i := 0; i < int(buf.opsLen) && i < probeOpsMax; i++ {
		o := buf.ops[i]
		p.ops[o.op] = o.flags&probeOpSupported != 0
	}
	return nil
}
