package tcp

import (
	"errors"
	"time"

	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// Errors a TCB reports, named after RFC 9293 3.10's messages. The stack
// maps them to the errno values package net users expect.
var (
	ErrNotExist = errors.New("connection does not exist")
	ErrExists   = errors.New("connection already exists")
	ErrClosing  = errors.New("connection closing")
	ErrReset    = errors.New("connection reset")
	ErrRefused  = errors.New("connection refused")
	ErrTimeout  = errors.New("connection timed out")
)

// Sender transmits the segments a TCB makes. The TCB fills everything but
// the ports and checksum; the payload is p1 followed by p2, valid only
// during the call.
//
// Scratch returns the header the TCB builds its next segment in: it must
// stay valid, and be touched by nobody else, until the SendSegment that
// sends it returns. Lending it saves every TCB a header of its own (80
// bytes a connection), and nothing escapes to the heap per segment.
type Sender interface {
	SendSegment(h *wire.TCP, p1, p2 []byte)
	Scratch() *wire.TCP
}

// The buffer defaults, the one place they are written. Package stack
// starts a connection's buffers at DefaultBuf, or at 32 full segments when
// that is more, and lets autotuning grow them to DefaultBufMax.
const (
	DefaultBuf    = 512 << 10 // send and receive buffer to start with
	DefaultBufMax = 4 << 20   // autotuning's ceiling in package stack
)

// Config holds the tunables of one connection. Zero fields take defaults.
type Config struct {
	MSS            int           // largest segment we can receive (MMS_R - 20 - IP header); MUST-67
	DefaultSendMSS int           // send MSS when the peer sends no MSS option: 536 (IPv4) or 1220 (IPv6); MUST-15
	SendBuf        int           // send buffer bytes to start with (default DefaultBuf)
	RecvBuf        int           // receive buffer bytes to start with (default DefaultBuf)
	SendBufMax     int           // autotuning grows the send buffer up to this (default SendBuf: no growth; package stack: DefaultBufMax)
	RecvBufMax     int           // and the receive buffer up to this (default RecvBuf; package stack: DefaultBufMax)
	MSL            time.Duration // maximum segment lifetime; TIME-WAIT lasts 2*MSL (MUST-13)
	InitialRTO     time.Duration // RFC 6298 2.1
	MinRTO         time.Duration // RFC 6298 2.4
	MaxRTO         time.Duration // RFC 6298 2.5
	R1             int           // retransmissions before reporting trouble (SHLD-10)
	R2             time.Duration // give up on data after this long retransmitting (SHLD-11, MUST-20)
	R2Syn          time.Duration // give up on a SYN after this long (MUST-23), checked at its retransmission timeouts
	SynTimeout     time.Duration // if set, an active open still handshaking this long after its SYN fails then (FreeBSD's TCP_KEEPINIT)
	UserTimeout    time.Duration // if set, replaces R2 (MUST-21)
	AckDelay       time.Duration // delayed ACK (SHLD-18; MUST-40: < 500ms); negative disables
	NoDelay        bool          // disable Nagle (MUST-17)
	WindowScale    bool          // offer RFC 7323 window scaling
	Timestamps     bool          // offer RFC 7323 timestamps (RTTM, PAWS)
	SACK           bool          // offer RFC 2018 selective acknowledgments
	ECN            bool          // offer and accept RFC 3168 explicit congestion notification
	ECNSynRetries  uint8         // SYN retransmissions still ECN-setup SYNs (RFC 3168 6.1.1.1): default 0, as Linux; FreeBSD's ecn.maxretries 1
	SynOptRetries  uint8         // if set, SYN retransmissions still offering WS, TS, SACK; later ones carry MSS alone (FreeBSD's rexmit_drop_options: 2)
	TSOffset       uint32        // start of this connection's timestamp clock
	IPv6           bool          // the connection runs over IPv6 (path MTU floor 1280, 40-byte IP header)
	TSOMax         int           // largest payload of one segment when the link cuts segments itself (TSO, tso.go); 0: one MSS
	// RTOSlop is added to every RTO computed from an RTT sample or backed
	// off, once (not doubled with it), and not to InitialRTO: FreeBSD's
	// net.inet.tcp.rexmit_slop (200 ms there, its allowance for timer
	// and CPU variance). Default 0: RFC 6298 as written.
	RTOSlop time.Duration
	// CongestionControl names the controller: "cubic" (default) or "newreno".
	CongestionControl string
	// KeepAlive turns keep-alive probes on (MUST-24; off by default, MUST-25).
	KeepAlive bool
	// KeepAliveIdle is the idle time before the first probe (MUST-27;
	// default 2 hours, MUST-28); KeepAliveInterval the time between
	// unanswered probes (default 75 s); KeepAliveCount how many go
	// unanswered before the connection is dropped (default 9, MUST-29).
	KeepAliveIdle     time.Duration
	KeepAliveInterval time.Duration
	KeepAliveCount    int
	// FinWait2Timeout bounds FIN-WAIT-2 for a connection the user has
	// fully closed (nobody can read what the peer might still send), so a
	// peer that never sends its FIN cannot hold it forever (default 60 s).
	FinWait2Timeout time.Duration
	// PersistTimeout, if set, drops a connection whose peer keeps its
	// window closed this long while we have data to send.
	PersistTimeout time.Duration
	// OrphanRetries bounds a connection the user has fully closed while
	// data or its FIN is undelivered (FIN-WAIT-1, CLOSING, LAST-ACK):
	// after this many retransmissions, or zero-window probes even if they
	// are answered, it gives up (default 8, Linux's tcp_orphan_retries).
	OrphanRetries int
	// QuickAcks is how many in-order segments are acknowledged at once at
	// the start of a connection, so the peer's slow start is not held back
	// by delayed ACKs (the stack sets 16).
	QuickAcks int
	// AnswerInterval spaces the ACKs that answer unacceptable segments
	// (challenge ACKs, PAWS failures, out-of-window segments; ratelimit.go):
	// default 500 ms, at most two a second, as Linux's
	// tcp_invalid_ratelimit; negative turns the limit off.
	AnswerInterval time.Duration
	// Answers, if set, is a stack-wide budget for those ACKs (RFC 5961 7).
	Answers AnswerBudget
	// Pool supplies the buffers' chunks and holds the memory budget (the
	// stack passes its own); nil: a package-wide pool with no budget.
	Pool *Pool
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MSS, 1460)
	def(&c.DefaultSendMSS, 536)
	def(&c.SendBuf, DefaultBuf)
	def(&c.RecvBuf, DefaultBuf)
	def(&c.R1, 3)
	c.SendBufMax = max(c.SendBufMax, c.SendBuf)
	c.RecvBufMax = max(c.RecvBufMax, c.RecvBuf)
	defd(&c.MSL, 2*time.Minute)
	defd(&c.InitialRTO, time.Second)
	defd(&c.MinRTO, time.Second)
	defd(&c.MaxRTO, 60*time.Second)
	c.RTOSlop = max(c.RTOSlop, 0)
	// SHLD-11 asks for at least 100 s. With the RTO backed off to a
	// minute, 100 s is two or three attempts, and a path that recovers
	// from an outage but then loses two ACKs in a row is given up (3 of
	// 60,000 soak seeds). Linux's 15 minutes, on the other hand, keeps a
	// connection crawling through 30% loss both ways for hours (8 of
	// 60,000). Five minutes is about five attempts at the capped RTO.
	defd(&c.R2, 5*time.Minute)
	defd(&c.R2Syn, 3*time.Minute)
	defd(&c.KeepAliveIdle, 2*time.Hour)
	defd(&c.KeepAliveInterval, 75*time.Second)
	def(&c.KeepAliveCount, 9)
	def(&c.OrphanRetries, 8)
	if c.AckDelay == 0 {
		c.AckDelay = 40 * time.Millisecond
	}
	c.AckDelay = min(c.AckDelay, 499*time.Millisecond) // MUST-40: strictly under 0.5 s
	defd(&c.FinWait2Timeout, 60*time.Second)
	if c.AnswerInterval == 0 {
		c.AnswerInterval = defaultAnswerInterval
	}
}

