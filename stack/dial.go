package stack

import (
	"context"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/synack-tcp/synack/tcp"
)

// DialContext opens a connection (active OPEN) and waits until it is
// ESTABLISHED, refused, timed out, or ctx ends. Its signature matches
// net.Dialer.DialContext, so http.Transport, gRPC and crypto/tls can use
// it unchanged.
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := s.DialTCP(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Dial is DialContext with a background context.
func (s *Stack) Dial(network, address string) (net.Conn, error) {
	return s.DialContext(context.Background(), network, address)
}

// DialTCP is DialContext returning the concrete type.
func (s *Stack) DialTCP(ctx context.Context, network, address string) (*Conn, error) {
	ap, err := parseAddr(network, address, false)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	c, err := s.Open(ap)
	if err != nil {
		return nil, err
	}
	return c.waitOpen(ctx)
}

// waitOpen waits until an active OPEN is ESTABLISHED, refused, timed out,
// or ctx ends (which aborts it).
func (c *Conn) waitOpen(ctx context.Context) (*Conn, error) {
	for {
		c.mu.Lock()
		st, terr := c.tcb.State(), c.tcb.Err()
		if st >= tcp.Established { // or any later state
			c.mu.Unlock()
			return c, nil
		}
		if st == tcp.Closed {
			c.mu.Unlock()
			return nil, c.opErr("dial", mapErr(terr))
		}
		c.writeWait = true
		ch := waitChan(&c.wr)
		c.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			c.Abort()
			return nil, c.opErr("dial", ctx.Err())
		}
	}
}

// Dialer opens connections with options, shaped like net.Dialer:
//
//	d := stack.Dialer{Stack: s, LocalAddr: &net.TCPAddr{IP: net.ParseIP("10.0.0.3")}}
//	c, err := d.DialContext(ctx, "tcp", "10.0.0.2:80")
type Dialer struct {
	Stack *Stack
	// LocalAddr is the local address of the active OPEN (RFC 9293
	// 3.9.1.1, MUST-43), a *net.TCPAddr: its IP must be one of the
	// stack's addresses (or unspecified: the stack picks one of the
	// remote's family, MUST-44); port 0 picks an ephemeral port. The
	// connection keeps that address throughout (MUST-45).
	LocalAddr net.Addr
	// Timeout, if set, bounds the handshake as a context deadline would.
	Timeout time.Duration
}

// DialContext opens a connection as Stack.DialContext does, from
// d.LocalAddr. Its signature matches net.Dialer.DialContext.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	c, err := d.DialTCP(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Dial is DialContext with a background context.
func (d *Dialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

// DialTCP is DialContext returning the concrete type.
func (d *Dialer) DialTCP(ctx context.Context, network, address string) (*Conn, error) {
	ap, err := parseAddr(network, address, false)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var local netip.AddrPort
	if d.LocalAddr != nil {
		ta, ok := d.LocalAddr.(*net.TCPAddr)
		if !ok {
			return nil, &net.OpError{Op: "dial", Net: network, Source: d.LocalAddr, Addr: tcpAddr(ap), Err: &net.AddrError{Err: "local address is not a *net.TCPAddr", Addr: d.LocalAddr.String()}}
		}
		local = ta.AddrPort()
		local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel()
	}
	c, err := d.Stack.OpenLocal(local, ap)
	if err != nil {
		return nil, err
	}
	return c.waitOpen(ctx)
}

// Open starts an active OPEN to remote without waiting: the connection is
// in SYN-SENT when it returns.
func (s *Stack) Open(remote netip.AddrPort) (*Conn, error) {
	return s.OpenLocal(netip.AddrPort{}, remote)
}

// OpenFrom is Open from a chosen local port, as two peers that each open
// to the other's known port do for a simultaneous open (RFC 9293 3.5).
func (s *Stack) OpenFrom(localPort uint16, remote netip.AddrPort) (*Conn, error) {
	if localPort == 0 {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: syscall.EADDRNOTAVAIL}
	}
	return s.OpenLocal(netip.AddrPortFrom(netip.Addr{}, localPort), remote)
}

// OpenLocal is Open from local (MUST-43): an address of the stack, or an
// invalid or unspecified one for the stack to pick by the remote's family
// (MUST-44); port 0 for an ephemeral port.
func (s *Stack) OpenLocal(local, remote netip.AddrPort) (*Conn, error) {
	ra := remote.Addr()
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: err}
	}
	if martian(ra) || remote.Port() == 0 {
		// MUST-46: no OPEN to a broadcast, multicast or unspecified address.
		return nil, opErr(syscall.EADDRNOTAVAIL)
	}
	la := local.Addr()
	switch {
	case !la.IsValid() || la.IsUnspecified():
		var ok bool
		if la, ok = s.localFor(ra); !ok {
			return nil, opErr(syscall.ENETUNREACH)
		}
	case !s.isLocal(la) || la.Is4() != ra.Is4():
		return nil, opErr(syscall.EADDRNOTAVAIL) // as bind(2) says for an address not ours
	}
	return s.open(la, local.Port(), remote)
}

func (s *Stack) open(local netip.Addr, port uint16, remote netip.AddrPort) (*Conn, error) {
	return s.openWith(local, port, remote, nil)
}

// openWith is open with per-connection options in force from the SYN.
func (s *Stack) openWith(local netip.Addr, port uint16, remote netip.AddrPort, o *ConnOptions) (*Conn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: net.ErrClosed}
	}
	ok := true
	if port == 0 {
		port, ok = s.pickPort(local, remote)
	} else if id := (tuple{netip.AddrPortFrom(local, port), remote}); s.conns[id] != nil || s.tw.has(id) {
		ok = false
	}
	if !ok {
		s.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: syscall.EADDRINUSE}
	}
	id := tuple{netip.AddrPortFrom(local, port), remote}
	if err := s.dialOverLimit(id); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	c := s.newConnWith(id, nil, o)
	s.conns[id] = c
	s.mu.Unlock()
	c.mu.Lock()
	now := s.clk.Now()
	c.tcb.OpenActive(now, s.isn(id, now))
	c.afterLocked(now)
	c.mu.Unlock()
	return c, nil
}
