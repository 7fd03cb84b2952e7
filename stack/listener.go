package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// Listener is a passive OPEN on an address (RFC 9293 3.10.1): each SYN
// makes a connection in SYN-RECEIVED that Accept returns once ESTABLISHED.
//
// As in Linux, the backlog bounds two queues: connections handshaking (the
// SYN queue) and connections ESTABLISHED but not yet accepted (the accept
// queue). A SYN that finds the SYN queue full is answered with a SYN
// cookie (syncookie.go) unless cookies are off; one that finds the accept
// queue full is dropped (the peer retransmits it).
type Listener struct {
	s       *Stack
	addr    netip.AddrPort
	backlog int
	cookies bool

	cookieAt atomic.Int64 // 1 + when a cookie last went out (0: never)

	// mu guards queue, pending and closed; OnEvent runs under it for the
	// listener's own CLOSED -> LISTEN and LISTEN -> CLOSED. It is taken
	// under Conn.mu (a child's handshake ends), and Stack.mu is taken under
	// it: never hold Stack.mu and then take it.
	mu      sync.Mutex
	queue   []*Conn // ESTABLISHED, not yet accepted
	pending int     // handshaking (SYN-RECEIVED)
	closed  bool
	notify  chan struct{}               // set at creation: a token per wake-up of Accept
	done    chan struct{}               // set at creation: closed by Close
	opts    atomic.Pointer[ConnOptions] // SetConnOptions
}

// ListenConfig holds one listener's options, as package net's does.
type ListenConfig struct {
	// Backlog bounds the SYN queue and the accept queue each (default
	// Config.Backlog: 4096, as Linux's somaxconn, which net.Listen uses).
	Backlog int
	// NoSynCookies drops SYNs that find the SYN queue full instead of
	// answering them with SYN cookies (as tcp_syncookies=0).
	NoSynCookies bool
}

// Listen announces on address ("10.0.0.2:80", ":80", "[fd00::2]:0").
// network is "tcp", "tcp4" or "tcp6".
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	l, err := s.ListenTCP(network, address)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// ListenTCP is Listen returning the concrete type.
func (s *Stack) ListenTCP(network, address string) (*Listener, error) {
	return s.ListenWith(ListenConfig{}, network, address)
}

// ListenWith is ListenTCP with a listener's own options.
func (s *Stack) ListenWith(lc ListenConfig, network, address string) (*Listener, error) {
	ap, err := parseAddr(network, address, true)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	if ap.Addr().IsValid() && !ap.Addr().IsUnspecified() && !s.isLocal(ap.Addr()) {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: tcpAddr(ap), Err: syscall.EADDRNOTAVAIL}
	}
	l := &Listener{s: s, backlog: lc.Backlog, cookies: !lc.NoSynCookies, notify: make(chan struct{}, 1), done: make(chan struct{})}
	if l.backlog <= 0 {
		l.backlog = s.cfg.Backlog
	}
	// A SYN may find the listener as soon as Stack.mu is released; l.mu,
	// held until the event is out, keeps its child's events after LISTEN.
	l.mu.Lock()
	defer l.mu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.ErrClosed}
	}
	if ap.Port() == 0 {
		p, ok := s.freeListenPort(ap.Addr())
		if !ok {
			s.mu.Unlock()
			return nil, &net.OpError{Op: "listen", Net: network, Err: syscall.EADDRINUSE}
		}
		ap = netip.AddrPortFrom(ap.Addr(), p)
	}
	if s.listenConflict(ap) {
		s.mu.Unlock()
		return nil, &net.OpError{Op: "listen", Net: network, Addr: tcpAddr(ap), Err: syscall.EADDRINUSE}
	}
	l.addr = ap
	s.listeners[ap] = l
	s.mu.Unlock()
	s.emit(tuple{local: ap}, tcp.Closed, tcp.Listen, tcp.CauseOpenPassive)
	return l, nil
}

// listenConflict reports whether a listener already covers ap's port on
// an overlapping address.
func (s *Stack) listenConflict(ap netip.AddrPort) bool {
	for k := range s.listeners {
		if k.Port() == ap.Port() && (k.Addr() == ap.Addr() || wildcard(k.Addr()) || wildcard(ap.Addr())) {
			return true
		}
	}
	return false
}

func wildcard(a netip.Addr) bool { return !a.IsValid() || a.IsUnspecified() }

func (s *Stack) freeListenPort(a netip.Addr) (uint16, bool) {
	for i := uint32(0); i <= uint32(s.cfg.PortMax-s.cfg.PortMin); i++ {
		p := s.cfg.PortMin + uint16((s.nextPort+i)%(uint32(s.cfg.PortMax-s.cfg.PortMin)+1))
		if !s.listenConflict(netip.AddrPortFrom(a, p)) {
			s.nextPort += i + 1
			return p, true
		}
	}
	return 0, false
}

// listenerFor finds the listener for a local address: exact, then the
// family's unspecified address, then the any-family wildcard.
func (s *Stack) listenerFor(local netip.AddrPort) *Listener {
	if l := s.listeners[local]; l != nil {
		return l
	}
	if l := s.listeners[netip.AddrPortFrom(unspecified(local.Addr()), local.Port())]; l != nil {
		return l
	}
	return s.listeners[netip.AddrPortFrom(netip.Addr{}, local.Port())]
}

