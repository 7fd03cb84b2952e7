package tcp

import (
	"errors"
	"time"

	"github.com/synack-tcp/synack/seq"
)

// ICMP errors that reach a connection (RFC 9293 3.9.2.2, MUST-54; RFC 1122
// 4.2.3.9; RFC 5461). The stack parses the message, finds the connection
// by the quoted 4-tuple and calls ICMPError with what the message means.

// ICMPKind is what an ICMP error says about the path to the peer.
type ICMPKind uint8

// The kinds. Net and host unreachable, time exceeded and parameter problem
// are soft errors; protocol and port unreachable are hard; packet too big
// (IPv4 fragmentation needed, IPv6 packet too big) is path MTU discovery.
const (
	ICMPNetUnreachable ICMPKind = iota + 1
	ICMPHostUnreachable
	ICMPTimeExceeded
	ICMPParamProblem
	ICMPProtoUnreachable
	ICMPPortUnreachable
	ICMPPacketTooBig
)

var icmpKindNames = [...]string{"", "network unreachable", "host unreachable", "time exceeded",
	"parameter problem", "protocol unreachable", "port unreachable", "packet too big"}

func (k ICMPKind) String() string {
	if int(k) < len(icmpKindNames) && k > 0 {
		return icmpKindNames[k]
	}
	return "unknown"
}

// Errors an ICMP message can leave a connection with. The stack maps them
// to the errno Linux reports (ENETUNREACH, EHOSTUNREACH, EPROTO,
// ENOPROTOOPT); port unreachable ends a connection with ErrRefused.
var (
	ErrNetUnreachable   = errors.New("network is unreachable")
	ErrHostUnreachable  = errors.New("no route to host")
	ErrTimeExceeded     = errors.New("no route to host (time exceeded in transit)")
	ErrParamProblem     = errors.New("protocol error (ICMP parameter problem)")
	ErrProtoUnreachable = errors.New("protocol not available (ICMP protocol unreachable)")
)

var icmpErrs = [...]error{nil, ErrNetUnreachable, ErrHostUnreachable, ErrTimeExceeded,
	ErrParamProblem, ErrProtoUnreachable, ErrRefused, nil}

// icmpCauses are the transition causes of connections ICMP ends.
var icmpCauses = [...]Cause{"", "rcv ICMP network unreachable", "rcv ICMP host unreachable",
	"rcv ICMP time exceeded", "rcv ICMP parameter problem", "rcv ICMP protocol unreachable",
	"rcv ICMP port unreachable", ""}

// ICMPResult is what ICMPError did with a message.
type ICMPResult uint8

// Results.
const (
	ICMPIgnored    ICMPResult = iota // no state for it, or the quoted sequence number is outside SND.UNA..SND.NXT
	ICMPSoft                         // remembered, reported if the connection times out
	ICMPAborted                      // the connection was aborted
	ICMPMTULowered                   // the effective MSS shrank and the lost data went out again
	ICMPMTUIgnored                   // a packet too big that fails the RFC 5927 7 checks
)

// icmpVars are a connection's ICMP and path MTU variables, allocated by the
// first accepted ICMP error or black hole (most connections never see
// one, and the TCB stays in its size class).
type icmpVars struct {
	softErr error     // the latest soft error (RFC 1122 4.2.3.9), for a timeout to report...
	softUna seq.Value // ...as long as SND.UNA has not moved since: an acknowledgment makes it stale
	maxMSS  int       // the send MSS the handshake settled on, before any lowering (0: never lowered)
	plp     plpmtud
}

// Path MTU floors: RFC 791's 68 bytes for IPv4 (RFC 1191 3), RFC 8200 5's
// 1280 for IPv6 (RFC 8201 4).
const (
	minMTU4 = 68
	minMTU6 = 1280
)

// icmpAlloc returns the connection's ICMP variables, allocating them.
func (c *TCB) icmpAlloc() *icmpVars {
	if c.icmp == nil {
		c.icmp = &icmpVars{}
	}
	return c.icmp
}

// ipHeaderLen is the IP header size of our packets.
func (c *TCB) ipHeaderLen() int {
	if c.cfg.IPv6 {
		return 40
	}
	return 20
}

// mssFor is the payload a segment may carry in a packet of mtu bytes: the
// MTU less the IP and TCP headers and our per-segment options (MUST-16).
func (c *TCB) mssFor(mtu int) int {
	n := mtu - c.ipHeaderLen() - 20
	if c.ts.ok {
		n -= tsOptionLen
	}
	return max(n, 8)
}

