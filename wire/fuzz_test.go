package wire

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The seed corpus lives in testdata/fuzz/<FuzzName>/ as well as in the
// f.Add calls below. To regenerate the files after changing the seeds:
//
//	WIRE_WRITE_CORPUS=1 go test -run TestWriteSeedCorpus ./wire

// isSentinel reports whether err wraps one of the package's errors.
func isSentinel(err error) bool {
	for _, s := range []error{ErrTruncated, ErrBadHeader, ErrBadOptions, ErrBadChecksum, ErrFragmented, ErrVersion} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func tcpSeeds() [][]byte {
	s := [][]byte{
		goldenSYN[20:], goldenSYNACK[20:], goldenACK[20:], goldenSACK[20:], goldenData[20:], goldenSYN6[40:],
		goldenSYN[20:39], goldenSYN[20:50],
		seg([]byte{30, 4, 9, 9, 2, 4, 1, 0}), seg([]byte{1, 1, 5, 10, 0, 0, 0, 0}), seg([]byte{3, 3, 200, 0}),
		seg(append([]byte{1, 1, 5, 34}, make([]byte, 32)...)),
	}
	return s
}

func ipv4Seeds() [][]byte {
	return [][]byte{
		goldenSYN, goldenSACK, goldenData, goldenSYN[:19], goldenSYN[:30],
		v4(func(b []byte) { b[6] = 0x20 }), v4(func(b []byte) { b[0] = 0x46 }),
		append(bytes.Clone(wikiIPv4), make([]byte, 95)...),
	}
}

func ipv6Seeds() [][]byte {
	return [][]byte{
		goldenSYN6, goldenSYN6[:39], goldenSYN6[:60],
		v6(0, ext(ProtoTCP, 5, 2, 0, 0, 1, 0)...), v6(60, cat(ext(43), ext(ProtoTCP, 0, 0))...),
		v6(44, ext(ProtoTCP)...), v6(60, ext(ProtoTCP, 0x80, 0)...), raw6(60, ProtoTCP, 0),
	}
}

func ipSeeds() [][]byte {
	return append(append(ipv4Seeds(), ipv6Seeds()...), nil, []byte{0x50})
}

func addSeeds(f *testing.F, seeds [][]byte) {
	for _, s := range seeds {
		f.Add(bytes.Clone(s))
	}
}

// FuzzTCPParse checks that TCP.Parse never panics, fails only with the
// package's errors, and that a parsed header survives Append then Parse.
func FuzzTCPParse(f *testing.F) {
	addSeeds(f, tcpSeeds())
	f.Fuzz(func(t *testing.T, b []byte) {
		var h TCP
		p, err := h.Parse(b)
		if err != nil {
			if p != nil || !isSentinel(err) {
				t.Fatalf("payload %v, err %v", p, err)
			}
			return
		}
		if int(h.DataOffset) < TCPMinHeaderLen || len(p) != len(b)-int(h.DataOffset) {
			t.Fatalf("DataOffset %d, payload %d of %d bytes", h.DataOffset, len(p), len(b))
		}
		out := append(h.Append(nil), p...)
		var got TCP
		p2, err := got.Parse(out)
		want := h
		want.DataOffset = uint8(h.HeaderLen())
		want.Options.Unknown = 0
		k := h.Options.sackBlocks()
		want.Options.NumSACK = uint8(k)
		clear(want.Options.SACK[k:])
		if err != nil || got != want || !bytes.Equal(p2, p) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got, want)
		}
	})
}

// FuzzIPv4Parse checks that IPv4.Parse never panics and that a header it
// accepts survives Append then Parse.
func FuzzIPv4Parse(f *testing.F) {
	addSeeds(f, ipv4Seeds())
	f.Fuzz(func(t *testing.T, b []byte) {
		var h IPv4
		p, err := h.Parse(b)
		if err != nil {
			if !isSentinel(err) || (p != nil) != errors.Is(err, ErrFragmented) {
				t.Fatalf("payload %d bytes, err %v", len(p), err)
			}
			return
		}
		out := append(h.Append(nil, len(p)), p...)
		var got IPv4
		p2, err := got.Parse(out)
		want := h
		want.HeaderLen, want.TotalLen, want.Checksum = 20, uint16(20+len(p)), got.Checksum
		if h.TTL == 0 {
			want.TTL = 64
		}
		if err != nil || got != want || !bytes.Equal(p2, p) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got, want)
		}
	})
}

