package wire

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func icmpv4Seeds() [][]byte {
	return [][]byte{
		goldenEcho4[20:], goldenFragNeeded[20:], goldenFragNeeded[20:40], goldenEcho4[20:27],
		AppendICMPv4(nil, &ICMP{Type: ICMPv4ParamProblem, Pointer: 1, Body: goldenFragNeeded[28:]}),
		AppendICMPv4(nil, &ICMP{Type: ICMPv4TimeExceeded, Body: goldenSYN}),
	}
}

var fuzz6Src, fuzz6Dst = netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")

func icmpv6Seeds() [][]byte {
	return [][]byte{
		goldenPTB6[40:], goldenPTB6[40:60],
		AppendICMPv6(nil, fuzz6Src, fuzz6Dst, &ICMP{Type: ICMPv6EchoRequest, ID: 1, Body: []byte("abc")}),
		AppendICMPv6(nil, fuzz6Src, fuzz6Dst, &ICMP{Type: ICMPv6DestUnreach, Code: ICMPv6PortUnreach, Body: goldenSYN6}),
		AppendICMPv6(nil, fuzz6Src, fuzz6Dst, &ICMP{Type: ICMPv6TimeExceeded, Body: v6(44, ext(ProtoTCP)...)}),
	}
}

// FuzzICMPv4 checks that ParseICMPv4 and ParseQuote never panic, fail only
// with the package's errors, and that an accepted message survives
// AppendICMPv4 then ParseICMPv4.
func FuzzICMPv4(f *testing.F) {
	addSeeds(f, icmpv4Seeds())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseICMPv4(b)
		if err != nil {
			if !isSentinel(err) {
				t.Fatal(err)
			}
			return
		}
		if _, err := ParseQuote(m.Body, false); err != nil && !isSentinel(err) {
			t.Fatal(err)
		}
		got, err := ParseICMPv4(AppendICMPv4(nil, &m))
		if err != nil || got.Type != m.Type || got.Code != m.Code || got.MTU != m.MTU || got.Pointer != m.Pointer || !bytes.Equal(got.Body, m.Body) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got, m)
		}
	})
}

// FuzzICMPv6 is FuzzICMPv4 for ICMPv6 under a fixed pseudo-header.
func FuzzICMPv6(f *testing.F) {
	addSeeds(f, icmpv6Seeds())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseICMPv6(fuzz6Src, fuzz6Dst, b)
		if err != nil {
			if !isSentinel(err) {
				t.Fatal(err)
			}
			return
		}
		if _, err := ParseQuote(m.Body, true); err != nil && !isSentinel(err) {
			t.Fatal(err)
		}
		got, err := ParseICMPv6(fuzz6Src, fuzz6Dst, AppendICMPv6(nil, fuzz6Src, fuzz6Dst, &m))
		if err != nil || got.Type != m.Type || got.Code != m.Code || got.MTU != m.MTU || got.Pointer != m.Pointer || !bytes.Equal(got.Body, m.Body) {
			t.Fatalf("round trip: %v\n got %+v\nwant %+v", err, got, m)
		}
	})
}

// TestWriteICMPSeedCorpus writes the ICMP seeds to testdata/fuzz when
// WIRE_WRITE_CORPUS is set.
func TestWriteICMPSeedCorpus(t *testing.T) {
	if os.Getenv("WIRE_WRITE_CORPUS") == "" {
		t.Skip("set WIRE_WRITE_CORPUS=1 to rewrite testdata/fuzz")
	}
	for name, seeds := range map[string][][]byte{"FuzzICMPv4": icmpv4Seeds(), "FuzzICMPv6": icmpv6Seeds()} {
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