// ICMPError takes an ICMP error about a segment this connection sent:
// kind, the sequence number quoted from the offending segment, and for
// ICMPPacketTooBig the reported MTU (0 when an old router left it out) and
// the length of the quoted packet.
//
// RFC 5927 4.1: the message is acted on only if the quoted sequence
// number lies in SND.UNA..SND.NXT, which an off-path attacker must guess.
// A soft error never aborts a synchronized connection (MUST-56); it is
// made available (SoftError, SHLD-25) and reported if the connection then
// times out (RFC 1122 4.2.3.9). A hard error aborts (SHLD-26; RFC 5461 4
// keeps the abort for hard errors), as do the unreachables while a SYN is
// outstanding in SYN-SENT, as RFC 9293 3.9.2.2 notes implementations do
// and Linux fails the connect. A packet too big lowers the effective MSS
// (RFC 1191, RFC 8201; see pmtuTooBig).
func (c *TCB) ICMPError(now time.Duration, kind ICMPKind, quotedSeq uint32, mtu, quotedLen int) ICMPResult {
	switch c.state {
	case Closed, Listen, TimeWait:
		return ICMPIgnored
	}
	q := seq.Value(quotedSeq)
	if !q.InWindow(c.snd.una, c.snd.max.Sub(c.snd.una)) {
		return ICMPIgnored // RFC 5927 4.1: not in flight, a guess or a stale message
	}
	switch kind {
	case ICMPPacketTooBig:
		return c.pmtuTooBig(now, mtu, quotedLen)
	case ICMPProtoUnreachable, ICMPPortUnreachable:
		return c.icmpAbort(kind)
	case ICMPNetUnreachable, ICMPHostUnreachable:
		if c.state == SynSent {
			return c.icmpAbort(kind)
		}
	case ICMPTimeExceeded, ICMPParamProblem:
	default:
		return ICMPIgnored
	}
	st := c.icmpAlloc()
	st.softErr, st.softUna = icmpErrs[kind], c.snd.una
	return ICMPSoft
}

// icmpAbort ends the connection for a hard error; a passive SYN-RECEIVED
// connection goes back to LISTEN (3.10.7.4 for a reset, by analogy).
func (c *TCB) icmpAbort(kind ICMPKind) ICMPResult {
	if c.state == SynReceived && c.passive {
		c.backToListen(icmpErrs[kind], icmpCauses[kind])
		return ICMPAborted
	}
	c.fail(icmpErrs[kind], icmpCauses[kind])
	return ICMPAborted
}

// SoftError is the latest soft error an ICMP message reported (RFC 1122
// 4.2.3.9, MUST-47's ERROR_REPORT), or nil. Like Linux's sk_err_soft, an
// acknowledgment of new data since then makes it stale: the path works.
func (c *TCB) SoftError() error {
	if st := c.icmp; st != nil && st.softErr != nil && c.snd.una == st.softUna {
		return st.softErr
	}
	return nil
}

// timeoutErr is the error a connection that timed out reports: the soft
// ICMP error it last heard, if any (RFC 1122 4.2.3.9, as Linux reports
// EHOSTUNREACH rather than ETIMEDOUT), else ErrTimeout.
func (c *TCB) timeoutErr() error {
	if err := c.SoftError(); err != nil {
		return err
	}
	return ErrTimeout
}

// plateaus are RFC 1191 7's MTU plateaus, for a fragmentation-needed
// message from a router too old to report its next-hop MTU.
var plateaus = [...]int{32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68}

// pmtuTooBig lowers the path MTU to mtu. RFC 5927 7 checks first: the
// reported MTU must be smaller than the packet the router quotes (a
// message claiming a larger MTU is forged or confused, and RFC 1191 3
// never raises the estimate on one), and a new estimate above the current
// segment size changes nothing. The floor is 68 bytes for IPv4 and 1280
// for IPv6. Then what is in flight goes out again at once, resized, since
// the router dropped it (RFC 1191 6.5, RFC 8201 5.4); the congestion
// window is not reduced: this was not congestion.
func (c *TCB) pmtuTooBig(now time.Duration, mtu, quotedLen int) ICMPResult {
	if mtu == 0 && !c.cfg.IPv6 {
		for _, p := range plateaus { // RFC 1191 5: the next plateau below the quoted length
			if p < quotedLen {
				mtu = p
				break
			}
		}
	}
	if mtu <= 0 || quotedLen <= 0 || mtu >= quotedLen {
		return ICMPMTUIgnored
	}
	if c.cfg.IPv6 {
		mtu = max(mtu, minMTU6)
	} else {
		mtu = max(mtu, minMTU4)
	}
	mss := c.mssFor(mtu)
	if mss >= c.snd.mss || c.state == SynSent {
		return ICMPMTUIgnored // nothing to shrink (a SYN is small), or no larger segment was sent
	}
	c.lowerMSS(mss)
	c.retransmitNow(now)
	return ICMPMTULowered
}

// lowerMSS sets the effective send MSS below what the handshake settled on.
func (c *TCB) lowerMSS(mss int) {
	if st := c.icmpAlloc(); st.maxMSS == 0 {
		st.maxMSS = c.snd.mss
	}
	c.snd.mss = mss
	c.ccs.MSS = mss
	c.ccs.Cwnd = max(c.ccs.Cwnd, 2*mss)
}

// retransmitNow resends everything in flight from SND.UNA, as an RTO
// would but without its backoff and congestion response (RFC 1191 6.5):
// segments larger than the new MSS were dropped by the router.
func (c *TCB) retransmitNow(now time.Duration) {
	if c.snd.una == c.snd.max {
		return
	}
	c.rtt.cancel() // Karn: no RTT sample from what is about to be resent
	c.snd.nxt = c.snd.una
	c.Flush(now)
}

// PathMTU is the MTU the connection sizes its segments for, in IP bytes,
// or 0 when no ICMP message or black-hole detection has lowered it (the
// handshake's MSS rules).
func (c *TCB) PathMTU() int {
	if c.icmp == nil || c.icmp.maxMSS == 0 {
		return 0
	}
	n := c.snd.mss + c.ipHeaderLen() + 20
	if c.ts.ok {
		n += tsOptionLen
	}
	return n
}
