package packetdrill

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/synack-tcp/synack/clock"
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/seq"
	"github.com/synack-tcp/synack/wire"
)

// endpoint is the runner's link: it keeps every packet the stack sends,
// stamped with the virtual time, and hands injected packets to the stack.
type endpoint struct {
	mtu int
	clk *clock.Virtual
	rcv link.Receiver
	out []outPacket
}

// outPacket is one segment the stack sent.
type outPacket struct {
	at      time.Duration
	ip      wire.IPHeader
	h       wire.TCP
	payload int
	opts    []byte // the raw option bytes, in order
}

func (e *endpoint) MTU() int               { return e.mtu }
func (e *endpoint) Attach(r link.Receiver) { e.rcv = r }
func (e *endpoint) Close() error           { return nil }
func (e *endpoint) WritePackets(pkts [][]byte, _ []link.PacketInfo) (int, error) {
	for _, p := range pkts {
		ip, seg, err := wire.ParseIP(p)
		if err != nil || ip.Protocol != wire.ProtoTCP {
			continue
		}
		var o outPacket
		payload, err := o.h.Parse(seg)
		if err != nil {
			continue
		}
		o.at, o.ip, o.payload = e.clk.Now(), ip, len(payload)
		o.opts = append([]byte(nil), seg[wire.TCPMinHeaderLen:o.h.DataOffset]...)
		e.out = append(e.out, o)
	}
	return len(pkts), nil
}

// flagBits parses packetdrill's flag letters.
func flagBits(s string) wire.Flags {
	var f wire.Flags
	for _, c := range s {
		switch c {
		case 'S':
			f |= wire.SYN
		case 'F':
			f |= wire.FIN
		case 'R':
			f |= wire.RST
		case 'P':
			f |= wire.PSH
		case '.':
			f |= wire.ACK
		case 'U':
			f |= wire.URG
		case 'E':
			f |= wire.ECE
		case 'W':
			f |= wire.CWR
		}
	}
	return f
}

// flagLetters writes flags in packetdrill's notation.
func flagLetters(f wire.Flags) string {
	var b strings.Builder
	for _, x := range []struct {
		f wire.Flags
		c byte
	}{{wire.SYN, 'S'}, {wire.FIN, 'F'}, {wire.RST, 'R'}, {wire.PSH, 'P'}, {wire.URG, 'U'}, {wire.ECE, 'E'}, {wire.CWR, 'W'}} {
		if f&x.f != 0 {
			b.WriteByte(x.c)
		}
	}
	if f&wire.ACK != 0 {
		b.WriteByte('.')
	}
	if b.Len() == 0 {
		return "-"
	}
	return b.String()
}

var ecnCodes = map[string]uint8{"noecn": 0, "ect1": 1, "ect0": 2, "ce": 3, "ect01": 2}

// inject builds an inbound segment from the script's notation and
// delivers it.
func (r *runner) inject(p *Packet) error {
	h := make([]byte, wire.TCPMinHeaderLen, wire.TCPMaxHeaderLen)
	src, dst := r.rport, r.lport
	if p.SrcPort != 0 {
		src, dst = p.SrcPort, p.DstPort
	}
	binary.BigEndian.PutUint16(h[0:], src)
	binary.BigEndian.PutUint16(h[2:], dst)
	binary.BigEndian.PutUint32(h[4:], remoteISN+p.Seq)
	f := flagBits(p.Flags)
	if p.HasAck {
		binary.BigEndian.PutUint32(h[8:], uint32(r.localISN.Add(seq.Size(p.Ack))))
	}
	h[13] = byte(f)
	win := uint32(65535)
	if f&wire.RST != 0 {
		win = 0
	}
	if p.HasWin {
		win = p.Win
	}
	binary.BigEndian.PutUint16(h[14:], uint16(win))
	if p.HasUrg {
		binary.BigEndian.PutUint16(h[18:], uint16(p.Urg))
	}
	for _, o := range p.Options {
		h = r.appendOption(h, o)
	}
	if len(h) > wire.TCPMaxHeaderLen {
		return failf("inbound options longer than 40 bytes")
	}
	for len(h)%4 != 0 {
		h = append(h, wire.OptEOL)
	}
	h[12] = byte(len(h)/4) << 4
	seg := append(h, make([]byte, p.Len)...)
	wire.SetTCPChecksum(r.remote, r.local, seg)
	tos := uint8(0)
	if p.ECN != "" {
		tos = ecnCodes[p.ECN]
	}
	pkt := wire.AppendIPHeader(nil, r.remote, r.local, wire.ProtoTCP, tos, len(seg))
	pkt = append(pkt, seg...)
	if len(pkt) > 65535 {
		return failf("inbound packet of %d bytes is too large for IP", len(pkt))
	}
	r.trace("< %s %d:%d(%d)", p.Flags, p.Seq, p.End, p.Len)
	r.ep.rcv.DeliverPackets([][]byte{pkt}, nil)
	return r.pollPending()
}

