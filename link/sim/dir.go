package sim

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link"
)

// dir is one direction of the link: the packets written on src, travelling
// to dst. Its lock guards all its state; it is never held while calling a
// receiver or the trace hook.
type dir struct {
	d        Direction
	cfg      Config
	clk      *clock.Virtual
	src, dst *Endpoint
	mtu      int

	mu   sync.Mutex
	rng  *rand.Rand
	seq  uint64        // next write sequence number
	bad  bool          // Gilbert-Elliott state
	last time.Duration // latest FIFO delivery time scheduled

	// The transmitter (Rate > 0): free again at txFree; txq lists the
	// packets not yet fully serialized (only kept with QueueBytes > 0).
	txFree   time.Duration
	txq      []txEntry
	txHead   int
	txqBytes int

	groups     map[time.Duration]*group // pending deliveries by instant
	freeBufs   [][]byte
	freeGroups []*group

	maxSeq  uint64 // highest sequence number delivered so far
	anySeen bool
	st      Stats
}

type txEntry struct {
	finish time.Duration
	n      int
}

// group is the copies due at one instant, delivered in one call.
type group struct {
	at   time.Duration
	pkts [][]byte
	info []link.PacketInfo
	meta []copyMeta
	fire func()
}

type copyMeta struct {
	seq                        uint64
	written                    time.Duration
	dup, corrupted, undetected bool
}

const (
	maxFreeBufs   = 1024
	maxFreeGroups = 64
)

func newDir(clk *clock.Virtual, seed int64, d Direction, cfg Config, src, dst *Endpoint) *dir {
	mtu := cfg.MTU
	if mtu <= 0 {
		mtu = DefaultMTU
	}
	// One PCG stream per direction: the seed picks the state, the
	// direction the stream.
	stream := 0x9e3779b97f4a7c15 * (uint64(d) + 1)
	return &dir{
		d: d, cfg: cfg, clk: clk, src: src, dst: dst, mtu: mtu,
		rng:    rand.New(rand.NewPCG(uint64(seed), stream)),
		groups: make(map[time.Duration]*group),
	}
}

// chance reports an event of probability p, drawing from the direction's
// random source only when p > 0.
func (d *dir) chance(p float64) bool {
	return p > 0 && d.rng.Float64() < p
}

// write takes one packet through the stages listed in the package comment.
func (d *dir) write(p []byte, info link.PacketInfo) {
	d.mu.Lock()
	now := d.clk.Now()
	seq := d.seq
	d.seq++
	d.st.Sent++
	d.st.SentBytes += uint64(len(p))
	finish, fate := d.admit(p, now)
	if fate != Delivered {
		d.countLoss(fate)
		d.mu.Unlock()
		d.trace(Event{At: now, Written: now, Dir: d.d, Seq: seq, Len: len(p), Fate: fate})
		return
	}
	m := copyMeta{seq: seq, written: now}
	b := d.copyPacket(p)
	switch {
	case d.chance(d.cfg.Corrupt) && len(b) > 0:
		i := d.rng.IntN(len(b))
		b[i] ^= 1 << d.rng.IntN(8)
		m.corrupted = true
		d.st.Corrupted++
	case d.chance(d.cfg.CorruptKeepChecksum) && swapWords(b, d.rng):
		m.undetected = true
		d.st.CorruptedUndetected++
	}
	d.schedule(finish, b, info, m)
	if d.chance(d.cfg.Dup) {
		d.st.Duplicated++
		m.dup = true
		d.schedule(finish, d.copyPacket(b), info, m)
	}
	d.mu.Unlock()
}

