package stack

import (
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/synack-tcp/synack/tcp"
)

// ConnOptions are per-connection settings that must be in place before
// the first SYN or SYN,ACK goes out, as the socket options set before
// connect() or listen() are: the MSS (TCP_MAXSEG), the buffer sizes
// (SO_RCVBUF, SO_SNDBUF: they fix the window and window-scale shift the
// SYN announces) and whether to offer any option at all. Zero fields keep
// the stack's defaults.
type ConnOptions struct {
	// MSS caps the MSS this side advertises and the segments it sends
	// (TCP_MAXSEG); it is never raised above what the link carries.
	MSS int
	// RecvBuf and SendBuf fix the buffer sizes and turn autotuning off
	// for that buffer, as SO_RCVBUF and SO_SNDBUF do.
	RecvBuf, SendBuf int
	// NoOptions offers no window scaling, timestamps or SACK (FreeBSD's
	// TCP_NOOPT); the MSS option is still sent (MUST-14).
	NoOptions bool
	// SynTimeout bounds how long the SYN is retransmitted before the
	// OPEN fails (R2 for a SYN, MUST-23; FreeBSD's TCP_KEEPINIT): it fails
	// that long after the first SYN (tcp.Config.SynTimeout).
	SynTimeout time.Duration
}

func (o *ConnOptions) apply(cfg *tcp.Config) {
	if o == nil {
		return
	}
	if o.MSS > 0 {
		cfg.MSS = min(cfg.MSS, max(o.MSS, 64))
	}
	if o.RecvBuf > 0 {
		cfg.RecvBuf, cfg.RecvBufMax = o.RecvBuf, o.RecvBuf
	}
	if o.SendBuf > 0 {
		cfg.SendBuf, cfg.SendBufMax = o.SendBuf, o.SendBuf
	}
	if o.SynTimeout > 0 {
		cfg.R2Syn, cfg.SynTimeout = o.SynTimeout, o.SynTimeout
	}
	if o.NoOptions {
		cfg.WindowScale, cfg.Timestamps, cfg.SACK = false, false, false
	}
}

// OpenWithOptions is Open with per-connection options in force from the
// first SYN.
func (s *Stack) OpenWithOptions(remote netip.AddrPort, o ConnOptions) (*Conn, error) {
	ra := remote.Addr()
	if martian(ra) || remote.Port() == 0 {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: syscall.EADDRNOTAVAIL}
	}
	local, ok := s.localFor(ra)
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: syscall.ENETUNREACH}
	}
	return s.openWith(local, 0, remote, &o)
}

// SetConnOptions sets the options of the connections this listener
// accepts from now on (those set on a listening socket before the SYN).
func (l *Listener) SetConnOptions(o ConnOptions) { l.opts.Store(&o) }

// SetLinger sets what Close does with data not yet acknowledged, as
// net.TCPConn.SetLinger does: sec < 0 (the default) sends it in the
// background; sec == 0 discards it and resets the connection (RFC 9293
// ABORT); sec > 0 is taken as sec < 0 (synack never blocks Close).
func (c *Conn) SetLinger(sec int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.userClosed {
		return c.opErr("set", net.ErrClosed)
	}
	c.lingerAbort = sec == 0
	return nil
}

// CloseRead shuts down the reading side, as net.TCPConn.CloseRead does
// (shutdown(SHUT_RD)): Read returns what is already buffered, then io.EOF.
// Data the peer sends is still acknowledged (TCP has no way to refuse it);
// a Close with data unread resets the connection (SHLD-3).
func (c *Conn) CloseRead() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.userClosed {
		return c.opErr("close", net.ErrClosed)
	}
	if c.tcb.State() == tcp.Closed && c.tcb.Err() == nil {
		return c.opErr("close", syscall.ENOTCONN)
	}
	c.readShut = true
	c.signal(true)
	return nil
}

// readShutEOF is the Read result after CloseRead with nothing buffered.
func (c *Conn) readShutEOF() bool { return c.readShut && c.tcb.Buffered() == 0 }

// SetKeepAliveConfig sets keep-alive as net.TCPConn.SetKeepAliveConfig
// does: Idle before the first probe (TCP_KEEPIDLE), Interval between
// probes (TCP_KEEPINTVL) and Count unanswered probes before the
// connection is dropped (TCP_KEEPCNT). Zero (or negative) fields keep the
// current value.
func (c *Conn) SetKeepAliveConfig(kc net.KeepAliveConfig) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.s.clk.Now()
	c.tcb.SetKeepAliveProbes(kc.Interval, kc.Count)
	c.tcb.SetKeepAlive(now, kc.Enable, 0)
	c.tcb.SetKeepAliveIdle(now, kc.Idle)
	c.afterLocked(now)
	return nil
}

// KeepAliveConfig reports the keep-alive settings.
func (c *Conn) KeepAliveConfig() net.KeepAliveConfig {
	c.mu.Lock()
	defer c.mu.Unlock()
	idle, intvl, n := c.tcb.KeepAliveParams()
	return net.KeepAliveConfig{Enable: c.tcb.KeepAliveOn(), Idle: idle, Interval: intvl, Count: n}
}

// SetFinWait2Timeout bounds how long the connection, once fully closed,
// waits in FIN-WAIT-2 for the peer's FIN (Linux's TCP_LINGER2).
func (c *Conn) SetFinWait2Timeout(d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.s.clk.Now()
	c.tcb.SetFinWait2Timeout(d)
	c.afterLocked(now)
	return nil
}

// FinWait2Timeout is the connection's FIN-WAIT-2 bound.
func (c *Conn) FinWait2Timeout() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.FinWait2Timeout()
}

// AdvertisedMSS is the MSS this side announces (TCP_MAXSEG before the
// handshake, tcpi_advmss).
func (c *Conn) AdvertisedMSS() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tcb.AdvertisedMSS()
}

// SocketError is why the connection failed (SO_ERROR): a *net.OpError
// wrapping syscall.ECONNRESET, ECONNREFUSED or ETIMEDOUT, or nil while it
// has not failed.
func (c *Conn) SocketError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tcb.State() != tcp.Closed || c.tcb.Err() == nil {
		return nil
	}
	return c.opErr("read", mapErr(c.tcb.Err()))
}
