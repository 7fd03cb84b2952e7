package tcp

import (
	"testing"
	"time"

	"github.com/synack-tcp/synack/wire"
)

// lastSeg is a Sender that keeps the last segment's header.
type lastSeg struct {
	scratchHdr
	h wire.TCP
	n int
}

func (l *lastSeg) SendSegment(h *wire.TCP, p1, p2 []byte) { l.h, l.n = *h, len(p1)+len(p2) }

// memTCB is an ESTABLISHED connection (ISS 1000, IRS 5000, no options)
// charging its buffers to p.
func memTCB(t *testing.T, p *Pool, buf int) (*TCB, *lastSeg) {
	t.Helper()
	out := &lastSeg{}
	c := New(Config{MSS: 1460, SendBuf: buf, RecvBuf: buf, NoDelay: true, AckDelay: -1, Pool: p}, out, nil)
	c.OpenActive(0, 1000)
	c.Segment(time.Millisecond, &wire.TCP{Seq: 5000, Ack: 1001, Flags: wire.SYN | wire.ACK, Window: 65535}, nil)
	if c.State() != Established {
		t.Fatal(c.State())
	}
	return c, out
}

func data(sq uint32, n int) (*wire.TCP, []byte) {
	return &wire.TCP{Seq: sq, Ack: 1001, Flags: wire.ACK, Window: 65535}, make([]byte, n)
}

// A connection holds chunks only while bytes wait: sent data until it is
// acknowledged, received data until it is read.
func TestMemFollowsTheData(t *testing.T) {
	p := NewPool(0, 0, nil)
	c, _ := memTCB(t, p, 64<<10)
	now := 2 * time.Millisecond
	c.Send(now, make([]byte, 100))
	if s := c.Status(); s.SendMem != cs || inUse(p) != cs {
		t.Fatalf("send memory %d (pool %d) with 100 bytes queued", s.SendMem, inUse(p))
	}
	c.Segment(now, &wire.TCP{Seq: 5001, Ack: 1101, Flags: wire.ACK, Window: 65535}, nil)
	if s := c.Status(); s.SendMem != 0 || inUse(p) != 0 {
		t.Fatalf("send memory %d after the ACK", s.SendMem)
	}
	h, b := data(5001, 100)
	c.Segment(now, h, b)
	if s := c.Status(); s.RecvMem != cs {
		t.Fatalf("receive memory %d with 100 bytes unread", s.RecvMem)
	}
	c.Receive(now, make([]byte, 200))
	if s := c.Status(); s.RecvMem != 0 || inUse(p) != 0 {
		t.Fatalf("receive memory %d after the read", s.RecvMem)
	}
}

// The receive buffer goes at a full close, out-of-order data with it.
func TestMemCloseReadFreesReceiveBuffer(t *testing.T) {
	p := NewPool(0, 0, nil)
	c, _ := memTCB(t, p, 64<<10)
	now := 2 * time.Millisecond
	h, b := data(5001+3000, 500) // out of order
	c.Segment(now, h, b)
	if inUse(p) == 0 {
		t.Fatal("out-of-order data holds nothing")
	}
	if c.CloseRead(now) {
		t.Fatal("reset with nothing readable")
	}
	if inUse(p) != 0 || len(c.ooo.spans) != 0 {
		t.Fatalf("pool %d, %d spans after CloseRead", inUse(p), len(c.ooo.spans))
	}
}

