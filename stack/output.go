package stack

import (
	"encoding/binary"
	"time"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/wire"
)

type timeT = time.Duration

// batch collects outbound packets so one WritePackets call carries many.
// Packets are built in place in buf, which never grows: a packet that would
// not fit sends the batch first.
//
// On a link.Gatherer link only the headers are built in buf; each packet
// is handed over as header and payload pieces, the payload still in the
// connection's send buffer (valid until the batch is sent, which happens
// before the connection's lock is released), saving a copy per packet.
type batch struct {
	hdr    wire.TCP // the TCB's scratch header (Conn.Scratch)
	buf    []byte
	pkts   [][]byte
	info   []link.PacketInfo
	gather bool
	pieces [][3][]byte
	memo   hdrMemo
}

// hdrMemo is the IP header of the batch's last packet as a template, so
// the packets of one connection's burst (same addresses, DS field, TTL
// and DF) copy it and patch its length instead of building it field by
// field, and take the pseudo-header sum from it instead of summing the
// addresses again.
type hdrMemo struct {
	ok       bool
	id       tuple
	tos, ttl uint8
	df       bool
	n        int                      // header length: 20 or 40
	ip       [wire.IPv6HeaderLen]byte // built for a payload of 0 bytes
	ipSum    uint32                   // IPv4: Checksum of ip with its checksum field zero
	pseudo   uint32                   // PseudoHeaderSum for a length of 0
}

// ipHeader appends the IP header of a TCP packet for id carrying n bytes,
// as info describes it: appendIP's bytes, from the template.
func (b *batch) ipHeader(id tuple, info link.PacketInfo, n int) {
	m := &b.memo
	if !m.ok || m.id != id || m.tos != info.TOS() || m.ttl != info.TTL || m.df != info.DF {
		t := appendIP(m.ip[:0], id, wire.ProtoTCP, info, 0)
		m.ok, m.id, m.tos, m.ttl, m.df, m.n = true, id, info.TOS(), info.TTL, info.DF, len(t)
		if m.n == wire.IPv4MinHeaderLen {
			m.ip[10], m.ip[11] = 0, 0
			m.ipSum = wire.Checksum(m.ip[:m.n], 0)
		}
		m.pseudo = wire.PseudoHeaderSum(id.local.Addr(), id.remote.Addr(), wire.ProtoTCP, 0)
	}
	start := len(b.buf)
	b.buf = append(b.buf, m.ip[:m.n]...)
	h := b.buf[start:]
	if m.n == wire.IPv4MinHeaderLen {
		binary.BigEndian.PutUint16(h[2:4], uint16(wire.IPv4MinHeaderLen+n))
		binary.BigEndian.PutUint16(h[10:12], wire.Fold(m.ipSum+uint32(n))) // RFC 1624: the length word grew by n
		return
	}
	binary.BigEndian.PutUint16(h[4:6], uint16(n))
}

// pseudoSum is PseudoHeaderSum for the memo's addresses and a TCP length
// of n (RFC 9293 3.1): the length adds to the sum for a length of 0.
func (m *hdrMemo) pseudoSum(n int) uint32 { return m.pseudo + uint32(n>>16) + uint32(n&0xffff) }

const batchPackets = 64

func newBatch(mtu int, gather bool) *batch {
	b := &batch{gather: gather, pkts: make([][]byte, 0, batchPackets), info: make([]link.PacketInfo, 0, batchPackets)}
	if gather {
		b.buf = make([]byte, 0, batchPackets*(wire.IPv6HeaderLen+wire.TCPMaxHeaderLen))
		b.pieces = make([][3][]byte, 0, batchPackets)
	} else {
		b.buf = make([]byte, 0, max(mtu+120, 64<<10))
	}
	return b
}

