package tun

import (
	"encoding/binary"
	"errors"

	"github.com/synack-tcp/synack/link"
)

// The virtio-net header (struct virtio_net_hdr, include/uapi/linux/
// virtio_net.h) that prefixes every packet on a device opened with
// IFF_VNET_HDR: ten bytes saying whether the transport checksum still has
// to be completed and whether the packet is a TCP super-packet to be cut
// into (on write) or joined from (on read) segments. Its 16-bit fields are
// in the host's byte order (legacy virtio; TUNSETVNETBE/LE are never set).
const vnetHdrLen = 10

const (
	vnetNeedsCsum = 1 // VIRTIO_NET_HDR_F_NEEDS_CSUM: complete the checksum at csum_start+csum_offset
	vnetDataValid = 2 // VIRTIO_NET_HDR_F_DATA_VALID: the checksum was verified

	vnetGSONone  = 0    // VIRTIO_NET_HDR_GSO_NONE
	vnetGSOTCPv4 = 1    // VIRTIO_NET_HDR_GSO_TCPV4
	vnetGSOTCPv6 = 4    // VIRTIO_NET_HDR_GSO_TCPV6
	vnetGSOECN   = 0x80 // VIRTIO_NET_HDR_GSO_ECN: the segments carried CWR (RFC 3168)

	tcpCsumOffset = 16 // the checksum field's offset in the TCP header
	protoTCP      = 6
)

// vnetHdr is struct virtio_net_hdr.
type vnetHdr struct {
	flags      uint8
	gsoType    uint8
	hdrLen     uint16 // bytes of headers (IP + TCP) copied into every segment
	gsoSize    uint16 // payload bytes per segment
	csumStart  uint16 // where the checksummed data starts (the TCP header)
	csumOffset uint16 // where, from csumStart, the checksum field sits
}

var (
	errVnetShort = errors.New("tun: packet shorter than its virtio-net header")
	errVnetGSO   = errors.New("tun: virtio-net header: unsupported or inconsistent GSO")
	errVnetCsum  = errors.New("tun: virtio-net header: checksum offsets outside the packet")
)

// decodeVnet reads a virtio-net header from the front of b.
func decodeVnet(b []byte) (vnetHdr, error) {
	if len(b) < vnetHdrLen {
		return vnetHdr{}, errVnetShort
	}
	e := binary.NativeEndian
	return vnetHdr{
		flags: b[0], gsoType: b[1],
		hdrLen: e.Uint16(b[2:]), gsoSize: e.Uint16(b[4:]),
		csumStart: e.Uint16(b[6:]), csumOffset: e.Uint16(b[8:]),
	}, nil
}

// encode writes h into b[:vnetHdrLen].
func (h vnetHdr) encode(b []byte) {
	e := binary.NativeEndian
	b[0], b[1] = h.flags, h.gsoType
	e.PutUint16(b[2:], h.hdrLen)
	e.PutUint16(b[4:], h.gsoSize)
	e.PutUint16(b[6:], h.csumStart)
	e.PutUint16(b[8:], h.csumOffset)
}

// info is the PacketInfo of pkt (the IP packet after the header) as read
// from its IP header and h. It fails for what synack cannot take: a GSO
// kind other than TCP over the packet's IP version, a zero segment size, or
// checksum offsets outside the packet.
func (h vnetHdr) info(pkt []byte) (link.PacketInfo, error) {
	info := link.ReadInfo(pkt)
	switch h.gsoType &^ vnetGSOECN {
	case vnetGSONone:
	case vnetGSOTCPv4:
		if len(pkt) < 20 || pkt[0]>>4 != 4 || pkt[9] != protoTCP || h.gsoSize == 0 {
			return info, errVnetGSO
		}
		info.GSO, info.GSOSize = link.GSOTCPv4, h.gsoSize
	case vnetGSOTCPv6:
		if len(pkt) < 40 || pkt[0]>>4 != 6 || pkt[6] != protoTCP || h.gsoSize == 0 {
			return info, errVnetGSO
		}
		info.GSO, info.GSOSize = link.GSOTCPv6, h.gsoSize
	default:
		return info, errVnetGSO
	}
	switch {
	case h.flags&vnetNeedsCsum != 0:
		if int(h.csumStart)+int(h.csumOffset)+2 > len(pkt) {
			return info, errVnetCsum
		}
		info.Csum = link.CsumPartial
	case h.flags&vnetDataValid != 0:
		info.Csum = link.CsumValid
	}
	return info, nil
}

// vnetFor builds the header for writing an IP packet whose first bytes
// are head (at least its IP and TCP headers) as info describes it: with
// CsumPartial the kernel completes the TCP checksum, with GSO it cuts the
// packet into segments of info.GSOSize payload bytes. ok is false when
// head does not hold what info claims (the packet is then not written).
func vnetFor(head []byte, info link.PacketInfo) (h vnetHdr, ok bool) {
	if info.Csum != link.CsumPartial && info.GSO == link.GSONone {
		return vnetHdr{}, true
	}
	var ipl int
	switch {
	case len(head) >= 20 && head[0]>>4 == 4 && head[9] == protoTCP:
		ipl = int(head[0]&0xf) * 4
	case len(head) >= 40 && head[0]>>4 == 6 && head[6] == protoTCP:
		ipl = 40
	default:
		return vnetHdr{}, false
	}
	if ipl < 20 || len(head) < ipl+20 {
		return vnetHdr{}, false
	}
	h.flags = vnetNeedsCsum
	h.csumStart, h.csumOffset = uint16(ipl), tcpCsumOffset
	switch info.GSO {
	case link.GSONone:
		return h, true
	case link.GSOTCPv4:
		h.gsoType = vnetGSOTCPv4
	case link.GSOTCPv6:
		h.gsoType = vnetGSOTCPv6
	default:
		return vnetHdr{}, false
	}
	if (h.gsoType == vnetGSOTCPv4) != (head[0]>>4 == 4) || info.GSOSize == 0 || info.Csum != link.CsumPartial {
		return vnetHdr{}, false
	}
	h.gsoSize = info.GSOSize
	if head[ipl+13]&0x80 != 0 {
		h.gsoType |= vnetGSOECN // CWR on the first segment only (RFC 3168 6.1.2)
	}
	h.hdrLen = uint16(ipl + int(head[ipl+12]>>4)*4)
	return h, true
}
