package uring

// Structs and constants of io_uring_setup, io_uring_enter and
// io_uring_register, from include/uapi/linux/io_uring.h. Layouts are checked
// in abi_test.go.

// Setup flags (io_uring_params.flags), reported by SetupInfo.Flags.
const (
	SetupCQSize       = 1 << 3  // IORING_SETUP_CQSIZE: CQEntries is given
	SetupClamp        = 1 << 4  // IORING_SETUP_CLAMP: clamp sizes to the kernel's maximum
	SetupSubmitAll    = 1 << 7  // IORING_SETUP_SUBMIT_ALL (5.18): a failing SQE does not stop the batch
	SetupCoopTaskrun  = 1 << 8  // IORING_SETUP_COOP_TASKRUN (5.19): no IPI to run completions
	SetupTaskrunFlag  = 1 << 9  // IORING_SETUP_TASKRUN_FLAG (5.19): IORING_SQ_TASKRUN tells when to enter
	SetupSingleIssuer = 1 << 12 // IORING_SETUP_SINGLE_ISSUER (6.0): one thread submits
	SetupDeferTaskrun = 1 << 13 // IORING_SETUP_DEFER_TASKRUN (6.1): completions run only when the loop waits
)

// Feature flags (io_uring_params.features), reported by SetupInfo.Features.
const (
	FeatSingleMmap = 1 << 0 // IORING_FEAT_SINGLE_MMAP (5.4): SQ and CQ rings share one mapping
	FeatNodrop     = 1 << 1 // IORING_FEAT_NODROP (5.5): overflowing CQEs are queued, not dropped
	FeatExtArg     = 1 << 8 // IORING_FEAT_EXT_ARG (5.11): io_uring_enter takes a timeout
)

// SQ ring flags (shared sq_ring->flags, written by the kernel).
const (
	sqCQOverflow = 1 << 1 // IORING_SQ_CQ_OVERFLOW: CQEs wait in the kernel's overflow list
	sqTaskrun    = 1 << 2 // IORING_SQ_TASKRUN: completions wait as task work
)

// io_uring_enter flags.
const (
	enterGetEvents = 1 << 0 // IORING_ENTER_GETEVENTS
	enterExtArg    = 1 << 3 // IORING_ENTER_EXT_ARG
)

// mmap offsets of the three shared regions.
const (
	offSQRing = 0          // IORING_OFF_SQ_RING
	offCQRing = 0x8000000  // IORING_OFF_CQ_RING
	offSQEs   = 0x10000000 // IORING_OFF_SQES
)

// io_uring_register opcodes.
const (
	registerProbe         = 8  // IORING_REGISTER_PROBE
	registerPbufRing      = 22 // IORING_REGISTER_PBUF_RING (5.19)
	unregisterPbufRing    = 23 // IORING_UNREGISTER_PBUF_RING
	registerPbufStatus    = 26 // IORING_REGISTER_PBUF_STATUS (6.8)
	registerSendMsgRing   = 31 // IORING_REGISTER_SEND_MSG_RING (6.13), with fd -1
	probeOpSupported      = 1  // IO_URING_OP_SUPPORTED
	probeOpsMax           = 256
	sqeSize               = 64
	cqeSize               = 16
	bufRingEntrySize      = 16    // struct io_uring_buf
	bufRingMaxEntries     = 32768 // the kernel refuses rings of 65536 entries or more
	bufRingTailOffset     = 14    // struct io_uring_buf_ring.tail overlays bufs[0].resv
	bufRingTailWordOffset = 12    // the aligned 32-bit word holding bufs[0].bid and tail
)

// sqRingOffsets is struct io_sqring_offsets.
type sqRingOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

// cqRingOffsets is struct io_cqring_offsets.
type cqRingOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

// params is struct io_uring_params.
type params struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	resv         [3]uint32
	sqOff        sqRingOffsets
	cqOff        cqRingOffsets
}

// geteventsArg is struct io_uring_getevents_arg (IORING_ENTER_EXT_ARG).
type geteventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWait   uint32 // min_wait_usec since 6.12, pad before
	ts        uint64
}

// bufReg is struct io_uring_buf_reg.
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

// bufStatus is struct io_uring_buf_status (IORING_REGISTER_PBUF_STATUS).
type bufStatus struct {
	bufGroup uint32
	head     uint32
	resv     [8]uint32
}

// probeOp is struct io_uring_probe_op.
type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16
	resv2 uint32
}

// probeBuf is struct io_uring_probe followed by room for every opcode.
type probeBuf struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [probeOpsMax]probeOp
}