// syn makes a connection for a SYN (3.10.7.2), or answers it with a SYN
// cookie when the SYN queue is full; it drops it when the accept queue is.
func (l *Listener) syn(now timeT, id tuple, h *wire.TCP, payload []byte) {
	l.synAbove(now, id, h, payload, nil)
}

// synAbove is syn with the new connection's ISS at least *floor (a SYN that
// reopens a connection in TIME-WAIT: RFC 9293 3.6.1, MAY-2).
func (l *Listener) synAbove(now timeT, id tuple, h *wire.TCP, payload []byte, floor *seq.Value) {
	if l.s.refuseOverLimit(id, h, payload) {
		return
	}
	l.mu.Lock()
	if l.closed || len(l.queue) >= l.backlog || (l.pending >= l.backlog && !l.cookies) {
		l.mu.Unlock()
		l.s.stats.ListenOverflow.Add(1)
		return
	}
	if l.pending >= l.backlog {
		l.mu.Unlock()
		l.sendCookie(now, id, h)
		return
	}
	l.pending++
	l.mu.Unlock()
	s := l.s
	c := s.newConn(id, l)
	s.mu.Lock()
	if s.conns[id] != nil || s.closed {
		s.mu.Unlock()
		l.forget(c)
		return
	}
	s.conns[id] = c
	s.mu.Unlock()
	c.mu.Lock()
	c.tcb.OpenPassive(s.isnAbove(id, now, floor))
	c.tcb.Input(now, h, payload)
	c.flushLocked(now)
	c.mu.Unlock()
}

// established moves a child to the accept queue (with its lock held).
func (l *Listener) established(c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending--
	if l.closed {
		c.l = nil
		c.abortSoon = true
		return
	}
	l.queue = append(l.queue, c)
	notify(l.notify)
}

// forget drops a child that died before Accept.
func (l *Listener) forget(c *Conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.l = nil
	if i := slices.Index(l.queue, c); i >= 0 {
		l.queue = slices.Delete(l.queue, i, i+1)
		return
	}
	l.pending--
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) { return l.AcceptContext(context.Background()) }

// AcceptConn is Accept returning the concrete type.
func (l *Listener) AcceptConn() (*Conn, error) {
	c, err := l.AcceptContext(context.Background())
	if err != nil {
		return nil, err
	}
	return c.(*Conn), nil
}

// AcceptContext waits for a connection or for ctx to end.
func (l *Listener) AcceptContext(ctx context.Context) (net.Conn, error) {
	for {
		if c, err := l.TryAccept(); c != nil || err != nil {
			if err != nil {
				return nil, err
			}
			return c, nil
		}
		select {
		case <-l.notify:
		case <-l.done:
		case <-ctx.Done():
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: tcpAddr(l.addr), Err: ctx.Err()}
		}
	}
}

// TryAccept returns an established connection if one waits, without
// blocking.
func (l *Listener) TryAccept() (*Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: tcpAddr(l.addr), Err: net.ErrClosed}
	}
	if len(l.queue) == 0 {
		return nil, nil
	}
	c := l.queue[0]
	l.queue = slices.Delete(l.queue, 0, 1)
	if len(l.queue) > 0 {
		notify(l.notify)
	}
	return c, nil
}

// Close implements net.Listener: connections not yet accepted are reset.
func (l *Listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return &net.OpError{Op: "close", Net: "tcp", Addr: tcpAddr(l.addr), Err: net.ErrClosed}
	}
	l.closed = true
	q := l.queue
	l.queue = nil
	close(l.done)
	l.s.mu.Lock()
	if l.s.listeners[l.addr] == l {
		delete(l.s.listeners, l.addr)
	}
	l.s.mu.Unlock()
	l.s.emit(tuple{local: l.addr}, tcp.Listen, tcp.Closed, tcp.CauseClose)
	l.mu.Unlock()
	for _, c := range q {
		c.mu.Lock()
		c.l = nil
		c.mu.Unlock()
		c.Abort()
	}
	return nil
}

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return tcpAddr(l.addr) }

// AddrPort returns the listening address.
func (l *Listener) AddrPort() netip.AddrPort { return l.addr }

// errBadAddress is wrapped for an address that does not parse.
var errBadAddress = errors.New("invalid address")

// parseAddr parses "ip:port" (an IP literal; "" or an empty host only
// where wildcard is allowed) for network tcp, tcp4 or tcp6.
func parseAddr(network, address string, wildcardOK bool) (netip.AddrPort, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return netip.AddrPort{}, net.UnknownNetworkError(network)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, &net.AddrError{Err: err.Error(), Addr: address}
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, &net.AddrError{Err: "invalid port", Addr: address}
	}
	var a netip.Addr
	switch {
	case host == "" && wildcardOK:
		switch network {
		case "tcp4":
			a = netip.IPv4Unspecified()
		case "tcp6":
			a = netip.IPv6Unspecified()
		}
	case host == "localhost":
		return netip.AddrPort{}, &net.AddrError{Err: "synack resolves no names; use an IP literal", Addr: address}
	default:
		a, err = netip.ParseAddr(host)
		if err != nil {
			return netip.AddrPort{}, &net.AddrError{Err: fmt.Sprintf("%v: not an IP literal", errBadAddress), Addr: address}
		}
		a = a.Unmap()
		if (network == "tcp4" && !a.Is4()) || (network == "tcp6" && a.Is4()) {
			return netip.AddrPort{}, &net.AddrError{Err: "address family does not match network", Addr: address}
		}
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}
