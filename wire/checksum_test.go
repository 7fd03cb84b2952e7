package wire

import (
	"bytes"
	"math/rand"
	"net/netip"
	"testing"
)

// refChecksum is the textbook RFC 1071 sum: big-endian 16-bit words added
// into 32 bits, an odd last byte padded with zero on the right. It returns
// the unfolded sum plus initial (fine for the sizes tested here).
func refChecksum(b []byte, initial uint32) uint32 {
	s := initial
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	return s
}

// refFold folds a reference sum and complements it.
func refFold(s uint32) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// TestChecksumRFC1071Example uses the example of RFC 1071 3: the bytes
// 00 01 f2 03 f4 f5 f6 f7 sum to 0xddf2.
func TestChecksumRFC1071Example(t *testing.T) {
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Checksum(b, 0); got != 0xddf2 {
		t.Errorf("Checksum = %#x, want 0xddf2", got)
	}
	if got := Fold(Checksum(b, 0)); got != 0x220d {
		t.Errorf("Fold = %#x, want 0x220d", got)
	}
}

// TestChecksumVsReference compares the 64-bit implementation with the
// 16-bit reference over random lengths, alignments and initial sums.
func TestChecksumVsReference(t *testing.T) {
	r := rand.New(rand.NewSource(1071))
	buf := make([]byte, 2100)
	for i := 0; i < 5000; i++ {
		fill := r.Intn(4)
		for j := range buf {
			switch fill {
			case 0:
				buf[j] = 0xff // maximal carries
			default:
				buf[j] = byte(r.Intn(256))
			}
		}
		off, n := r.Intn(8), r.Intn(2001)
		b := buf[off : off+n]
		init := uint32(0)
		if r.Intn(2) == 0 {
			init = uint32(r.Intn(0x10000))
		}
		if got, want := Fold(Checksum(b, init)), refFold(refChecksum(b, init)); got != want {
			t.Fatalf("len %d off %d init %#x: Fold(Checksum) = %#x, reference %#x", n, off, init, got, want)
		}
	}
}

// TestChecksumChunks runs the wide loop in many short rounds, as a
// gigabyte-long buffer would, and on all-0xff data, whose 32-bit
// accumulators grow fastest.
func TestChecksumChunks(t *testing.T) {
	defer func(n int) { sum64Chunk = n }(sum64Chunk)
	r := rand.New(rand.NewSource(9293))
	b := make([]byte, 70000)
	for _, chunk := range []int{64, 128, 192, 4096} {
		sum64Chunk = chunk
		for i := 0; i < 50; i++ {
			if i%2 == 0 {
				r.Read(b)
			} else {
				for j := range b {
					b[j] = 0xff
				}
			}
			n := r.Intn(len(b) + 1)
			if got, want := Fold(Checksum(b[:n], 0)), refFold(refChecksum(b[:n], 0)); got != want {
				t.Fatalf("chunk %d, %d bytes: %#x, reference %#x", chunk, n, got, want)
			}
		}
	}
}

func TestChecksumEdges(t *testing.T) {
	for n := 0; n <= 80; n++ {
		for _, v := range []byte{0x00, 0x01, 0x80, 0xff} {
			b := bytes.Repeat([]byte{v}, n)
			if got, want := Fold(Checksum(b, 0)), refFold(refChecksum(b, 0)); got != want {
				t.Fatalf("%d bytes of %#x: got %#x want %#x", n, v, got, want)
			}
		}
	}
	if got := Checksum(nil, 0x1234); got != 0x1234 {
		t.Errorf("Checksum(nil, 0x1234) = %#x", got)
	}
	if got := Checksum(nil, 0xffffffff); Fold(got) != refFold(0xffffffff) {
		t.Errorf("Checksum(nil, max) folds to %#x", Fold(got))
	}
}

// TestChecksumChaining checks that partial sums chain over even splits.
func TestChecksumChaining(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	b := make([]byte, 1501)
	r.Read(b)
	whole := Fold(Checksum(b, 0))
	for split := 0; split <= len(b); split += 2 {
		if got := Fold(Checksum(b[split:], Checksum(b[:split], 0))); got != whole {
			t.Fatalf("split %d: %#x != %#x", split, got, whole)
		}
	}
}