// Over the hard limit: out-of-order data is pruned first, out-of-order
// text that needs memory is dropped, in-order text is taken up to the
// advertised edge and no further, and the window opens no further.
func TestMemOverLimit(t *testing.T) {
	p := NewPool(2*cs, 4*cs, nil)
	c, out := memTCB(t, p, 256<<10)
	now := 2 * time.Millisecond
	h, b := data(5001+4096, 1000) // out of order, one chunk
	c.Segment(now, h, b)
	var other buf // another connection takes the pool over its limit
	other.init(1<<20, p, 1460)
	other.write(make([]byte, 4*cs))
	if p.level() != memOver {
		t.Fatalf("level %d", p.level())
	}
	h, b = data(5001+2*cs, 1000) // out of order, needs a chunk
	c.Segment(now, h, b)
	if st := p.Stats(); st.PrunedBytes.Load() != 1000 || st.DroppedSegs.Load() != 1 || len(c.ooo.spans) != 0 || c.rb.held() != 0 {
		t.Fatalf("pruned %d, dropped %d, spans %d, held %d", st.PrunedBytes.Load(), st.DroppedSegs.Load(), len(c.ooo.spans), c.rb.held())
	}
	// In order, within the window promised by the SYN's ACK: taken.
	adv := int(c.rcv.adv.Sub(c.rcv.nxt))
	h, b = data(5001, 1460)
	c.Segment(now, h, b)
	if c.rb.n != 1460 {
		t.Fatalf("in-order text within the promise: %d bytes taken", c.rb.n)
	}
	if w := int(out.h.Window); w >= adv {
		t.Fatalf("window %d opened over the limit (was %d)", w, adv)
	}
	// Beyond the promise: trimmed to the edge.
	edge := int(c.rcv.adv.Sub(c.rcv.nxt))
	h, b = data(5001+1460, edge+3000)
	c.Segment(now, h, b)
	if c.rb.n != 1460+edge {
		t.Fatalf("took %d bytes, want %d up to the promised edge", c.rb.n, 1460+edge)
	}
	// The writer over the limit: what the tail chunk holds.
	c.Send(now, make([]byte, 10))
	if sp := c.SendSpace(); sp != cs-10 {
		t.Fatalf("send space %d over the limit, want the tail chunk's room", sp)
	}
	other.discard(other.n)
	other.clear()
	c.Receive(now, make([]byte, 1<<20))
	c.Segment(now, &wire.TCP{Seq: 5001 + uint32(c.rcv.nxt.Sub(c.rcv.irs)) - 1, Ack: 1011, Flags: wire.ACK, Window: 65535}, nil)
	if inUse(p) != 0 {
		t.Fatalf("pool %d after everything is read and acknowledged", inUse(p))
	}
}

// Under pressure autotuning holds and the window offers at most four
// segments.
func TestMemPressure(t *testing.T) {
	p := NewPool(cs, 1<<30, nil)
	c, _ := memTCB(t, p, 64<<10)
	var other buf
	other.init(1<<20, p, 1460)
	other.write(make([]byte, cs))
	if got := c.rcvSpace(); got != 4*1460 {
		t.Fatalf("receive space %d under pressure, want 4 segments", got)
	}
	c.tune.minRTT, c.tune.copied = 10*time.Millisecond, 1<<20
	c.cfg.RecvBufMax = 1 << 20
	c.tuneRecv(time.Second, 1)
	if c.rb.size != 64<<10 || p.Stats().AutotuneHeld.Load() != 1 {
		t.Fatalf("buffer %d, held %d: autotuning grew under pressure", c.rb.size, p.Stats().AutotuneHeld.Load())
	}
}

// SetRecvBuffer shrinks the buffer only as far as the window promised and
// the out-of-order text taken allow (SHLD-14: the edge never moves left),
// then to the size asked once they are used up; autotuning is off.
func TestSetRecvBufferKeepsThePromise(t *testing.T) {
	c, out := memTCB(t, NewPool(0, 0, nil), 256<<10)
	now := 2 * time.Millisecond
	h, b := data(5001+60000, 1000) // out of order, inside the SYN's 65535-byte window
	c.Segment(now, h, b)
	c.SetRecvBuffer(now, 4096)
	if c.rb.size < 61000 || c.cfg.RecvBufMax != 4096 {
		t.Fatalf("size %d with text taken up to offset 61000", c.rb.size)
	}
	if err := c.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	h, b = data(5001, 60000) // fills the hole
	c.Segment(now, h, b)
	c.Receive(now, make([]byte, 1<<20))
	for i := 0; i < 3; i++ { // use up what was promised
		edge := c.rcv.adv
		n := int(edge.Sub(c.rcv.nxt))
		h, b = data(uint32(c.rcv.nxt), n)
		c.Segment(now, h, b)
		if c.rb.n != n {
			t.Fatalf("took %d of the %d bytes promised", c.rb.n, n)
		}
		c.Receive(now, make([]byte, 1<<20))
		if c.rcv.adv.LessThan(edge) {
			t.Fatal("the advertised edge moved left")
		}
	}
	if w := int(out.h.Window); c.rb.size != 4096 || w > 4096 {
		t.Fatalf("size %d, window %d after the promise was used: want 4096", c.rb.size, w)
	}
}
