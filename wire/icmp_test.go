package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

// Golden ICMP packets, produced like the TCP ones by a separate Python
// implementation (struct.pack and a 16-bit RFC 1071 sum).

// goldenEcho4: 10.0.0.1 -> 10.0.0.2 echo request, ID 0x1234, Seq 1,
// data "synack!\n".
var goldenEcho4 = []byte{
	0x45, 0x00, 0x00, 0x24, 0x00, 0x00, 0x40, 0x00, 0x40, 0x01, 0x26, 0xd7, 0x0a, 0x00, 0x00, 0x01,
	0x0a, 0x00, 0x00, 0x02, 0x08, 0x00, 0x7f, 0x7a, 0x12, 0x34, 0x00, 0x01, 0x73, 0x79, 0x6e, 0x61,
	0x63, 0x6b, 0x21, 0x0a,
}

// goldenFragNeeded: router 192.168.1.1 tells 10.0.0.2 that its 1500-byte
// DF packet 10.0.0.2:80 -> 10.0.0.1:54321, seq 0x55667788, needs
// fragmenting for a next-hop MTU of 1280 (RFC 1191 4).
var goldenFragNeeded = []byte{
	0x45, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, 0xff, 0x01, 0xf0, 0x19, 0xc0, 0xa8, 0x01, 0x01,
	0x0a, 0x00, 0x00, 0x02, 0x03, 0x04, 0x56, 0x8b, 0x00, 0x00, 0x05, 0x00, 0x45, 0x00, 0x05, 0xdc,
	0x00, 0x00, 0x40, 0x00, 0x3f, 0x06, 0x22, 0x1a, 0x0a, 0x00, 0x00, 0x02, 0x0a, 0x00, 0x00, 0x01,
	0x00, 0x50, 0xd4, 0x31, 0x55, 0x66, 0x77, 0x88,
}

// goldenPTB6: router fd00::1 tells fd00::2 that its 1480-byte packet
// [fd00::2]:443 -> [fd00::9]:40000, seq 0xdeadbeef, is too big for MTU
// 1280 (RFC 4443 3.2).
var goldenPTB6 = []byte{
	0x60, 0x00, 0x00, 0x00, 0x00, 0x3c, 0x3a, 0xff, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x02, 0x00, 0x5c, 0xfd, 0x00, 0x00, 0x05, 0x00,
	0x60, 0x00, 0x00, 0x00, 0x05, 0xa0, 0x06, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0x01, 0xbb, 0x9c, 0x40, 0xde, 0xad, 0xbe, 0xef,
	0x00, 0x00, 0x00, 0x01,
}

// goldenEcho6: fd00::9 -> fd00::2 echo request, ID 7, Seq 3, data "ping".
var goldenEcho6 = []byte{
	0x60, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x3a, 0x40, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x80, 0x00, 0xa6, 0xd1, 0x00, 0x07, 0x00, 0x03,
	0x70, 0x69, 0x6e, 0x67,
}

func parseICMPPacket(t *testing.T, pkt []byte) (IPHeader, ICMP) {
	t.Helper()
	ip, p, err := ParseIP(pkt)
	if err != nil {
		t.Fatal(err)
	}
	var m ICMP
	if ip.V6 {
		m, err = ParseICMPv6(ip.Src, ip.Dst, p)
	} else {
		m, err = ParseICMPv4(p)
	}
	if err != nil {
		t.Fatal(err)
	}
	return ip, m
}

func TestICMPv4EchoGolden(t *testing.T) {
	ip, m := parseICMPPacket(t, goldenEcho4)
	if ip.Protocol != ProtoICMP || m.Type != ICMPv4Echo || m.Code != 0 || m.ID != 0x1234 || m.Seq != 1 || string(m.Body) != "synack!\n" || m.IsError() {
		t.Fatalf("%+v", m)
	}
	// Append rebuilds the same bytes (the checksum included).
	if got := AppendICMPv4(nil, &m); !bytes.Equal(got, goldenEcho4[20:]) {
		t.Fatalf("Append:\n got % x\nwant % x", got, goldenEcho4[20:])
	}
}

func TestICMPv4FragNeededGolden(t *testing.T) {
	_, m := parseICMPPacket(t, goldenFragNeeded)
	if m.Type != ICMPv4DestUnreach || m.Code != ICMPv4FragNeeded || m.MTU != 1280 || !m.IsError() {
		t.Fatalf("%+v", m)
	}
	q, err := ParseQuote(m.Body, false)
	if err != nil {
		t.Fatal(err)
	}
	want := Quote{
		Src: netip.MustParseAddr("10.0.0.2"), Dst: netip.MustParseAddr("10.0.0.1"), Protocol: ProtoTCP,
		TotalLen: 1500, DontFrag: true, SrcPort: 80, DstPort: 54321, Seq: 0x55667788,
	}
	if q != want {
		t.Fatalf("quote %+v, want %+v", q, want)
	}
	if got := AppendICMPv4(nil, &m); !bytes.Equal(got, goldenFragNeeded[20:]) {
		t.Fatalf("Append:\n got % x\nwant % x", got, goldenFragNeeded[20:])
	}
}

