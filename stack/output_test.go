package stack

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/wire"
)

// TestBatchHeaderMemo: packets built from the batch's header template
// are byte for byte what appendIP and SetTCPChecksum build field by
// field, for IPv4 and IPv6, in both batch modes, as the connection, the
// DS field, the ECN codepoint, the TTL, DF and the length change from
// one packet to the next (each change must rebuild or patch the
// template). The IPv4 header checksum and the TCP checksum verify.
func TestBatchHeaderMemo(t *testing.T) {
	v4 := tuple{netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.2:40000")}
	v4b := tuple{netip.MustParseAddrPort("10.0.0.1:80"), netip.MustParseAddrPort("10.0.0.3:40000")}
	v6 := tuple{netip.MustParseAddrPort("[fd00::1]:80"), netip.MustParseAddrPort("[fd00::2]:443")}
	payload := bytes.Repeat([]byte("synack!"), 300)
	steps := []struct {
		id   tuple
		info link.PacketInfo
		n    int
	}{
		{v4, link.PacketInfo{TTL: 64, DF: true}, 1448},
		{v4, link.PacketInfo{TTL: 64, DF: true}, 1},
		{v4, link.PacketInfo{TTL: 64, DF: true, ECN: 2}, 1448},
		{v4, link.PacketInfo{TTL: 64, DF: true, ECN: 2, DS: 10}, 0},
		{v4, link.PacketInfo{TTL: 7}, 999},
		{v4b, link.PacketInfo{TTL: 7}, 999},
		{v6, link.PacketInfo{TTL: 64}, 1440},
		{v6, link.PacketInfo{TTL: 64, ECN: 1, DS: 46}, 3},
		{v4, link.PacketInfo{TTL: 64, DF: true}, 2000},
	}
	for _, gather := range []bool{false, true} {
		b := newBatch(65535, gather)
		for i, st := range steps {
			h := wire.TCP{Seq: uint32(1000 * i), Ack: 7, Flags: wire.ACK | wire.PSH, Window: 512}
			p1, p2 := payload[:st.n/2], payload[st.n/2:st.n]
			if !b.add(st.id, &h, p1, p2, st.info) {
				t.Fatalf("step %d: no room", i)
			}
			var got []byte
			if gather {
				pc := b.pieces[len(b.pieces)-1]
				got = append(append(append(got, pc[0]...), pc[1]...), pc[2]...)
			} else {
				got = b.pkts[len(b.pkts)-1]
			}
			want := appendIP(nil, st.id, wire.ProtoTCP, st.info, h.HeaderLen()+st.n)
			tcpStart := len(want)
			want = h.Append(want)
			want = append(append(want, p1...), p2...)
			wire.SetTCPChecksum(st.id.local.Addr(), st.id.remote.Addr(), want[tcpStart:])
			if !bytes.Equal(got, want) {
				t.Fatalf("gather %v, step %d: built\n%x\nwant\n%x", gather, i, got, want)
			}
			ip, seg, err := wire.ParseIP(got)
			if err != nil || !wire.VerifyTCPChecksum(ip.Src, ip.Dst, seg) {
				t.Fatalf("gather %v, step %d: parse %v, TCP checksum ok %v", gather, i, err, err == nil && wire.VerifyTCPChecksum(ip.Src, ip.Dst, seg))
			}
		}
	}
}
