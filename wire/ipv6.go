package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IPv6 extension header numbers (RFC 8200 4).
const (
	ipv6HopByHop = 0
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6DestOpts = 60

	// maxExtHeaders bounds the extension headers Parse walks before the
	// upper-layer header, so a crafted chain costs little.
	maxExtHeaders = 8
)

var (
	errIPv6Short     = fmt.Errorf("%w: IPv6 packet shorter than 40 bytes", ErrTruncated)
	errIPv6Version   = fmt.Errorf("%w: IPv6 header with version other than 6", ErrVersion)
	errIPv6PayShort  = fmt.Errorf("%w: IPv6 payload length past end of packet", ErrTruncated)
	errIPv6ExtShort  = fmt.Errorf("%w: IPv6 extension header past end of payload", ErrTruncated)
	errIPv6ExtMany   = fmt.Errorf("%w: more than 8 IPv6 extension headers", ErrBadHeader)
	errIPv6HopByHop  = fmt.Errorf("%w: IPv6 hop-by-hop header not first", ErrBadHeader)
	errIPv6Routing   = fmt.Errorf("%w: IPv6 routing header with segments left", ErrBadHeader)
	errIPv6OptBad    = fmt.Errorf("%w: IPv6 option overruns its header", ErrBadHeader)
	errIPv6OptAction = fmt.Errorf("%w: IPv6 unrecognized option that must not be skipped", ErrBadHeader)
	errIPv6Fragment  = fmt.Errorf("%w: IPv6 fragment header", ErrFragmented)
)

// Parse parses the IPv6 fixed header at the start of b (RFC 8200 3) and
// returns the upper-layer payload. The payload is b[40:40+PayloadLen]
// (later bytes are link padding) less any hop-by-hop, routing and
// destination-options headers (RFC 8200 4), at most 8 of them; Protocol is
// the next-header value after them. A fragment header (RFC 8200 4.5) gives
// an error wrapping ErrFragmented, with h filled, Protocol 44 and the
// payload starting at the fragment header; on any other error the payload
// is nil. Jumbograms (RFC 2675) are not supported. It does not allocate.
func (h *IPv6) Parse(b []byte) (payload []byte, err error) {
	*h = IPv6{}
	if len(b) < IPv6HeaderLen {
		return nil, errIPv6Short
	}
	if b[0]>>4 != 6 {
		return nil, errIPv6Version
	}
	be := binary.BigEndian
	vtf := be.Uint32(b[0:4])
	h.TrafficClass = uint8(vtf >> 20)
	h.FlowLabel = vtf & 0xfffff
	h.PayloadLen = be.Uint16(b[4:6])
	h.NextHeader = b[6]
	h.Protocol = b[6]
	h.HopLimit = b[7]
	h.Src = netip.AddrFrom16([16]byte(b[8:24]))
	h.Dst = netip.AddrFrom16([16]byte(b[24:40]))
	if int(h.PayloadLen) > len(b)-IPv6HeaderLen {
		return nil, errIPv6PayShort
	}
	h.Protocol, payload, err = skipExtHeaders(h.NextHeader, b[IPv6HeaderLen:IPv6HeaderLen+int(h.PayloadLen)])
	if err != nil && err != errIPv6Fragment {
		return nil, err
	}
	return payload, err
}

// skipExtHeaders walks the extension headers starting with next header nh
// at the front of p and returns the first other next-header value and the
// bytes from there on.
func skipExtHeaders(nh uint8, p []byte) (uint8, []byte, error) {
	for i := 0; ; i++ {
		switch nh {
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts:
		case ipv6Fragment:
			return nh, p, errIPv6Fragment
		default:
			return nh, p, nil
		}
		if i == maxExtHeaders {
			return nh, nil, errIPv6ExtMany
		}
		n, err := checkExtHeader(nh, i, p)
		if err != nil {
			return nh, nil, err
		}
		nh, p = p[0], p[n:]
	}
}

// checkExtHeader checks the extension header of type nh, the i'th of the
// packet, at the front of p and returns its length: (Hdr Ext Len+1)*8
// bytes (RFC 8200 4.3, 4.4, 4.6).
func checkExtHeader(nh uint8, i int, p []byte) (int, error) {
	if len(p) < 2 {
		return 0, errIPv6ExtShort
	}
	n := (int(p[1]) + 1) * 8
	if n > len(p) {
		return 0, errIPv6ExtShort
	}
	switch nh {
	case ipv6HopByHop:
		if i != 0 { // RFC 8200 4.1: only right after the IPv6 header
			return 0, errIPv6HopByHop
		}
		return n, checkTLVOptions(p[2:n])
	case ipv6DestOpts:
		return n, checkTLVOptions(p[2:n])
	default: // routing
		// RFC 8200 4.4: with Segments Left zero the header is ignored;
		// otherwise this host would have to route the packet onward,
		// which it does not do.
		if p[3] != 0 {
			return 0, errIPv6Routing
		}
		return n, nil
	}
}

// checkTLVOptions walks the options of a hop-by-hop or destination-options
// header (RFC 8200 4.2). Pad1 and PadN are padding; no other option is
// recognized, so one whose two high-order type bits are not 00 ("skip over
// this option") means the packet must be discarded.
func checkTLVOptions(b []byte) error {
	for len(b) > 0 {
		t := b[0]
		if t == 0 { // Pad1
			b = b[1:]
			continue
		}
		if len(b) < 2 || 2+int(b[1]) > len(b) {
			return errIPv6OptBad
		}
		if t != 1 && t>>6 != 0 {
			return errIPv6OptAction
		}
		b = b[2+int(b[1]):]
	}
	return nil
}

// Append appends a 40-byte IPv6 fixed header (RFC 8200 3) for a payload
// of payloadLen bytes and returns the extended slice. No extension headers
// are written, so the Next Header field is h.Protocol (or h.NextHeader
// when Protocol is zero); h.PayloadLen is ignored in favour of payloadLen
// (truncated to 16 bits). A zero HopLimit is sent as 64. It does not
// allocate when dst has room for 40 more bytes.
func (h *IPv6) Append(dst []byte, payloadLen int) []byte {
	dst, b := grow(dst, IPv6HeaderLen)
	be := binary.BigEndian
	be.PutUint32(b[0:4], 6<<28|uint32(h.TrafficClass)<<20|h.FlowLabel&0xfffff)
	be.PutUint16(b[4:6], uint16(payloadLen))
	nh := h.Protocol
	if nh == 0 {
		nh = h.NextHeader
	}
	b[6] = nh
	b[7] = h.HopLimit
	if b[7] == 0 {
		b[7] = defaultTTL
	}
	src, dstAddr := h.Src.As16(), h.Dst.As16()
	copy(b[8:24], src[:])
	copy(b[24:40], dstAddr[:])
	return dst
}