// admit runs the MTU, down, router, queue and loss stages. It returns when
// the packet has been serialized onto the wire, or why it was lost.
func (d *dir) admit(p []byte, now time.Duration) (time.Duration, Fate) {
	n := len(p)
	if n > d.mtu {
		return 0, LostMTU
	}
	if d.isDown(now) {
		return 0, LostDown
	}
	if f, lost := d.route(p, now); lost {
		return 0, f
	}
	finish := now
	if c := &d.cfg; c.Rate > 0 {
		if c.QueueBytes > 0 {
			d.drainTx(now)
			if d.txqBytes+n > c.QueueBytes {
				return 0, LostQueue
			}
		}
		// Ceiling, so that a packet never takes zero time.
		ser := time.Duration((int64(n)*int64(time.Second) + c.Rate - 1) / c.Rate)
		finish = max(now, d.txFree) + ser
		d.txFree = finish
		if c.QueueBytes > 0 {
			d.txq = append(d.txq, txEntry{finish, n})
			d.txqBytes += n
		}
	}
	// Draw both, whatever the first says, so that enabling one kind of
	// loss does not shift the other's random sequence packet by packet.
	random := d.chance(d.cfg.Loss)
	burst := d.gilbertElliott()
	switch {
	case random:
		return 0, LostRandom
	case burst:
		return 0, LostBurst
	}
	return finish, Delivered
}

// drainTx forgets the packets fully serialized by now.
func (d *dir) drainTx(now time.Duration) {
	for d.txHead < len(d.txq) && d.txq[d.txHead].finish <= now {
		d.txqBytes -= d.txq[d.txHead].n
		d.txHead++
	}
	if d.txHead == len(d.txq) {
		d.txq, d.txHead = d.txq[:0], 0
	} else if d.txHead > 1024 && d.txHead > len(d.txq)/2 {
		d.txq = d.txq[:copy(d.txq, d.txq[d.txHead:])]
		d.txHead = 0
	}
}

// gilbertElliott steps the two-state burst-loss chain and reports a loss.
func (d *dir) gilbertElliott() bool {
	c := &d.cfg
	if c.GEGoodToBad <= 0 && !d.bad {
		return false
	}
	if d.bad {
		if d.chance(c.GEBadToGood) {
			d.bad = false
		}
	} else if d.chance(c.GEGoodToBad) {
		d.bad = true
	}
	if d.bad {
		return d.chance(c.GELossBad)
	}
	return d.chance(c.GELossGood)
}

// isDown reports whether the direction is down at t.
func (d *dir) isDown(t time.Duration) bool {
	if d.src.down.Load() || d.dst.down.Load() {
		return true
	}
	for _, w := range d.cfg.Flaps {
		if w.contains(t) {
			return true
		}
	}
	for _, w := range d.cfg.Partition {
		if w.contains(t) {
			return true
		}
	}
	return false
}

// propagation draws one copy's delay after serialization and whether it
// was picked to be reordered.
func (d *dir) propagation() (time.Duration, bool) {
	c := &d.cfg
	t := max(c.Delay, 0)
	if c.Jitter > 0 {
		t += time.Duration(d.rng.Int64N(int64(c.Jitter)))
	}
	if d.chance(c.SpikeProb) {
		t += max(c.SpikeDelay, 0)
	}
	reordered := d.chance(c.Reorder)
	if reordered {
		rd := c.ReorderDelay
		if rd <= 0 {
			rd = time.Millisecond
		}
		t += rd
	}
	return t, reordered
}

// schedule puts one copy on the wire: it joins the group due at its
// delivery instant, creating the group (and its clock event) if needed.
func (d *dir) schedule(finish time.Duration, b []byte, info link.PacketInfo, m copyMeta) {
	delay, reordered := d.propagation()
	at := finish + delay
	if d.cfg.Jitter <= 0 && !reordered {
		// FIFO link: never overtake a copy written earlier.
		at = max(at, d.last)
		d.last = at
	}
	g := d.groups[at]
	if g == nil {
		g = d.newGroup()
		g.at = at
		d.groups[at] = g
		d.clk.At(at, g.fire)
	}
	g.pkts = append(g.pkts, b)
	g.info = append(g.info, info)
	g.meta = append(g.meta, m)
	d.st.InFlight++
}

func (d *dir) newGroup() *group {
	if n := len(d.freeGroups); n > 0 {
		g := d.freeGroups[n-1]
		d.freeGroups = d.freeGroups[:n-1]
		return g
	}
	g := &group{}
	g.fire = func() { d.fire(g) }
	return g
}

