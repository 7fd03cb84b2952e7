// Package sim is a seeded, deterministic, faulty network between two link
// endpoints, driven by a *clock.Virtual. It starts no goroutines: a write
// decides the packet's fate at once and schedules its delivery on the
// virtual clock, and the delivery runs in whatever goroutine advances the
// clock. The same seed and the same writes at the same virtual times give
// the same delivery schedule, byte for byte.
//
// # The model
//
// Each direction (a->b, b->a) has its own Config and its own PCG random
// source, so adding faults in one direction never changes the other's
// random sequence. A packet written at virtual time now goes through these
// stages, in order:
//
//  1. MTU: larger than the direction's MTU -> lost (LostMTU).
//  2. Down: written while the direction is down -> lost (LostDown). A
//     direction is down inside any of its Flaps or Partition windows
//     ([Start, End), judged at the time of the write, so packets already on
//     the wire when a window opens still arrive) or while either endpoint
//     has been SetDown.
//  3. Router: with Config.Router set, a packet larger than the router
//     hop's MTU (LostHop), or written in one of its Unreachable windows
//     (LostUnreachable), is lost there; unless the router is a black hole
//     it answers with ICMP (fragmentation needed or packet too big, host
//     unreachable) delivered to the writer one reverse Delay later. This
//     stage draws nothing from the random source.
//  4. Queue: with Rate > 0 the direction is a FIFO transmitter; a packet
//     waits for the ones before it and takes len/Rate to serialize. If the
//     bytes queued (including the one being serialized) plus this packet
//     would exceed QueueBytes, it is tail-dropped (LostQueue).
//  5. Loss on the wire: independent loss with probability Loss (LostRandom),
//     then the Gilbert-Elliott two-state burst model (LostBurst).
//  6. Corruption of the copy: Corrupt flips one random bit (a checksum
//     catches it); failing that, CorruptKeepChecksum swaps two 16-bit
//     words so that every Internet checksum stays valid (see swapWords).
//  7. Propagation: Delay, plus uniform jitter in [0, Jitter), plus
//     SpikeDelay with probability SpikeProb, plus ReorderDelay with
//     probability Reorder.
//  8. Duplication: with probability Dup a second copy of the (possibly
//     corrupted) packet is delivered after its own propagation delay (stage
//     7 drawn afresh); it does not occupy the transmitter again.
//
// Ordering: with Jitter zero the direction is a FIFO link: a copy is never
// delivered before a copy written earlier, except that a packet picked for
// reordering is exempt (it is the one that gets overtaken). With Jitter
// non-zero, copies may overtake one another freely. All copies due at the
// same instant reach the receiver in one DeliverPackets call, in the order
// they were scheduled.
package sim

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link"
)

// DefaultMTU is the MTU of a direction whose Config.MTU is zero.
const DefaultMTU = 65535

// Window is a span of virtual time, [Start, End).
type Window struct{ Start, End time.Duration }

// Flap returns the window of a link outage of length d starting at start.
// Put it in both directions' Flaps for a link flap, in one direction's
// Partition for an asymmetric partition.
func Flap(start, d time.Duration) Window { return Window{start, start + d} }

func (w Window) contains(t time.Duration) bool { return t >= w.Start && t < w.End }

// Config describes one direction of the link. The zero value is a perfect
// link with no delay. Probabilities are per packet, in [0, 1].
type Config struct {
	Delay  time.Duration // one-way propagation delay
	Jitter time.Duration // extra delay, uniform in [0, Jitter); allows reordering

	SpikeProb  float64       // probability of a delay spike
	SpikeDelay time.Duration // the spike's extra delay (think seconds)

	Loss float64 // independent loss probability

	// Gilbert-Elliott burst loss: before each packet the state moves
	// good->bad with probability GEGoodToBad and bad->good with GEBadToGood;
	// the packet is then lost with GELossBad or GELossGood according to
	// the state. Disabled while GEGoodToBad is zero (and the state good).
	GEGoodToBad, GEBadToGood, GELossBad, GELossGood float64

	Dup float64 // probability of delivering a second copy

	Reorder      float64       // probability a packet is held back
	ReorderDelay time.Duration // how long; zero means 1ms

	Corrupt             float64 // probability of flipping one random bit
	CorruptKeepChecksum float64 // probability of a checksum-preserving change

	Rate       int64 // bytes per second; 0 is unlimited
	QueueBytes int   // transmit queue bound with Rate > 0; 0 is unbounded

	MTU int // largest packet carried; 0 is DefaultMTU

	Router Router // a router hop with a narrower MTU or no route, answering with ICMP (router.go)

	Flaps     []Window // link outages (put them in both directions)
	Partition []Window // outages of this direction only

	// OnPacket, if set, is told each packet's fate: a loss when the packet
	// is written, a delivery when it arrives. It runs in the goroutine that
	// writes or advances the clock, with no lock held.
	OnPacket func(Event)
}

// Direction names one direction of the link.
type Direction uint8

// The two directions.
const (
	AtoB Direction = iota
	BtoA
)

func (d Direction) String() string {
	if d == AtoB {
		return "a->b"
	}
	return "b->a"
}

// Fate is what became of a packet copy.
type Fate uint8

