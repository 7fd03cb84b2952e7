package link

// Csum is a packet's transport checksum state, as a NIC's offload reports
// it (Linux's CHECKSUM_NONE, CHECKSUM_UNNECESSARY, CHECKSUM_PARTIAL).
type Csum uint8

const (
	// CsumNone: nothing is known; the receiver verifies the checksum, and
	// a writer has filled it in.
	CsumNone Csum = iota
	// CsumValid: the link verified the checksum (or the packet never left
	// the host); the receiver need not verify it.
	CsumValid
	// CsumPartial: the checksum field holds only the folded pseudo-header
	// sum (not complemented); whoever sends the packet on the wire
	// completes it. A receiver treats it as valid: the packet was built on
	// this host and never crossed a wire.
	CsumPartial
)

// GSOType says a packet is a super-packet the link cuts into segments (on
// write) or joined from segments (on read).
type GSOType uint8

const (
	GSONone  GSOType = iota // one packet
	GSOTCPv4                // an IPv4 TCP super-packet, cut every GSOSize payload bytes
	GSOTCPv6                // an IPv6 TCP super-packet
)

// Offloads is what an endpoint can take from a writer besides whole
// packets with their checksums done.
type Offloads struct {
	// Checksum: the endpoint takes TCP packets with CsumPartial (only the
	// pseudo-header sum in the field) and may deliver packets marked
	// CsumValid or CsumPartial.
	Checksum bool
	// TSO: the endpoint takes TCP super-packets of up to MaxPacket bytes
	// (info.GSO set, info.GSOSize the payload per segment, CsumPartial) and
	// cuts them into segments that fit the MTU; on delivery it may hand
	// over super-packets of the same kind. Needs Checksum.
	TSO bool
	// MaxPacket is the largest IP packet a super-packet may be (with TSO).
	MaxPacket int
}

// Offloader is an Endpoint that reports offloads. An Endpoint that is not
// an Offloader has none.
type Offloader interface {
	Offloads() Offloads
}
