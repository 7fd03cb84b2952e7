package wire

import (
	"bytes"
	"net/netip"
	"testing"
)

// Golden packets. The bytes, including every checksum, were produced by a
// separate, straightforward Python implementation (struct.pack plus a
// 16-bit-at-a-time RFC 1071 sum), not by this package. The TCP option
// layouts are the ones Linux sends.

// goldenSYN: 10.0.0.1:54321 -> 10.0.0.2:80, a Linux-style SYN with
// MSS 1460, SACK-permitted, timestamps, NOP, window scale 7 (40-byte TCP
// header).
var goldenSYN = []byte{
	0x45, 0x00, 0x00, 0x3c, 0x1c, 0x46, 0x40, 0x00, 0x40, 0x06, 0x0a, 0x74, 0x0a, 0x00, 0x00, 0x01,
	0x0a, 0x00, 0x00, 0x02, 0xd4, 0x31, 0x00, 0x50, 0x1a, 0x2b, 0x3c, 0x4d, 0x00, 0x00, 0x00, 0x00,
	0xa0, 0x02, 0xfa, 0xf0, 0x5a, 0xae, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
	0x00, 0xa1, 0xb2, 0xc3, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
}

// goldenSYNACK answers goldenSYN with the same option layout; IP ID 0.
var goldenSYNACK = []byte{
	0x45, 0x00, 0x00, 0x3c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x26, 0xba, 0x0a, 0x00, 0x00, 0x02,
	0x0a, 0x00, 0x00, 0x01, 0x00, 0x50, 0xd4, 0x31, 0x55, 0x66, 0x77, 0x88, 0x1a, 0x2b, 0x3c, 0x4e,
	0xa0, 0x12, 0xfe, 0x88, 0x45, 0xb0, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a,
	0x11, 0x22, 0x33, 0x44, 0x00, 0xa1, 0xb2, 0xc3, 0x01, 0x03, 0x03, 0x07,
}

// goldenACK is a pure ACK with NOP,NOP,timestamps.
var goldenACK = []byte{
	0x45, 0x00, 0x00, 0x34, 0x1c, 0x47, 0x40, 0x00, 0x40, 0x06, 0x0a, 0x7b, 0x0a, 0x00, 0x00, 0x01,
	0x0a, 0x00, 0x00, 0x02, 0xd4, 0x31, 0x00, 0x50, 0x1a, 0x2b, 0x3c, 0x4e, 0x55, 0x66, 0x77, 0x89,
	0x80, 0x10, 0x01, 0xf6, 0x71, 0x0e, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0xa1, 0xb2, 0xc4,
	0x11, 0x22, 0x33, 0x44,
}

// goldenSACK is an ACK with NOP,NOP,timestamps and NOP,NOP,SACK with two blocks.
var goldenSACK = []byte{
	0x45, 0x00, 0x00, 0x48, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x26, 0xad, 0x0a, 0x00, 0x00, 0x02,
	0x0a, 0x00, 0x00, 0x01, 0x00, 0x50, 0xd4, 0x31, 0x55, 0x66, 0x77, 0x89, 0x1a, 0x2b, 0x3c, 0xb2,
	0xd0, 0x10, 0x01, 0xfd, 0x86, 0x05, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x11, 0x22, 0x33, 0x99,
	0x00, 0xa1, 0xb2, 0xd0, 0x01, 0x01, 0x05, 0x12, 0x1a, 0x2b, 0x50, 0x00, 0x1a, 0x2b, 0x55, 0xb4,
	0x1a, 0x2b, 0x40, 0x00, 0x1a, 0x2b, 0x45, 0xb4,
}

// goldenData is a PSH,ACK carrying 13 bytes (odd length) of data.
var goldenData = []byte{
	0x45, 0x00, 0x00, 0x41, 0x1c, 0x48, 0x40, 0x00, 0x40, 0x06, 0x0a, 0x6d, 0x0a, 0x00, 0x00, 0x01,
	0x0a, 0x00, 0x00, 0x02, 0xd4, 0x31, 0x00, 0x50, 0x1a, 0x2b, 0x3c, 0x4e, 0x55, 0x66, 0x77, 0x89,
	0x80, 0x18, 0x01, 0xf6, 0x0f, 0xad, 0x00, 0x00, 0x01, 0x01, 0x08, 0x0a, 0x00, 0xa1, 0xb2, 0xc4,
	0x11, 0x22, 0x33, 0x44, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x77, 0x6f, 0x72, 0x6c, 0x64,
	0x21,
}

// goldenSYN6 is an IPv6 SYN, 2001:db8::1:40000 -> [2001:db8::2]:443, flow label 0x12345.
var goldenSYN6 = []byte{
	0x60, 0x01, 0x23, 0x45, 0x00, 0x28, 0x06, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x9c, 0x40, 0x01, 0xbb, 0xca, 0xfe, 0xba, 0xbe,
	0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfd, 0x20, 0x2e, 0x28, 0x00, 0x00, 0x02, 0x04, 0x05, 0xa0,
	0x04, 0x02, 0x08, 0x0a, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
}