func TestICMPv6Golden(t *testing.T) {
	ip, m := parseICMPPacket(t, goldenPTB6)
	if ip.Protocol != ProtoICMPv6 || m.Type != ICMPv6PacketTooBig || m.MTU != 1280 || !m.IsError6() {
		t.Fatalf("%+v", m)
	}
	q, err := ParseQuote(m.Body, true)
	if err != nil {
		t.Fatal(err)
	}
	want := Quote{
		Src: netip.MustParseAddr("fd00::2"), Dst: netip.MustParseAddr("fd00::9"), Protocol: ProtoTCP,
		TotalLen: 1480, SrcPort: 443, DstPort: 40000, Seq: 0xdeadbeef,
	}
	if q != want {
		t.Fatalf("quote %+v, want %+v", q, want)
	}
	if got := AppendICMPv6(nil, ip.Src, ip.Dst, &m); !bytes.Equal(got, goldenPTB6[40:]) {
		t.Fatalf("Append:\n got % x\nwant % x", got, goldenPTB6[40:])
	}
	ip, m = parseICMPPacket(t, goldenEcho6)
	if m.Type != ICMPv6EchoRequest || m.ID != 7 || m.Seq != 3 || string(m.Body) != "ping" || m.IsError6() {
		t.Fatalf("%+v", m)
	}
	if got := AppendICMPv6(nil, ip.Src, ip.Dst, &m); !bytes.Equal(got, goldenEcho6[40:]) {
		t.Fatalf("Append:\n got % x\nwant % x", got, goldenEcho6[40:])
	}
}

// TestICMPBuildParse builds every message kind and parses it back.
func TestICMPBuildParse(t *testing.T) {
	src, dst := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	quote := goldenFragNeeded[28:]
	for _, m := range []ICMP{
		{Type: ICMPv4EchoReply, ID: 9, Seq: 10, Body: []byte("x")},
		{Type: ICMPv4DestUnreach, Code: ICMPv4PortUnreach, Body: quote},
		{Type: ICMPv4DestUnreach, Code: ICMPv4FragNeeded, MTU: 576, Body: quote},
		{Type: ICMPv4TimeExceeded, Code: 1, Body: quote},
		{Type: ICMPv4ParamProblem, Pointer: 9, Body: quote},
	} {
		got, err := ParseICMPv4(AppendICMPv4(nil, &m))
		got.Checksum = 0
		if err != nil || got.Type != m.Type || got.Code != m.Code || got.MTU != m.MTU || got.Pointer != m.Pointer || !bytes.Equal(got.Body, m.Body) {
			t.Errorf("%+v: got %+v, %v", m, got, err)
		}
	}
	q6 := goldenPTB6[48:]
	for code := uint8(0); code <= icmpv6MaxUnreach; code++ {
		m := ICMP{Type: ICMPv6DestUnreach, Code: code, Body: q6}
		if got, err := ParseICMPv6(src, dst, AppendICMPv6(nil, src, dst, &m)); err != nil || got.Code != code {
			t.Errorf("unreachable code %d: %+v, %v", code, got, err)
		}
	}
	for _, m := range []ICMP{
		{Type: ICMPv6EchoReply, ID: 1, Seq: 2},
		{Type: ICMPv6PacketTooBig, MTU: 1400, Body: q6},
		{Type: ICMPv6TimeExceeded, Code: 0, Body: q6},
		{Type: ICMPv6ParamProblem, Code: 1, Pointer: 40, Body: q6},
	} {
		got, err := ParseICMPv6(src, dst, AppendICMPv6(nil, src, dst, &m))
		if err != nil || got.Type != m.Type || got.MTU != m.MTU || got.Pointer != m.Pointer || !bytes.Equal(got.Body, m.Body) {
			t.Errorf("%+v: got %+v, %v", m, got, err)
		}
	}
}

func TestICMPBad(t *testing.T) {
	bad := func(f func(b []byte)) []byte {
		b := bytes.Clone(goldenFragNeeded[20:])
		f(b)
		return b
	}
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"short", goldenEcho4[20:27], ErrTruncated},
		{"checksum", bad(func(b []byte) { b[9] ^= 1 }), ErrBadChecksum},
		{"unreach code 16", AppendICMPv4(nil, &ICMP{Type: ICMPv4DestUnreach, Code: 16}), ErrBadHeader},
		{"time exceeded code 2", AppendICMPv4(nil, &ICMP{Type: ICMPv4TimeExceeded, Code: 2}), ErrBadHeader},
	} {
		if _, err := ParseICMPv4(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	src, dst := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	if _, err := ParseICMPv6(netip.MustParseAddr("fd00::3"), dst, goldenPTB6[40:]); !errors.Is(err, ErrBadChecksum) {
		t.Errorf("ICMPv6 under the wrong pseudo-header: %v", err) // RFC 4443 2.3
	}
	if _, err := ParseICMPv6(src, dst, AppendICMPv6(nil, src, dst, &ICMP{Type: ICMPv6PacketTooBig, Code: 1})); !errors.Is(err, ErrBadHeader) {
		t.Errorf("packet too big code 1: %v", err)
	}
	q := goldenFragNeeded[28:]
	for _, c := range []struct {
		name string
		b    []byte
		v6   bool
		want error
	}{
		{"short quote", q[:27], false, ErrTruncated},
		{"v6 quote in v4 error", goldenPTB6[48:], false, ErrVersion},
		{"v4 quote in v6 error", q, true, ErrVersion},
		{"IHL 4", append([]byte{0x44}, q[1:]...), false, ErrBadHeader},
		{"IHL past quote", append([]byte{0x4f}, q[1:]...), false, ErrTruncated},
		{"later fragment", append(append(bytes.Clone(q[:6]), 0x00, 0x10), q[8:]...), false, ErrFragmented},
		{"v6 short", goldenPTB6[48:95], true, ErrTruncated},
	} {
		if _, err := ParseQuote(c.b, c.v6); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
}
