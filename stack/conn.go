package stack

import (
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// Conn is one TCP connection. It implements net.Conn (blocking, with
// deadlines) and offers non-blocking Try* calls for event-driven callers
// such as the deterministic simulation.
type Conn struct {
	s  *Stack
	id tuple

	// mu guards the TCB and everything below down to schedAt. Every user
	// call, every run of inbound segments and every timer expiry holds it
	// for its whole operation, packets sent to the link included. Under it
	// the code takes, as leaves, Listener.mu (a child's handshake ends),
	// Stack.mu (a closed connection leaves the demux), the timer heap's
	// lock and the deadline locks; OnEvent runs under it.
	mu          sync.Mutex
	tcb         *tcp.TCB
	b           *batch    // outbound packets of the current operation
	l           *Listener // listener until accepted
	gone        bool      // removed from the demux (CLOSED)
	userClosed  bool      // Close called
	abortSoon   bool      // established after its listener closed
	readWait    bool
	writeWait   bool
	orphan      bool            // on the stack's orphan list (written under its lock too)
	lingerAbort bool            // SetLinger(0): Close resets
	readShut    bool            // CloseRead: Read returns EOF once drained
	ip          link.PacketInfo // the IP header fields of our packets (ipopts.go); ECN is per segment
	rd, wr      chan struct{}   // wake-ups for blocked Read / Write / Dial
	urg         chan struct{}   // urgent pointer advanced (Urgent)
	tw          *twEntry        // the TIME-WAIT record that replaced the TCB in the demux
	schedAt     time.Duration   // deadline registered with the timer heap (0: none)

	heapIdx int           // guarded by the timer heap's lock
	heapAt  time.Duration // guarded by the timer heap's lock

	rdl, wdl deadline // each guarded by its own lock
}

func (s *Stack) newConn(id tuple, l *Listener) *Conn {
	var o *ConnOptions
	if l != nil {
		o = l.opts.Load()
	}
	return s.newConnWith(id, l, o)
}

func (s *Stack) newConnWith(id tuple, l *Listener, o *ConnOptions) *Conn {
	c := &Conn{s: s, id: id, l: l, heapIdx: -1, ip: ipDefaults(id.local.Addr())}
	cfg := s.tcpConfig(!id.local.Addr().Is4())
	o.apply(&cfg)
	cfg.MSS = s.pmtuMSS(cfg.MSS, id.remote.Addr())
	cfg.TSOffset = s.keyedHash('t', id.local, id.remote, true) // RFC 7323 7.1
	c.tcb = tcp.New(cfg, c, c.onChange)
	return c
}

// Scratch implements tcp.Sender: the TCB builds its segments in the
// operation's batch.
func (c *Conn) Scratch() *wire.TCP {
	if c.b == nil {
		c.b = c.s.getBatch()
	}
	return &c.b.hdr
}

// SendSegment implements tcp.Sender.
func (c *Conn) SendSegment(h *wire.TCP, p1, p2 []byte) {
	if c.b == nil {
		c.b = c.s.getBatch()
	}
	info := c.ip
	if c.tcb.SegmentECT() { // RFC 3168 6.1.1: new data on an ECN connection
		info.ECN = ecnECT0
	}
	c.s.offload(&info, c.id, len(p1)+len(p2), c.tcb.SendMSS())
	if !c.b.add(c.id, h, p1, p2, info) {
		c.b.write(c.s)
		c.b.add(c.id, h, p1, p2, info)
	}
}

// onChange sees every transition of the TCB (with c.mu held).
func (c *Conn) onChange(from, to tcp.State, cause tcp.Cause) {
	if from == tcp.Closed && to == tcp.Listen {
		return // a listener's child starts here; the Listener reported LISTEN
	}
	c.s.emit(c.id, from, to, cause)
	switch {
	case to == tcp.Established && c.l != nil:
		c.l.established(c)
	case to == tcp.Closed || to == tcp.Listen: // a child back in LISTEN is done too
		c.s.remove(c)
		c.s.timers.remove(c) // not kept alive until an old deadline
		c.s.dropOrphan(c)
		if c.l != nil {
			c.l.forget(c)
		}
		c.gone = true
	}
	c.signal(true)
}

func (s *Stack) remove(c *Conn) {
	s.mu.Lock()
	if s.conns[c.id] == c {
		delete(s.conns, c.id)
	}
	s.mu.Unlock()
}

// flushLocked sends what the TCB owes after a batch of input.
func (c *Conn) flushLocked(now time.Duration) {
	c.tcb.Flush(now)
	c.afterLocked(now)
}

// afterLocked ends every operation: send the batch, wake waiters, move the
// timer.
func (c *Conn) afterLocked(now time.Duration) {
	if c.abortSoon && !c.gone {
		c.abortSoon = false
		c.tcb.Abort(now)
	}
	if c.b != nil {
		c.s.sendBatch(c.b)
		c.b = nil
	}
	if c.tw == nil && !c.gone && c.tcb.State() == tcp.TimeWait {
		c.s.enterTimeWait(c) // a record replaces the TCB once the operation is done
	}
	if c.tw != nil && c.tcb.State() == tcp.Closed {
		c.s.tw.end(c.tw, tcp.CauseAbort) // ABORT in TIME-WAIT deletes it (3.10.5)
	}
	c.signal(false)
	c.notifyUrgent()
	if !c.gone {
		at, ok := c.tcb.NextDeadline()
		c.s.timers.update(c, at, ok)
	}
}

// signal wakes blocked callers; they re-check under the lock.
func (c *Conn) signal(always bool) {
	if c.readWait && (always || c.tcb.Readable()) {
		notify(c.rd)
	}
	if c.writeWait && (always || c.tcb.SendSpace() > 0) {
		notify(c.wr)
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func waitChan(ch *chan struct{}) chan struct{} {
	if *ch == nil {
		*ch = make(chan struct{}, 1)
	}
	return *ch
}

// State returns the connection's state.
func (c *Conn) State() tcp.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stateLocked()
}

func (c *Conn) stateLocked() tcp.State {
	if c.tw != nil {
		return c.s.tw.state(c.tw)
	}
	return c.tcb.State()
}

// Status returns the TCB's STATUS (RFC 9293 3.10.6).
func (c *Conn) Status() tcp.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.tcb.Status()
	st.State = c.stateLocked()
	return st
}

// TryRead reads without blocking: (0, nil) means nothing yet; io.EOF after
// the peer's FIN.
func (c *Conn) TryRead(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readLocked(b)
}

func (c *Conn) readLocked(b []byte) (int, error) {
	if c.userClosed {
		return 0, c.opErr("read", net.ErrClosed)
	}
	if c.readShutEOF() {
		return 0, io.EOF
	}
	now := c.s.clk.Now()
	n, err := c.tcb.Receive(now, b)
	c.afterLocked(now)
	switch {
	case err == tcp.ErrEOF:
		return n, io.EOF
	case err != nil:
		return n, c.opErr("read", mapErr(err))
	}
	return n, nil
}

// TryWrite writes what the send buffer takes now, without blocking.
func (c *Conn) TryWrite(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeLocked(b, false)
}

// writeLocked is one SEND call, with the URGENT flag when urgent.
func (c *Conn) writeLocked(b []byte, urgent bool) (int, error) {
	if c.userClosed {
		return 0, c.opErr("write", net.ErrClosed)
	}
	now := c.s.clk.Now()
	var n int
	var err error
	if urgent {
		n, err = c.tcb.SendUrgent(now, b)
	} else {
		n, err = c.tcb.Send(now, b)
	}
	c.afterLocked(now)
	if err != nil {
		return n, c.opErr("write", mapErr(err))
	}
	return n, nil
}

// Read implements net.Conn.
func (c *Conn) Read(b []byte) (int, error) {
	for {
		c.mu.Lock()
		n, err := c.readLocked(b)
		if n > 0 || err != nil || len(b) == 0 {
			c.mu.Unlock()
			return n, err
		}
		if c.rdl.expired() {
			c.mu.Unlock()
			return 0, c.opErr("read", os.ErrDeadlineExceeded)
		}
		c.readWait = true
		ch := waitChan(&c.rd)
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.rdl.wait():
		}
		c.mu.Lock()
		c.readWait = false
		c.mu.Unlock()
	}
}

