package pipe

import (
	"encoding/binary"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/synack-tcp/synack/link"
)

// collector is a receiver that keeps copies of what it is given.
type collector struct {
	mu      sync.Mutex
	pkts    [][]byte
	batches []int
	cond    *sync.Cond
}

func newCollector() *collector {
	c := &collector{}
	c.cond = sync.NewCond(&c.mu)
	return c
}

func (c *collector) DeliverPackets(pkts [][]byte, _ []link.PacketInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range pkts {
		c.pkts = append(c.pkts, append([]byte(nil), p...))
	}
	c.batches = append(c.batches, len(pkts))
	c.cond.Broadcast()
}

// wait blocks until n packets have arrived or the deadline passes.
func (c *collector) wait(t *testing.T, n int) [][]byte {
	t.Helper()
	timer := time.AfterFunc(5*time.Second, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(5 * time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.pkts) < n {
		if time.Now().After(deadline) {
			t.Fatalf("got %d packets, want %d", len(c.pkts), n)
		}
		c.cond.Wait()
	}
	return c.pkts
}

func numbered(i, size int) []byte {
	p := make([]byte, size)
	binary.BigEndian.PutUint32(p, uint32(i))
	for j := 4; j < size; j++ {
		p[j] = byte(i + j)
	}
	return p
}

func TestOrderAndContent(t *testing.T) {
	a, b := New(1500)
	defer a.Close()
	defer b.Close()
	ca, cb := newCollector(), newCollector()
	a.Attach(ca)
	b.Attach(cb)

	const n = 3000
	buf := make([]byte, 1500)
	for i := range n {
		size := 20 + i%1400
		p := buf[:size]
		copy(p, numbered(i, size))
		if k, err := a.WritePackets([][]byte{p}, nil); k != 1 || err != nil {
			t.Fatalf("write %d: %d, %v", i, k, err)
		}
		// The caller may reuse its buffer at once.
		clear(buf)
	}
	// The other direction works too.
	if _, err := b.WritePackets([][]byte{numbered(7, 60)}, nil); err != nil {
		t.Fatal(err)
	}
	got := cb.wait(t, n)
	for i, p := range got {
		size := 20 + i%1400
		if want := numbered(i, size); string(p) != string(want) {
			t.Fatalf("packet %d: got %d bytes starting %x, want %d bytes starting %x",
				i, len(p), p[:4], size, want[:4])
		}
	}
	if back := ca.wait(t, 1); string(back[0]) != string(numbered(7, 60)) {
		t.Fatal("b->a packet corrupted")
	}
	st := a.Stats()
	if st.SentPackets != n || st.DroppedPackets != 0 {
		t.Fatalf("a stats %+v", st)
	}
	if sb := b.Stats(); sb.DeliveredPackets != n || sb.DeliveredBytes != st.SentBytes {
		t.Fatalf("b stats %+v, a sent %d bytes", sb, st.SentBytes)
	}
}

// TestBatchDelivery writes before Attach so that everything queued is
// handed over in one DeliverPackets call, then checks that a slow receiver
// sees later writes batched.
func TestBatchDelivery(t *testing.T) {
	a, b := New(1500)
	defer a.Close()
	defer b.Close()
	pkts := make([][]byte, 100)
	for i := range pkts {
		pkts[i] = numbered(i, 100)
	}
	if k, err := a.WritePackets(pkts, nil); k != 100 || err != nil {
		t.Fatal(k, err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	c := newCollector()
	b.Attach(link.ReceiverFunc(func(p [][]byte, _ []link.PacketInfo) {
		if calls.Add(1) == 1 {
			close(entered)
			<-release // hold the first batch so later writes pile up
		}
		c.DeliverPackets(p, nil)
	}))
	<-entered
	for i := 100; i < 200; i++ {
		a.WritePackets([][]byte{numbered(i, 100)}, nil)
	}
	close(release)
	got := c.wait(t, 200)
	c.mu.Lock()
	batches := append([]int(nil), c.batches...)
	c.mu.Unlock()
	if batches[0] != 100 {
		t.Fatalf("first batch %d packets, want 100 (batches %v)", batches[0], batches)
	}
	if len(batches) != 2 || batches[1] != 100 {
		t.Fatalf("batches %v, want [100 100]", batches)
	}
	for i, p := range got {
		if binary.BigEndian.Uint32(p) != uint32(i) {
			t.Fatalf("packet %d out of order", i)
		}
	}
	if s := b.Stats(); s.Batches != 2 {
		t.Fatalf("Batches = %d", s.Batches)
	}
}

func TestMTUDrop(t *testing.T) {
	a, b := New(1000)
	defer a.Close()
	defer b.Close()
	if a.MTU() != 1000 || b.MTU() != 1000 {
		t.Fatal("MTU")
	}
	c := newCollector()
	b.Attach(c)
	k, err := a.WritePackets([][]byte{numbered(0, 1000), numbered(1, 1001), numbered(2, 10)}, nil)
	if k != 3 || err != nil {
		t.Fatalf("dropped packets still count as accepted: %d, %v", k, err)
	}
	got := c.wait(t, 2)
	if len(got) != 2 || len(got[0]) != 1000 || len(got[1]) != 10 {
		t.Fatalf("got %d packets", len(got))
	}
	s := a.Stats()
	if s.DroppedMTU != 1 || s.DroppedPackets != 1 || s.DroppedBytes != 1001 || s.SentPackets != 2 {
		t.Fatalf("stats %+v", s)
	}
	if d, _ := New(0); d.MTU() != DefaultMTU {
		t.Fatal("default MTU")
	}
}

func TestQueueTailDrop(t *testing.T) {
	a, b := New(1500)
	defer a.Close()
	defer b.Close()
	// Not attached yet: everything queues, the excess is dropped.
	p := numbered(0, 64)
	for range QueueLen + 10 {
		a.WritePackets([][]byte{p}, nil)
	}
	s := a.Stats()
	if s.SentPackets != QueueLen || s.DroppedQueue != 10 {
		t.Fatalf("stats %+v", s)
	}
	c := newCollector()
	b.Attach(c)
	c.wait(t, QueueLen)
}

func TestClose(t *testing.T) {
	a, b := New(1500)
	ca, cb := newCollector(), newCollector()
	a.Attach(ca)
	b.Attach(cb)
	a.WritePackets([][]byte{numbered(1, 40)}, nil)
	cb.wait(t, 1)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if k, err := a.WritePackets([][]byte{numbered(2, 40)}, nil); k != 0 || !errors.Is(err, link.ErrClosed) {
		t.Fatalf("write after close: %d, %v", k, err)
	}
	// The peer may still write; its packets go nowhere.
	if k, err := b.WritePackets([][]byte{numbered(3, 40)}, nil); k != 1 || err != nil {
		t.Fatalf("peer write: %d, %v", k, err)
	}
	if s := b.Stats(); s.DroppedClosed != 1 {
		t.Fatalf("peer stats %+v", s)
	}
	// Packets already queued toward b are still delivered.
	b.Close()
	if _, err := b.WritePackets(nil, nil); !errors.Is(err, link.ErrClosed) {
		t.Fatal("b not closed")
	}
	ca.mu.Lock()
	n := len(ca.pkts)
	ca.mu.Unlock()
	if n != 0 {
		t.Fatalf("closed a received %d packets", n)
	}
}

func TestCloseDiscardsQueued(t *testing.T) {
	a, b := New(1500)
	defer a.Close()
	a.WritePackets([][]byte{numbered(1, 40), numbered(2, 40)}, nil)
	b.Close() // never attached
	s := a.Stats()
	if s.SentPackets != 0 || s.DroppedClosed != 2 {
		t.Fatalf("stats %+v", s)
	}
	b.Attach(newCollector()) // no effect, no goroutine
}

// TestBuffersFollowWorkingSet checks that a pipe carrying one packet at a
// time keeps reusing a few buffers instead of filling every ring slot, and
// that large packets over a large MTU survive.
func TestBuffersFollowWorkingSet(t *testing.T) {
	a, b := New(0)
	defer a.Close()
	defer b.Close()
	c := newCollector()
	b.Attach(c)
	for i := range 3 * QueueLen {
		size := 40
		if i%100 == 0 {
			size = 60000
		}
		a.WritePackets([][]byte{numbered(i, size)}, nil)
		c.wait(t, i+1)
	}
	q := a.out
	q.wmu.Lock()
	n := len(q.free)
	for _, s := range q.ring {
		if s != nil {
			n++
		}
	}
	q.wmu.Unlock()
	if n > 4 {
		t.Fatalf("%d buffers held for a queue depth of one", n)
	}
	for i, p := range c.pkts {
		size := 40
		if i%100 == 0 {
			size = 60000
		}
		if string(p) != string(numbered(i, size)) {
			t.Fatalf("packet %d differs", i)
		}
	}
}

func settleGoroutines(want int) int {
	deadline := time.Now().Add(2 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 20 {
		a, b := New(1500)
		a.Attach(newCollector())
		b.Attach(link.ReceiverFunc(func(p [][]byte, _ []link.PacketInfo) {
			// Echo back, as a stack answering segments would.
			a.WritePackets(p[:1], nil)
		}))
		for i := range 100 {
			a.WritePackets([][]byte{numbered(i, 200)}, nil)
			b.WritePackets([][]byte{numbered(i, 200)}, nil)
		}
		a.Close()
		b.Close()
	}
	if n := settleGoroutines(before); n > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

func TestConcurrentWriters(t *testing.T) {
	a, b := New(1500)
	defer a.Close()
	defer b.Close()
	var got atomic.Int64
	b.Attach(link.ReceiverFunc(func(p [][]byte, _ []link.PacketInfo) { got.Add(int64(len(p))) }))
	a.Attach(link.ReceiverFunc(func([][]byte, []link.PacketInfo) {}))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			p := numbered(w, 500)
			for range 2000 {
				a.WritePackets([][]byte{p}, nil)
				_ = a.Stats()
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := a.Stats()
		if uint64(got.Load()) == s.SentPackets && s.SentPackets+s.DroppedPackets == 8000 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d, stats %+v", got.Load(), s)
		}
		time.Sleep(time.Millisecond)
	}
}

// benchPipe streams 1500-byte packets from a to b, batch at a time, and
// reports the throughput actually delivered and the fraction dropped. With
// window > 0 the writer keeps at most window packets in flight, as a TCP
// sender would, so nothing is dropped and the number is the pipe's lossless
// throughput; with window 0 it floods.
func benchPipe(b *testing.B, batch, window int) {
	x, y := New(1500)
	defer x.Close()
	defer y.Close()
	var delivered atomic.Uint64
	y.Attach(link.ReceiverFunc(func(p [][]byte, _ []link.PacketInfo) { delivered.Add(uint64(len(p))) }))
	x.Attach(link.ReceiverFunc(func([][]byte, []link.PacketInfo) {}))
	pkts := make([][]byte, batch)
	for i := range pkts {
		pkts[i] = make([]byte, 1500)
	}
	// Sent counts every accepted packet, so the pipe is idle when the
	// receiver has seen them all.
	idle := func() Stats {
		for {
			s := x.Stats()
			if delivered.Load() == s.SentPackets {
				return s
			}
			runtime.Gosched()
		}
	}
	// Fill every ring slot's buffer so the loop measures steady state.
	for range 2 * QueueLen / batch {
		x.WritePackets(pkts, nil)
	}
	base := idle()
	written := base.SentPackets
	b.SetBytes(int64(1500 * batch))
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if window > 0 {
			for written-delivered.Load() > uint64(window-batch) {
				runtime.Gosched()
			}
		}
		x.WritePackets(pkts, nil)
		written += uint64(batch)
	}
	s := idle()
	elapsed := time.Since(start)
	b.ReportMetric(float64(s.SentBytes-base.SentBytes)*8/elapsed.Seconds()/1e9, "Gbit/s")
	b.ReportMetric(float64(s.DroppedPackets-base.DroppedPackets)/float64(b.N*batch)*100, "%dropped")
	ys := y.Stats()
	b.ReportMetric(float64(ys.DeliveredPackets-base.SentPackets)/float64(ys.Batches), "pkts/batch")
}

func BenchmarkPipe1500(b *testing.B)        { benchPipe(b, 1, QueueLen/2) }
func BenchmarkPipe1500Batch16(b *testing.B) { benchPipe(b, 16, QueueLen/2) }
func BenchmarkPipe1500Flood(b *testing.B)   { benchPipe(b, 1, 0) }

// NewQueue gives a deeper queue: a burst New's queue would tail-drop
// arrives whole.
func TestNewQueueDepth(t *testing.T) {
	for _, tc := range []struct {
		slots, burst, wantDropped int
	}{{0, QueueLen + 100, 100}, {3 * QueueLen, 3 * QueueLen, 0}} {
		var a, b *Endpoint
		if tc.slots == 0 {
			a, b = New(1500)
		} else {
			a, b = NewQueue(1500, tc.slots)
		}
		pkts := make([][]byte, tc.burst)
		for i := range pkts {
			pkts[i] = []byte{byte(i)}
		}
		a.WritePackets(pkts, nil) // nobody attached to b yet: everything queues
		if got := int(a.Stats().DroppedQueue); got != tc.wantDropped {
			t.Errorf("slots %d, burst %d: dropped %d, want %d", tc.slots, tc.burst, got, tc.wantDropped)
		}
		a.Close()
		b.Close()
	}
}

// TestPacketInfoCarried checks that each packet's PacketInfo reaches the
// receiver with it, and that a writer's nil info arrives as zero info.
func TestPacketInfoCarried(t *testing.T) {
	a, b := New(1500)
	defer a.Close()
	defer b.Close()
	got := make(chan []link.PacketInfo, 4)
	b.Attach(link.ReceiverFunc(func(p [][]byte, info []link.PacketInfo) {
		if len(info) != len(p) {
			t.Errorf("%d packets, %d infos", len(p), len(info))
		}
		got <- append([]link.PacketInfo(nil), info...)
	}))
	want := []link.PacketInfo{{ECN: 2, DS: 46, TTL: 7, DF: true}, {TTL: 255}}
	a.WritePackets([][]byte{numbered(1, 40), numbered(2, 40)}, want)
	var all []link.PacketInfo
	for len(all) < 2 {
		all = append(all, <-got...)
	}
	if all[0] != want[0] || all[1] != want[1] {
		t.Fatalf("got %+v, want %+v", all, want)
	}
	a.WritePacketsGather([][3][]byte{{numbered(3, 40), nil, nil}}, nil)
	if info := <-got; info[0] != (link.PacketInfo{}) {
		t.Fatalf("nil info arrived as %+v", info[0])
	}
}
