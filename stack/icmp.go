package stack

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/tcp"
	"github.com/synack-tcp/synack/wire"
)

// ICMPStats counts the ICMP and ICMPv6 messages the stack received and
// what became of them. Every message lands in exactly one of the counters
// after Received.
type ICMPStats struct {
	Received      atomic.Uint64 // ICMP messages addressed to us
	Malformed     atomic.Uint64 // bad checksum, length, code, or quote
	EchoReplied   atomic.Uint64 // echo requests answered
	EchoLimited   atomic.Uint64 // echo requests not answered: over the stack-wide rate
	OtherType     atomic.Uint64 // echo replies, neighbour discovery and the like: not ours to act on
	NoConn        atomic.Uint64 // errors quoting a segment of no connection we have
	OutOfWindow   atomic.Uint64 // errors whose quoted sequence number is not in flight (RFC 5927 4.1)
	Soft          atomic.Uint64 // soft errors remembered for a timeout to report
	Aborted       atomic.Uint64 // connections aborted by a hard error (cause "rcv ICMP ...")
	MTULowered    atomic.Uint64 // packet too big: a connection's MSS lowered
	MTUIgnored    atomic.Uint64 // packet too big failing RFC 5927 7's checks, or changing nothing
	ByKind        [8]atomic.Uint64
	PMTUCacheSize atomic.Int64 // destinations in the path MTU cache
	PMTUEvicted   atomic.Uint64
}

// Kind returns the count of errors of kind k a connection accepted (quoted
// sequence number in flight).
func (st *ICMPStats) Kind(k tcp.ICMPKind) uint64 {
	if int(k) < len(st.ByKind) {
		return st.ByKind[k].Load()
	}
	return 0
}

// Echo replies are limited stack-wide to echoRate a second with bursts of
// echoBurst, as Linux limits its ICMP output (icmp_msgs_per_sec 1000,
// icmp_msgs_burst 50), so a flood of requests cannot make us flood back.
const (
	echoRate  = 1000
	echoBurst = 50
)

// tokenBucket is a rate limit on the stack's clock.
type tokenBucket struct {
	mu     sync.Mutex
	tokens float64
	last   time.Duration
	init   bool
}

