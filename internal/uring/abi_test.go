package uring

import (
	"testing"
	"unsafe"
)

// Offsets and sizes from include/uapi/linux/io_uring.h (Linux 6.18; the
// layouts have been stable since each struct appeared).
const (
	kSQESize             = 64
	kSQEOpcode           = 0
	kSQEFlags            = 1
	kSQEIoprio           = 2
	kSQEFd               = 4
	kSQEOff              = 8  // off / addr2 / cmd_op
	kSQEAddr             = 16 // addr / splice_off_in
	kSQELen              = 24
	kSQEOpFlags          = 28 // rw_flags / msg_flags / timeout_flags / ...
	kSQEUserData         = 32
	kSQEBufIndex         = 40 // buf_index / buf_group
	kSQEPersonality      = 42
	kSQEFileIndex        = 44 // splice_fd_in / file_index / addr_len
	kSQEAddr3            = 48
	kCQESize             = 16
	kCQEUserData         = 0
	kCQERes              = 8
	kCQEFlags            = 12
	kTimespecSize        = 16 // struct __kernel_timespec
	kParamsSize          = 120
	kParamsFeatures      = 20
	kParamsSQOff         = 40
	kParamsCQOff         = 80
	kSQRingOffsetsSize   = 40
	kCQRingOffsetsSize   = 40
	kCQRingOffsetsCQEs   = 20
	kGeteventsArgSize    = 24
	kGeteventsArgTs      = 16
	kBufRegSize          = 40
	kBufRegBgid          = 12
	kBufStatusSize       = 40
	kProbeHeaderSize     = 16
	kProbeOpSize         = 8
	kBufRingEntrySize    = 16 // struct io_uring_buf
	kBufRingTailOffset   = 14 // struct io_uring_buf_ring.tail
	kIoringOpSendZC      = 47
	kIoringOpMsgRing     = 40
	kIoringOpPipe        = 62
	kRegisterSendMsgRing = 31
)