// copyPacket copies p into a recycled or new buffer.
func (d *dir) copyPacket(p []byte) []byte {
	var b []byte
	if n := len(d.freeBufs); n > 0 {
		b = d.freeBufs[n-1]
		d.freeBufs[n-1] = nil
		d.freeBufs = d.freeBufs[:n-1]
	}
	if cap(b) < len(p) {
		c := 128
		for c < len(p) {
			c <<= 1
		}
		b = make([]byte, 0, c)
	}
	return append(b[:0], p...)
}

// fire delivers a group when its instant comes.
func (d *dir) fire(g *group) {
	r := d.dst.receiver()
	d.mu.Lock()
	if d.groups[g.at] == g {
		delete(d.groups, g.at)
	}
	for i, m := range g.meta {
		d.st.InFlight--
		if r == nil {
			d.st.LostDown++
			continue
		}
		d.st.Delivered++
		d.st.DeliveredBytes += uint64(len(g.pkts[i]))
		if d.anySeen && m.seq < d.maxSeq {
			d.st.Reordered++
		} else {
			d.maxSeq, d.anySeen = m.seq, true
		}
	}
	d.mu.Unlock()

	if d.cfg.OnPacket != nil {
		fate := Delivered
		if r == nil {
			fate = LostDown
		}
		for i, m := range g.meta {
			d.trace(Event{At: g.at, Written: m.written, Dir: d.d, Seq: m.seq,
				Len: len(g.pkts[i]), Fate: fate, Dup: m.dup,
				Corrupted: m.corrupted, Undetected: m.undetected})
		}
	}
	if r != nil {
		r.DeliverPackets(g.pkts, g.info)
	}

	d.mu.Lock()
	for i, b := range g.pkts {
		if len(d.freeBufs) < maxFreeBufs {
			d.freeBufs = append(d.freeBufs, b[:0])
		}
		g.pkts[i] = nil
	}
	g.pkts, g.info, g.meta = g.pkts[:0], g.info[:0], g.meta[:0]
	if len(d.freeGroups) < maxFreeGroups {
		d.freeGroups = append(d.freeGroups, g)
	}
	d.mu.Unlock()
}

func (d *dir) countLoss(f Fate) {
	switch f {
	case LostRandom:
		d.st.LostRandom++
	case LostBurst:
		d.st.LostBurst++
	case LostQueue:
		d.st.LostQueue++
	case LostMTU:
		d.st.LostMTU++
	case LostDown:
		d.st.LostDown++
	case LostHop:
		d.st.LostHop++
	case LostUnreachable:
		d.st.LostUnreachable++
	}
}

func (d *dir) trace(ev Event) {
	if d.cfg.OnPacket != nil {
		d.cfg.OnPacket(ev)
	}
}

// swapWords changes b so that no Internet checksum notices: it swaps two
// different 16-bit words, both aligned with the packet start. The one's
// complement sum is order-independent, so every checksum over a range
// containing both words (and aligned like the packet: IP and TCP headers
// start at multiples of 4) stays valid. To keep the change inside the
// transport payload or options rather than the addresses, ports, sequence
// numbers and flags, it skips the IP header (IPv4: IHL*4; IPv6: 40 bytes;
// otherwise: 20) plus 20 bytes, the smallest TCP header; for the common
// IPv4 packet that is byte offset 40. It reports false, changing nothing,
// when there are fewer than two words after that point or they are all
// equal.
func swapWords(b []byte, rng *rand.Rand) bool {
	start := 40
	if len(b) > 0 {
		switch b[0] >> 4 {
		case 4:
			start = max(20, int(b[0]&0x0f)*4) + 20
		case 6:
			start = 60
		}
	}
	if len(b) < start {
		return false
	}
	n := (len(b) - start) / 2
	if n < 2 {
		return false
	}
	word := func(k int) (byte, byte) { return b[start+2*k], b[start+2*k+1] }
	i := rng.IntN(n)
	j0 := rng.IntN(n)
	wi0, wi1 := word(i)
	for k := range n {
		j := (j0 + k) % n
		if wj0, wj1 := word(j); wj0 != wi0 || wj1 != wi1 {
			o, p := start+2*i, start+2*j
			b[o], b[o+1], b[p], b[p+1] = wj0, wj1, wi0, wi1
			return true
		}
	}
	return false
}