func TestPseudoHeaderSum(t *testing.T) {
	// IPv4: 10.0.0.1, 10.0.0.2, proto 6, length 40.
	want4 := refChecksum([]byte{10, 0, 0, 1, 10, 0, 0, 2, 0, 6, 0, 40}, 0)
	if got := PseudoHeaderSum(addrA, addrB, ProtoTCP, 40); Fold(got) != refFold(want4) {
		t.Errorf("v4 pseudo-header %#x, want %#x", Fold(got), refFold(want4))
	}
	// An IPv4-mapped destination is unmapped.
	mapped := netip.AddrFrom16(addrB.As16())
	if got := PseudoHeaderSum(addrA, mapped, ProtoTCP, 40); Fold(got) != refFold(want4) {
		t.Errorf("v4 pseudo-header with mapped dst %#x", Fold(got))
	}
	var p6 []byte
	s, d := addr6A.As16(), addr6B.As16()
	p6 = append(append(append(p6, s[:]...), d[:]...), 0, 1, 0, 0, 0, 0, 0, 6) // length 65536
	if got := PseudoHeaderSum(addr6A, addr6B, ProtoTCP, 65536); Fold(got) != refFold(refChecksum(p6, 0)) {
		t.Errorf("v6 pseudo-header %#x, want %#x", Fold(got), refFold(refChecksum(p6, 0)))
	}
	// Invalid or mismatched addresses must not panic.
	_ = PseudoHeaderSum(netip.Addr{}, netip.Addr{}, ProtoTCP, 20)
	_ = PseudoHeaderSum(addrA, addr6A, ProtoTCP, 20)
	_ = PseudoHeaderSum(addr6A, netip.Addr{}, ProtoTCP, 20)
}

func TestTCPChecksumGolden(t *testing.T) {
	for _, c := range goldenCases() {
		src, dst, seg := parseGolden(t, c)
		seg = bytes.Clone(seg)
		want := [2]byte(seg[16:18])
		seg[16], seg[17] = 0x12, 0x34
		if VerifyTCPChecksum(src, dst, seg) {
			t.Errorf("%s: wrong checksum verified", c.name)
		}
		SetTCPChecksum(src, dst, seg)
		if [2]byte(seg[16:18]) != want {
			t.Errorf("%s: SetTCPChecksum wrote % x, want % x", c.name, seg[16:18], want)
		}
		// Independent check: the reference sum over pseudo-header and segment.
		ps := PseudoHeaderSum(src, dst, ProtoTCP, len(seg))
		if refFold(refChecksum(seg, ps)) != 0 {
			t.Errorf("%s: reference sum does not verify", c.name)
		}
		seg[len(seg)-1] ^= 0x40
		if VerifyTCPChecksum(src, dst, seg) {
			t.Errorf("%s: corrupted segment verified", c.name)
		}
		if VerifyTCPChecksum(dst, netip.MustParseAddr("10.9.9.9"), seg) {
			t.Errorf("%s: verified under the wrong pseudo-header", c.name)
		}
	}
	SetTCPChecksum(addrA, addrB, make([]byte, 5)) // too short: no panic
	if VerifyTCPChecksum(addrA, addrB, make([]byte, 5)) {
		t.Error("short segment verified")
	}
}

// A sum taken in pieces, odd lengths included, equals the sum of the whole.
func TestChecksumPieces(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for i := 0; i < 2000; i++ {
		b := make([]byte, r.Intn(300))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		cut1 := r.Intn(len(b) + 1)
		cut2 := cut1 + r.Intn(len(b)-cut1+1)
		sum, odd := uint32(0), false
		for _, p := range [][]byte{b[:cut1], b[cut1:cut2], b[cut2:]} {
			if odd {
				sum = ChecksumOdd(p, sum)
			} else {
				sum = Checksum(p, sum)
			}
			odd = odd != (len(p)%2 == 1)
		}
		if Fold(sum) != Fold(Checksum(b, 0)) {
			t.Fatalf("pieces %d/%d/%d: %#x, whole %#x", cut1, cut2-cut1, len(b)-cut2, Fold(sum), Fold(Checksum(b, 0)))
		}
	}
}