// sendVars are the send sequence variables (RFC 9293 3.3.1).
type sendVars struct {
	una, nxt seq.Value // SND.UNA, SND.NXT
	max      seq.Value // highest sequence number sent (SND.NXT rewinds on timeout)
	wnd      uint32    // SND.WND, scaled
	maxWnd   uint32    // largest window the peer offered (3.8.6.2.1, RFC 5961 5.2)
	wl1, wl2 seq.Value // SND.WL1, SND.WL2
	up       seq.Value // SND.UP
	iss      seq.Value // ISS
	shift    uint8     // Snd.Wind.Shift (RFC 7323)
	mss      int       // effective send MSS (MUST-16)
}

// recvVars are the receive sequence variables.
type recvVars struct {
	nxt   seq.Value // RCV.NXT
	irs   seq.Value // IRS
	up    seq.Value // RCV.UP
	adv   seq.Value // right edge of the window last advertised (never moves left: SHLD-14)
	shift uint8     // Rcv.Wind.Shift (RFC 7323)
}

// TCB is one connection's Transmission Control Block. It is not safe for
// concurrent use: the stack holds the connection's lock around every call.
type TCB struct {
	cfg   Config
	out   Sender
	state State
	snd   sendVars
	rcv   recvVars

	passive bool // SYN-RECEIVED came from a passive OPEN (MUST-11)
	wsOK    bool // both sides offered window scaling

	sb           buf           // send data: first byte has sequence number sndHead
	sndHead      seq.Value     // sequence number of sb's first byte
	finQueued    bool          // user CLOSE: a FIN follows the data
	finSent      bool          // FIN occupies sequence space at sndHead+len(sb)
	finAcked     bool          // our FIN is acknowledged
	rb           buf           // received data: readable bytes, then out-of-order ones
	ooo          reasm         // out-of-order spans beyond RCV.NXT
	finRcvd      bool          // peer's FIN consumed (RCV.NXT past it)
	finRcvdAt    seq.Value     // sequence number of a FIN that arrived out of order
	finPending   bool          // finRcvdAt is set
	readClosed   bool          // user will not read again (full close): SHLD-3
	finWait2From time.Duration // when our FIN was acknowledged (for FinWait2Timeout)

	rtt         rttState
	cc          Congestion
	ccs         CongestionState
	lastSend    time.Duration // when data last went out (slow start after idle)
	cwndLimited bool          // the flight filled at least half of cwnd (RFC 7661)
	answered    bool          // an answer to an unacceptable segment went out...
	answeredAt  time.Duration // ...at this instant (ratelimit.go)
	lastRTOTS   uint32        // our timestamp clock at the latest RTO
	rtoSeen     bool
	sentData    bool // lastSend is set
	dupAcks     int
	recover     seq.Value // NewReno recovery point (RFC 6582)
	inRecov     bool
	retrans     int           // consecutive retransmissions of the oldest data
	firstRtx    time.Duration // when the oldest unacked segment was first retransmitted
	synSent     time.Duration // when the first SYN went out (R2Syn)
	unaSince    time.Duration // when SND.UNA last advanced, or the flight began (UserTimeout)

	ackNow     bool          // an ACK must go out at the next flush
	corked     bool          // hold partial segments until uncorked
	persisting bool          // the peer's window holds our data back, since persistT0
	sackOK     bool          // both sides permitted SACK
	rcvUnacked int           // bytes received since the last ACK we sent
	quickAcks  int           // in-order segments still to be acknowledged at once
	tune       rcvTune       // receive buffer autotuning
	kaProbes   int           // keep-alive probes sent without an answer
	persistT0  time.Duration // when persisting began
	ackedAt    time.Duration // when an acceptable ACK last arrived (zero-window give-up)

	// Timers are deadlines; zero means disarmed. NextDeadline is their minimum.
	rtoAt       time.Duration
	persistAt   time.Duration
	persistExp  uint
	delackAt    time.Duration
	timeWaitAt  time.Duration
	keepaliveAt time.Duration

	ts       tsState
	tw       *TimeWaitRecord // the TIME-WAIT record, from entering TIME-WAIT until handed over
	board    scoreboard      // what the peer SACKed (sender side)
	rack     *rackState      // RACK-TLP loss detection (RFC 8985), with SACK
	ecn      ecnState        // explicit congestion notification (RFC 3168)
	dsack    span            // a duplicate to report (RFC 2883)
	dsackOn  bool
	lastOOO  seq.Value // start of the latest out-of-order arrival (RFC 2018 4)
	err      error     // why the connection ended badly, for the user
	icmp     *icmpVars // ICMP errors and path MTU (icmp.go), from the first that matters
	stats    Stats
	onChange func(from, to State, cause Cause)

	urg urgState // which of SND.UP, RCV.UP hold a pointer (3.8.5)
}