// Write implements net.Conn: it returns when all of b is in the send
// buffer, or on error.
func (c *Conn) Write(b []byte) (int, error) { return c.write(b, false) }

// write is Write, and WriteUrgent with urgent set.
func (c *Conn) write(b []byte, urgent bool) (int, error) {
	done := 0
	for {
		c.mu.Lock()
		if c.wdl.expired() {
			c.mu.Unlock()
			return done, c.opErr("write", os.ErrDeadlineExceeded)
		}
		n, err := c.writeLocked(b[done:], urgent)
		done += n
		if err != nil || done == len(b) {
			c.mu.Unlock()
			return done, err
		}
		if n > 0 {
			c.mu.Unlock()
			continue
		}
		c.writeWait = true
		ch := waitChan(&c.wr)
		c.mu.Unlock()
		select {
		case <-ch:
		case <-c.wdl.wait():
		}
		c.mu.Lock()
		c.writeWait = false
		c.mu.Unlock()
	}
}

// Close implements net.Conn: a full close. Our FIN follows the data
// already written; unread data resets the connection (SHLD-3).
func (c *Conn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.userClosed {
		return c.opErr("close", net.ErrClosed)
	}
	c.userClosed = true
	now := c.s.clk.Now()
	if c.lingerAbort {
		c.tcb.Abort(now)
	} else if !c.tcb.CloseRead(now) {
		c.tcb.Close(now)
	}
	c.afterLocked(now)
	c.signal(true)
	if !c.gone {
		c.s.addOrphan(c)
		c.mu.Unlock()
		c.s.trimOrphans()
		c.mu.Lock()
	}
	return nil
}

