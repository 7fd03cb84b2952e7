package stack

import (
	"net/netip"
	"sync"
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// A connection that enters TIME-WAIT leaves the demux: its TCB, buffers
// and Conn go (the Conn lives on only while the application holds it, for
// the data it has not read), and a twEntry of about 130 bytes stands in
// for it until 2*MSL has passed (RFC 9293 3.6.1, MUST-13), as Linux keeps a
// TIME-WAIT socket in a small bucket. The entries form a list in the order
// they expire, under one clock timer for the whole stack: nothing per
// connection per tick.

// DefaultMaxTimeWait is Config.MaxTimeWait's default, Linux's
// tcp_max_tw_buckets: 262,144 records, about 50 MiB.
const DefaultMaxTimeWait = 262144

// twKey is a 4-tuple in 36 bytes (an IPv4 address as its IPv4-mapped IPv6
// form), half the size of a tuple of netip.AddrPorts.
type twKey struct {
	local, remote [16]byte
	lport, rport  uint16
}

func keyOf(id tuple) twKey {
	return twKey{id.local.Addr().As16(), id.remote.Addr().As16(), id.local.Port(), id.remote.Port()}
}

func (k twKey) tuple() tuple {
	l, r := netip.AddrFrom16(k.local), netip.AddrFrom16(k.remote)
	if l.Is4In6() {
		l, r = l.Unmap(), r.Unmap()
	}
	return tuple{netip.AddrPortFrom(l, k.lport), netip.AddrPortFrom(r, k.rport)}
}

type twEntry struct {
	key        twKey
	ended      bool // (in the key's padding)
	rec        tcp.TimeWaitRecord
	prev, next *twEntry // in order of expiry; guarded by twTable.mu
}

// twTable holds the stack's TIME-WAIT records. Lock order: Stack.mu, then
// twTable.mu; nothing under twTable.mu takes another lock.
type twTable struct {
	s          *Stack
	mu         sync.Mutex
	m          map[twKey]*twEntry
	head, tail *twEntry
	w          wakeup
	stopped    bool
}

func (t *twTable) init(s *Stack) {
	t.s = s
	t.m = make(map[twKey]*twEntry)
}

// len is how many connections are in TIME-WAIT.
func (t *twTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// has reports whether id is in TIME-WAIT.
func (t *twTable) has(id tuple) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[keyOf(id)] != nil
}

// add files a record; past the cap the oldest records end (counted, with
// their event) to make room, as Linux's tcp_max_tw_buckets does.
func (t *twTable) add(id tuple, r *tcp.TimeWaitRecord) *twEntry {
	e := &twEntry{key: keyOf(id), rec: *r}
	var evicted []tuple
	t.mu.Lock()
	if old := t.m[e.key]; old != nil {
		t.unlinkLocked(old)
	}
	for len(t.m) >= t.s.cfg.MaxTimeWait && t.head != nil {
		evicted = append(evicted, t.head.key.tuple())
		t.unlinkLocked(t.head)
	}
	t.m[e.key] = e
	t.insertLocked(e)
	t.armLocked()
	t.mu.Unlock()
	for _, id := range evicted {
		t.s.stats.TimeWaitOverflow.Add(1)
		t.s.emit(id, tcp.TimeWait, tcp.Closed, CauseTimeWaitLimit)
	}
	return e
}

// CauseTimeWaitLimit ends the oldest TIME-WAIT record when the stack holds
// Config.MaxTimeWait of them.
const CauseTimeWaitLimit tcp.Cause = "TIME-WAIT limit"

// insertLocked links e in expiry order, searching from the tail (2*MSL is
// the same for every record, so e almost always goes last).
func (t *twTable) insertLocked(e *twEntry) {
	p := t.tail
	for p != nil && p.rec.Expires() > e.rec.Expires() {
		p = p.prev
	}
	e.prev = p
	if p == nil {
		e.next, t.head = t.head, e
	} else {
		e.next, p.next = p.next, e
	}
	if e.next == nil {
		t.tail = e
	} else {
		e.next.prev = e
	}
}

// unlinkLocked removes e from the table.
func (t *twTable) unlinkLocked(e *twEntry) {
	t.delistLocked(e)
	if t.m[e.key] == e {
		delete(t.m, e.key)
	}
	e.ended = true
}

// delistLocked takes e out of the expiry list only.
func (t *twTable) delistLocked(e *twEntry) {
	if e.prev == nil {
		t.head = e.next
	} else {
		e.prev.next = e.next
	}
	if e.next == nil {
		t.tail = e.prev
	} else {
		e.next.prev = e.prev
	}
	e.prev, e.next = nil, nil
}

// end removes e, if it is still there, and reports the transition.
func (t *twTable) end(e *twEntry, cause tcp.Cause) {
	t.mu.Lock()
	was := !e.ended
	if was {
		t.unlinkLocked(e)
	}
	t.mu.Unlock()
	if was {
		t.s.emit(e.key.tuple(), tcp.TimeWait, tcp.Closed, cause)
	}
}

// state is TIME-WAIT until e ends, then CLOSED.
func (t *twTable) state(e *twEntry) tcp.State {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.ended {
		return tcp.Closed
	}
	return tcp.TimeWait
}

func (t *twTable) armLocked() {
	if t.head != nil && !t.stopped {
		t.w.arm(t.s.clk, t.head.rec.Expires(), t.fire)
	}
}

// fire ends every record whose 2*MSL has passed.
func (t *twTable) fire() {
	now := t.s.clk.Now()
	var done []tuple
	t.mu.Lock()
	t.w.disarm()
	for t.head != nil && t.head.rec.Expires() <= now {
		done = append(done, t.head.key.tuple())
		t.unlinkLocked(t.head)
	}
	t.armLocked()
	t.mu.Unlock()
	for _, id := range done {
		t.s.emit(id, tcp.TimeWait, tcp.Closed, tcp.CauseTimeWait)
	}
}

// stop ends every record, as closing the stack aborts every connection.
func (t *twTable) stop() {
	var done []tuple
	t.mu.Lock()
	t.stopped = true
	t.w.stop()
	for t.head != nil {
		done = append(done, t.head.key.tuple())
		t.unlinkLocked(t.head)
	}
	t.mu.Unlock()
	for _, id := range done {
		t.s.emit(id, tcp.TimeWait, tcp.Closed, tcp.CauseAbort)
	}
}

// input hands a segment for no live connection to its TIME-WAIT record,
// if there is one; it reports whether there was.
func (t *twTable) input(now timeT, id tuple, h *wire.TCP, payload []byte) bool {
	k := keyOf(id)
	t.mu.Lock()
	e := t.m[k]
	if e == nil {
		t.mu.Unlock()
		return false
	}
	var ack wire.TCP
	before := e.rec.Expires()
	v := e.rec.Arrive(now, h, len(payload), &ack)
	if v == tcp.TimeWaitReopen {
		t.mu.Unlock()
		if t.reopen(now, e, id, h, payload) {
			return true
		}
		v = tcp.TimeWaitAnswer // no listener to take the SYN: answer it
	} else {
		if e.rec.Expires() != before { // the peer's FIN again: 2*MSL restarts
			t.delistLocked(e)
			t.insertLocked(e)
			t.armLocked()
		}
		t.mu.Unlock()
	}
	st := &t.s.stats
	switch {
	case h.Flags&wire.RST != 0:
		st.TimeWaitResetsIgnored.Add(1) // RFC 1337
	case v == tcp.TimeWaitAnswer && (t.s.answers == nil || t.s.answers.Take(now)):
		st.TimeWaitAcks.Add(1)
		b := t.s.getBatch()
		b.add(id, &ack, nil, nil, ipDefaults(id.local.Addr()))
		t.s.sendBatch(b)
	}
	return true
}

// reopen ends the record for a SYN that may start a new incarnation (RFC
// 6191, MAY-2) and hands the SYN to the listener, with an ISS above every
// sequence number of the old one. It reports false when nothing listens.
func (t *twTable) reopen(now timeT, e *twEntry, id tuple, h *wire.TCP, payload []byte) bool {
	s := t.s
	s.mu.RLock()
	l := s.listenerFor(id.local)
	s.mu.RUnlock()
	if l == nil {
		return false
	}
	floor := e.rec.NextISS()
	t.end(e, tcp.Cause("rcv SYN"))
	s.stats.TimeWaitReopened.Add(1)
	l.synAbove(now, id, h, payload, &floor)
	return true
}

// isnAbove is the RFC 6528 ISN, raised to floor when it lies below it.
func (s *Stack) isnAbove(id tuple, now time.Duration, floor *seq.Value) seq.Value {
	iss := s.isn(id, now)
	if floor != nil && iss.LessThan(*floor) {
		iss = *floor
	}
	return iss
}

// enterTimeWait replaces a connection that reached TIME-WAIT by its record
// (with c.mu held).
func (s *Stack) enterTimeWait(c *Conn) {
	r := c.tcb.TakeTimeWait()
	if r == nil {
		return
	}
	c.tw = s.tw.add(c.id, r) // before leaving the demux: no segment finds neither
	s.remove(c)
	s.timers.remove(c)
	s.dropOrphan(c)
	if c.l != nil {
		c.l.forget(c)
	}
	c.gone = true
}