func (r *runner) appendOption(h []byte, o Option) []byte {
	switch o.Kind {
	case "nop":
		return append(h, wire.OptNOP)
	case "eol":
		return append(h, wire.OptEOL)
	case "mss":
		return append(h, wire.OptMSS, 4, byte(o.Val>>8), byte(o.Val))
	case "wscale":
		return append(h, wire.OptWScale, 3, byte(o.Val))
	case "sackOK":
		return append(h, wire.OptSACKPermitted, 2)
	case "TS":
		ecr := o.Ecr
		if ecr != 0 {
			ecr = r.liveTSEcr(ecr)
		}
		h = append(h, wire.OptTimestamps, 10)
		h = binary.BigEndian.AppendUint32(h, o.Val)
		return binary.BigEndian.AppendUint32(h, ecr)
	case "sack":
		h = append(h, wire.OptSACK, byte(2+8*len(o.Blocks)))
		for _, b := range o.Blocks {
			h = binary.BigEndian.AppendUint32(h, uint32(r.localISN.Add(seq.Size(b[0]))))
			h = binary.BigEndian.AppendUint32(h, uint32(r.localISN.Add(seq.Size(b[1]))))
		}
	}
	return h
}

// liveTSEcr maps a TSecr the script writes (in the script's TSval space)
// to the stack's own timestamp clock.
func (r *runner) liveTSEcr(v uint32) uint32 {
	switch {
	case r.tsKnown:
		return r.tsLive + (v - r.tsScript)
	case r.sentTS:
		return r.lastTSval
	}
	return v
}

// expectPacket waits for the next outbound segment and compares it with
// the script's; it returns when the segment went out.
func (r *runner) expectPacket(ev *Event, at, end time.Duration) (time.Duration, error) {
	lo, hi := at-r.tol, end+r.tol
	if ev.Time.Kind == TimeAny {
		lo, hi = 0, r.clk.Now()+time.Hour
	}
	for len(r.ep.out) == 0 {
		moved, err := r.step(hi)
		if err != nil {
			return 0, err
		}
		if !moved {
			return 0, failf("expected %s\n  - want: %s at %.6f s\n  + got:  nothing by %.6f s",
				"a packet", r.s.SourceLine(ev.Line), at.Seconds(), hi.Seconds())
		}
	}
	got := r.ep.out[0]
	r.ep.out = r.ep.out[1:]
	r.trace("> %s", r.render(&got))
	if r.windowUpdate(ev.Packet, &got) {
		r.trace("  (a window update the script does not expect: skipped)")
		r.prevOut = got
		return r.expectPacket(ev, at, end)
	}
	r.prevOut = got
	got = r.coalesce(ev.Packet, got)
	if got.at < lo || got.at > hi {
		return 0, failf("timing\n  - want: at %.6f s (tolerance %v)\n  + got:  %s at %.6f s",
			at.Seconds(), r.tol, r.render(&got), got.at.Seconds())
	}
	if err := r.match(ev.Packet, &got); err != nil {
		msg := fmt.Sprintf("%v\n  - want: %s\n  + got:  %s", err, packetText(ev.Packet), r.render(&got))
		for i := 0; i < len(r.ep.out) && i < 3; i++ {
			msg += fmt.Sprintf("\n    then: %s at %.6f s", r.render(&r.ep.out[i]), r.ep.out[i].at.Seconds())
		}
		return 0, &failure{msg: msg}
	}
	return got.at, nil
}

// windowUpdate reports a pure window update the script does not expect
// (portable mode): the same SEQ and ACK as the segment before, no data,
// a larger window. When to send one is the receiver's choice within SWS
// avoidance (RFC 9293 3.8.6.2.2); Linux waits for the window to double.
func (r *runner) windowUpdate(p *Packet, got *outPacket) bool {
	prev := r.prevOut
	if r.opt.Strict || prev.h.Flags == 0 || got.payload != 0 || got.h.Flags&^wire.PSH != wire.ACK ||
		got.h.Seq != prev.h.Seq+uint32(prev.payload) || got.h.Ack != prev.h.Ack || got.h.Window <= prev.h.Window {
		return false
	}
	// Only when the script's next packet is something else.
	return p.Len != 0 || !p.HasAck || got.h.Ack-remoteISN != p.Ack || flagBits(p.Flags)&^wire.PSH != wire.ACK
}

