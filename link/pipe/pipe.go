// Package pipe is an in-memory pair of link endpoints: what one end writes,
// the other receives. It is the link the throughput benchmarks run over, so
// it is built for speed.
//
// Each direction is a ring of packet slots (QueueLen unless NewQueue says) shared by the writers
// (serialized by a writer mutex, so there is one producer at a time) and
// one delivery goroutine (the consumer):
//
//   - WritePackets copies each packet into a buffer popped from the
//     direction's bounded free stack (no allocation at steady state), puts
//     it in the next slot and publishes the new tail with one atomic store
//     per call.
//   - The delivery goroutine, started by Attach, takes everything between
//     head and tail and hands it to the receiver in a single DeliverPackets
//     call, so batches form naturally under load (as NAPI does); advancing
//     head then returns those slots, and their buffers, to the writers.
//     Finding the ring empty, it yields a few times before it parks (as
//     busy polling does; see spinYields).
//   - When the ring is full, packets are tail-dropped and counted, like a
//     real interface queue. TCP recovers.
//
// The writers and the delivery goroutine share no mutex: a first version
// with a mutex-guarded queue lost a third of a saturating stream because
// Go's mutex lets a busy writer barge past the waiting consumer for up to a
// millisecond. The consumer parks on a channel only when the ring is empty.
//
// Packets larger than the MTU are dropped and counted.
package pipe

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/synack-tcp/synack/link"
)

// QueueLen is the most packets a direction holds awaiting delivery; writes
// beyond it are tail-dropped. It is a power of two.
const QueueLen = 4096

// DefaultMTU is used when New is given an MTU <= 0.
const DefaultMTU = 65535

// spinYields is how many times the delivery goroutine yields the processor
// (runtime.Gosched), looking for new packets after each, before it parks.
// Parking costs a futex wake-up and the wake-up latency of a thread on
// every new burst; a consumer that stays runnable for a few scheduling
// rounds is found by the scheduler instead. Measured on the 2-core
// development machine: 53 -> 61-64 Gbit/s of bulk at MTU 65535, no change at
// MTU 1500; 100 yields was no better and 1000 cost half again as much CPU.
const spinYields = 20

// The free stack of a direction holds at most as many buffers as the ring
// has slots. Buffers in existence are at most twice that, and in practice
// the working set: a pipe that never has more than a few packets queued
// keeps a few buffers.

// Stats counts one endpoint's traffic. Sent and Dropped count packets
// written on this endpoint (every written packet is counted in exactly one
// of them, so once the pipe is idle the peer's Delivered equals our Sent);
// Delivered counts packets handed to this endpoint's receiver.
type Stats struct {
	SentPackets, SentBytes           uint64 // accepted and not discarded
	DeliveredPackets, DeliveredBytes uint64 // handed to our receiver
	DroppedPackets, DroppedBytes     uint64 // written here and lost (all causes)
	DroppedMTU                       uint64 // larger than the MTU
	DroppedQueue                     uint64 // peer's inbound queue full
	DroppedClosed                    uint64 // peer closed (before or after queuing)
	Batches                          uint64 // DeliverPackets calls made to our receiver
}

// Endpoint is one end of a pipe. It implements link.Endpoint.
type Endpoint struct {
	mtu  int
	out  *queue // packets this end writes; the peer's inbound queue
	in   *queue // packets arriving at this end
	once sync.Once
}

// queue is one direction of the pipe: a single-producer single-consumer
// ring. Slots [head, tail) hold packets awaiting delivery and belong to the
// consumer; the others belong to the (one, under wmu) producer.
type queue struct {
	ring []([]byte)        // a power of two long
	info []link.PacketInfo // each slot's PacketInfo
	mask uint64
	head atomic.Uint64 // next slot to deliver; written by the consumer
	tail atomic.Uint64 // next slot to fill; written by the producer

	wmu       sync.Mutex // serializes writers; guards the fields below
	reclaimed uint64     // slots before this have had their buffers reclaimed
	free      [][]byte   // LIFO stack of free buffers, most recently used on top
	wclosed   bool       // the writing end closed: WritePackets fails
	rclosedW  bool       // the receiving end closed: writes are dropped
	sent      uint64
	sentBytes uint64
	dropped   uint64
	dropBytes uint64
	dropMTU   uint64
	dropQ     uint64
	dropClose uint64

	rclosed  atomic.Bool // the receiving end closed: the consumer stops
	sleeping atomic.Bool // the consumer is (about to be) parked on wake
	wake     chan struct{}
	done     chan struct{} // closed when the consumer exits
	started  bool          // guarded by wmu

	delivered, deliveredBytes, batches atomic.Uint64
}

