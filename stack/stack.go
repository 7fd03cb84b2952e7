// Package stack joins TCBs to a link: the IP layer (IPv4 and IPv6, TCP
// only), the 4-tuple demux, listeners with a backlog, ISNs (RFC 6528) and
// ephemeral ports (RFC 6056), the timers that drive each TCB's
// NextDeadline, transition events, and the blocking net.Conn and
// net.Listener adapters.
//
// An inbound packet is processed to completion in the goroutine that
// delivers it: parse, demux, update the TCB under the connection's lock,
// emit what it allows, wake a blocked reader.
package stack

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// Config describes a stack. Zero fields take defaults.
type Config struct {
	// Addrs are the stack's own IP addresses (at least one).
	Addrs []netip.Addr
	// Clock drives protocol time; default a real clock.
	Clock clock.Clock
	// TCP holds connection defaults; MSS and DefaultSendMSS are derived
	// from the link MTU and address family when zero.
	TCP tcp.Config
	// Backlog bounds connections per listener that are handshaking or
	// waiting for Accept (default 128).
	Backlog int
	// Secret keys the ISN and port hashes; default 32 bytes from
	// crypto/rand. Set it for a run that replays exactly.
	Secret []byte
	// PortMin and PortMax bound ephemeral ports (default 1024-65535,
	// RFC 6056 3.2: the widest range, since TIME-WAIT holds a port 2*MSL).
	PortMin, PortMax uint16
	// NoWindowScale, NoTimestamps and NoSACK turn off options synack
	// otherwise offers on every SYN (RFC 7323, RFC 2018).
	NoWindowScale, NoTimestamps, NoSACK bool
	// Nagle turns Nagle's algorithm on for new connections; like package
	// net, synack sends small writes at once by default (TCP_NODELAY).
	Nagle bool
	// ECN turns on Explicit Congestion Notification (RFC 3168): SYNs ask
	// for it, SYN,ACKs grant it, and new data goes out ECN-capable. Off by
	// default, as Linux leaves it off for the connections it opens (Linux
	// does grant it to peers that ask; synack, off, does neither).
	// Config.TCP.ECN turns it on as well.
	ECN bool
	// OnEvent, if set, sees every state transition of every connection.
	// It runs with the connection's lock held: it must not call into the
	// stack.
	OnEvent func(Event)
}

// Event is one state transition of one connection.
type Event struct {
	Time          time.Duration // on the stack's clock
	Local, Remote netip.AddrPort
	From, To      tcp.State
	Cause         tcp.Cause
}

// Stats counts what the stack dropped or answered outside any connection.
type Stats struct {
	PacketsIn      atomic.Uint64
	MalformedIP    atomic.Uint64 // bad IP header, length or version
	MalformedTCP   atomic.Uint64 // bad TCP header or options
	BadChecksum    atomic.Uint64 // TCP checksum failed (MUST-3)
	NotForUs       atomic.Uint64 // destination not one of our addresses, or not TCP
	Martian        atomic.Uint64 // source or destination broadcast/multicast (MUST-57, MUST-63)
	ResetsSent     atomic.Uint64 // replies for segments to no connection (3.10.7.1)
	ListenOverflow atomic.Uint64 // SYNs dropped with the backlog full
}

type tuple struct{ local, remote netip.AddrPort }

// Stack is a userspace TCP/IP stack on one link.
type Stack struct {
	cfg    Config
	clk    clock.Clock
	ep     link.Endpoint
	mtu    int
	secret []byte

	mu        sync.RWMutex
	conns     map[tuple]*Conn
	listeners map[netip.AddrPort]*Listener
	nextPort  uint32
	closed    bool

	timers  timerHeap
	stats   Stats
	isnHook func(tuple) seq.Value // tests: choose ISNs (e.g. near the 2^32 wrap)
	hooks   eventHooks            // AddEventHook's listeners
	out     sync.Pool             // *batch
	gather  link.Gatherer         // ep, when it takes packets in pieces
}

// defaultBuf is the initial send and receive buffer size.
const defaultBuf = 512 << 10

// ErrNoAddress is returned by New without an address.
var ErrNoAddress = errors.New("stack: no local address configured")

