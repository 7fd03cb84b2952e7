package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"net/netip"
	"testing"
)

// v4 returns a copy of goldenSYN changed by edit, with the IPv4 header
// checksum recomputed by the reference implementation.
func v4(edit func(b []byte)) []byte {
	b := bytes.Clone(goldenSYN)
	edit(b)
	ihl := int(b[0]&0xf) * 4
	if ihl >= 20 && ihl <= len(b) {
		b[10], b[11] = 0, 0
		binary.BigEndian.PutUint16(b[10:], refFold(refChecksum(b[:ihl], 0)))
	}
	return b
}

func TestIPv4ParseErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"19 bytes", goldenSYN[:19], ErrTruncated},
		{"version 6", v4(func(b []byte) { b[0] = 0x65 }), ErrVersion},
		{"IHL 4", v4(func(b []byte) { b[0] = 0x44 }), ErrBadHeader},
		{"IHL 0", v4(func(b []byte) { b[0] = 0x40 }), ErrBadHeader},
		{"IHL past end", v4(func(b []byte) { b[0] = 0x4f })[:40], ErrTruncated},
		{"TotalLen < IHL", v4(func(b []byte) { b[2], b[3] = 0, 19 }), ErrBadHeader},
		{"TotalLen past end", v4(func(b []byte) { b[2], b[3] = 0, 61 }), ErrTruncated},
		{"TotalLen vs truncated buffer", goldenSYN[:59], ErrTruncated},
		{"bad checksum", func() []byte { b := bytes.Clone(goldenSYN); b[11] ^= 1; return b }(), ErrBadChecksum},
		{"corrupt address", func() []byte { b := bytes.Clone(goldenSYN); b[15] ^= 0x10; return b }(), ErrBadChecksum},
		{"MF", v4(func(b []byte) { b[6] = 0x20 }), ErrFragmented},
		{"offset", v4(func(b []byte) { b[6], b[7] = 0x40, 0x01 }), ErrFragmented},
		{"last fragment", v4(func(b []byte) { b[6], b[7] = 0x1f, 0xff }), ErrFragmented},
	} {
		var h IPv4
		p, err := h.Parse(c.b)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
		if (p != nil) != errors.Is(err, ErrFragmented) {
			t.Errorf("%s: payload %d bytes with %v", c.name, len(p), err)
		}
	}
}

func TestIPv4Fragment(t *testing.T) {
	var h IPv4
	p, err := h.Parse(v4(func(b []byte) { b[6], b[7] = 0x20, 0x10 }))
	if !errors.Is(err, ErrFragmented) || !h.MoreFrags || h.FragOff != 0x10 || h.DontFrag ||
		h.Src != addrA || h.Protocol != ProtoTCP || len(p) != 40 {
		t.Fatalf("%+v, %d bytes, %v", h, len(p), err)
	}
	// Append writes the fragment fields back.
	b := h.Append(nil, 40)
	if b[6] != 0x20 || b[7] != 0x10 {
		t.Errorf("flags/offset % x", b[6:8])
	}
}

func TestIPv4OptionsAndPadding(t *testing.T) {
	// IHL 6 with one 4-byte option word (NOPs and EOL), plus Ethernet
	// padding after TotalLen.
	hdr := append(bytes.Clone(goldenSYN[:20]), 1, 1, 1, 0)
	hdr[0] = 0x46
	binary.BigEndian.PutUint16(hdr[2:], 24+40)
	hdr[10], hdr[11] = 0, 0
	binary.BigEndian.PutUint16(hdr[10:], refFold(refChecksum(hdr, 0)))
	pkt := append(append(hdr, goldenSYN[20:]...), 0, 0, 0, 0, 0, 0)
	var h IPv4
	p, err := h.Parse(pkt)
	if err != nil || h.HeaderLen != 24 || h.TotalLen != 64 || !bytes.Equal(p, goldenSYN[20:]) {
		t.Fatalf("%+v, %d bytes, %v", h, len(p), err)
	}
}