func newQueue(n int) *queue {
	return &queue{
		ring: make([][]byte, n), info: make([]link.PacketInfo, n), mask: uint64(n - 1),
		wake: make(chan struct{}, 1), done: make(chan struct{}),
	}
}

// New returns the two ends of a pipe carrying packets of up to mtu bytes,
// with QueueLen packets of queue in each direction.
func New(mtu int) (a, b *Endpoint) { return NewQueue(mtu, QueueLen) }

// NewQueue is New with a queue of (at least) slots packets per direction,
// rounded up to a power of two. A deep queue makes a link that in practice
// never drops, as the benchmark's gVisor link never does.
func NewQueue(mtu, slots int) (a, b *Endpoint) {
	if mtu <= 0 {
		mtu = DefaultMTU
	}
	n := 1
	for n < slots {
		n <<= 1
	}
	ab, ba := newQueue(n), newQueue(n)
	a = &Endpoint{mtu: mtu, out: ab, in: ba}
	b = &Endpoint{mtu: mtu, out: ba, in: ab}
	return a, b
}

// MTU implements link.Endpoint.
func (e *Endpoint) MTU() int { return e.mtu }

// Attach implements link.Endpoint: it starts the goroutine that delivers
// inbound packets to r. Only the first call has an effect; Attach after
// Close does nothing.
func (e *Endpoint) Attach(r link.Receiver) {
	q := e.in
	q.wmu.Lock()
	defer q.wmu.Unlock()
	if q.started || q.rclosedW || r == nil {
		return
	}
	q.started = true
	go q.run(r)
}

// bufCap is the capacity of a new buffer for an n-byte packet. Small MTUs
// get MTU-sized buffers so every buffer fits every packet; large MTUs get
// buffers rounded up to a power of two so a 64 KiB MTU does not cost 64 KiB
// per slot that only ever held ACKs.
func bufCap(n, mtu int) int {
	if mtu <= 16384 {
		return mtu
	}
	c := 2048
	for c < n {
		c <<= 1
	}
	return min(c, mtu)
}

// WritePackets implements link.Endpoint. Packets over the MTU, packets that
// find the peer's queue full and packets written after the peer closed are
// dropped (and counted) but reported as accepted. The info goes to the
// receiver with the packet.
func (e *Endpoint) WritePackets(pkts [][]byte, info []link.PacketInfo) (int, error) {
	return write(e, whole(pkts), info)
}

// WritePacketsGather implements link.Gatherer: each packet arrives in
// pieces and is joined in the pipe's own buffer, the one copy it makes.
func (e *Endpoint) WritePacketsGather(pieces [][3][]byte, info []link.PacketInfo) (int, error) {
	return write(e, gathered(pieces), info)
}

// source is what write takes packets from.
type source interface {
	count() int
	size(i int) int
	appendTo(b []byte, i int) []byte
}

type whole [][]byte

func (w whole) count() int                      { return len(w) }
func (w whole) size(i int) int                  { return len(w[i]) }
func (w whole) appendTo(b []byte, i int) []byte { return append(b, w[i]...) }

type gathered [][3][]byte

func (g gathered) count() int     { return len(g) }
func (g gathered) size(i int) int { return len(g[i][0]) + len(g[i][1]) + len(g[i][2]) }
func (g gathered) appendTo(b []byte, i int) []byte {
	return append(append(append(b, g[i][0]...), g[i][1]...), g[i][2]...)
}

// write is generic rather than taking a source interface: boxing the
// slice in an interface would allocate on every call.
func write[S source](e *Endpoint, src S, info []link.PacketInfo) (int, error) {
	q := e.out
	q.wmu.Lock()
	if q.wclosed {
		q.wmu.Unlock()
		return 0, link.ErrClosed
	}
	t := q.tail.Load()
	h := q.reclaim()
	for i := 0; i < src.count(); i++ {
		n := src.size(i)
		switch {
		case n > e.mtu:
			q.dropMTU++
			q.drop(n)
			continue
		case q.rclosedW:
			q.dropClose++
			q.drop(n)
			continue
		case t-h > q.mask:
			if h = q.reclaim(); t-h > q.mask {
				q.dropQ++
				q.drop(n)
				continue
			}
		}
		var b []byte
		if k := len(q.free); k > 0 {
			b = q.free[k-1]
			q.free[k-1] = nil
			q.free = q.free[:k-1]
		}
		if cap(b) < n {
			b = make([]byte, 0, bufCap(n, e.mtu))
		}
		q.ring[t&q.mask] = src.appendTo(b, i)
		q.info[t&q.mask] = link.InfoAt(info, i)
		t++
		q.sent++
		q.sentBytes += uint64(n)
	}
	published := t != q.tail.Load()
	q.tail.Store(t)
	q.wmu.Unlock()
	// Wake the consumer if it parked. It sets sleeping before its last
	// look at tail, so either it sees our tail or we see sleeping.
	if published && q.sleeping.Load() && q.sleeping.CompareAndSwap(true, false) {
		q.signal()
	}
	return src.count(), nil
}