// render writes a segment the stack sent in the script's notation.
func (r *runner) render(o *outPacket) string {
	var b strings.Builder
	s := seq.Value(o.h.Seq).Sub(r.localISN)
	fmt.Fprintf(&b, "%s %d:%d(%d)", flagLetters(o.h.Flags), uint32(s), uint32(s)+uint32(o.payload), o.payload)
	if o.h.Flags&wire.ACK != 0 {
		fmt.Fprintf(&b, " ack %d", o.h.Ack-remoteISN)
	} else if o.h.Ack != 0 {
		fmt.Fprintf(&b, " ack(raw) %d", o.h.Ack)
	}
	fmt.Fprintf(&b, " win %d", o.h.Window)
	if tc := o.ip.TOS & 3; tc != 0 {
		fmt.Fprintf(&b, " [%s]", [...]string{"", "ect1", "ect0", "ce"}[tc])
	}
	if len(o.opts) > 0 {
		b.WriteString(" <" + r.optionText(o.opts) + ">")
	}
	return b.String()
}

func (r *runner) optionText(raw []byte) string {
	var parts []string
	for _, o := range rawOptions(raw) {
		switch o.kind {
		case wire.OptEOL:
			parts = append(parts, "eol")
		case wire.OptNOP:
			parts = append(parts, "nop")
		case wire.OptMSS:
			parts = append(parts, fmt.Sprintf("mss %d", o.val))
		case wire.OptWScale:
			parts = append(parts, fmt.Sprintf("wscale %d", o.val))
		case wire.OptSACKPermitted:
			parts = append(parts, "sackOK")
		case wire.OptTimestamps:
			val := o.val
			if r.tsKnown { // in the script's TSval space
				val = o.val - r.tsLive + r.tsScript
			}
			parts = append(parts, fmt.Sprintf("TS val %d ecr %d", val, o.ecr))
		case wire.OptSACK:
			s := "sack"
			for _, bl := range o.blocks {
				s += fmt.Sprintf(" %d:%d", bl[0]-remoteISN, bl[1]-remoteISN)
			}
			parts = append(parts, s)
		default:
			parts = append(parts, fmt.Sprintf("kind %d", o.kind))
		}
	}
	return strings.Join(parts, ",")
}

// packetText writes the script's packet back in its notation.
func packetText(p *Packet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d:%d(%d)", p.Flags, p.Seq, p.End, p.Len)
	if p.HasAck {
		fmt.Fprintf(&b, " ack %d", p.Ack)
	}
	if p.HasWin {
		fmt.Fprintf(&b, " win %d", p.Win)
	}
	if p.ECN != "" {
		fmt.Fprintf(&b, " [%s]", p.ECN)
	}
	switch {
	case p.AnyOptions:
		b.WriteString(" <...>")
	case p.HasOptions:
		var parts []string
		for _, o := range p.Options {
			switch o.Kind {
			case "mss", "wscale":
				parts = append(parts, fmt.Sprintf("%s %d", o.Kind, o.Val))
			case "TS":
				parts = append(parts, fmt.Sprintf("TS val %d ecr %d", o.Val, o.Ecr))
			case "sack":
				s := "sack"
				for _, bl := range o.Blocks {
					s += fmt.Sprintf(" %d:%d", bl[0], bl[1])
				}
				parts = append(parts, s)
			default:
				parts = append(parts, o.Kind)
			}
		}
		b.WriteString(" <" + strings.Join(parts, ",") + ">")
	}
	return b.String()
}

// rawOption is one option as it appears on the wire.
type rawOption struct {
	kind     byte
	val, ecr uint32
	blocks   [][2]uint32
}

// rawOptions lists the options in wire order (the header was already
// parsed, so the lengths are sound).
func rawOptions(b []byte) []rawOption {
	var out []rawOption
	for len(b) > 0 {
		k := b[0]
		if k == wire.OptEOL || k == wire.OptNOP {
			out = append(out, rawOption{kind: k})
			b = b[1:]
			continue
		}
		if len(b) < 2 || int(b[1]) < 2 || int(b[1]) > len(b) {
			break
		}
		d := b[2:b[1]]
		o := rawOption{kind: k}
		switch {
		case k == wire.OptMSS && len(d) == 2:
			o.val = uint32(binary.BigEndian.Uint16(d))
		case k == wire.OptWScale && len(d) == 1:
			o.val = uint32(d[0])
		case k == wire.OptTimestamps && len(d) == 8:
			o.val, o.ecr = binary.BigEndian.Uint32(d), binary.BigEndian.Uint32(d[4:])
		case k == wire.OptSACK:
			for i := 0; i+8 <= len(d); i += 8 {
				o.blocks = append(o.blocks, [2]uint32{binary.BigEndian.Uint32(d[i:]), binary.BigEndian.Uint32(d[i+4:])})
			}
		}
		out = append(out, o)
		b = b[b[1]:]
	}
	return out
}