// Stats counts what a connection did.
type Stats struct {
	SegsOut, SegsIn        uint64
	BytesSent, BytesAcked  uint64
	BytesReceived          uint64
	Retransmits            uint64
	RTOExpirations         uint64
	FastRetransmits        uint64
	DupAcksIn              uint64
	OutOfOrderSegs         uint64
	ChallengeAcks          uint64
	ZeroWindowProbes       uint64
	KeepAliveProbes        uint64
	ThrottledAcks          uint64 // answers to unacceptable segments withheld by the rate limit (RFC 5961 7)
	RetransmittedBytes     uint64
	ResetsOut              uint64
	UnacceptableSegsIn     uint64
	ReassemblyOverflowSegs uint64
	RecvBufGrowths         uint64
	SendBufGrowths         uint64
	SACKRetransmits        uint64 // holes retransmitted in RFC 6675 recovery
	SACKedBytes            uint64 // bytes the peer newly SACKed
	SACKedResent           uint64 // retransmissions of data the peer had SACKed
	DSACKsSent             uint64
	PAWSDrops              uint64
	TLPProbes              uint64 // tail loss probes sent (RFC 8985 7.3)
	TLPRecoveries          uint64 // probes that repaired a tail loss (RFC 8985 7.4)
	RACKLost               uint64 // segments RACK marked lost (RFC 8985 6.2)
	ECNReductions          uint64 // window reductions for an ECN-Echo (RFC 3168 6.1.2)
	CEReceived             uint64 // data segments that arrived marked CE (RFC 3168 6.1.3)
}

