package tun

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/synack-tcp/synack/link"
)

// tcpHead is an IP header (IPv4 with ihl 5, or IPv6) and a TCP header of
// doff words, then payload bytes of zeros.
func tcpHead(v6 bool, doff, payload int, flags byte) []byte {
	var p []byte
	if v6 {
		p = make([]byte, 40+doff*4+payload)
		p[0], p[6], p[7] = 0x60, protoTCP, 64
		binary.BigEndian.PutUint16(p[4:], uint16(doff*4+payload))
		p[40+12], p[40+13] = byte(doff<<4), flags
		return p
	}
	p = make([]byte, 20+doff*4+payload)
	p[0], p[8], p[9] = 0x45, 64, protoTCP
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[20+12], p[20+13] = byte(doff<<4), flags
	return p
}

func TestVnetCodec(t *testing.T) {
	h := vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv6, hdrLen: 72, gsoSize: 1428, csumStart: 40, csumOffset: 16}
	var b [vnetHdrLen]byte
	h.encode(b[:])
	if b[0] != 1 || b[1] != 4 || binary.NativeEndian.Uint16(b[4:]) != 1428 {
		t.Fatalf("encoded %x", b)
	}
	got, err := decodeVnet(b[:])
	if err != nil || got != h {
		t.Fatalf("decode(encode(%+v)) = %+v, %v", h, got, err)
	}
	if _, err := decodeVnet(b[:9]); err == nil {
		t.Fatal("a 9-byte header decoded")
	}
}

