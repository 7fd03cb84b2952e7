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

// orphanList keeps the orphans oldest first: a queue of Conns, each
// marked by its orphan flag. A connection that leaves the demux only clears
// its flag (its entry goes stale and is skipped), so an idle connection
// pays nothing for the list. Lock order: Conn.mu, then orphanList.mu.
type orphanList struct {
	mu sync.Mutex
	q  []*Conn // oldest first; entries whose orphan flag is clear are stale
	n  int     // live entries
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
	if len(o.q) > 2*o.n+64 { // mostly stale: compact
		live := o.q[:0]
		for _, x := range o.q {
			if x.orphanLive() {
				live = append(live, x)
			}
		}
		clear(o.q[len(live):])
		o.q = live
	}
	o.q = append(o.q, c)
	o.n++
	o.mu.Unlock()
	s.stats.Orphans.Add(1)
}

// orphanLive reads x's flag under the list's lock: the flag changes only
// with both x.mu and the list's lock held.
func (x *Conn) orphanLive() bool { return x.orphan }

// dropOrphan takes c off the list (with c.mu held) when it leaves the demux.
func (s *Stack) dropOrphan(c *Conn) {
	if !c.orphan {
		return
	}
	o := &s.orphans
	o.mu.Lock()
	c.orphan = false
	o.n--
	o.mu.Unlock()
	s.stats.Orphans.Add(^uint64(0))
}

// trimOrphans resets the oldest orphans while there are more than the cap
// (with no connection lock held).
func (s *Stack) trimOrphans() {
	o := &s.orphans
	for {
		o.mu.Lock()
		for len(o.q) > 0 && !o.q[0].orphanLive() {
			o.q[0] = nil
			o.q = o.q[1:]
		}
		if o.n <= s.cfg.MaxOrphans || len(o.q) == 0 {
			o.mu.Unlock()
			return
		}
		c := o.q[0]
		o.mu.Unlock()
		c.mu.Lock()
		if c.orphan && !c.gone {
			now := s.clk.Now()
			s.stats.OrphanOverflow.Add(1)
			c.tcb.AbortWith(now, CauseOrphanLimit)
			c.afterLocked(now)
		}
		s.dropOrphan(c) // the reset took it off (or it had gone): never spin
		c.mu.Unlock()
	}
}