// New returns a TCB in CLOSED. onChange, if not nil, is called on every
// state transition.
func New(cfg Config, out Sender, onChange func(from, to State, cause Cause)) *TCB {
	cfg.setDefaults()
	c := &TCB{cfg: cfg, out: out, onChange: onChange}
	if cfg.Pool == nil {
		c.cfg.Pool = defaultPool
	}
	c.sb.init(cfg.SendBuf, c.cfg.Pool, max(cfg.MSS, cfg.TSOMax)) // a segment is at most two chunks
	c.rb.init(cfg.RecvBuf, c.cfg.Pool, cfg.MSS)
	c.rtt.init(&c.cfg)
	var err error
	if c.cc, err = NewCongestion(cfg.CongestionControl); err != nil {
		c.cc = &Cubic{}
	}
	return c
}

// SetCongestion switches the connection's congestion controller, keeping
// the current window.
func (c *TCB) SetCongestion(now time.Duration, name string) error {
	cc, err := NewCongestion(name)
	if err != nil {
		return err
	}
	c.cc = cc
	if c.ccs.MSS > 0 {
		cc.Init(now, c.ccState())
	}
	return nil
}

// CongestionName is the connection's congestion controller.
func (c *TCB) CongestionName() string { return c.cc.Name() }

// ccState refreshes the shared congestion state for a hook.
func (c *TCB) ccState() *CongestionState {
	s := &c.ccs
	s.SRTT, s.SndUna, s.SndMax = c.rtt.srtt, c.snd.una, c.snd.max
	s.InFlight = int(c.snd.max.Sub(c.snd.una))
	return s
}

