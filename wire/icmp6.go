package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// ICMPv6 message types (RFC 4443 2.1).
const (
	ICMPv6DestUnreach   = 1
	ICMPv6PacketTooBig  = 2
	ICMPv6TimeExceeded  = 3
	ICMPv6ParamProblem  = 4
	ICMPv6EchoRequest   = 128
	ICMPv6EchoReply     = 129
	icmpv6MaxErrorType  = 127 // types 0-127 are errors (RFC 4443 2.1)
	icmpv6MaxUnreach    = 8
	icmpv6MaxTimeExceed = 1
	icmpv6MaxParamProb  = 10 // RFC 4443 3.4, RFC 7112, RFC 8883
)

// ICMPv6 destination unreachable codes (RFC 4443 3.1).
const (
	ICMPv6NoRoute         = 0
	ICMPv6AdminProhibited = 1
	ICMPv6BeyondScope     = 2
	ICMPv6AddrUnreach     = 3
	ICMPv6PortUnreach     = 4
	ICMPv6SrcPolicyFailed = 5
	ICMPv6RejectRoute     = 6
	ICMPv6SrcRouteError   = 7
	ICMPv6HeadersTooLong  = 8 // RFC 8883
)

// IPv6MinMTU is the smallest MTU an IPv6 link may have (RFC 8200 5).
const IPv6MinMTU = 1280

var errQuote6Ext = fmt.Errorf("%w: quoted IPv6 extension headers hide the transport header", ErrTruncated)

// ParseICMPv6 parses the ICMPv6 message b, the whole upper-layer payload
// of an IPv6 packet from src to dst, checking its checksum over the
// pseudo-header (RFC 4443 2.3, RFC 8200 8.1) and that an error's code is
// one RFC 4443 defines. It does not allocate.
func ParseICMPv6(src, dst netip.Addr, b []byte) (ICMP, error) {
	var m ICMP
	if len(b) < icmpHeaderLen {
		return m, errICMPShort
	}
	if Fold(Checksum(b, PseudoHeaderSum(src, dst, ProtoICMPv6, len(b)))) != 0 {
		return m, errICMPChecksum
	}
	m.fill(b)
	var maxCode uint8 = 255
	switch m.Type {
	case ICMPv6DestUnreach:
		maxCode = icmpv6MaxUnreach
	case ICMPv6PacketTooBig:
		maxCode = 0
		m.MTU = binary.BigEndian.Uint32(b[4:8])
	case ICMPv6TimeExceeded:
		maxCode = icmpv6MaxTimeExceed
	case ICMPv6ParamProblem:
		maxCode = icmpv6MaxParamProb
		m.Pointer = binary.BigEndian.Uint32(b[4:8])
	}
	if m.Code > maxCode {
		return m, errICMPCode
	}
	return m, nil
}

// IsError6 reports whether m, an ICMPv6 message, is an error (RFC 4443
// 2.1: types 0 to 127).
func (m *ICMP) IsError6() bool { return m.Type <= icmpv6MaxErrorType }

// AppendICMPv6 appends m as an ICMPv6 message from src to dst, its
// checksum computed over the pseudo-header (m.Checksum is ignored), and
// returns the extended slice. The rest-of-header word is written from ID
// and Seq, or from MTU for a packet too big, or from Pointer for a
// parameter problem.
func AppendICMPv6(dst []byte, src, dstAddr netip.Addr, m *ICMP) []byte {
	dst, b := grow(dst, icmpHeaderLen)
	start := len(dst) - icmpHeaderLen
	m.putHeader(b)
	switch m.Type {
	case ICMPv6PacketTooBig:
		binary.BigEndian.PutUint32(b[4:8], m.MTU)
	case ICMPv6ParamProblem:
		binary.BigEndian.PutUint32(b[4:8], m.Pointer)
	}
	dst = append(dst, m.Body...)
	n := len(dst) - start
	sum := Checksum(dst[start:], PseudoHeaderSum(src, dstAddr, ProtoICMPv6, n))
	binary.BigEndian.PutUint16(dst[start+2:start+4], Fold(sum))
	return dst
}

// parseQuote6 parses a quoted IPv6 packet: the fixed header, any
// extension headers (walked as far as the quote goes), and 8 transport
// bytes.
func parseQuote6(b []byte) (Quote, error) {
	var q Quote
	if len(b) > 0 && b[0]>>4 != 6 {
		return q, errQuoteVersion
	}
	if len(b) < IPv6HeaderLen+8 {
		return q, errQuoteShort
	}
	q.Src = netip.AddrFrom16([16]byte(b[8:24]))
	q.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	q.TotalLen = IPv6HeaderLen + uint32(binary.BigEndian.Uint16(b[4:6]))
	nh, t, err := skipExtHeaders(b[6], b[IPv6HeaderLen:])
	if err == errIPv6Fragment {
		// RFC 8200 4.5: a first fragment (offset 0) still carries the
		// transport header after the 8-byte fragment header.
		if len(t) < 8 || binary.BigEndian.Uint16(t[2:4])&0xfff8 != 0 {
			return q, errQuoteFragment
		}
		nh, t, err = t[0], t[8:], nil
	}
	if err != nil {
		return q, errQuote6Ext
	}
	if len(t) < 8 {
		return q, errQuoteShort
	}
	q.Protocol = nh
	q.fillTransport(t)
	return q, nil
}