// add builds one IP packet carrying h and the payload p1+p2, its IP header
// saying what info says (DS field and ECN codepoint, TTL or hop limit, DF).
// It reports false when the batch has no room for it.
func (b *batch) add(id tuple, h *wire.TCP, p1, p2 []byte, info link.PacketInfo) bool {
	n := len(p1) + len(p2)
	hl := h.HeaderLen()
	ipl := wire.IPv4MinHeaderLen
	if !id.local.Addr().Is4() {
		ipl = wire.IPv6HeaderLen
	}
	room := ipl + hl
	if !b.gather {
		room += n
	}
	if cap(b.buf)-len(b.buf) < room || len(b.pkts) == cap(b.pkts) || len(b.pieces) == cap(b.pieces) && b.gather {
		return false
	}
	start := len(b.buf)
	h.SrcPort, h.DstPort = id.local.Port(), id.remote.Port()
	b.ipHeader(id, info, hl+n)
	b.info = append(b.info, info)
	t := len(b.buf)
	b.buf = h.Append(b.buf)
	if b.gather {
		hdr := b.buf[t:]
		if info.Csum == link.CsumPartial {
			partialChecksum(id, hdr, hl+n) // the link completes it (offload.go)
			b.pieces = append(b.pieces, [3][]byte{b.buf[start:], p1, p2})
			b.pkts = append(b.pkts, nil)
			return true
		}
		hdr[16], hdr[17] = 0, 0
		// MUST-2: the checksum chained over the pieces (RFC 1071).
		sum := wire.Checksum(hdr, b.memo.pseudoSum(hl+n))
		sum = wire.Checksum(p1, sum)
		if len(p1)%2 == 1 {
			sum = wire.ChecksumOdd(p2, sum)
		} else {
			sum = wire.Checksum(p2, sum)
		}
		c := wire.Fold(sum)
		hdr[16], hdr[17] = byte(c>>8), byte(c)
		b.pieces = append(b.pieces, [3][]byte{b.buf[start:], p1, p2})
		b.pkts = append(b.pkts, nil) // counts packets in both modes
		return true
	}
	b.buf = append(b.buf, p1...)
	b.buf = append(b.buf, p2...)
	if info.Csum == link.CsumPartial {
		partialChecksum(id, b.buf[t:], hl+n)
	} else {
		seg := b.buf[t:] // MUST-2
		seg[16], seg[17] = 0, 0
		binary.BigEndian.PutUint16(seg[16:18], wire.Fold(wire.Checksum(seg, b.memo.pseudoSum(len(seg)))))
	}
	b.pkts = append(b.pkts, b.buf[start:])
	return true
}

func (b *batch) reset() {
	b.buf = b.buf[:0]
	clear(b.pkts)
	b.pkts, b.info = b.pkts[:0], b.info[:0]
	clear(b.pieces)
	b.pieces = b.pieces[:0]
}

// write sends what the batch holds and empties it.
func (b *batch) write(s *Stack) {
	switch {
	case b.gather && len(b.pieces) > 0:
		s.gather.WritePacketsGather(b.pieces, b.info)
	case len(b.pkts) > 0:
		s.ep.WritePackets(b.pkts, b.info)
	}
	b.reset()
}

func (s *Stack) getBatch() *batch { return s.out.Get().(*batch) }

// sendBatch writes the batch to the link and recycles it.
func (s *Stack) sendBatch(b *batch) {
	b.write(s)
	s.out.Put(b)
}

// appendIP appends the IP header of a packet for id carrying n bytes of
// protocol proto, as info describes it.
func appendIP(dst []byte, id tuple, proto uint8, info link.PacketInfo, n int) []byte {
	if id.local.Addr().Is4() {
		h := wire.IPv4{TOS: info.TOS(), DontFrag: info.DF, TTL: info.TTL, Protocol: proto, Src: id.local.Addr(), Dst: id.remote.Addr()}
		return h.Append(dst, n)
	}
	h := wire.IPv6{TrafficClass: info.TOS(), Protocol: proto, HopLimit: info.TTL, Src: id.local.Addr(), Dst: id.remote.Addr()}
	return h.Append(dst, n)
}
