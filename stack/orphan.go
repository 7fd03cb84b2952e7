package stack

import (
	"sync"

	"github.com/synack-tcp/synack/tcp"
)

// Orphans are connections the application has closed (net.Conn.Close)
// while the TCB still has work: data or a FIN to deliver in FIN-WAIT-1,
// CLOSING or LAST-ACK, or the peer's FIN to wait for in FIN-WAIT-2. Nobody
// will read from them again, so whatever they hold is the stack's cost
// alone. Each gives up on its own after tcp.Config.OrphanRetries
// retransmissions or probes (FIN-WAIT-2 after FinWait2Timeout); and the
// stack holds at most Config.MaxOrphans of them, resetting the oldest past
// that, as Linux's tcp_orphan_retries and tcp_max_orphans do.

// DefaultMaxOrphans is Config.MaxOrphans's default (Linux's
// tcp_max_orphans on a small machine).
const DefaultMaxOrphans = 65536

// CauseOrphanLimit resets the oldest orphan when the stack holds
// Config.MaxOrphans of them.
const CauseOrphanLimit tcp.Cause = "orphan limit"

// orphanList keeps the orphans oldest first. Lock order: Conn.mu, then
// orphanList.mu.
type orphanList struct {
	mu         sync.Mutex
	head, tail *Conn
	n          int
}

// isOrphanState reports whether a closed connection in s still has work.
func isOrphanState(s tcp.State) bool {
	switch s {
	case tcp.FinWait1, tcp.FinWait2, tcp.Closing, tcp.LastAck:
		return true
	}
	return false
}

// addOrphan files c (with c.mu held) after its application closed it.
func (s *Stack) addOrphan(c *Conn) {
	if c.orphan || c.gone || !isOrphanState(c.tcb.State()) {
		return
	}
	o := &s.orphans
	o.mu.Lock()
	c.orphan = true
	c.orphPrev, c.orphNext = o.tail, nil
	if o.tail == nil {
		o.head = c
	} else {
		o.tail.orphNext = c
	}
	o.tail = c
	o.n++
	o.mu.Unlock()
	s.stats.Orphans.Add(1)
}

// dropOrphan takes c off the list (with c.mu held) when it leaves the demux.
func (s *Stack) dropOrphan(c *Conn) {
	if !c.orphan {
		return
	}
	o := &s.orphans
	o.mu.Lock()
	o.unlinkLocked(c)
	o.mu.Unlock()
	s.stats.Orphans.Add(^uint64(0))
}

func (o *orphanList) unlinkLocked(c *Conn) {
	if c.orphPrev == nil {
		o.head = c.orphNext
	} else {
		c.orphPrev.orphNext = c.orphNext
	}
	if c.orphNext == nil {
		o.tail = c.orphPrev
	} else {
		c.orphNext.orphPrev = c.orphPrev
	}
	c.orphPrev, c.orphNext, c.orphan = nil, nil, false
	o.n--
}

// trimOrphans resets the oldest orphans while there are more than the cap
// (with no connection lock held).
func (s *Stack) trimOrphans() {
	for {
		o := &s.orphans
		o.mu.Lock()
		if o.n <= s.cfg.MaxOrphans || o.head == nil {
			o.mu.Unlock()
			return
		}
		c := o.head
		o.mu.Unlock()
		c.mu.Lock()
		if c.orphan && !c.gone {
			now := s.clk.Now()
			s.stats.OrphanOverflow.Add(1)
			c.tcb.AbortWith(now, CauseOrphanLimit)
			c.afterLocked(now)
		}
		if c.orphan { // the reset did not take it off (it cannot, but never spin)
			s.dropOrphan(c)
		}
		c.mu.Unlock()
	}
}