func TestABILayout(t *testing.T) {
	var sqe SQE
	var cqe CQE
	var p params
	var ga geteventsArg
	var br bufReg
	var pb probeBuf
	var cq cqRingOffsets
	tests := []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof(io_uring_sqe)", unsafe.Sizeof(sqe), kSQESize},
		{"sqe.opcode", unsafe.Offsetof(sqe.Opcode), kSQEOpcode},
		{"sqe.flags", unsafe.Offsetof(sqe.Flags), kSQEFlags},
		{"sqe.ioprio", unsafe.Offsetof(sqe.Ioprio), kSQEIoprio},
		{"sqe.fd", unsafe.Offsetof(sqe.Fd), kSQEFd},
		{"sqe.off", unsafe.Offsetof(sqe.Off), kSQEOff},
		{"sqe.addr", unsafe.Offsetof(sqe.Addr), kSQEAddr},
		{"sqe.len", unsafe.Offsetof(sqe.Len), kSQELen},
		{"sqe.op_flags", unsafe.Offsetof(sqe.OpFlags), kSQEOpFlags},
		{"sqe.user_data", unsafe.Offsetof(sqe.UserData), kSQEUserData},
		{"sqe.buf_index", unsafe.Offsetof(sqe.BufIndex), kSQEBufIndex},
		{"sqe.personality", unsafe.Offsetof(sqe.Personality), kSQEPersonality},
		{"sqe.file_index", unsafe.Offsetof(sqe.FileIndex), kSQEFileIndex},
		{"sqe.addr3", unsafe.Offsetof(sqe.Addr3), kSQEAddr3},
		{"sizeof(io_uring_cqe)", unsafe.Sizeof(cqe), kCQESize},
		{"cqe.user_data", unsafe.Offsetof(cqe.UserData), kCQEUserData},
		{"cqe.res", unsafe.Offsetof(cqe.Res), kCQERes},
		{"cqe.flags", unsafe.Offsetof(cqe.Flags), kCQEFlags},
		{"sizeof(__kernel_timespec)", unsafe.Sizeof(Timespec{}), kTimespecSize},
		{"sizeof(io_uring_params)", unsafe.Sizeof(p), kParamsSize},
		{"params.features", unsafe.Offsetof(p.features), kParamsFeatures},
		{"params.sq_off", unsafe.Offsetof(p.sqOff), kParamsSQOff},
		{"params.cq_off", unsafe.Offsetof(p.cqOff), kParamsCQOff},
		{"sizeof(io_sqring_offsets)", unsafe.Sizeof(sqRingOffsets{}), kSQRingOffsetsSize},
		{"sizeof(io_cqring_offsets)", unsafe.Sizeof(cq), kCQRingOffsetsSize},
		{"cq_off.cqes", unsafe.Offsetof(cq.cqes), kCQRingOffsetsCQEs},
		{"sizeof(io_uring_getevents_arg)", unsafe.Sizeof(ga), kGeteventsArgSize},
		{"getevents_arg.ts", unsafe.Offsetof(ga.ts), kGeteventsArgTs},
		{"sizeof(io_uring_buf_reg)", unsafe.Sizeof(br), kBufRegSize},
		{"buf_reg.bgid", unsafe.Offsetof(br.bgid), kBufRegBgid},
		{"sizeof(io_uring_buf_status)", unsafe.Sizeof(bufStatus{}), kBufStatusSize},
		{"sizeof(io_uring_probe)", unsafe.Offsetof(pb.ops), kProbeHeaderSize},
		{"sizeof(io_uring_probe_op)", unsafe.Sizeof(probeOp{}), kProbeOpSize},
		{"sizeof(io_uring_buf)", bufRingEntrySize, kBufRingEntrySize},
		{"io_uring_buf_ring.tail", bufRingTailOffset, kBufRingTailOffset},
		{"IORING_OP_MSG_RING", uintptr(OpMsgRing), kIoringOpMsgRing},
		{"IORING_OP_SEND_ZC", uintptr(OpSendZC), kIoringOpSendZC},
		{"IORING_OP_PIPE", uintptr(OpPipe), kIoringOpPipe},
		{"IORING_REGISTER_SEND_MSG_RING", registerSendMsgRing, kRegisterSendMsgRing},
		{"SQE size constant", sqeSize, kSQESize},
		{"CQE size constant", cqeSize, kCQESize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %d, want %d", tt.got, tt.want)
			}
		})
	}
	if bufRingTailWordOffset+4 != bufRingTailOffset+2 {
		t.Errorf("tail word [%d,%d) does not end with the tail [%d,%d)",
			bufRingTailWordOffset, bufRingTailWordOffset+4, bufRingTailOffset, bufRingTailOffset+2)
	}
}

func TestOpString(t *testing.T) {
	tests := []struct {
		op   Op
		want string
	}{
		{OpNop, "NOP"},
		{OpAccept, "ACCEPT"},
		{OpRecv, "RECV"},
		{OpSendZC, "SEND_ZC"},
		{OpMsgRing, "MSG_RING"},
		{OpPipe, "PIPE"},
		{Op(200), "OP_200"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.op.String(); got != tt.want {
				t.Errorf("Op(%d).String() = %q, want %q", tt.op, got, tt.want)
			}
		})
	}
}