// FuzzIPv6Parse checks that IPv6.Parse never panics, that the payload lies
// inside the packet, and that a header without extension headers
// survives Append then Parse.
func FuzzIPv6Parse(f *testing.F) {
	addSeeds(f, ipv6Seeds())
	f.Fuzz(func(t *testing.T, b []byte) {
		var h IPv6
		p, err := h.Parse(b)
		if err != nil {
			if !isSentinel(err) || (p != nil) != errors.Is(err, ErrFragmented) {
				t.Fatalf("payload %d bytes, err %v", len(p), err)
			}
			if p == nil {
				return
			}
		}
		if len(p) > int(h.PayloadLen) || len(b) < IPv6HeaderLen+int(h.PayloadLen) {
			t.Fatalf("payload %d bytes, PayloadLen %d, packet %d", len(p), h.PayloadLen, len(b))
		}
		if err != nil || h.Protocol != h.NextHeader || h.Protocol == 0 {
			return
		}
		out := append(h.Append(nil, len(p)), p...)
		var got IPv6
		p2, err := got.Parse(out)
		want := h
		if h.HopLimit == 0 {
			want.HopLimit = 64
		}
		if err != nil || got != want || !bytes.Equal(p2, p) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got, want)
		}
	})
}

// FuzzParseIP checks that ParseIP never panics and agrees with the
// version-specific parsers.
func FuzzParseIP(f *testing.F) {
	addSeeds(f, ipSeeds())
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, p, err := ParseIP(b)
		if err != nil && !isSentinel(err) {
			t.Fatalf("err %v", err)
		}
		if len(b) == 0 || (b[0]>>4 != 4 && b[0]>>4 != 6) {
			if err == nil {
				t.Fatal("accepted a packet of unknown version")
			}
			return
		}
		var p2 []byte
		var err2 error
		var want IPHeader
		if b[0]>>4 == 4 {
			var h IPv4
			p2, err2 = h.Parse(b)
			want = IPHeader{Src: h.Src, Dst: h.Dst, Protocol: h.Protocol, TOS: h.TOS}
		} else {
			var h IPv6
			p2, err2 = h.Parse(b)
			want = IPHeader{Src: h.Src, Dst: h.Dst, Protocol: h.Protocol, TOS: h.TrafficClass, V6: true}
		}
		if err != err2 || ip != want || !bytes.Equal(p, p2) {
			t.Fatalf("ParseIP = %+v, %v; specific parser %+v, %v", ip, err, want, err2)
		}
	})
}

// FuzzChecksum compares the 64-bit checksum with the 16-bit reference.
func FuzzChecksum(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, uint16(0))
	f.Add(bytes.Repeat([]byte{0xff}, 99), uint16(0xffff))
	f.Fuzz(func(t *testing.T, b []byte, init uint16) {
		if len(b) > 1<<16 {
			return // keep the reference sum inside 32 bits
		}
		if got, want := Fold(Checksum(b, uint32(init))), refFold(refChecksum(b, uint32(init))); got != want {
			t.Fatalf("got %#x, want %#x", got, want)
		}
	})
}

// TestWriteSeedCorpus writes the seeds to testdata/fuzz when
// WIRE_WRITE_CORPUS is set.
func TestWriteSeedCorpus(t *testing.T) {
	if os.Getenv("WIRE_WRITE_CORPUS") == "" {
		t.Skip("set WIRE_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	for name, seeds := range map[string][][]byte{
		"FuzzTCPParse": tcpSeeds(), "FuzzIPv4Parse": ipv4Seeds(),
		"FuzzIPv6Parse": ipv6Seeds(), "FuzzParseIP": ipSeeds(),
	} {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