// TestVnetFor checks the header of what the stack writes: a partial
// checksum points at the TCP checksum field, a super-segment says TCPv4
// or TCPv6 with the segment size and the header length the kernel copies
// into every segment, and CWR asks for the ECN variant.
func TestVnetFor(t *testing.T) {
	cases := []struct {
		name string
		pkt  []byte
		info link.PacketInfo
		want vnetHdr
		ok   bool
	}{
		{"plain", tcpHead(false, 5, 10, 0), link.PacketInfo{}, vnetHdr{}, true},
		{"csum4", tcpHead(false, 5, 10, 0), link.PacketInfo{Csum: link.CsumPartial},
			vnetHdr{flags: vnetNeedsCsum, csumStart: 20, csumOffset: 16}, true},
		{"tso4", tcpHead(false, 8, 3000, 0x18), link.PacketInfo{Csum: link.CsumPartial, GSO: link.GSOTCPv4, GSOSize: 1448},
			vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4, hdrLen: 52, gsoSize: 1448, csumStart: 20, csumOffset: 16}, true},
		{"tso6", tcpHead(true, 8, 3000, 0x10), link.PacketInfo{Csum: link.CsumPartial, GSO: link.GSOTCPv6, GSOSize: 1428},
			vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv6, hdrLen: 72, gsoSize: 1428, csumStart: 40, csumOffset: 16}, true},
		{"tso4 cwr", tcpHead(false, 5, 3000, 0x90), link.PacketInfo{Csum: link.CsumPartial, GSO: link.GSOTCPv4, GSOSize: 1460},
			vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4 | vnetGSOECN, hdrLen: 40, gsoSize: 1460, csumStart: 20, csumOffset: 16}, true},
		{"tso family mismatch", tcpHead(false, 5, 3000, 0), link.PacketInfo{Csum: link.CsumPartial, GSO: link.GSOTCPv6, GSOSize: 1460}, vnetHdr{}, false},
		{"tso no size", tcpHead(false, 5, 3000, 0), link.PacketInfo{Csum: link.CsumPartial, GSO: link.GSOTCPv4}, vnetHdr{}, false},
		{"tso full csum", tcpHead(false, 5, 3000, 0), link.PacketInfo{GSO: link.GSOTCPv4, GSOSize: 1460}, vnetHdr{}, false},
		{"not tcp", []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, link.PacketInfo{Csum: link.CsumPartial}, vnetHdr{}, false},
		{"short", tcpHead(false, 5, 0, 0)[:30], link.PacketInfo{Csum: link.CsumPartial}, vnetHdr{}, false},
	}
	for _, tc := range cases {
		got, ok := vnetFor(tc.pkt, tc.info)
		if ok != tc.ok || got != tc.want {
			t.Errorf("%s: vnetFor = %+v, %v; want %+v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// TestVnetInfo checks what a read header turns into, and that what the
// kernel could hand over inconsistently is refused rather than trusted.
func TestVnetInfo(t *testing.T) {
	p4, p6 := tcpHead(false, 5, 4000, 0x10), tcpHead(true, 5, 4000, 0x10)
	cases := []struct {
		name string
		h    vnetHdr
		pkt  []byte
		csum link.Csum
		gso  link.GSOType
		ok   bool
	}{
		{"plain", vnetHdr{}, p4, link.CsumNone, link.GSONone, true},
		{"valid", vnetHdr{flags: vnetDataValid}, p4, link.CsumValid, link.GSONone, true},
		{"partial", vnetHdr{flags: vnetNeedsCsum, csumStart: 20, csumOffset: 16}, p4, link.CsumPartial, link.GSONone, true},
		{"gro4", vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4, gsoSize: 1448, hdrLen: 40, csumStart: 20, csumOffset: 16}, p4, link.CsumPartial, link.GSOTCPv4, true},
		{"gro6 ecn", vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv6 | vnetGSOECN, gsoSize: 1428, csumStart: 40, csumOffset: 16}, p6, link.CsumPartial, link.GSOTCPv6, true},
		{"gso4 on v6", vnetHdr{gsoType: vnetGSOTCPv4, gsoSize: 1448}, p6, 0, 0, false},
		{"gso size 0", vnetHdr{gsoType: vnetGSOTCPv4}, p4, 0, 0, false},
		{"udp gso", vnetHdr{gsoType: 3, gsoSize: 1448}, p4, 0, 0, false},
		{"csum past end", vnetHdr{flags: vnetNeedsCsum, csumStart: uint16(len(p4) - 17), csumOffset: 16}, p4, 0, 0, false},
	}
	for _, tc := range cases {
		info, err := tc.h.info(tc.pkt)
		if (err == nil) != tc.ok || tc.ok && (info.Csum != tc.csum || info.GSO != tc.gso) {
			t.Errorf("%s: info = %+v, %v", tc.name, info, err)
		}
		if tc.ok && tc.gso != link.GSONone && info.GSOSize != tc.h.gsoSize {
			t.Errorf("%s: GSOSize %d, want %d", tc.name, info.GSOSize, tc.h.gsoSize)
		}
		if tc.ok && info.TTL != 64 {
			t.Errorf("%s: the IP header's facts were lost: %+v", tc.name, info)
		}
	}
}

// FuzzVnet feeds arbitrary bytes as a header and packet read from the
// device: nothing panics, and a packet accepted with GSO or a partial
// checksum yields, through vnetFor, a header that reads back the same way.
func FuzzVnet(f *testing.F) {
	var b [vnetHdrLen]byte
	vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv4, gsoSize: 1448, hdrLen: 40, csumStart: 20, csumOffset: 16}.encode(b[:])
	f.Add(append(b[:], tcpHead(false, 5, 3000, 0x10)...))
	vnetHdr{flags: vnetNeedsCsum, gsoType: vnetGSOTCPv6, gsoSize: 1428, csumStart: 40, csumOffset: 16}.encode(b[:])
	f.Add(append(b[:], tcpHead(true, 8, 3000, 0x18)...))
	f.Add(make([]byte, 10))
	f.Add([]byte{2, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := decodeVnet(data)
		if err != nil {
			return
		}
		pkt := data[vnetHdrLen:]
		info, err := h.info(pkt)
		if err != nil || info.Csum != link.CsumPartial {
			return
		}
		w, ok := vnetFor(pkt, info)
		if !ok {
			return // e.g. a partial checksum on a packet that is not TCP
		}
		var enc [vnetHdrLen]byte
		w.encode(enc[:])
		back, err := decodeVnet(enc[:])
		if err != nil || !bytes.Equal(enc[:2], []byte{w.flags, w.gsoType}) {
			t.Fatalf("header %+v does not round-trip: %+v, %v", w, back, err)
		}
		if int(w.csumStart)+int(w.csumOffset)+2 > len(pkt) {
			t.Fatalf("vnetFor pointed past the packet: %+v for %d bytes", w, len(pkt))
		}
		info2, err := back.info(pkt)
		if err != nil || info2.GSO != info.GSO || info2.GSOSize != info.GSOSize || info2.Csum != link.CsumPartial {
			t.Fatalf("%+v read back as %+v, %v (was %+v)", w, info2, err, info)
		}
	})
}