func TestPrep(t *testing.T) {
	buf := make([]byte, 100)
	addr := uint64(uintptr(unsafe.Pointer(&buf[0])))
	ts := &Timespec{Sec: 1}
	tsAddr := uint64(uintptr(unsafe.Pointer(ts)))
	tests := []struct {
		name string
		prep func(s *SQE)
		want SQE
	}{
		{"nop", func(s *SQE) { s.PrepNop(7) }, SQE{Opcode: OpNop, UserData: 7}},
		{"accept multishot", func(s *SQE) { s.PrepAccept(3, 0x80000, true, 9) },
			SQE{Opcode: OpAccept, Fd: 3, Ioprio: AcceptMultishot, OpFlags: 0x80000, UserData: 9}},
		{"accept single", func(s *SQE) { s.PrepAccept(3, 0, false, 9) },
			SQE{Opcode: OpAccept, Fd: 3, UserData: 9}},
		{"recv multishot", func(s *SQE) { s.PrepRecvMultishot(5, 12, 10) },
			SQE{Opcode: OpRecv, Fd: 5, Flags: SQEBufferSelect, Ioprio: RecvMultishot, BufIndex: 12, UserData: 10}},
		{"send", func(s *SQE) { s.PrepSend(5, buf, 0, 11) },
			SQE{Opcode: OpSend, Fd: 5, Addr: addr, Len: 100, OpFlags: msgNoSignal, UserData: 11}},
		{"send_zc", func(s *SQE) { s.PrepSendZC(5, buf[:10], 0x40, 12) },
			SQE{Opcode: OpSendZC, Fd: 5, Addr: addr, Len: 10, OpFlags: 0x40 | msgNoSignal, UserData: 12}},
		{"timeout multishot", func(s *SQE) { s.PrepTimeout(ts, 0, TimeoutMultishot, 13) },
			SQE{Opcode: OpTimeout, Addr: tsAddr, Len: 1, OpFlags: TimeoutMultishot, UserData: 13}},
		{"cancel user_data", func(s *SQE) { s.PrepCancel(99, 0, 14) },
			SQE{Opcode: OpAsyncCancel, Fd: -1, Addr: 99, UserData: 14}},
		{"cancel fd all", func(s *SQE) { s.PrepCancelFd(6, CancelAll, 15) },
			SQE{Opcode: OpAsyncCancel, Fd: 6, OpFlags: CancelFd | CancelAll, UserData: 15}},
		{"close", func(s *SQE) { s.PrepClose(6, 16) }, SQE{Opcode: OpClose, Fd: 6, UserData: 16}},
		{"msg_ring", func(s *SQE) { s.PrepMsgRing(8, 5, 77, 17) },
			SQE{Opcode: OpMsgRing, Fd: 8, Off: 77, Addr: msgData, Len: 5, UserData: 17}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Start from garbage: a prep must set every field.
			s := SQE{Opcode: 0xff, Flags: 0xff, Ioprio: 0xffff, Fd: -7, Off: ^uint64(0), Addr: ^uint64(0),
				Len: ^uint32(0), OpFlags: ^uint32(0), UserData: ^uint64(0), BufIndex: 0xffff,
				Personality: 0xffff, FileIndex: -1, Addr3: ^uint64(0)}
			tt.prep(&s)
			if s != tt.want {
				t.Errorf("got  %+v\nwant %+v", s, tt.want)
			}
		})
	}
}

func TestCQEFlags(t *testing.T) {
	tests := []struct {
		name                          string
		c                             CQE
		more, buffer, notif, nonempty bool
		bid                           uint16
		err                           bool
	}{
		{"plain", CQE{Res: 5}, false, false, false, false, 0, false},
		{"recv more", CQE{Res: 10, Flags: CQEFMore | CQEFBuffer | 37<<CQEBufferShift}, true, true, false, false, 37, false},
		{"max bid", CQE{Res: 1, Flags: CQEFBuffer | 0xffff<<CQEBufferShift | CQEFSockNonempty}, false, true, false, true, 0xffff, false},
		{"zc result", CQE{Res: 100, Flags: CQEFMore}, true, false, false, false, 0, false},
		{"zc notif", CQE{Flags: CQEFNotif}, false, false, true, false, 0, false},
		{"enobufs", CQE{Res: -105}, false, false, false, false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			if c.More() != tt.more || c.HasBuffer() != tt.buffer || c.Notif() != tt.notif ||
				c.SockNonempty() != tt.nonempty || (c.HasBuffer() && c.BufferID() != tt.bid) || (c.Err() != nil) != tt.err {
				t.Errorf("%+v: more=%v buffer=%v bid=%d notif=%v nonempty=%v err=%v", c,
					c.More(), c.HasBuffer(), c.BufferID(), c.Notif(), c.SockNonempty(), c.Err())
			}
		})
	}
}

// TestPrepNoAlloc checks that forcing buffers to the heap costs nothing at
// run time for a buffer that is already there.
func TestPrepNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	buf := make([]byte, 64)
	ts := new(Timespec)
	var s SQE
	allocs := testing.AllocsPerRun(100, func() {
		s.PrepSend(3, buf, 0, 1)
		s.PrepSendZC(3, buf, 0, 1)
		s.PrepTimeout(ts, 0, 0, 2)
	})
	if allocs != 0 {
		t.Errorf("prep allocates %v times", allocs)
	}
}