// State returns the current state.
func (c *TCB) State() State { return c.state }

// Err returns why the connection failed (reset, refused, timed out), if it did.
func (c *TCB) Err() error { return c.err }

func (c *TCB) setState(to State, cause Cause) {
	from := c.state
	if from == to {
		return
	}
	c.state = to
	switch to {
	case Closed:
		c.deleteTCB()
	case Established:
		c.quickAcks = max(c.cfg.QuickAcks, 0)
	case FinWait2:
		if c.readClosed {
			c.timeWaitAt = c.finWait2From + c.cfg.FinWait2Timeout
		}
	}
	if c.onChange != nil {
		c.onChange(from, to, cause)
	}
}

// deleteTCB drops everything a closed connection holds, except the data
// the user may still read and the error.
func (c *TCB) deleteTCB() {
	c.rtoAt, c.persistAt, c.delackAt, c.timeWaitAt, c.keepaliveAt = 0, 0, 0, 0, 0
	c.sb.drop()
	c.dropOOO()
	c.rack = nil
	c.ackNow = false
}

// fail ends the connection with err and cause.
func (c *TCB) fail(err error, cause Cause) {
	if err == ErrTimeout {
		err = c.timeoutErr() // a soft ICMP error heard says why (RFC 1122 4.2.3.9)
	}
	if c.err == nil {
		c.err = err
	}
	c.setState(Closed, cause)
}

// OpenActive is the active OPEN call (RFC 9293 3.10.1): from CLOSED (or
// LISTEN) send a SYN with initial sequence number iss and enter SYN-SENT.
func (c *TCB) OpenActive(now time.Duration, iss seq.Value) error {
	switch c.state {
	case Closed, Listen:
	default:
		return ErrExists
	}
	c.passive = false
	c.initSend(iss)
	c.synSent = now
	c.setState(SynSent, CauseOpenActive)
	c.output(now)
	return nil
}

// OpenPassive is the passive OPEN call: CLOSED -> LISTEN. iss is the
// initial sequence number used when a SYN arrives.
func (c *TCB) OpenPassive(iss seq.Value) error {
	if c.state != Closed {
		return ErrExists
	}
	c.passive = true
	c.initSend(iss)
	c.setState(Listen, CauseOpenPassive)
	return nil
}

func (c *TCB) initSend(iss seq.Value) {
	c.snd.iss = iss
	c.snd.una = iss
	c.snd.nxt = iss
	c.snd.max = iss
	c.recover = iss // no recovery point yet (0 could compare as ahead of ISS)
	c.sndHead = iss.Add(1)
	c.snd.mss = c.cfg.DefaultSendMSS
	if c.cfg.WindowScale {
		c.rcv.shift = windowShiftFor(c.cfg.RecvBufMax) // room for the buffer to grow
	}
}

// windowShiftFor is the smallest shift that lets a 16-bit window field
// describe a buffer of n bytes (RFC 7323 2.3: at most 14).
func windowShiftFor(n int) uint8 {
	var s uint8
	for s < 14 && n > 0xffff<<s {
		s++
	}
	return s
}

// Send is the SEND call: it copies as much of p as the send buffer holds
// and transmits what the windows allow. It returns how much it took; 0 with
// a nil error means the buffer is full.
func (c *TCB) Send(now time.Duration, p []byte) (int, error) {
	return c.send(now, p, false)
}

