package wire

import "testing"

func BenchmarkTCPParse(b *testing.B) {
	pkt := goldenSYN[20:]
	var h TCP
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := h.Parse(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTCPAppend(b *testing.B) {
	var h TCP
	if _, err := h.Parse(goldenSACK[20:]); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, TCPMaxHeaderLen)
	b.ReportAllocs()
	b.SetBytes(int64(h.HeaderLen()))
	for b.Loop() {
		buf = h.Append(buf[:0])
	}
}

func BenchmarkChecksum1500(b *testing.B) { benchChecksum(b, 1500) }

// BenchmarkChecksum64K sums one segment's payload at MTU 65535.
func BenchmarkChecksum64K(b *testing.B) { benchChecksum(b, 65483) }

func benchChecksum(b *testing.B, n int) {
	buf := make([]byte, n)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	var s uint32
	for b.Loop() {
		s = Checksum(buf, s)
	}
}

func BenchmarkChecksum1500Reference(b *testing.B) {
	buf := make([]byte, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	var s uint32
	for b.Loop() {
		s = refChecksum(buf, s&0xffff)
	}
}

func BenchmarkParseIPTCP(b *testing.B) {
	var h TCP
	b.ReportAllocs()
	b.SetBytes(int64(len(goldenData)))
	for b.Loop() {
		ip, seg, err := ParseIP(goldenData)
		if err != nil || !VerifyTCPChecksum(ip.Src, ip.Dst, seg) {
			b.Fatal(err)
		}
		if _, err := h.Parse(seg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildSegment(b *testing.B) {
	h := TCP{SrcPort: 1, DstPort: 2, Flags: ACK, Options: Options{HasTimestamps: true}}
	payload := make([]byte, 1448)
	buf := make([]byte, 0, 1500)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		buf = AppendIPHeader(buf[:0], addrA, addrB, ProtoTCP, 0, h.HeaderLen()+len(payload))
		buf = h.Append(buf)
		buf = append(buf, payload...)
		SetTCPChecksum(addrA, addrB, buf[IPv4MinHeaderLen:])
	}
}