func TestIPv4RoundTripRandom(t *testing.T) {
	r := rand.New(rand.NewSource(791))
	for i := 0; i < 2000; i++ {
		h := IPv4{
			TOS: uint8(r.Uint32()), ID: uint16(r.Uint32()), DontFrag: r.Intn(2) == 0,
			TTL: uint8(r.Intn(255) + 1), Protocol: uint8(r.Uint32()),
			Src: netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), 1, 2}),
			Dst: netip.AddrFrom4([4]byte{3, byte(r.Uint32()), byte(r.Uint32()), 4}),
		}
		n := r.Intn(1500)
		b := h.Append(nil, n)
		b = append(b, make([]byte, n)...)
		var got IPv4
		p, err := got.Parse(b)
		want := h
		want.HeaderLen, want.TotalLen, want.Checksum = 20, uint16(20+n), got.Checksum
		if err != nil || got != want || len(p) != n {
			t.Fatalf("got %+v, %v\nwant %+v", got, err, want)
		}
	}
	// Zero TTL becomes 64; IPv6 addresses do not panic.
	b := (&IPv4{Src: addr6A, Dst: netip.AddrFrom16(addrB.As16())}).Append(nil, 0)
	if b[8] != 64 || !bytes.Equal(b[12:20], []byte{0, 0, 0, 0, 10, 0, 0, 2}) {
		t.Errorf("% x", b)
	}
}

// v6 builds an IPv6 packet whose payload is ext (extension headers)
// followed by 20 bytes of TCP header, with first as the fixed header's
// next header.
func v6(first uint8, ext ...byte) []byte {
	h := IPv6{NextHeader: first, Protocol: first, Src: addr6A, Dst: addr6B}
	tcp := (&TCP{SrcPort: 1, DstPort: 2}).Append(nil)
	b := h.Append(nil, len(ext)+len(tcp))
	return append(append(b, ext...), tcp...)
}

// ext returns an extension header with next header nh whose body (after
// the two fixed bytes) is body, zero-padded to a multiple of 8 bytes.
func ext(nh uint8, body ...byte) []byte {
	n := (len(body) + 2 + 7) / 8 * 8
	b := make([]byte, n)
	b[0], b[1] = nh, uint8(n/8-1)
	copy(b[2:], body)
	return b
}

// raw6 builds an IPv6 packet with next header first and payload p.
func raw6(first uint8, p ...byte) []byte {
	h := IPv6{Protocol: first, Src: addr6A, Dst: addr6B}
	return append(h.Append(nil, len(p)), p...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestIPv6ExtensionHeaders(t *testing.T) {
	for _, c := range []struct {
		name  string
		b     []byte
		want  error
		proto uint8
	}{
		{"plain", v6(ProtoTCP), nil, ProtoTCP},
		{"hop-by-hop", v6(0, ext(ProtoTCP, 5, 2, 0, 0, 1, 0)...), nil, ProtoTCP}, // router alert + PadN
		{"hop-by-hop Pad1s", v6(0, ext(ProtoTCP)...), nil, ProtoTCP},
		{"dest opts then routing", v6(60, cat(ext(43), ext(ProtoTCP, 0, 0))...), nil, ProtoTCP},
		{"routing 24 bytes", v6(43, ext(ProtoTCP, make([]byte, 22)...)...), nil, ProtoTCP},
		{"no next header", v6(59), nil, 59},
		{"8 dest opts", v6(60, cat(ext(60), ext(60), ext(60), ext(60), ext(60), ext(60), ext(60), ext(ProtoTCP))...), nil, ProtoTCP},
		{"9 dest opts", v6(60, cat(ext(60), ext(60), ext(60), ext(60), ext(60), ext(60), ext(60), ext(60), ext(ProtoTCP))...), ErrBadHeader, 0},
		{"hop-by-hop second", v6(60, cat(ext(0), ext(ProtoTCP))...), ErrBadHeader, 0},
		{"routing segments left", v6(43, ext(ProtoTCP, 0, 1)...), ErrBadHeader, 0},
		{"option must discard", v6(60, ext(ProtoTCP, 0x80, 0)...), ErrBadHeader, 0},
		{"option skippable", v6(60, ext(ProtoTCP, 0x3e, 0)...), nil, ProtoTCP},
		{"option overruns", v6(60, ext(ProtoTCP, 1, 5)...), ErrBadHeader, 0},
		{"fragment", v6(44, ext(ProtoTCP)...), ErrFragmented, 44},
		{"fragment after dest opts", v6(60, cat(ext(44), ext(ProtoTCP))...), ErrFragmented, 44},
	} {
		var h IPv6
		p, err := h.Parse(c.b)
		if !errors.Is(err, c.want) || (err == nil) != (c.want == nil) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
			continue
		}
		if err != nil && !errors.Is(err, ErrFragmented) {
			if p != nil {
				t.Errorf("%s: payload on error", c.name)
			}
			continue
		}
		if h.Protocol != c.proto {
			t.Errorf("%s: Protocol %d, want %d", c.name, h.Protocol, c.proto)
		}
		if c.proto == ProtoTCP && len(p) != 20 {
			t.Errorf("%s: payload %d bytes, want the 20-byte TCP header", c.name, len(p))
		}
	}
}

func TestIPv6ParseErrors(t *testing.T) {
	short := v6(60, ext(ProtoTCP)...)
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"39 bytes", goldenSYN6[:39], ErrTruncated},
		{"version 4", append([]byte{0x45}, goldenSYN6[1:]...), ErrVersion},
		{"payload past end", goldenSYN6[:79], ErrTruncated},
		{"ext header len past payload", raw6(60, ProtoTCP, 0), ErrTruncated},
		{"ext header missing", raw6(60), ErrTruncated},
		{"ext header 1 byte", func() []byte { b := v6(60); binary.BigEndian.PutUint16(b[4:], 1); return b }(), ErrTruncated},
		{"ext header longer than payload", func() []byte {
			b := bytes.Clone(short)
			b[41] = 3 // claims 32 bytes, payload holds 28
			return b
		}(), ErrTruncated},
	} {
		var h IPv6
		p, err := h.Parse(c.b)
		if !errors.Is(err, c.want) || p != nil {
			t.Errorf("%s: %d bytes, err %v, want %v", c.name, len(p), err, c.want)
		}
	}
}

