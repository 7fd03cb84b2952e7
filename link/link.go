// Package link defines how synack moves whole IP packets: an Endpoint sends
// them and hands inbound ones to a Receiver. Implementations: link/pipe (an
// in-memory pair), link/sim (a seeded faulty network under a virtual clock),
// link/pcap (a tee to a capture file) and link/tun (Linux TUN devices).
// Links know nothing of TCP.
package link

import "errors"

// ErrClosed is returned by WritePackets after Close.
var ErrClosed = errors.New("link: endpoint closed")

// PacketInfo is what travels with one packet besides its bytes: every
// packet-carrying call takes a []PacketInfo alongside its packets,
// info[i] describing packet i. Facts a NIC would hold per packet (a
// checksum-offload state, a GSO segment size) join it as fields, so the
// signatures keep their shape.
//
// On write, the info states the IP-level facts the writer put in the
// header, so a link that acts on them (link/sim's router) need not parse
// the header. On delivery, a link passes what it carried (link/pipe and
// link/sim: the writer's info) or read from the header (link/tun, with
// ReadInfo); the header itself stays authoritative for the IP fields.
// A nil info slice means nothing is stated beyond the bytes.
type PacketInfo struct {
	ECN uint8 // IP ECN codepoint, RFC 3168 5: 0 not-ECT, 1 ECT(1), 2 ECT(0), 3 CE
	DS  uint8 // DiffServ codepoint, RFC 2474 (the upper six bits of TOS / Traffic Class)
	TTL uint8 // IPv4 TTL or IPv6 hop limit
	DF  bool  // IPv4 Don't Fragment (RFC 791); IPv6 is never fragmented on the way

	// Offload state (offload.go); zero on links without offloads.
	Csum    Csum    // what is known of the transport checksum
	GSO     GSOType // a TCP super-packet of several segments, or GSONone
	GSOSize uint16  // with GSO: payload bytes per segment (the MSS it is cut at)
}

// TOS is the IPv4 TOS or IPv6 Traffic Class octet for the info's DS field
// and ECN codepoint.
func (i PacketInfo) TOS() uint8 { return i.DS<<2 | i.ECN&3 }

// ReadInfo reads a packet's PacketInfo from its IP header (a zero
// PacketInfo for anything too short or of another version).
func ReadInfo(pkt []byte) PacketInfo {
	switch {
	case len(pkt) >= 20 && pkt[0]>>4 == 4:
		return PacketInfo{ECN: pkt[1] & 3, DS: pkt[1] >> 2, TTL: pkt[8], DF: pkt[6]&0x40 != 0}
	case len(pkt) >= 40 && pkt[0]>>4 == 6:
		tc := pkt[0]<<4 | pkt[1]>>4
		return PacketInfo{ECN: tc & 3, DS: tc >> 2, TTL: pkt[7]}
	}
	return PacketInfo{}
}

// InfoAt returns info[i], or a zero PacketInfo when info is nil.
func InfoAt(info []PacketInfo, i int) PacketInfo {
	if i < len(info) {
		return info[i]
	}
	return PacketInfo{}
}

// Receiver takes inbound packets.
type Receiver interface {
	// DeliverPackets hands over a batch of inbound IP packets and their
	// PacketInfo (nil, or one per packet). The slices are valid only
	// during the call: a receiver copies what it keeps. Calls for one
	// endpoint never overlap, unless the endpoint says otherwise (link/tun
	// with several queues: one call per queue at a time; package stack
	// takes that).
	DeliverPackets(pkts [][]byte, info []PacketInfo)
}

// Endpoint is a network interface that carries IP packets.
type Endpoint interface {
	// MTU is the largest IP packet the endpoint carries, in bytes.
	MTU() int
	// Attach sets the receiver of inbound packets; call it once, before
	// any packet can arrive.
	Attach(r Receiver)
	// WritePackets transmits packets in order, info (nil, or one per
	// packet) describing them. The endpoint copies what it keeps, so the
	// caller may reuse the buffers when it returns. It returns how many
	// were accepted (a dropped packet counts as accepted: links may lose
	// packets).
	WritePackets(pkts [][]byte, info []PacketInfo) (int, error)
	// Close stops the endpoint; later writes fail with ErrClosed.
	Close() error
}

// ReceiverFunc adapts a function to a Receiver.
type ReceiverFunc func(pkts [][]byte, info []PacketInfo)

// DeliverPackets implements Receiver.
func (f ReceiverFunc) DeliverPackets(pkts [][]byte, info []PacketInfo) { f(pkts, info) }

// Gatherer is an Endpoint that also takes each packet in pieces and joins
// them itself, as a NIC's scatter-gather DMA does, so a writer whose
// payload already sits in its own memory need not copy it into a packet
// first.
type Gatherer interface {
	// WritePacketsGather transmits packets like WritePackets, packet i
	// being pieces[i][0], pieces[i][1] and pieces[i][2] joined. The
	// endpoint copies what it keeps.
	WritePacketsGather(pieces [][3][]byte, info []PacketInfo) (int, error)
}
