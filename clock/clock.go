// Package clock is how time enters synack. Time is a time.Duration since the
// clock's epoch (monotonic). Real follows the wall clock; Virtual only moves
// when told to, so simulations and tests run in microseconds and replay
// exactly.
//
// It is a package of its own, below both stack and link, because link/sim
// schedules packet deliveries on the same clock the stack's timers use
// (docs/DESIGN.md, "How time enters").
package clock

import (
	"container/heap"
	"sync"
	"time"
)

// Clock is a source of time and of one-shot timers.
type Clock interface {
	// Now is the time since the clock's epoch.
	Now() time.Duration
	// AfterFunc calls f once, d from now, in a goroutine of the clock's
	// choosing (Virtual: the goroutine that advances it).
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a one-shot timer made by AfterFunc.
type Timer interface {
	// Stop cancels the timer; it reports whether it was pending.
	Stop() bool
	// Reset re-arms the timer d from now; it reports whether it was pending.
	Reset(d time.Duration) bool
}

// Real is the wall clock.
type Real struct{ epoch time.Time }

// NewReal returns a wall clock whose epoch is now.
func NewReal() *Real { return &Real{epoch: time.Now()} }

// Now implements Clock.
func (r *Real) Now() time.Duration { return time.Since(r.epoch) }

// AfterFunc implements Clock.
func (r *Real) AfterFunc(d time.Duration, f func()) Timer { return realTimer{time.AfterFunc(d, f)} }

type realTimer struct{ t *time.Timer }

func (t realTimer) Stop() bool                 { return t.t.Stop() }
func (t realTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

// Virtual is a clock that moves only when advanced. Events due at the same
// instant run in the order they were scheduled, so a run is deterministic.
// It is safe for concurrent use, but callbacks run in the advancing goroutine.
type Virtual struct {
	mu  sync.Mutex
	now time.Duration
	q   eventQueue
	seq uint64
}

// NewVirtual returns a virtual clock at time zero.
func NewVirtual() *Virtual { return &Virtual{} }

// Now implements Clock.
func (v *Virtual) Now() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// AfterFunc implements Clock.
func (v *Virtual) AfterFunc(d time.Duration, f func()) Timer {
	t := &vtimer{v: v, f: f, index: -1}
	v.mu.Lock()
	v.schedule(t, d)
	v.mu.Unlock()
	return t
}

// At schedules f at absolute time at (or now, if at has passed).
func (v *Virtual) At(at time.Duration, f func()) Timer {
	v.mu.Lock()
	defer v.mu.Unlock()
	t := &vtimer{v: v, f: f, index: -1}
	v.schedule(t, at-v.now)
	return t
}

func (v *Virtual) schedule(t *vtimer, d time.Duration) {
	if d < 0 {
		d = 0
	}
	t.when = v.now + d
	v.seq++
	t.seq = v.seq
	if t.index >= 0 {
		heap.Fix(&v.q, t.index)
	} else {
		heap.Push(&v.q, t)
	}
}

// Next reports when the earliest pending event is due.
func (v *Virtual) Next() (time.Duration, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.q) == 0 {
		return 0, false
	}
	return v.q[0].when, true
}

// Step advances to the earliest pending event and runs it. It reports false
// when nothing is pending.
func (v *Virtual) Step() bool {
	v.mu.Lock()
	if len(v.q) == 0 {
		v.mu.Unlock()
		return false
	}
	t := heap.Pop(&v.q).(*vtimer)
	if t.when > v.now {
		v.now = t.when
	}
	v.mu.Unlock()
	t.f()
	return true
}

// RunUntil runs every event due at or before at, in order, then sets the
// clock to at (if it is later than now).
func (v *Virtual) RunUntil(at time.Duration) {
	for {
		when, ok := v.Next()
		if !ok || when > at {
			break
		}
		v.Step()
	}
	v.mu.Lock()
	if at > v.now {
		v.now = at
	}
	v.mu.Unlock()
}

// Advance runs every event due in the next d and moves the clock by d.
func (v *Virtual) Advance(d time.Duration) { v.RunUntil(v.Now() + d) }

// RunWhile steps events while cond holds and virtual time stays at or
// before limit. It reports whether cond became false.
func (v *Virtual) RunWhile(cond func() bool, limit time.Duration) bool {
	for cond() {
		when, ok := v.Next()
		if !ok || when > limit {
			return false
		}
		v.Step()
	}
	return true
}

type vtimer struct {
	v     *Virtual
	f     func()
	when  time.Duration
	seq   uint64
	index int
}

func (t *vtimer) Stop() bool {
	t.v.mu.Lock()
	defer t.v.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.v.q, t.index)
	return true
}

func (t *vtimer) Reset(d time.Duration) bool {
	t.v.mu.Lock()
	defer t.v.mu.Unlock()
	pending := t.index >= 0
	t.v.schedule(t, d)
	return pending
}

type eventQueue []*vtimer

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].when != q[j].when {
		return q[i].when < q[j].when
	}
	return q[i].seq < q[j].seq
}
func (q eventQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}
func (q *eventQueue) Push(x any) {
	t := x.(*vtimer)
	t.index = len(*q)
	*q = append(*q, t)
}
func (q *eventQueue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*q = old[:len(old)-1]
	return t
}
