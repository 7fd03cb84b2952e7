package stack

import (
	"time"

	"github.com/synack-tcp/synack/wire"
)

type timeT = time.Duration

// batch collects outbound packets so one WritePackets call carries many.
// Packets are built in place in buf, which never grows: a packet that would
// not fit sends the batch first.
type batch struct {
	buf  []byte
	pkts [][]byte
}

const batchPackets = 64

func newBatch(mtu int) *batch {
	return &batch{buf: make([]byte, 0, max(mtu+120, 64<<10)), pkts: make([][]byte, 0, batchPackets)}
}

// add builds one IP packet carrying h and the payload p1+p2, with tos in
// the IPv4 TOS or IPv6 Traffic Class octet. It reports false when the
// batch has no room for it.
func (b *batch) add(id tuple, h *wire.TCP, p1, p2 []byte, tos uint8) bool {
	n := len(p1) + len(p2)
	hl := h.HeaderLen()
	ipl := wire.IPv4MinHeaderLen
	if !id.local.Addr().Is4() {
		ipl = wire.IPv6HeaderLen
	}
	if cap(b.buf)-len(b.buf) < ipl+hl+n || len(b.pkts) == cap(b.pkts) {
		return false
	}
	start := len(b.buf)
	h.SrcPort, h.DstPort = id.local.Port(), id.remote.Port()
	b.buf = wire.AppendIPHeader(b.buf, id.local.Addr(), id.remote.Addr(), wire.ProtoTCP, tos, hl+n)
	t := len(b.buf)
	b.buf = h.Append(b.buf)
	b.buf = append(b.buf, p1...)
	b.buf = append(b.buf, p2...)
	wire.SetTCPChecksum(id.local.Addr(), id.remote.Addr(), b.buf[t:]) // MUST-2
	b.pkts = append(b.pkts, b.buf[start:])
	return true
}

func (b *batch) reset() {
	b.buf = b.buf[:0]
	clear(b.pkts)
	b.pkts = b.pkts[:0]
}

func (s *Stack) getBatch() *batch { return s.out.Get().(*batch) }

// sendBatch writes the batch to the link and recycles it.
func (s *Stack) sendBatch(b *batch) {
	if len(b.pkts) > 0 {
		s.ep.WritePackets(b.pkts)
	}
	b.reset()
	s.out.Put(b)
}