// wikiIPv4 is the well-known IPv4 header example (checksum 0xb861) from
// the Wikipedia article "Internet checksum"/"IPv4 header checksum".
var wikiIPv4 = []byte{
	0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01,
	0xc0, 0xa8, 0x00, 0xc7,
}

var (
	addrA  = netip.MustParseAddr("10.0.0.1")
	addrB  = netip.MustParseAddr("10.0.0.2")
	addr6A = netip.MustParseAddr("2001:db8::1")
	addr6B = netip.MustParseAddr("2001:db8::2")
)

// goldenCase is one golden packet with the headers it must parse into.
type goldenCase struct {
	name    string
	pkt     []byte
	v4      IPv4
	v6      IPv6
	isV6    bool
	tcp     TCP
	payload []byte
}

func goldenCases() []goldenCase {
	synOpts := Options{MSS: 1460, HasMSS: true, WScale: 7, HasWScale: true, SACKPermitted: true, HasTimestamps: true, TSVal: 0x00a1b2c3}
	synAckOpts := synOpts
	synAckOpts.TSVal, synAckOpts.TSEcr = 0x11223344, 0x00a1b2c3
	return []goldenCase{
		{
			name: "SYN", pkt: goldenSYN,
			v4:  IPv4{HeaderLen: 20, TotalLen: 60, ID: 0x1c46, DontFrag: true, TTL: 64, Protocol: ProtoTCP, Checksum: 0x0a74, Src: addrA, Dst: addrB},
			tcp: TCP{SrcPort: 54321, DstPort: 80, Seq: 0x1a2b3c4d, DataOffset: 40, Flags: SYN, Window: 64240, Checksum: 0x5aae, Options: synOpts},
		},
		{
			name: "SYN-ACK", pkt: goldenSYNACK,
			v4:  IPv4{HeaderLen: 20, TotalLen: 60, DontFrag: true, TTL: 64, Protocol: ProtoTCP, Checksum: 0x26ba, Src: addrB, Dst: addrA},
			tcp: TCP{SrcPort: 80, DstPort: 54321, Seq: 0x55667788, Ack: 0x1a2b3c4e, DataOffset: 40, Flags: SYN | ACK, Window: 65160, Checksum: 0x45b0, Options: synAckOpts},
		},
		{
			name: "ACK", pkt: goldenACK,
			v4: IPv4{HeaderLen: 20, TotalLen: 52, ID: 0x1c47, DontFrag: true, TTL: 64, Protocol: ProtoTCP, Checksum: 0x0a7b, Src: addrA, Dst: addrB},
			tcp: TCP{SrcPort: 54321, DstPort: 80, Seq: 0x1a2b3c4e, Ack: 0x55667789, DataOffset: 32, Flags: ACK, Window: 502, Checksum: 0x710e,
				Options: Options{HasTimestamps: true, TSVal: 0x00a1b2c4, TSEcr: 0x11223344}},
		},
		{
			name: "SACK", pkt: goldenSACK,
			v4: IPv4{HeaderLen: 20, TotalLen: 72, ID: 1, DontFrag: true, TTL: 64, Protocol: ProtoTCP, Checksum: 0x26ad, Src: addrB, Dst: addrA},
			tcp: TCP{SrcPort: 80, DstPort: 54321, Seq: 0x55667789, Ack: 0x1a2b3cb2, DataOffset: 52, Flags: ACK, Window: 509, Checksum: 0x8605,
				Options: Options{HasTimestamps: true, TSVal: 0x11223399, TSEcr: 0x00a1b2d0, NumSACK: 2,
					SACK: [MaxSACKBlocks]SACKBlock{{0x1a2b5000, 0x1a2b55b4}, {0x1a2b4000, 0x1a2b45b4}}}},
		},
		{
			name: "data", pkt: goldenData, payload: []byte("hello, world!"),
			v4: IPv4{HeaderLen: 20, TotalLen: 65, ID: 0x1c48, DontFrag: true, TTL: 64, Protocol: ProtoTCP, Checksum: 0x0a6d, Src: addrA, Dst: addrB},
			tcp: TCP{SrcPort: 54321, DstPort: 80, Seq: 0x1a2b3c4e, Ack: 0x55667789, DataOffset: 32, Flags: PSH | ACK, Window: 502, Checksum: 0x0fad,
				Options: Options{HasTimestamps: true, TSVal: 0x00a1b2c4, TSEcr: 0x11223344}},
		},
		{
			name: "SYN6", pkt: goldenSYN6, isV6: true,
			v6: IPv6{FlowLabel: 0x12345, PayloadLen: 40, NextHeader: ProtoTCP, Protocol: ProtoTCP, HopLimit: 64, Src: addr6A, Dst: addr6B},
			tcp: TCP{SrcPort: 40000, DstPort: 443, Seq: 0xcafebabe, DataOffset: 40, Flags: SYN, Window: 64800, Checksum: 0x2e28,
				Options: Options{MSS: 1440, HasMSS: true, WScale: 7, HasWScale: true, SACKPermitted: true, HasTimestamps: true, TSVal: 0xdeadbeef}},
		},
	}
}

