package wire

import (
	"fmt"
	"net/netip"
)

var (
	errIPEmpty   = fmt.Errorf("%w: empty IP packet", ErrTruncated)
	errIPVersion = fmt.Errorf("%w: IP version is neither 4 nor 6", ErrVersion)
)

// IPHeader is what the TCP layer needs from either IP version.
type IPHeader struct {
	Src, Dst netip.Addr
	Protocol uint8 // upper-layer protocol (after IPv6 extension headers)
	TOS      uint8 // IPv4 TOS or IPv6 Traffic Class: DSCP and ECN bits
	V6       bool
}

// ParseIP parses an IPv4 or IPv6 packet, chosen by the version nibble,
// and returns its addresses, protocol and payload (see IPv4.Parse and
// IPv6.Parse, whose errors it returns). ip is filled as far as the header
// could be read, including for ErrFragmented. It does not allocate.
func ParseIP(b []byte) (ip IPHeader, payload []byte, err error) {
	if len(b) == 0 {
		return ip, nil, errIPEmpty
	}
	switch b[0] >> 4 {
	case 4:
		var h IPv4
		payload, err = h.Parse(b)
		ip = IPHeader{Src: h.Src, Dst: h.Dst, Protocol: h.Protocol, TOS: h.TOS}
	case 6:
		var h IPv6
		payload, err = h.Parse(b)
		ip = IPHeader{Src: h.Src, Dst: h.Dst, Protocol: h.Protocol, TOS: h.TrafficClass, V6: true}
	default:
		return ip, nil, errIPVersion
	}
	return ip, payload, err
}

// AppendIPHeader appends an IP header for a payload of payloadLen bytes
// from src to dstAddr: IPv4 (DF set, TTL 64, ID 0 as RFC 6864 4.1 allows
// for atomic datagrams) when src is an IPv4 address (Is4), otherwise IPv6
// (hop limit 64, flow label 0). It does not allocate when dst has room.
func AppendIPHeader(dst []byte, src, dstAddr netip.Addr, proto uint8, tos uint8, payloadLen int) []byte {
	if src.Is4() {
		h := IPv4{TOS: tos, DontFrag: true, TTL: defaultTTL, Protocol: proto, Src: src, Dst: dstAddr}
		return h.Append(dst, payloadLen)
	}
	h := IPv6{TrafficClass: tos, Protocol: proto, HopLimit: defaultTTL, Src: src, Dst: dstAddr}
	return h.Append(dst, payloadLen)
}
