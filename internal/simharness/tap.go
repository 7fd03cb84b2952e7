package simharness

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/link/sim"
	"github.com/synack-tcp/synack/wire"
)

// tap sits between a stack and its sim endpoint: every packet the stack
// writes goes into the trace digest (and the trace), in the order the
// link numbers them.
type tap struct {
	r   *runner
	ep  *sim.Endpoint
	dir sim.Direction
	seq uint64 // the link's sequence number of the next packet written
}

func (t *tap) MTU() int                { return t.ep.MTU() }
func (t *tap) Attach(rc link.Receiver) { t.ep.Attach(rc) }
func (t *tap) Close() error            { return t.ep.Close() }
func (t *tap) WritePackets(pkts [][]byte, info []link.PacketInfo) (int, error) {
	for _, p := range pkts {
		b := t.r.hbuf[:0]
		b = append(b, 'W', byte(t.dir))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p[:min(len(p), 120)]...) // the headers; the payload is the stream's
		t.r.h.Write(b)
		t.r.hbuf = b
		if t.r.trace != nil {
			t.r.tracef("%v #%d %s", t.dir, t.seq, describePacket(p))
		}
		t.seq++
	}
	return t.ep.WritePackets(pkts, info)
}

var _ link.Endpoint = (*tap)(nil)

// describePacket prints a packet the way tcpdump would, roughly.
func describePacket(p []byte) string {
	ip, seg, err := wire.ParseIP(p)
	if err != nil {
		return fmt.Sprintf("%d bytes, bad IP: %v", len(p), err)
	}
	var h wire.TCP
	payload, err := h.Parse(seg)
	if err != nil {
		return fmt.Sprintf("%v > %v: bad TCP: %v", ip.Src, ip.Dst, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%v:%d > %v:%d [%v] seq=%d", ip.Src, h.SrcPort, ip.Dst, h.DstPort, h.Flags, h.Seq)
	if h.Flags&wire.ACK != 0 {
		fmt.Fprintf(&b, " ack=%d", h.Ack)
	}
	fmt.Fprintf(&b, " win=%d len=%d", h.Window, len(payload))
	var opts []string
	o := h.Options
	if o.HasMSS {
		opts = append(opts, fmt.Sprintf("mss %d", o.MSS))
	}
	if o.HasWScale {
		opts = append(opts, fmt.Sprintf("wscale %d", o.WScale))
	}
	if o.SACKPermitted {
		opts = append(opts, "sackOK")
	}
	if o.HasTimestamps {
		opts = append(opts, fmt.Sprintf("TS val %d ecr %d", o.TSVal, o.TSEcr))
	}
	for _, s := range o.SACK[:min(int(o.NumSACK), len(o.SACK))] {
		opts = append(opts, fmt.Sprintf("sack %d-%d", s.Left, s.Right))
	}
	if len(opts) > 0 {
		b.WriteString(" <" + strings.Join(opts, ",") + ">")
	}
	return b.String()
}