// send is Send, and SendUrgent with urgent set.
func (c *TCB) send(now time.Duration, p []byte, urgent bool) (int, error) {
	switch c.state {
	case Closed:
		if c.err != nil {
			return 0, c.err
		}
		return 0, ErrNotExist
	case Listen:
		// 3.10.2: a SEND on LISTEN may turn it active; synack's listeners
		// never send, so this is an error.
		return 0, ErrNotExist
	case SynSent, SynReceived, Established, CloseWait:
		if c.finQueued {
			return 0, ErrClosing
		}
	default:
		return 0, ErrClosing
	}
	if c.sb.free() < len(p) {
		c.growSend()
	}
	n := c.sb.write(p[:min(len(p), c.sendSpace())])
	if n > 0 && urgent {
		c.markSendUrgent()
	}
	if n > 0 && c.state.synchronized() {
		c.output(now)
	}
	return n, nil
}

// SendSpace is how many bytes Send would take now.
func (c *TCB) SendSpace() int { return c.sendSpace() }

// Receive is the RECEIVE call: it copies received bytes into p. It returns
// (0, nil) when nothing is there yet and (0, ErrEOF) once everything before
// the peer's FIN has been read.
func (c *TCB) Receive(now time.Duration, p []byte) (int, error) {
	if c.rb.n > 0 {
		n := c.rb.read(c.urgentLimit(p))
		c.urgentRead()
		c.rcvDrained()
		c.tuneRecv(now, n)
		c.afterRead(now)
		return n, nil
	}
	if c.finRcvd {
		return 0, ErrEOF
	}
	switch c.state {
	case Closed:
		if c.err != nil {
			return 0, c.err
		}
		return 0, ErrNotExist
	case Closing, LastAck, TimeWait:
		return 0, ErrEOF
	}
	return 0, nil
}

// ErrEOF is returned by Receive once the peer's FIN has been read up to.
var ErrEOF = errors.New("EOF")

// Readable reports whether Receive would return something other than (0, nil).
func (c *TCB) Readable() bool {
	return c.rb.n > 0 || c.finRcvd || c.state == Closed
}

// Buffered is how many bytes Receive can return now.
func (c *TCB) Buffered() int { return c.rb.n }

// afterRead sends a window update when reading opened the window enough:
// RFC 9293 3.8.6.2.2 (MUST-39) with Fr = 1/2.
func (c *TCB) afterRead(now time.Duration) {
	if !c.state.synchronized() || c.finRcvd {
		return
	}
	// The advertised edge may lie past the buffer's edge (scaled windows
	// round up), and the window field caps it: only an edge that can move
	// right by the threshold counts. An update that repeats the old window
	// would look like a duplicate ACK to the peer (RFC 5681 2).
	e := c.advertisableEdge()
	if !e.GreaterThan(c.rcv.adv) || e.Sub(c.rcv.adv) < seq.Size(c.swsThreshold()) {
		return
	}
	// A window update of its own only when the peer is running short: what
	// it may still send is at most half the buffer, and the update at least
	// doubles it (as Linux's tcp_cleanup_rbuf). Otherwise the next ACK of
	// data carries the new edge; a pure update after every read would
	// double the ACKs of a bulk flow, each a system call on a TUN device.
	left, open := int(c.rcv.adv.Sub(c.rcv.nxt)), int(e.Sub(c.rcv.nxt))
	if 2*left > min(c.rb.size, 0xffff<<c.rcv.shift) || open < 2*left {
		return
	}
	c.ackNow = true
	c.output(now)
}

// Close is the CLOSE call (3.10.4): no more data will be sent.
func (c *TCB) Close(now time.Duration) error {
	switch c.state {
	case Closed:
		return ErrNotExist
	case Listen, SynSent:
		c.setState(Closed, CauseClose)
		return nil
	case SynReceived, Established:
		if c.finQueued {
			return ErrClosing
		}
		c.finQueued = true
		if c.state == Established {
			c.setState(FinWait1, CauseClose)
		}
		// SYN-RECEIVED: the FIN waits for ESTABLISHED (3.10.4), whose
		// transition then goes on to FIN-WAIT-1.
	case CloseWait:
		c.finQueued = true
		c.setState(LastAck, CauseClose)
	default:
		return ErrClosing
	}
	c.output(now)
	return nil
}

