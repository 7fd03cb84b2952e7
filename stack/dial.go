package stack

import (
	"context"
	"net"
	"net/netip"
	"syscall"

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

// Open starts an active OPEN to remote without waiting: the connection is
// in SYN-SENT when it returns.
func (s *Stack) Open(remote netip.AddrPort) (*Conn, error) {
	ra := remote.Addr()
	if martian(ra) || remote.Port() == 0 {
		// MUST-46: no OPEN to a broadcast, multicast or unspecified address.
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: syscall.EADDRNOTAVAIL}
	}
	local, ok := s.localFor(ra)
	if !ok {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: syscall.ENETUNREACH}
	}
	return s.open(local, 0, remote)
}

// OpenFrom is Open from a chosen local port, as two peers that each open
// to the other's known port do for a simultaneous open (RFC 9293 3.5).
func (s *Stack) OpenFrom(localPort uint16, remote netip.AddrPort) (*Conn, error) {
	local, ok := s.localFor(remote.Addr())
	if !ok || martian(remote.Addr()) || localPort == 0 {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: syscall.EADDRNOTAVAIL}
	}
	return s.open(local, localPort, remote)
}

func (s *Stack) open(local netip.Addr, port uint16, remote netip.AddrPort) (*Conn, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: tcpAddr(remote), Err: net.ErrClosed}
	}
	ok := true
	if port == 0 {
		port, ok = s.pickPort(local, remote)
	} else if s.conns[tuple{netip.AddrPortFrom(local, port), remote}] != nil {
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
	c := s.newConn(id, nil)
	s.conns[id] = c
	s.mu.Unlock()
	c.mu.Lock()
	now := s.clk.Now()
	c.tcb.OpenActive(now, s.isn(id, now))
	c.afterLocked(now)
	c.mu.Unlock()
	return c, nil
}