// reclaim moves the buffers of the slots the consumer has released onto the
// free stack and returns the consumer's head. Reusing the most recently
// delivered buffer first keeps a lightly loaded pipe cycling through a few
// cache-warm buffers rather than touching every slot's. q.wmu is held.
func (q *queue) reclaim() uint64 {
	h := q.head.Load()
	for ; q.reclaimed != h; q.reclaimed++ {
		slot := &q.ring[q.reclaimed&q.mask]
		if len(q.free) < len(q.ring) {
			q.free = append(q.free, (*slot)[:0])
		}
		*slot = nil
	}
	return h
}

// drop counts a lost packet of n bytes; q.wmu is held.
func (q *queue) drop(n int) {
	q.dropped++
	q.dropBytes += uint64(n)
}

// signal leaves a wake-up token for the consumer. A stale token only causes
// one spurious wakeup.
func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run is the delivery goroutine (the consumer) of one direction.
func (q *queue) run(r link.Receiver) {
	defer close(q.done)
	batch := make([][]byte, 0, len(q.ring))
	info := make([]link.PacketInfo, 0, len(q.ring))
	h := q.head.Load()
	for !q.rclosed.Load() {
		t := q.tail.Load()
		for spin := 0; t == h && spin < spinYields; spin++ {
			runtime.Gosched()
			t = q.tail.Load()
		}
		if t == h {
			q.sleeping.Store(true)
			if q.tail.Load() != h || q.rclosed.Load() {
				q.sleeping.Store(false)
				continue
			}
			<-q.wake
			continue
		}
		var bytes uint64
		for i := h; i != t; i++ {
			b := q.ring[i&q.mask]
			bytes += uint64(len(b))
			batch = append(batch, b)
			info = append(info, q.info[i&q.mask])
		}
		q.delivered.Add(t - h)
		q.deliveredBytes.Add(bytes)
		q.batches.Add(1)
		r.DeliverPackets(batch, info)
		clear(batch)
		batch, info = batch[:0], info[:0]
		h = t
		q.head.Store(h) // the slots go back to the writers
	}
}

// Close implements link.Endpoint. Later writes on this end fail with
// link.ErrClosed; packets queued for or later written to this end are
// dropped (counted against the peer as DroppedClosed); the delivery
// goroutine stops. When Close returns, this end's receiver is not running
// and will not be called again, so Close must not be called from inside
// that receiver's DeliverPackets. The peer keeps working (its writes are
// dropped) until it is closed too.
func (e *Endpoint) Close() error {
	e.once.Do(func() {
		e.out.wmu.Lock()
		e.out.wclosed = true
		e.out.wmu.Unlock()

		q := e.in
		q.wmu.Lock()
		q.rclosedW = true
		q.rclosed.Store(true)
		started := q.started
		q.wmu.Unlock()
		if started {
			q.signal()
			<-q.done
		}
		// Nothing is written any more and nothing delivered: account for
		// what is left in the ring.
		q.wmu.Lock()
		h, t := q.head.Load(), q.tail.Load()
		for i := h; i != t; i++ {
			n := len(q.ring[i&q.mask])
			q.sent--
			q.sentBytes -= uint64(n)
			q.dropClose++
			q.drop(n)
		}
		q.head.Store(t)
		q.reclaimed = t
		clear(q.ring) // let the buffers go
		q.free = nil
		q.wmu.Unlock()
	})
	return nil
}

// Stats returns this endpoint's counters.
func (e *Endpoint) Stats() Stats {
	var s Stats
	o := e.out
	o.wmu.Lock()
	s.SentPackets, s.SentBytes = o.sent, o.sentBytes
	s.DroppedPackets, s.DroppedBytes = o.dropped, o.dropBytes
	s.DroppedMTU, s.DroppedQueue, s.DroppedClosed = o.dropMTU, o.dropQ, o.dropClose
	o.wmu.Unlock()
	i := e.in
	s.DeliveredPackets = i.delivered.Load()
	s.DeliveredBytes = i.deliveredBytes.Load()
	s.Batches = i.batches.Load()
	return s
}

var (
	_ link.Endpoint = (*Endpoint)(nil)
	_ link.Gatherer = (*Endpoint)(nil)
)
