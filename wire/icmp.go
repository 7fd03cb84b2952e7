package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ICMPv4 message types (RFC 792).
const (
	ICMPv4EchoReply    = 0
	ICMPv4DestUnreach  = 3
	ICMPv4Echo         = 8
	ICMPv4TimeExceeded = 11
	ICMPv4ParamProblem = 12
	icmpHeaderLen      = 8
)

// ICMPv4 destination unreachable codes (RFC 792, RFC 1122 3.2.2.1,
// RFC 1812 5.2.7.1).
const (
	ICMPv4NetUnreach        = 0
	ICMPv4HostUnreach       = 1
	ICMPv4ProtoUnreach      = 2
	ICMPv4PortUnreach       = 3
	ICMPv4FragNeeded        = 4 // with the next-hop MTU (RFC 1191 4)
	ICMPv4SrcRouteFailed    = 5
	ICMPv4NetUnknown        = 6
	ICMPv4HostUnknown       = 7
	ICMPv4SrcHostIsolated   = 8
	ICMPv4NetProhibited     = 9
	ICMPv4HostProhibited    = 10
	ICMPv4NetTOSUnreach     = 11
	ICMPv4HostTOSUnreach    = 12
	ICMPv4AdminProhibited   = 13
	ICMPv4HostPrecedence    = 14
	ICMPv4PrecedenceCutoff  = 15
	icmpv4MaxUnreachCode    = 15
	icmpv4MaxTimeExceedCode = 1 // 0 TTL exceeded in transit, 1 reassembly time exceeded
)

var (
	errICMPShort     = fmt.Errorf("%w: ICMP message shorter than 8 bytes", ErrTruncated)
	errICMPChecksum  = fmt.Errorf("%w: ICMP checksum", ErrBadChecksum)
	errICMPCode      = fmt.Errorf("%w: ICMP code unknown for its type", ErrBadHeader)
	errQuoteShort    = fmt.Errorf("%w: ICMP error quotes less than an IP header and 8 bytes", ErrTruncated)
	errQuoteVersion  = fmt.Errorf("%w: ICMP error quotes a packet of the other IP version", ErrVersion)
	errQuoteIHL      = fmt.Errorf("%w: quoted IPv4 header with IHL below 5", ErrBadHeader)
	errQuoteFragment = fmt.Errorf("%w: ICMP error quotes a non-first fragment", ErrFragmented)
)

// ICMP is an ICMPv4 (RFC 792) or ICMPv6 (RFC 4443) message. The 4 bytes
// after type, code and checksum are, by type: ID and Seq for echo; the
// next-hop MTU (low 16 bits, RFC 1191 4) for an IPv4 fragmentation-needed
// unreachable; the MTU for an IPv6 packet too big; the pointer for a
// parameter problem; unused otherwise. Body is the echo data or, for an
// error, the quoted invoking packet (see Quote). Parse sets Body to a
// subslice of its input.
type ICMP struct {
	Type, Code uint8
	Checksum   uint16
	ID, Seq    uint16 // echo request and reply
	MTU        uint32 // fragmentation needed (v4, 16 bits), packet too big (v6)
	Pointer    uint32 // parameter problem (v4: 8 bits)
	Body       []byte
}

// ParseICMPv4 parses the ICMPv4 message b, the whole IP payload, checking
// its checksum (RFC 792) and that its code is one RFC 792, 1122 or 1812
// defines for the types listed above. Other types are returned as they are,
// with the rest-of-header word in ID and Seq. It does not allocate.
func ParseICMPv4(b []byte) (ICMP, error) {
	var m ICMP
	if len(b) < icmpHeaderLen {
		return m, errICMPShort
	}
	if Fold(Checksum(b, 0)) != 0 {
		return m, errICMPChecksum
	}
	m.fill(b)
	switch m.Type {
	case ICMPv4DestUnreach:
		if m.Code > icmpv4MaxUnreachCode {
			return m, errICMPCode
		}
		if m.Code == ICMPv4FragNeeded {
			m.MTU = uint32(binary.BigEndian.Uint16(b[6:8]))
		}
	case ICMPv4TimeExceeded:
		if m.Code > icmpv4MaxTimeExceedCode {
			return m, errICMPCode
		}
	case ICMPv4ParamProblem:
		m.Pointer = uint32(b[4])
	}
	return m, nil
}