// New makes a stack on ep and attaches to it.
func New(ep link.Endpoint, cfg Config) (*Stack, error) {
	if len(cfg.Addrs) == 0 {
		return nil, ErrNoAddress
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.NewReal()
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = 128
	}
	if cfg.PortMin == 0 && cfg.PortMax == 0 {
		cfg.PortMin, cfg.PortMax = 1024, 65535
	}
	if cfg.PortMax < cfg.PortMin {
		return nil, errors.New("stack: PortMax below PortMin")
	}
	if _, err := tcp.NewCongestion(cfg.TCP.CongestionControl); err != nil {
		return nil, err
	}
	if cfg.TCP.SendBuf == 0 {
		cfg.TCP.SendBuf = defaultBuf
	}
	if cfg.TCP.RecvBuf == 0 {
		cfg.TCP.RecvBuf = defaultBuf
	}
	if cfg.TCP.SendBufMax == 0 {
		cfg.TCP.SendBufMax = 4 << 20 // autotuning's ceiling
	}
	if cfg.TCP.RecvBufMax == 0 {
		cfg.TCP.RecvBufMax = 4 << 20
	}
	s := &Stack{
		cfg: cfg, clk: cfg.Clock, ep: ep, mtu: ep.MTU(),
		conns:     make(map[tuple]*Conn),
		listeners: make(map[netip.AddrPort]*Listener),
	}
	s.secret = cfg.Secret
	if len(s.secret) == 0 {
		s.secret = randomSecret()
	}
	s.timers.init(s)
	s.gather, _ = ep.(link.Gatherer)
	s.out.New = func() any { return newBatch(s.mtu, s.gather != nil) }
	ep.Attach(s)
	return s, nil
}

// Clock returns the stack's clock.
func (s *Stack) Clock() clock.Clock { return s.clk }

// Stats returns the stack's counters.
func (s *Stack) Stats() *Stats { return &s.stats }

// Addrs returns the stack's addresses.
func (s *Stack) Addrs() []netip.Addr { return s.cfg.Addrs }

func (s *Stack) isLocal(a netip.Addr) bool {
	for _, l := range s.cfg.Addrs {
		if l == a {
			return true
		}
	}
	return false
}

// localFor picks our address of the same family as remote.
func (s *Stack) localFor(remote netip.Addr) (netip.Addr, bool) {
	for _, l := range s.cfg.Addrs {
		if l.Is4() == remote.Is4() {
			return l, true
		}
	}
	return netip.Addr{}, false
}

// tcpConfig is the per-connection configuration for an address family.
func (s *Stack) tcpConfig(v6 bool) tcp.Config {
	c := s.cfg.TCP
	hdr, def := 40, 536 // MUST-15: 536 for IPv4
	if v6 {
		hdr, def = 60, 1220 // and 1220 for IPv6
	}
	if c.MSS == 0 {
		c.MSS = s.mtu - hdr // MUST-67: MMS_R - 20
	}
	c.MSS = min(c.MSS, s.mtu-hdr)
	if c.DefaultSendMSS == 0 {
		c.DefaultSendMSS = def
	}
	if c.QuickAcks == 0 {
		c.QuickAcks = 16
	}
	// Start with room for at least 32 full segments (a 64 KiB-MTU link
	// needs 2 MiB to keep its pipe full); autotuning grows from there.
	if s.cfg.TCP.RecvBuf == 0 || s.cfg.TCP.RecvBuf == defaultBuf {
		c.RecvBuf = min(max(c.RecvBuf, 32*c.MSS), c.RecvBufMax)
	}
	if s.cfg.TCP.SendBuf == 0 || s.cfg.TCP.SendBuf == defaultBuf {
		c.SendBuf = min(max(c.SendBuf, 32*c.MSS), c.SendBufMax)
	}
	c.NoDelay = !s.cfg.Nagle
	c.WindowScale = !s.cfg.NoWindowScale
	c.Timestamps = !s.cfg.NoTimestamps
	c.SACK = !s.cfg.NoSACK
	c.ECN = c.ECN || s.cfg.ECN
	return c
}

// Close aborts every connection and listener and closes the link.
func (s *Stack) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	ls := make([]*Listener, 0, len(s.listeners))
	for _, l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, c := range conns {
		c.Abort()
	}
	s.timers.stop()
	return s.ep.Close()
}

// NumConns is how many connections the demux holds (any state but CLOSED).
func (s *Stack) NumConns() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.conns)
}

func (s *Stack) emit(id tuple, from, to tcp.State, cause tcp.Cause) {
	if f := s.cfg.OnEvent; f != nil || s.hooks.any() {
		e := Event{Time: s.clk.Now(), Local: id.local, Remote: id.remote, From: from, To: to, Cause: cause}
		if f != nil {
			f(e)
		}
		s.hooks.run(e)
	}
}

func martian(a netip.Addr) bool {
	return !a.IsValid() || a.IsUnspecified() || a.IsMulticast() || (a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}))
}

var _ = wire.ProtoTCP

// Conns returns the connections the demux holds, for inspection.
func (s *Stack) Conns() []*Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cs := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}
