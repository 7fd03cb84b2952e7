// Package wire parses and builds IPv4, IPv6 and TCP headers over []byte.
//
// Each header is a plain value struct with Parse (bytes -> struct, returning
// an error for any malformed input and never panicking) and Append (struct ->
// bytes appended to a caller's buffer, so building a packet allocates
// nothing when the buffer has room). Checksums and pseudo-headers live in
// checksum.go. wire imports nothing of synack's, nor time or sync.
package wire

import (
	"errors"
	"net/netip"
)

// Errors returned by the parsers. Every parse failure wraps one of these.
var (
	ErrTruncated   = errors.New("wire: truncated packet")
	ErrBadHeader   = errors.New("wire: malformed header")
	ErrBadOptions  = errors.New("wire: malformed TCP options")
	ErrBadChecksum = errors.New("wire: bad checksum")
	ErrFragmented  = errors.New("wire: fragmented IP packet")
	ErrVersion     = errors.New("wire: unknown IP version")
)

// IP protocol numbers.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoICMPv6 = 58
)

// Header sizes in bytes.
const (
	IPv4MinHeaderLen = 20
	IPv6HeaderLen    = 40
	TCPMinHeaderLen  = 20
	TCPMaxHeaderLen  = 60
)

// Flags are the TCP control bits (RFC 9293 3.1, RFC 3168 for ECE/CWR).
type Flags uint8

// The control bits, in their on-the-wire bit positions.
const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// SACKBlock is one block of a SACK option (RFC 2018): the bytes
// [Left, Right) were received.
type SACKBlock struct{ Left, Right uint32 }

// MaxSACKBlocks is the most SACK blocks one option can carry.
const MaxSACKBlocks = 4

// Options are the TCP options synack understands. Unknown options are
// skipped on Parse (counted in Unknown) and never emitted by Append.
type Options struct {
	MSS           uint16 // RFC 9293 3.7.1; valid when HasMSS
	HasMSS        bool
	WScale        uint8 // RFC 7323 2; valid when HasWScale
	HasWScale     bool
	SACKPermitted bool // RFC 2018
	HasTimestamps bool // RFC 7323 3
	TSVal, TSEcr  uint32
	NumSACK       uint8 // blocks used in SACK
	SACK          [MaxSACKBlocks]SACKBlock
	Unknown       uint8 // unknown options skipped by Parse
}

// TCP is a TCP header (RFC 9293 3.1).
type TCP struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	DataOffset       uint8 // header length in bytes; set by Parse, computed by Append
	Flags            Flags
	Window           uint16
	Checksum         uint16
	Urgent           uint16
	Options          Options
}

// IPv4 is an IPv4 header (RFC 791). Options are skipped on Parse and never
// emitted by Append.
type IPv4 struct {
	TOS       uint8 // DSCP and ECN bits
	HeaderLen uint8 // bytes; set by Parse
	TotalLen  uint16
	ID        uint16
	DontFrag  bool
	MoreFrags bool   // the MF flag; Parse reports ErrFragmented when set
	FragOff   uint16 // fragment offset in 8-byte units (13 bits)
	TTL       uint8
	Protocol  uint8
	Checksum  uint16
	Src, Dst  netip.Addr
}

// IPv6 is an IPv6 fixed header (RFC 8200). Parse skips hop-by-hop,
// routing and destination-options extension headers; Protocol is the
// upper-layer protocol after them.
type IPv6 struct {
	TrafficClass uint8
	FlowLabel    uint32
	PayloadLen   uint16
	NextHeader   uint8 // as in the fixed header
	Protocol     uint8 // after extension headers
	HopLimit     uint8
	Src, Dst     netip.Addr
}