// fill copies the common fields of the message b into m.
func (m *ICMP) fill(b []byte) {
	be := binary.BigEndian
	m.Type, m.Code = b[0], b[1]
	m.Checksum = be.Uint16(b[2:4])
	m.ID, m.Seq = be.Uint16(b[4:6]), be.Uint16(b[6:8])
	m.Body = b[icmpHeaderLen:]
}

// IsError reports whether m is an ICMPv4 error message, one that quotes
// the packet that caused it (RFC 792: destination unreachable, time
// exceeded, parameter problem).
func (m *ICMP) IsError() bool {
	return m.Type == ICMPv4DestUnreach || m.Type == ICMPv4TimeExceeded || m.Type == ICMPv4ParamProblem
}

// AppendICMPv4 appends m as an ICMPv4 message with its checksum computed
// (m.Checksum is ignored) and returns the extended slice. The
// rest-of-header word is written from ID and Seq, or from MTU for a
// fragmentation-needed unreachable, or from Pointer for a parameter
// problem.
func AppendICMPv4(dst []byte, m *ICMP) []byte {
	dst, b := grow(dst, icmpHeaderLen)
	start := len(dst) - icmpHeaderLen
	m.putHeader(b)
	switch {
	case m.Type == ICMPv4DestUnreach && m.Code == ICMPv4FragNeeded:
		binary.BigEndian.PutUint32(b[4:8], m.MTU&0xffff)
	case m.Type == ICMPv4ParamProblem:
		binary.BigEndian.PutUint32(b[4:8], m.Pointer<<24)
	}
	dst = append(dst, m.Body...)
	binary.BigEndian.PutUint16(dst[start+2:start+4], Fold(Checksum(dst[start:], 0)))
	return dst
}

// putHeader writes type, code, a zero checksum and ID/Seq into b[:8].
func (m *ICMP) putHeader(b []byte) {
	be := binary.BigEndian
	b[0], b[1], b[2], b[3] = m.Type, m.Code, 0, 0
	be.PutUint16(b[4:6], m.ID)
	be.PutUint16(b[6:8], m.Seq)
}

// Quote is what an ICMP error tells of the packet that caused it: the
// quoted IP header and the first 8 bytes of its transport header, which
// for TCP hold the ports and the sequence number (RFC 792; RFC 5927 4.1).
// Src and Dst are as the invoking packet carried them: our address is Src.
type Quote struct {
	Src, Dst netip.Addr
	Protocol uint8  // upper-layer protocol of the quoted packet
	TotalLen uint32 // the invoking packet's IP length as its header gives it
	DontFrag bool   // IPv4 DF of the quoted header (IPv6 never fragments in flight)
	SrcPort  uint16 // the first 8 transport bytes: for TCP and UDP, the ports
	DstPort  uint16
	Seq      uint32 // for TCP, the quoted sequence number
}

// ParseQuote parses the invoking packet quoted in an ICMP error's body b.
// v6 says which IP version the error came over: an ICMPv4 error quotes
// IPv4, an ICMPv6 error IPv6. The quote may be truncated anywhere after
// the IP header and 8 transport bytes (RFC 792 asks no more), so neither
// the IPv4 header checksum nor the total length is checked against b.
// It does not allocate.
func ParseQuote(b []byte, v6 bool) (Quote, error) {
	var q Quote
	if v6 {
		return parseQuote6(b)
	}
	if len(b) > 0 && b[0]>>4 != 4 {
		return q, errQuoteVersion
	}
	if len(b) < IPv4MinHeaderLen+8 {
		return q, errQuoteShort
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < IPv4MinHeaderLen {
		return q, errQuoteIHL
	}
	if ihl+8 > len(b) {
		return q, errQuoteShort
	}
	var h IPv4
	h.fill(b, ihl)
	if h.FragOff != 0 {
		return q, errQuoteFragment // not the first fragment: no transport header
	}
	q.Src, q.Dst, q.Protocol = h.Src, h.Dst, h.Protocol
	q.TotalLen, q.DontFrag = uint32(h.TotalLen), h.DontFrag
	q.fillTransport(b[ihl:])
	return q, nil
}

// fillTransport takes the ports and sequence number from the first 8
// bytes of the quoted transport header t.
func (q *Quote) fillTransport(t []byte) {
	be := binary.BigEndian
	q.SrcPort, q.DstPort = be.Uint16(t[0:2]), be.Uint16(t[2:4])
	q.Seq = be.Uint32(t[4:8])
}