func TestIPv6PaddingAndRoundTrip(t *testing.T) {
	pkt := append(bytes.Clone(goldenSYN6), 0xee, 0xee)
	var h IPv6
	p, err := h.Parse(pkt)
	if err != nil || len(p) != 40 {
		t.Fatalf("%d bytes, %v", len(p), err)
	}
	h2 := IPv6{TrafficClass: 0xb8, FlowLabel: 0xfffff, NextHeader: 17, HopLimit: 255, Src: addr6B, Dst: addr6A}
	b := h2.Append(nil, 8)
	var got IPv6
	if _, err := got.Parse(append(b, make([]byte, 8)...)); err != nil {
		t.Fatal(err)
	}
	h2.Protocol, h2.PayloadLen = 17, 8
	if got != h2 {
		t.Errorf("got %+v, want %+v", got, h2)
	}
	if b := (&IPv6{}).Append(nil, 0); b[7] != 64 || b[0] != 0x60 {
		t.Errorf("defaults % x", b)
	}
}

func TestParseIP(t *testing.T) {
	for _, c := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"version 5", []byte{0x50}, ErrVersion},
		{"version 0", make([]byte, 60), ErrVersion},
		{"v4 short", []byte{0x45}, ErrTruncated},
		{"v6 short", []byte{0x60}, ErrTruncated},
	} {
		if _, p, err := ParseIP(c.b); !errors.Is(err, c.want) || p != nil {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}
	ip, p, err := ParseIP(v4(func(b []byte) { b[1] = 0x03; b[6] = 0x20 }))
	want := IPHeader{Src: addrA, Dst: addrB, Protocol: ProtoTCP, TOS: 3}
	if !errors.Is(err, ErrFragmented) || ip != want || len(p) != 40 {
		t.Errorf("fragment: %+v, %v", ip, err)
	}
}

func TestIPNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	buf := make([]byte, 0, 64)
	var h4 IPv4
	var h6 IPv6
	for name, f := range map[string]func(){
		"IPv4.Parse":     func() { _, _ = h4.Parse(goldenSYN) },
		"IPv4.Append":    func() { buf = h4.Append(buf[:0], 40) },
		"IPv6.Parse":     func() { _, _ = h6.Parse(goldenSYN6) },
		"IPv6.Append":    func() { buf = h6.Append(buf[:0], 40) },
		"ParseIP":        func() { _, _, _ = ParseIP(goldenSYN6) },
		"ParseIP error":  func() { _, _, _ = ParseIP(goldenSYN6[:50]) },
		"AppendIPHeader": func() { buf = AppendIPHeader(buf[:0], addr6A, addr6B, ProtoTCP, 0, 40) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s allocates %v times", name, n)
		}
	}
}