// CloseRead says the user will never read again (a full close, as
// net.Conn.Close does). Unread data, or data arriving later, resets the
// connection (SHLD-3). It reports whether it sent a reset.
func (c *TCB) CloseRead(now time.Duration) bool {
	c.readClosed = true
	if c.rb.n > 0 && c.state != Closed {
		c.rb.discard(c.rb.n)
		c.rb.drop()
		c.Abort(now)
		return true
	}
	// Nobody reads again: the receive buffer goes (data arriving now
	// resets the connection).
	c.rb.drop()
	c.ooo = reasm{}
	c.finPending = false
	if c.state == FinWait2 && c.timeWaitAt == 0 {
		c.timeWaitAt = now + c.cfg.FinWait2Timeout
	}
	return false
}

// Abort is the ABORT call (3.10.5): send a reset where the peer is
// synchronized and delete the TCB.
func (c *TCB) Abort(now time.Duration) { c.AbortWith(now, CauseAbort) }

// AbortWith is Abort reporting its own cause (a stack-wide limit, say).
func (c *TCB) AbortWith(now time.Duration, cause Cause) {
	switch c.state {
	case SynReceived, Established, FinWait1, FinWait2, CloseWait:
		c.sendReset(c.snd.max, 0, false)
	}
	if c.state != Closed {
		c.setState(Closed, cause)
	}
}

// Status is the STATUS call's answer (3.10.6).
type Status struct {
	State                State
	SndUna, SndNxt       seq.Value
	SndWnd               uint32
	RcvNxt               seq.Value
	RcvWnd               uint32
	SendMSS              int
	SRTT, RTTVar, RTO    time.Duration
	Cwnd, Ssthresh       int
	Unacked              int // bytes sent and not acknowledged
	SendQueued, RecvHeld int
	SendBuf, RecvBuf     int // current sizes (autotuning grows them)
	SendMem, RecvMem     int // bytes of buffer chunks held now
	WindowScale          bool
	Timestamps           bool
	SACK                 bool
	ECN                  bool // RFC 3168 negotiated
	SndShift, RcvShift   uint8
	Retransmitting       bool // R1 passed: trouble delivering (SHLD-9)
	Stats                Stats
}

// Status reports the connection's variables.
func (c *TCB) Status() Status {
	return Status{
		State: c.state, SndUna: c.snd.una, SndNxt: c.snd.nxt, SndWnd: c.snd.wnd,
		RcvNxt: c.rcv.nxt, RcvWnd: c.rcvWnd(), SendMSS: c.snd.mss,
		SRTT: c.rtt.srtt, RTTVar: c.rtt.rttvar, RTO: c.rtt.rto,
		Cwnd: c.ccs.Cwnd, Ssthresh: c.ccs.Ssthresh,
		Unacked: int(c.snd.max.Sub(c.snd.una)), SendQueued: c.sb.n, RecvHeld: c.rb.n,
		SendBuf: c.sb.size, RecvBuf: c.rb.size, SendMem: c.sb.held(), RecvMem: c.rb.held(),
		WindowScale: c.wsOK, SndShift: c.snd.shift, RcvShift: c.rcv.shift, Timestamps: c.ts.ok,
		Retransmitting: c.retrans >= c.cfg.R1, Stats: c.statsNow(), SACK: c.sackOK,
		ECN: c.ecn.ok,
	}
}

func (c *TCB) statsNow() Stats {
	st := c.stats
	st.SACKedBytes, st.PAWSDrops = c.board.sacked, c.ts.pawsDrops
	return st
}
