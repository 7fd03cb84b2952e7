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
	// Backlog is the default of ListenConfig.Backlog: it bounds each
	// listener's connections handshaking and, apart, those waiting for
	// Accept (default 4096, as Linux's somaxconn, which net.Listen uses).
	Backlog int
	// AnswerLimit bounds the ACKs per second, stack-wide, that answer
	// unacceptable segments (challenge ACKs, RFC 5961 7; see tcp's
	// ratelimit.go): each second's budget is drawn at random from
	// [AnswerLimit/2, AnswerLimit*3/2) (default 1000; negative: no limit).
	AnswerLimit int
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
	// GRO turns on the joining of consecutive in-order segments of a
	// connection in one delivered batch before TCP input (gro.go). Off by
	// default: joining costs a copy, which measured as much as it saves.
	GRO bool
	// ECN turns on Explicit Congestion Notification (RFC 3168): SYNs ask
	// for it, SYN,ACKs grant it, and new data goes out ECN-capable. Off by
	// default, as Linux leaves it off for the connections it opens (Linux
	// does grant it to peers that ask; synack, off, does neither).
	// Config.TCP.ECN turns it on as well.
	ECN bool
	// DropSynFin makes listeners drop a SYN that also carries FIN,
	// unanswered and counted in Stats.SynFinDropped, instead of opening a
	// connection for it (RFC 9293 3.10.7.2 takes the SYN and leaves the
	// FIN for later). No legitimate peer sends one; scanners do, to tell
	// stacks apart. Off by default, as FreeBSD's net.inet.tcp.drop_synfin;
	// Linux always drops them.
	DropSynFin bool
	// MaxTimeWait caps the connections held in TIME-WAIT (default
	// DefaultMaxTimeWait, as Linux's tcp_max_tw_buckets); past it the
	// oldest end early, counted in Stats.TimeWaitOverflow.
	MaxTimeWait int
	// MaxOrphans caps the connections the application has closed that
	// still deliver data or wait for the peer's FIN (default
	// DefaultMaxOrphans, as Linux's tcp_max_orphans); past it the oldest
	// is reset, counted in Stats.OrphanOverflow.
	MaxOrphans int
	// MemBudget bounds the bytes all connections' send and receive
	// buffers hold, like Linux's tcp_mem: over it out-of-order data is
	// pruned, data beyond the advertised window dropped, writers slowed to
	// a chunk, and new connections refused with a reset. Default: an
	// eighth of physical memory (1 GiB if unknown); negative: no limit.
	// MemPressure is where pressure starts (default two thirds of the
	// budget): autotuning stops growing buffers and receive windows open
	// at most four segments. Stats().Mem has the figures.
	MemBudget, MemPressure int64
	// OnEvent, if set, sees every state transition of every connection
	// and listener, in order for each. It runs synchronously, in the
	// goroutine that caused the transition, with the lock of the
	// connection (Conn.mu) or listener (Listener.mu) whose state changed
	// held and no other lock of the stack's: it must return quickly and
	// must not call the Stack, Conn or Listener (queue the event and act on
	// it elsewhere). The end of a TIME-WAIT record (TIME-WAIT -> CLOSED)
	// is reported with no lock held, or, when MaxTimeWait evicts it, under
	// the lock of the connection whose arrival in TIME-WAIT evicted it.
	// See docs/DESIGN.md, "Concurrency".
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
	ListenOverflow atomic.Uint64 // SYNs (and cookie ACKs) dropped with the accept queue full
	SynFinDropped  atomic.Uint64 // SYNs with FIN listeners dropped (Config.DropSynFin)
	// SYN cookies (RFC 4987 3.6): SYN,ACKs sent with a cookie for a full
	// SYN queue; returning ACKs whose cookie made a connection; ACKs to a
	// listener with cookies out whose cookie did not check.
	SynCookiesSent    atomic.Uint64
	SynCookiesValid   atomic.Uint64
	SynCookiesInvalid atomic.Uint64
	// AnswersLimited counts answers to unacceptable segments that the
	// stack-wide budget (Config.AnswerLimit) withheld.
	AnswersLimited atomic.Uint64

	TimeWaitOverflow      atomic.Uint64 // TIME-WAIT records ended early at MaxTimeWait
	TimeWaitReopened      atomic.Uint64 // SYNs that opened a new incarnation from TIME-WAIT (RFC 6191)
	TimeWaitResetsIgnored atomic.Uint64 // resets TIME-WAIT ignored (RFC 1337)
	TimeWaitAcks          atomic.Uint64 // ACKs TIME-WAIT records sent
	Orphans               atomic.Uint64 // closed by the application, still delivering (now)
	OrphanOverflow        atomic.Uint64 // orphans reset at MaxOrphans
	ICMP                  ICMPStats     // ICMP and ICMPv6 (icmp.go)
	Mem                   tcp.MemStats  // buffer memory in use and what the budget did (MemBudget)
	GROMerged             atomic.Uint64 // segments GRO joined to the one before them (gro.go)
}