// CloseWrite shuts down the sending side (a half-close): the peer reads
// EOF, and this side may go on reading.
func (c *Conn) CloseWrite() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.userClosed {
		return c.opErr("close", net.ErrClosed)
	}
	now := c.s.clk.Now()
	err := c.tcb.Close(now)
	c.afterLocked(now)
	if err != nil {
		return c.opErr("close", mapErr(err))
	}
	return nil
}

// Abort resets the connection (RFC 9293 ABORT).
func (c *Conn) Abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.s.clk.Now()
	c.tcb.Abort(now)
	c.afterLocked(now)
}

// LocalAddr implements net.Conn.
func (c *Conn) LocalAddr() net.Addr { return tcpAddr(c.id.local) }

// RemoteAddr implements net.Conn.
func (c *Conn) RemoteAddr() net.Addr { return tcpAddr(c.id.remote) }

// LocalAddrPort and RemoteAddrPort return the 4-tuple.
func (c *Conn) LocalAddrPort() netip.AddrPort  { return c.id.local }
func (c *Conn) RemoteAddrPort() netip.AddrPort { return c.id.remote }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.rdl.set(t)
	c.wdl.set(t)
	return nil
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error { c.rdl.set(t); return nil }

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error { c.wdl.set(t); return nil }

func tcpAddr(a netip.AddrPort) *net.TCPAddr { return net.TCPAddrFromAddrPort(a) }

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: tcpAddr(c.id.local), Addr: tcpAddr(c.id.remote), Err: err}
}

// CheckInvariants reports a broken TCB invariant (SND.UNA <= SND.NXT,
// buffer accounting, a timer armed while data is unacknowledged...), for
// simulations and fuzzers that check after every event.
func (c *Conn) CheckInvariants() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.CheckInvariants()
}

// SetCongestionControl picks the connection's congestion controller
// ("cubic", the default, or "newreno"); the stack-wide default is
// Config.TCP.CongestionControl.
func (c *Conn) SetCongestionControl(name string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.SetCongestion(c.s.clk.Now(), name)
}

// SetNoDelay turns Nagle's algorithm off (true, the default, as in package
// net) or on (RFC 9293 3.7.4, MUST-17).
func (c *Conn) SetNoDelay(noDelay bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.s.clk.Now()
	c.tcb.SetNoDelay(now, noDelay)
	c.afterLocked(now)
	return nil
}

// SetKeepAlive turns keep-alive probes on or off (MUST-24; off by default,
// MUST-25), as net.TCPConn.SetKeepAlive does.
func (c *Conn) SetKeepAlive(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.s.clk.Now()
	c.tcb.SetKeepAlive(now, on, 0)
	c.afterLocked(now)
	return nil
}

// SetKeepAlivePeriod sets the idle time before the first probe and the
// interval between probes, as net.TCPConn.SetKeepAlivePeriod does.
func (c *Conn) SetKeepAlivePeriod(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.s.clk.Now()
	c.tcb.SetKeepAlive(now, c.tcb.KeepAliveOn(), d)
	c.afterLocked(now)
	return nil
}

// SetUserTimeout sets how long transmitted data may stay unacknowledged
// before the connection gives up with ETIMEDOUT (RFC 9293 MUST-21, Linux's
// TCP_USER_TIMEOUT); zero returns to the stack's default (Config.TCP.R2,
// or Config.TCP.UserTimeout when set).
func (c *Conn) SetUserTimeout(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d == 0 {
		d = c.s.cfg.TCP.UserTimeout
	}
	c.tcb.SetUserTimeout(d)
	c.afterLocked(c.s.clk.Now())
	return nil
}

// SetCork holds back partial segments while on (full segments still go);
// turning it off sends what waits.
func (c *Conn) SetCork(on bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.s.clk.Now()
	c.tcb.SetCork(now, on)
	c.afterLocked(now)
	return nil
}

// SetReadBuffer sets the connection's receive buffer, the most the
// window offers, to bytes (at least 4 KiB), as net.TCPConn.SetReadBuffer
// (SO_RCVBUF) does; autotuning no longer grows it. The window scale is
// fixed at the handshake from Config.TCP.RecvBufMax.
func (c *Conn) SetReadBuffer(bytes int) error {
	if bytes < 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.s.clk.Now()
	c.tcb.SetRecvBuffer(now, bytes)
	c.afterLocked(now)
	return nil
}

// SetWriteBuffer sets the connection's send buffer to bytes (at least 4
// KiB), as net.TCPConn.SetWriteBuffer (SO_SNDBUF) does; autotuning no
// longer grows it.
func (c *Conn) SetWriteBuffer(bytes int) error {
	if bytes < 0 {
		return c.opErr("set", syscall.EINVAL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tcb.SetSendBuffer(bytes)
	c.afterLocked(c.s.clk.Now())
	return nil
}
