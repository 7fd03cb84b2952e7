package stack

import (
	"sync"
	"time"
)

// deadline is a net.Conn deadline in the manner of net/pipe.go: a channel
// closed when the deadline passes, re-made when it is moved. It is made on
// first use, so a connection without deadlines holds none.
type deadline struct {
	// mu guards timer and cancel. It is a leaf: Read and Write ask
	// expired under Conn.mu; SetDeadline takes no other lock.
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{} // nil until first set; closed when passed
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // wait for the timer callback to finish closing cancel
	}
	d.timer = nil
	closed := d.cancel != nil && isClosed(d.cancel)
	if t.IsZero() {
		if closed || d.cancel == nil {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed || d.cancel == nil {
			d.cancel = make(chan struct{})
		}
		ch := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if d.cancel == nil {
		d.cancel = make(chan struct{})
	}
	if !isClosed(d.cancel) {
		close(d.cancel)
	}
}

// wait returns a channel closed when the deadline passes. It is made here
// if no deadline was ever set, so a deadline set later wakes a waiter.
func (d *deadline) wait() chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil {
		d.cancel = make(chan struct{})
	}
	return d.cancel
}

func (d *deadline) expired() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel != nil && isClosed(d.cancel)
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
