package stack

import (
	"container/heap"
	"sync"
	"time"

	"github.com/synack-tcp/synack/clock"
)

// timerHeap keeps every connection with an armed deadline in a min-heap and
// one clock timer for the earliest. A connection touches the heap only when
// its deadline moves earlier; one that moved later fires early, finds
// nothing due, and re-registers. Idle connections cost nothing per tick.
type timerHeap struct {
	s *Stack
	// mu guards the fields below and every Conn's heapIdx and heapAt. It
	// is a leaf, taken under Conn.mu by update; fire releases it before
	// it locks the connections that are due.
	mu      sync.Mutex
	h       connHeap
	w       wakeup
	stopped bool
}

// wakeup is one clock timer aimed at the earliest of a set of deadlines
// (the timer heap's, the TIME-WAIT list's), moved only when a deadline
// earlier than the one it is set for appears. Its owner's lock guards it.
type wakeup struct {
	t     clock.Timer
	at    time.Duration
	armed bool
}

// arm points the timer at at, unless it is already set no later; fire
// runs when it goes off, and must call disarm first.
func (w *wakeup) arm(clk clock.Clock, at time.Duration, fire func()) {
	if w.armed && w.at <= at {
		return
	}
	w.armed, w.at = true, at
	if d := at - clk.Now(); w.t == nil {
		w.t = clk.AfterFunc(d, fire)
	} else {
		w.t.Reset(d)
	}
}

func (w *wakeup) disarm() { w.armed = false }

func (w *wakeup) stop() {
	if w.t != nil {
		w.t.Stop()
	}
}

func (t *timerHeap) init(s *Stack) { t.s = s }

// update registers c's next deadline (with c.mu held).
func (t *timerHeap) update(c *Conn, at time.Duration, ok bool) {
	if !ok || (c.schedAt != 0 && c.schedAt <= at) {
		return
	}
	c.schedAt = at
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	c.heapAt = at
	if c.heapIdx >= 0 {
		heap.Fix(&t.h, c.heapIdx)
	} else {
		heap.Push(&t.h, c)
	}
	t.armLocked()
}

// armLocked points the clock timer at the earliest deadline.
func (t *timerHeap) armLocked() {
	if len(t.h) > 0 {
		t.w.arm(t.s.clk, t.h[0].heapAt, t.fire)
	}
}

// fire runs every connection whose deadline has come.
func (t *timerHeap) fire() {
	now := t.s.clk.Now()
	var due []*Conn
	t.mu.Lock()
	t.w.disarm()
	for len(t.h) > 0 && t.h[0].heapAt <= now {
		due = append(due, heap.Pop(&t.h).(*Conn))
	}
	t.armLocked()
	t.mu.Unlock()
	for _, c := range due {
		c.mu.Lock()
		c.schedAt = 0
		if !c.gone {
			now := t.s.clk.Now() // under the lock: see DeliverPackets
			c.tcb.Tick(now)
			c.afterLocked(now)
		}
		c.mu.Unlock()
	}
}

// remove takes c out of the heap (with c.mu held), so a connection that
// left the demux is not kept alive until its old deadline.
func (t *timerHeap) remove(c *Conn) {
	c.schedAt = 0
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.heapIdx >= 0 {
		heap.Remove(&t.h, c.heapIdx)
	}
}

func (t *timerHeap) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	t.w.stop()
}

type connHeap []*Conn

func (h connHeap) Len() int           { return len(h) }
func (h connHeap) Less(i, j int) bool { return h[i].heapAt < h[j].heapAt }
func (h connHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *connHeap) Push(x any) {
	c := x.(*Conn)
	c.heapIdx = len(*h)
	*h = append(*h, c)
}
func (h *connHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	c.heapIdx = -1
	*h = old[:len(old)-1]
	return c
}
