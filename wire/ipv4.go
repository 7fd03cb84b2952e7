package wire

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IPv4 flag bits in the flags/fragment-offset word (RFC 791 3.1).
const (
	ipv4DF      = 0x4000
	ipv4MF      = 0x2000
	ipv4FragOff = 0x1fff
	defaultTTL  = 64 // RFC 1700 / RFC 1122 3.2.1.7 recommended default
)

var (
	errIPv4Short    = fmt.Errorf("%w: IPv4 packet shorter than 20 bytes", ErrTruncated)
	errIPv4Version  = fmt.Errorf("%w: IPv4 header with version other than 4", ErrVersion)
	errIPv4IHLSmall = fmt.Errorf("%w: IPv4 IHL below 5", ErrBadHeader)
	errIPv4IHLShort = fmt.Errorf("%w: IPv4 IHL past end of packet", ErrTruncated)
	errIPv4TotSmall = fmt.Errorf("%w: IPv4 total length below header length", ErrBadHeader)
	errIPv4TotShort = fmt.Errorf("%w: IPv4 total length past end of packet", ErrTruncated)
	errIPv4Checksum = fmt.Errorf("%w: IPv4 header checksum", ErrBadChecksum)
	errIPv4Fragment = fmt.Errorf("%w: IPv4 fragment", ErrFragmented)
)

// Parse parses the IPv4 header at the start of b (RFC 791 3.1) and returns
// the payload: b[IHL*4:TotalLen]. Bytes after TotalLen (link-layer
// padding) are ignored and IP options are skipped. The header checksum is
// verified. For a fragment (MF set or a nonzero offset) Parse fills h and
// returns the fragment's data with an error wrapping ErrFragmented; on
// any other error the payload is nil. It does not allocate.
func (h *IPv4) Parse(b []byte) (payload []byte, err error) {
	*h = IPv4{}
	if len(b) < IPv4MinHeaderLen {
		return nil, errIPv4Short
	}
	if b[0]>>4 != 4 {
		return nil, errIPv4Version
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < IPv4MinHeaderLen {
		return nil, errIPv4IHLSmall
	}
	if ihl > len(b) {
		return nil, errIPv4IHLShort
	}
	be := binary.BigEndian
	tot := int(be.Uint16(b[2:4]))
	if tot < ihl {
		return nil, errIPv4TotSmall
	}
	if tot > len(b) {
		return nil, errIPv4TotShort
	}
	h.fill(b, ihl)
	if Fold(Checksum(b[:ihl], 0)) != 0 { // RFC 791 3.1, Header Checksum
		return nil, errIPv4Checksum
	}
	if h.MoreFrags || h.FragOff != 0 {
		return b[ihl:tot], errIPv4Fragment
	}
	return b[ihl:tot], nil
}

// fill copies the fields of the header b, IHL*4 = ihl bytes, into h.
func (h *IPv4) fill(b []byte, ihl int) {
	be := binary.BigEndian
	frag := be.Uint16(b[6:8])
	h.TOS = b[1]
	h.HeaderLen = uint8(ihl)
	h.TotalLen = be.Uint16(b[2:4])
	h.ID = be.Uint16(b[4:6])
	h.DontFrag = frag&ipv4DF != 0
	h.MoreFrags = frag&ipv4MF != 0
	h.FragOff = frag & ipv4FragOff
	h.TTL = b[8]
	h.Protocol = b[9]
	h.Checksum = be.Uint16(b[10:12])
	h.Src = netip.AddrFrom4([4]byte(b[12:16]))
	h.Dst = netip.AddrFrom4([4]byte(b[16:20]))
}

// Append appends a 20-byte IPv4 header without options (RFC 791 3.1) for
// a payload of payloadLen bytes and returns the extended slice. Version,
// IHL (5), TotalLen (20+payloadLen, truncated to 16 bits: the caller keeps
// packets under 64 KiB) and the header checksum are computed; h.HeaderLen,
// h.TotalLen and h.Checksum are ignored. A zero TTL is sent as 64. DF, MF
// and the fragment offset come from h. Src and Dst should be IPv4
// addresses (IPv4-mapped IPv6 ones are unmapped; others are sent as
// 0.0.0.0). It does not allocate when dst has room for 20 more bytes.
func (h *IPv4) Append(dst []byte, payloadLen int) []byte {
	dst, b := grow(dst, IPv4MinHeaderLen)
	be := binary.BigEndian
	frag := h.FragOff & ipv4FragOff
	if h.DontFrag {
		frag |= ipv4DF
	}
	if h.MoreFrags {
		frag |= ipv4MF
	}
	ttl := h.TTL
	if ttl == 0 {
		ttl = defaultTTL
	}
	b[0] = 4<<4 | IPv4MinHeaderLen/4
	b[1] = h.TOS
	be.PutUint16(b[2:4], uint16(IPv4MinHeaderLen+payloadLen))
	be.PutUint16(b[4:6], h.ID)
	be.PutUint16(b[6:8], frag)
	b[8] = ttl
	b[9] = h.Protocol
	b[10], b[11] = 0, 0
	src, dstAddr := as4(h.Src), as4(h.Dst)
	copy(b[12:16], src[:])
	copy(b[16:20], dstAddr[:])
	be.PutUint16(b[10:12], Fold(Checksum(b, 0)))
	return dst
}