// Fates.
const (
	Delivered       Fate = iota // handed to the receiver
	LostRandom                  // independent loss (Config.Loss)
	LostBurst                   // Gilbert-Elliott loss
	LostQueue                   // transmit queue full
	LostMTU                     // larger than the MTU
	LostDown                    // link down, partitioned, or receiver closed or unattached
	LostHop                     // larger than the router hop's MTU (Router.MTU)
	LostUnreachable             // no route at the router (Router.Unreachable)
)

var fateNames = [...]string{"delivered", "lost-random", "lost-burst", "lost-queue", "lost-mtu", "lost-down", "lost-hop", "lost-unreachable"}

func (f Fate) String() string {
	if int(f) < len(fateNames) {
		return fateNames[f]
	}
	return fmt.Sprintf("fate(%d)", f)
}

// Event reports one packet copy's fate to Config.OnPacket.
type Event struct {
	At         time.Duration // when the fate was decided (write or delivery time)
	Written    time.Duration // when the packet was written
	Dir        Direction
	Seq        uint64 // write order in this direction, from 0
	Len        int
	Fate       Fate
	Dup        bool // the second copy of a duplicated packet
	Corrupted  bool // a bit was flipped
	Undetected bool // words were swapped, checksums still valid
}

func (e Event) String() string {
	s := fmt.Sprintf("%v %v #%d %dB %v", e.At, e.Dir, e.Seq, e.Len, e.Fate)
	if e.At != e.Written {
		s += fmt.Sprintf(" (written %v)", e.Written)
	}
	if e.Dup {
		s += " dup"
	}
	if e.Corrupted {
		s += " corrupted"
	}
	if e.Undetected {
		s += " corrupted-undetected"
	}
	return s
}

// Stats counts the packets written on one endpoint and what became of them.
// Every written packet ends up Delivered, Lost or InFlight; a duplicate is
// one more copy, so Sent + Duplicated = Delivered + Lost() + InFlight.
type Stats struct {
	Sent, SentBytes           uint64 // packets written
	Delivered, DeliveredBytes uint64 // copies handed to the peer's receiver
	InFlight                  uint64 // copies scheduled, not yet delivered

	LostRandom, LostBurst, LostQueue, LostMTU, LostDown uint64
	LostHop, LostUnreachable                            uint64 // at the router (Config.Router)
	ICMPSent                                            uint64 // ICMP errors the router sent back

	Duplicated          uint64 // second copies made
	Reordered           uint64 // copies delivered after a copy of a later-written packet
	Corrupted           uint64 // packets with a flipped bit
	CorruptedUndetected uint64 // packets changed with their checksums kept valid
}

// Lost is the total of packets lost to every cause.
func (s Stats) Lost() uint64 {
	return s.LostRandom + s.LostBurst + s.LostQueue + s.LostMTU + s.LostDown + s.LostHop + s.LostUnreachable
}

// Endpoint is one end of a simulated link. It implements link.Endpoint and
// is safe for concurrent use, although determinism needs the writes to
// happen in a deterministic order.
type Endpoint struct {
	out  *dir // packets written here
	in   *dir // packets arriving here
	mtu  int
	down atomic.Bool

	mu     sync.Mutex
	recv   link.Receiver
	closed bool
}

// New returns the two ends of a simulated link under clk. ab configures the
// packets written on a (travelling to b), ba the reverse.
func New(clk *clock.Virtual, seed int64, ab, ba Config) (a, b *Endpoint) {
	a, b = &Endpoint{}, &Endpoint{}
	a.out = newDir(clk, seed, AtoB, ab, a, b)
	b.out = newDir(clk, seed, BtoA, ba, b, a)
	a.in, b.in = b.out, a.out
	a.mtu = min(a.out.mtu, b.out.mtu)
	b.mtu = a.mtu
	return a, b
}

// MTU implements link.Endpoint: the smaller of the two directions' MTUs.
func (e *Endpoint) MTU() int { return e.mtu }

// Attach implements link.Endpoint. Packets arriving before Attach are lost
// (LostDown).
func (e *Endpoint) Attach(r link.Receiver) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.recv == nil {
		e.recv = r
	}
}

// receiver returns the receiver, or nil when closed or unattached.
func (e *Endpoint) receiver() link.Receiver {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	return e.recv
}

// SetDown takes this endpoint's interface down (true) or up (false). While
// it is down, packets written on it and packets written toward it are lost
// (LostDown); packets already on the wire still arrive.
func (e *Endpoint) SetDown(down bool) { e.down.Store(down) }

// WritePackets implements link.Endpoint. Every packet counts as accepted,
// whatever its fate; its info is delivered with it.
func (e *Endpoint) WritePackets(pkts [][]byte, info []link.PacketInfo) (int, error) {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return 0, link.ErrClosed
	}
	for i, p := range pkts {
		e.out.write(p, link.InfoAt(info, i))
	}
	return len(pkts), nil
}

// Close implements link.Endpoint. Writes fail from now on; packets already
// written still arrive at the peer; packets arriving here are lost
// (LostDown, counted by the peer).
func (e *Endpoint) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	return nil
}

// Stats returns the counters of the packets written on this endpoint.
func (e *Endpoint) Stats() Stats {
	d := e.out
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st
}

var _ link.Endpoint = (*Endpoint)(nil)