// parseGolden parses c.pkt as IP then TCP, checking every struct.
func parseGolden(t *testing.T, c goldenCase) (src, dst netip.Addr, seg []byte) {
	t.Helper()
	var err error
	if c.isV6 {
		var h IPv6
		seg, err = h.Parse(c.pkt)
		if err != nil || h != c.v6 {
			t.Fatalf("IPv6.Parse = %+v, %v; want %+v", h, err, c.v6)
		}
		src, dst = h.Src, h.Dst
	} else {
		var h IPv4
		seg, err = h.Parse(c.pkt)
		if err != nil || h != c.v4 {
			t.Fatalf("IPv4.Parse = %+v, %v; want %+v", h, err, c.v4)
		}
		src, dst = h.Src, h.Dst
	}
	var th TCP
	th.Options.Unknown = 9 // Parse must reset the options
	payload, err := th.Parse(seg)
	if err != nil || th != c.tcp {
		t.Fatalf("TCP.Parse = %+v, %v\nwant %+v", th, err, c.tcp)
	}
	if !bytes.Equal(payload, c.payload) {
		t.Fatalf("TCP payload = %q, want %q", payload, c.payload)
	}
	return src, dst, seg
}

func TestGoldenParse(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			src, dst, seg := parseGolden(t, c)
			if !VerifyTCPChecksum(src, dst, seg) {
				t.Error("VerifyTCPChecksum = false on a golden packet")
			}
			ip, payload, err := ParseIP(c.pkt)
			want := IPHeader{Src: src, Dst: dst, Protocol: ProtoTCP, V6: c.isV6}
			if err != nil || ip != want || !bytes.Equal(payload, seg) {
				t.Errorf("ParseIP = %+v, %d bytes, %v; want %+v", ip, len(payload), err, want)
			}
		})
	}
}

// TestGoldenAppend builds each golden packet from its structs.
func TestGoldenAppend(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			th := c.tcp
			th.Checksum, th.DataOffset = 0xffff, 0 // both recomputed
			tcpLen := th.HeaderLen() + len(c.payload)
			var pkt []byte
			var src, dst netip.Addr
			if c.isV6 {
				h := c.v6
				h.PayloadLen, h.NextHeader = 0, 0
				pkt = h.Append(make([]byte, 0, 128), tcpLen)
				src, dst = h.Src, h.Dst
			} else {
				h := c.v4
				h.HeaderLen, h.TotalLen, h.Checksum = 0, 0, 0xbeef
				pkt = h.Append(make([]byte, 0, 128), tcpLen)
				src, dst = h.Src, h.Dst
			}
			ipLen := len(pkt)
			pkt = th.Append(pkt)
			pkt = append(pkt, c.payload...)
			SetTCPChecksum(src, dst, pkt[ipLen:])
			if !bytes.Equal(pkt, c.pkt) {
				t.Errorf("built\n% x\nwant\n% x", pkt, c.pkt)
			}
		})
	}
}

func TestGoldenAppendIPHeader(t *testing.T) {
	got := AppendIPHeader(nil, addrB, addrA, ProtoTCP, 0, 40)
	if !bytes.Equal(got, goldenSYNACK[:20]) {
		t.Errorf("AppendIPHeader v4 = % x\nwant % x", got, goldenSYNACK[:20])
	}
	got = AppendIPHeader(nil, addr6A, addr6B, ProtoTCP, 0, 40)
	want := bytes.Clone(goldenSYN6[:40])
	want[1], want[2], want[3] = 0, 0, 0 // flow label 0
	if !bytes.Equal(got, want) {
		t.Errorf("AppendIPHeader v6 = % x\nwant % x", got, want)
	}
}

func TestWikipediaIPv4(t *testing.T) {
	pkt := append(bytes.Clone(wikiIPv4), make([]byte, 0x73-20)...)
	var h IPv4
	payload, err := h.Parse(pkt)
	want := IPv4{HeaderLen: 20, TotalLen: 0x73, DontFrag: true, TTL: 64, Protocol: 17, Checksum: 0xb861,
		Src: netip.MustParseAddr("192.168.0.1"), Dst: netip.MustParseAddr("192.168.0.199")}
	if err != nil || h != want || len(payload) != 0x73-20 {
		t.Fatalf("Parse = %+v, %d, %v; want %+v", h, len(payload), err, want)
	}
	if got := h.Append(nil, len(payload)); !bytes.Equal(got, wikiIPv4) {
		t.Errorf("Append = % x, want % x", got, wikiIPv4)
	}
	if got := refChecksum(wikiIPv4[:10], 0) + refChecksum(wikiIPv4[12:], 0); Fold(got) != 0xb861 {
		t.Errorf("reference checksum of header = %#x, want 0xb861", Fold(got))
	}
}