type tuple struct{ local, remote netip.AddrPort }

// Stack is a userspace TCP/IP stack on one link.
type Stack struct {
	cfg    Config
	clk    clock.Clock
	ep     link.Endpoint
	mtu    int
	secret []byte

	// mu guards the demux: the segment path takes it for reading once per
	// run of packets for one connection; opening, accepting a SYN and
	// removing a closed connection take it for writing. It is a leaf
	// below Conn.mu and Listener.mu: nothing else is locked under it.
	mu        sync.RWMutex
	conns     map[tuple]*Conn              // guarded by mu
	listeners map[netip.AddrPort]*Listener // guarded by mu
	nextPort  uint32                       // guarded by mu
	closed    bool                         // guarded by mu

	timers  timerHeap
	tw      twTable    // connections in TIME-WAIT, as compact records
	orphans orphanList // connections the application closed, still delivering
	stats   Stats
	isnHook func(tuple) seq.Value // tests: choose ISNs (e.g. near the 2^32 wrap)
	hooks   eventHooks            // AddEventHook's listeners
	out     sync.Pool             // *batch
	pool    *tcp.Pool             // buffer chunks, charged to MemBudget
	gather  link.Gatherer         // ep, when it takes packets in pieces
	offl    link.Offloads         // what ep offloads (offload.go)
	answers *answerBudget         // stack-wide limit on answers to unacceptable segments

	echoLimit tokenBucket // echo replies, stack-wide (icmp.go)
	pmtu      pmtuCache   // path MTU per destination (pmtu.go)
}

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
		cfg.Backlog = 4096
	}
	if cfg.AnswerLimit == 0 {
		cfg.AnswerLimit = 1000
	}
	if cfg.MaxTimeWait <= 0 {
		cfg.MaxTimeWait = DefaultMaxTimeWait
	}
	if cfg.MaxOrphans <= 0 {
		cfg.MaxOrphans = DefaultMaxOrphans
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
		cfg.TCP.SendBuf = tcp.DefaultBuf
	}
	if cfg.TCP.RecvBuf == 0 {
		cfg.TCP.RecvBuf = tcp.DefaultBuf
	}
	if cfg.TCP.SendBufMax == 0 {
		cfg.TCP.SendBufMax = tcp.DefaultBufMax // autotuning on
	}
	if cfg.TCP.RecvBufMax == 0 {
		cfg.TCP.RecvBufMax = tcp.DefaultBufMax
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
	if cfg.AnswerLimit > 0 {
		s.answers = &answerBudget{s: s, limit: uint32(cfg.AnswerLimit)}
	}
	s.pool = s.newPool()
	s.timers.init(s)
	s.tw.init(s)
	s.gather, _ = ep.(link.Gatherer)
	if o, ok := ep.(link.Offloader); ok {
		s.offl = o.Offloads()
	}
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
	if s.cfg.TCP.RecvBuf == 0 || s.cfg.TCP.RecvBuf == tcp.DefaultBuf {
		c.RecvBuf = min(max(c.RecvBuf, 32*c.MSS), c.RecvBufMax)
	}
	if s.cfg.TCP.SendBuf == 0 || s.cfg.TCP.SendBuf == tcp.DefaultBuf {
		c.SendBuf = min(max(c.SendBuf, 32*c.MSS), c.SendBufMax)
	}
	c.NoDelay = !s.cfg.Nagle
	c.WindowScale = !s.cfg.NoWindowScale
	c.Timestamps = !s.cfg.NoTimestamps
	c.SACK = !s.cfg.NoSACK
	c.ECN = c.ECN || s.cfg.ECN
	if s.answers != nil {
		c.Answers = s.answers
	}
	c.IPv6 = v6
	c.Pool = s.pool
	if s.offl.TSO && s.offl.Checksum {
		c.TSOMax = s.offl.MaxPacket - hdr - (wire.TCPMaxHeaderLen - 20) // tcp/tso.go
	}
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
	s.tw.stop()
	return s.ep.Close()
}

// NumConns is how many connections the stack holds (any state but CLOSED,
// TIME-WAIT records included).
func (s *Stack) NumConns() int {
	s.mu.RLock()
	n := len(s.conns)
	s.mu.RUnlock()
	return n + s.tw.len()
}

// NumTimeWait is how many connections are in TIME-WAIT.
func (s *Stack) NumTimeWait() int { return s.tw.len() }

func (s *Stack) emit(id tuple, from, to tcp.State, cause tcp.Cause) {
	if f := s.cfg.OnEvent; f != nil || s.hooks.any() {
		e := Event{Time: s.clk.Now(), Local: id.local, Remote: id.remote, From: from, To: to, Cause: cause}
		if f != nil {
			f(e)
		}
		s.hooks.run(e)
	}
}

var _ = wire.ProtoTCP

// Conns returns the connections the demux holds, for inspection (those in
// TIME-WAIT are records, not Conns: NumTimeWait counts them).
func (s *Stack) Conns() []*Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cs := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}
