package tcp

import (
	"testing"
	"time"

	"github.com/synack-tcp/synack/wire"
)

// discard is a Sender that drops what it is given, so the benchmarks
// measure the TCB alone.
type discard struct {
	n int
	scratchHdr
}

func (d *discard) SendSegment(h *wire.TCP, p1, p2 []byte) { d.n++ }

func benchTCB(b *testing.B) (*TCB, *discard) {
	out := &discard{}
	c := New(Config{MSS: 1460, SendBuf: 4 << 20, RecvBuf: 4 << 20, WindowScale: true, Timestamps: true, SACK: true, NoDelay: true}, out, nil)
	c.OpenActive(0, 1000)
	syn := wire.TCP{Seq: 5000, Ack: 1001, Flags: wire.SYN | wire.ACK, Window: 65535}
	syn.Options.HasMSS, syn.Options.MSS = true, 1460
	syn.Options.HasWScale, syn.Options.WScale = true, 7
	syn.Options.SACKPermitted = true
	syn.Options.HasTimestamps, syn.Options.TSVal, syn.Options.TSEcr = true, 1, 1
	c.Segment(time.Millisecond, &syn, nil)
	if c.State() != Established {
		b.Fatal(c.State())
	}
	return c, out
}

// BenchmarkReceiveInOrder is the receive path of one in-order data
// segment: sequence check, PAWS, text into the ring, the delayed-ACK
// decision, and the application's read.
func BenchmarkReceiveInOrder(b *testing.B) {
	c, _ := benchTCB(b)
	payload := make([]byte, 1448)
	buf := make([]byte, 1448)
	h := wire.TCP{Seq: 5001, Ack: 1001, Flags: wire.ACK, Window: 1000}
	h.Options.HasTimestamps, h.Options.TSVal, h.Options.TSEcr = true, 2, 1
	now := 2 * time.Millisecond
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Segment(now, &h, payload)
		c.Receive(now, buf)
		h.Seq += uint32(len(payload))
	}
}

// BenchmarkSendSegment is the send path of one full segment: SEND copies
// into the ring and output builds the segment; an ACK then frees it.
func BenchmarkSendSegment(b *testing.B) {
	c, _ := benchTCB(b)
	data := make([]byte, 1448)
	ack := wire.TCP{Seq: 5001, Ack: 1001, Flags: wire.ACK, Window: 65535}
	ack.Options.HasTimestamps, ack.Options.TSVal, ack.Options.TSEcr = true, 2, 1
	now := 2 * time.Millisecond
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Send(now, data)
		ack.Ack += uint32(len(data))
		c.Segment(now, &ack, nil)
	}
}

// BenchmarkAckLargeWindow is ACK processing with about 2.8 MB (2000
// segments) in flight: each ACK frees two segments and lets two more out.
// Its cost must not grow with the window.
func BenchmarkAckLargeWindow(b *testing.B) {
	c, out := benchTCB(b)
	c.ccs.Cwnd = 1 << 30
	data := make([]byte, 2000*1448)
	c.Send(2*time.Millisecond, data)
	ack := wire.TCP{Seq: 5001, Ack: 1001, Flags: wire.ACK, Window: 65535}
	ack.Options.HasTimestamps, ack.Options.TSVal, ack.Options.TSEcr = true, 2, 1
	chunk := make([]byte, 2*1448)
	now := 3 * time.Millisecond
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ack.Ack += 2 * 1448
		c.Segment(now, &ack, nil)
		c.Send(now, chunk)
	}
	b.StopTimer()
	if out.n == 0 {
		b.Fatal("nothing sent")
	}
}