func (b *tokenBucket) take(now time.Duration, rate, burst float64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.init {
		b.tokens, b.last, b.init = burst, now, true
	}
	b.tokens = min(burst, b.tokens+rate*float64(now-b.last)/float64(time.Second))
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// isICMP reports whether the packet p is ICMP or ICMPv6 without extension
// headers, so DeliverPackets can pass it to icmpInput.
func isICMP(p []byte) bool {
	switch {
	case len(p) >= wire.IPv4MinHeaderLen && p[0]>>4 == 4:
		return p[9] == wire.ProtoICMP
	case len(p) >= wire.IPv6HeaderLen && p[0]>>4 == 6:
		return p[6] == wire.ProtoICMPv6
	}
	return false
}

// icmpInput handles an ICMP or ICMPv6 packet: echo requests are answered
// (rate-limited), errors go to the connection they quote; nothing else is
// acted on. It takes no connection lock held by the caller.
func (s *Stack) icmpInput(p []byte) {
	ip, body, err := wire.ParseIP(p)
	if err != nil {
		s.stats.MalformedIP.Add(1)
		return
	}
	if !s.isLocal(ip.Dst) || martian(ip.Src) {
		s.stats.NotForUs.Add(1)
		return
	}
	st := &s.stats.ICMP
	st.Received.Add(1)
	var m wire.ICMP
	if ip.V6 {
		m, err = wire.ParseICMPv6(ip.Src, ip.Dst, body)
	} else {
		m, err = wire.ParseICMPv4(body)
	}
	if err != nil {
		st.Malformed.Add(1)
		return
	}
	switch {
	case !ip.V6 && m.Type == wire.ICMPv4Echo, ip.V6 && m.Type == wire.ICMPv6EchoRequest:
		s.echo(ip, &m)
	case !ip.V6 && m.IsError(), ip.V6 && m.IsError6():
		s.icmpError(ip, &m)
	default:
		st.OtherType.Add(1)
	}
}

// echo answers an echo request (RFC 792, RFC 4443 4.2; RFC 1122 3.2.2.6:
// every host MUST answer): same identifier, sequence number and data, from
// the address it was sent to.
func (s *Stack) echo(ip wire.IPHeader, m *wire.ICMP) {
	st := &s.stats.ICMP
	if !s.echoLimit.take(s.clk.Now(), echoRate, echoBurst) {
		st.EchoLimited.Add(1)
		return
	}
	r := wire.ICMP{Type: wire.ICMPv4EchoReply, ID: m.ID, Seq: m.Seq, Body: m.Body}
	info := ipDefaults(ip.Dst)
	info.DF = false // the reply is the request's size, which came through
	id := tuple{netip.AddrPortFrom(ip.Dst, 0), netip.AddrPortFrom(ip.Src, 0)}
	n := 8 + len(m.Body)
	var pkt []byte
	if ip.V6 {
		r.Type = wire.ICMPv6EchoReply
		pkt = appendIP(make([]byte, 0, wire.IPv6HeaderLen+n), id, wire.ProtoICMPv6, info, n)
		pkt = wire.AppendICMPv6(pkt, ip.Dst, ip.Src, &r)
	} else {
		pkt = appendIP(make([]byte, 0, wire.IPv4MinHeaderLen+n), id, wire.ProtoICMP, info, n)
		pkt = wire.AppendICMPv4(pkt, &r)
	}
	st.EchoReplied.Add(1)
	s.ep.WritePackets([][]byte{pkt}, []link.PacketInfo{info})
}

// kindOf classifies an ICMP error for TCP, as RFC 9293 3.9.2.2, RFC 1122
// 4.2.3.9 and Linux's icmp_err_convert do; ok is false for messages TCP
// does not act on. Source quench (IPv4 type 4) is not an error here: it
// never reaches kindOf and is discarded silently (MUST-55).
func kindOf(v6 bool, m *wire.ICMP) (tcp.ICMPKind, bool) {
	if v6 {
		switch m.Type {
		case wire.ICMPv6PacketTooBig:
			return tcp.ICMPPacketTooBig, true
		case wire.ICMPv6TimeExceeded:
			return tcp.ICMPTimeExceeded, true
		case wire.ICMPv6ParamProblem: // soft, codes 0-2 included (RFC 9293 3.9.2.2)
			return tcp.ICMPParamProblem, true
		case wire.ICMPv6DestUnreach:
			switch m.Code {
			case wire.ICMPv6NoRoute:
				return tcp.ICMPNetUnreachable, true
			case wire.ICMPv6PortUnreach:
				return tcp.ICMPPortUnreachable, true
			}
			return tcp.ICMPHostUnreachable, true
		}
		return 0, false
	}
	switch m.Type {
	case wire.ICMPv4TimeExceeded:
		return tcp.ICMPTimeExceeded, true
	case wire.ICMPv4ParamProblem:
		return tcp.ICMPParamProblem, true
	case wire.ICMPv4DestUnreach:
		switch m.Code {
		case wire.ICMPv4NetUnreach, wire.ICMPv4NetUnknown, wire.ICMPv4NetProhibited, wire.ICMPv4NetTOSUnreach:
			return tcp.ICMPNetUnreachable, true
		case wire.ICMPv4ProtoUnreach:
			return tcp.ICMPProtoUnreachable, true
		case wire.ICMPv4PortUnreach:
			return tcp.ICMPPortUnreachable, true
		case wire.ICMPv4FragNeeded:
			return tcp.ICMPPacketTooBig, true
		}
		return tcp.ICMPHostUnreachable, true
	}
	return 0, false
}

// icmpError passes an ICMP error to the connection whose segment it
// quotes (MUST-54), found by the quoted 4-tuple; the quoted source must be
// the address the error came to.
func (s *Stack) icmpError(ip wire.IPHeader, m *wire.ICMP) {
	st := &s.stats.ICMP
	q, err := wire.ParseQuote(m.Body, ip.V6)
	if err != nil {
		st.Malformed.Add(1)
		return
	}
	kind, ok := kindOf(ip.V6, m)
	if !ok || q.Protocol != wire.ProtoTCP || q.Src != ip.Dst {
		st.NoConn.Add(1)
		return
	}
	if kind == tcp.ICMPPacketTooBig && !ip.V6 && !q.DontFrag {
		st.MTUIgnored.Add(1) // RFC 5927 7: we set DF on every segment; this quote is not ours
		return
	}
	c := s.lookup(tuple{netip.AddrPortFrom(q.Src, q.SrcPort), netip.AddrPortFrom(q.Dst, q.DstPort)})
	if c == nil {
		st.NoConn.Add(1)
		return
	}
	c.mu.Lock()
	now := s.clk.Now()
	res := c.tcb.ICMPError(now, kind, q.Seq, int(m.MTU), int(q.TotalLen))
	mtu := c.tcb.PathMTU()
	c.afterLocked(now)
	c.mu.Unlock()
	switch res {
	case tcp.ICMPIgnored:
		st.OutOfWindow.Add(1)
		return
	case tcp.ICMPSoft:
		st.Soft.Add(1)
	case tcp.ICMPAborted:
		st.Aborted.Add(1)
	case tcp.ICMPMTULowered:
		st.MTULowered.Add(1)
		s.pmtu.learn(now, q.Dst, mtu, st)
	case tcp.ICMPMTUIgnored:
		st.MTUIgnored.Add(1)
	}
	st.ByKind[kind].Add(1)
}

// icmpErrorValue is what the application sees of an ICMP error that ended its
// connection: the TCB's words (which message it was) wrapping the errno
// Linux reports for it, so errors.Is(err, syscall.EHOSTUNREACH) holds.
type icmpErrorValue struct {
	err   error
	errno syscall.Errno
}

func (e *icmpErrorValue) Error() string   { return e.err.Error() }
func (e *icmpErrorValue) Unwrap() []error { return []error{e.errno, e.err} }

var icmpErrnos = map[error]*icmpErrorValue{
	tcp.ErrNetUnreachable:   {tcp.ErrNetUnreachable, syscall.ENETUNREACH},
	tcp.ErrHostUnreachable:  {tcp.ErrHostUnreachable, syscall.EHOSTUNREACH},
	tcp.ErrTimeExceeded:     {tcp.ErrTimeExceeded, syscall.EHOSTUNREACH},
	tcp.ErrParamProblem:     {tcp.ErrParamProblem, syscall.EPROTO},
	tcp.ErrProtoUnreachable: {tcp.ErrProtoUnreachable, syscall.ENOPROTOOPT},
}

// icmpErrno maps a TCB's ICMP error to the error the application sees.
func icmpErrno(err error) error {
	if e, ok := icmpErrnos[err]; ok {
		return e
	}
	return err
}
