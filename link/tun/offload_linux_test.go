//go:build linux

package tun

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-tcp/synack/internal/netns"
	"github.com/synack-tcp/synack/link"
	"github.com/synack-tcp/synack/wire"
)

// infoPkt is a packet read from the device with its PacketInfo.
type infoPkt struct {
	p    []byte
	info link.PacketInfo
}

func collectInfo(ch chan<- infoPkt) link.Receiver {
	return link.ReceiverFunc(func(pkts [][]byte, info []link.PacketInfo) {
		for i, p := range pkts {
			select {
			case ch <- infoPkt{bytes.Clone(p), link.InfoAt(info, i)}:
			default:
			}
		}
	})
}

// tcpOf parses an IPv4 TCP packet from the kernel to synack's side.
func tcpOf(p []byte) (h wire.TCP, payload []byte, ok bool) {
	ip, seg, err := wire.ParseIP(p)
	if err != nil || ip.Protocol != wire.ProtoTCP || ip.Dst != peerAddr {
		return h, nil, false
	}
	payload, err = h.Parse(seg)
	return h, payload, err == nil
}

// segTo builds synack's IPv4 TCP packet to the kernel with a partial
// checksum (the folded pseudo-header sum, as Linux's CHECKSUM_PARTIAL).
func segTo(dport uint16, h wire.TCP, payload []byte) []byte {
	h.SrcPort, h.DstPort = 80, dport
	n := h.HeaderLen() + len(payload)
	b := wire.AppendIPHeader(nil, peerAddr, hostAddr, wire.ProtoTCP, 0, n)
	t := len(b)
	b = h.Append(b)
	b = append(b, payload...)
	c := ^wire.Fold(wire.PseudoHeaderSum(peerAddr, hostAddr, wire.ProtoTCP, n))
	b[t+16], b[t+17] = byte(c>>8), byte(c)
	return b
}

// TestOffloadKernelTCP plays synack's side of a TCP connection by hand
// over a device with offloads. The kernel's segments arrive with partial
// checksums (the pseudo-header sum in the field) and its first flight as
// one TCP super-packet larger than the MTU, cut at the MSS our SYN,ACK
// gave; a super-segment we write with a partial checksum and a GSO size
// reaches the kernel's socket whole.
func TestOffloadKernelTCP(t *testing.T) {
	ns, ep := openInNS(t)
	if o := ep.Offloads(); !ep.VnetHdr() || !o.Checksum || !o.TSO || o.MaxPacket != 65535 {
		t.Skipf("no TSO on this kernel's TUN devices: %+v", o)
	}
	pkts := make(chan infoPkt, 1024)
	ep.Attach(collectInfo(pkts))
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	conns := make(chan net.Conn, 1)
	go func() {
		ns.Do(func() error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp4", "10.9.0.2:80")
			if err == nil {
				conns <- c
			}
			return err
		})
	}()
	var syn wire.TCP
	var synInfo link.PacketInfo
	for syn.Flags&wire.SYN == 0 {
		select {
		case p := <-pkts:
			if h, _, ok := tcpOf(p.p); ok {
				syn, synInfo = h, p.info
			}
		case <-ctx.Done():
			t.Fatal("no SYN from the kernel")
		}
	}
	if synInfo.Csum != link.CsumPartial || synInfo.GSO != link.GSONone || synInfo.TTL != 64 {
		t.Errorf("the kernel's SYN: %+v, want a partial checksum, no GSO", synInfo)
	}
	// SYN,ACK: MSS 1000, so the kernel cuts at 1000 (no timestamps).
	sa := wire.TCP{Seq: 5000, Ack: syn.Seq + 1, Flags: wire.SYN | wire.ACK, Window: 65535,
		Options: wire.Options{HasMSS: true, MSS: 1000}}
	if n, err := ep.WritePackets([][]byte{segTo(syn.SrcPort, sa, nil)}, []link.PacketInfo{{Csum: link.CsumPartial}}); n != 1 || err != nil {
		t.Fatalf("write SYN,ACK: %d, %v", n, err)
	}
	var c net.Conn
	select {
	case c = <-conns:
	case <-ctx.Done():
		t.Fatal("the kernel did not complete the handshake: SYN,ACK with a partial checksum refused?")
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))

	// The kernel's first flight: ten segments of 1000 in one packet.
	if _, err := c.Write(bytes.Repeat([]byte("k"), 10000)); err != nil {
		t.Fatal(err)
	}
	got := 0
	var super infoPkt
	for got < 10000 {
		select {
		case p := <-pkts:
			h, payload, ok := tcpOf(p.p)
			if !ok || len(payload) == 0 {
				continue
			}
			// The partial checksum: the pseudo-header sum over the TCP
			// length, not complemented, what partialChecksum writes.
			want := ^wire.Fold(wire.PseudoHeaderSum(hostAddr, peerAddr, wire.ProtoTCP, h.HeaderLen()+len(payload)))
			if p.info.Csum != link.CsumPartial || h.Checksum != want {
				t.Errorf("data from the kernel: %+v, checksum field %#04x, want partial %#04x", p.info, h.Checksum, want)
			}
			if p.info.GSO != link.GSONone && super.p == nil {
				super = p
			}
			got += len(payload)
		case <-ctx.Done():
			t.Fatalf("%d of the kernel's 10000 bytes arrived", got)
		}
	}
	if super.p == nil || len(super.p) <= ep.MTU() || super.info.GSO != link.GSOTCPv4 || super.info.GSOSize != 1000 {
		t.Errorf("no super-packet cut at 1000 in the kernel's flight (first: %d bytes, %+v)", len(super.p), super.info)
	}
	if s := ep.Stats(); s.SuperPacketsRead == 0 {
		t.Errorf("stats: %+v", s)
	}

	// Our super-segment: 3500 bytes in one packet, cut by the kernel at
	// 1000; the kernel's socket reads them.
	data := make([]byte, 3500)
	for i := range data {
		data[i] = byte(i * 13)
	}
	h := wire.TCP{Seq: 5001, Ack: syn.Seq + 1 + 10000, Flags: wire.ACK | wire.PSH, Window: 65535}
	info := link.PacketInfo{Csum: link.CsumPartial, GSO: link.GSOTCPv4, GSOSize: 1000}
	if n, err := ep.WritePackets([][]byte{segTo(syn.SrcPort, h, data)}, []link.PacketInfo{info}); n != 1 || err != nil {
		t.Fatalf("write super-segment: %d, %v", n, err)
	}
	buf := make([]byte, len(data))
	if _, err := io.ReadFull(c, buf); err != nil || !bytes.Equal(buf, data) {
		t.Fatalf("the kernel read %v, %v; want our 3500 bytes", len(buf), err)
	}
	if s := ep.Stats(); s.SuperPacketsWritten != 1 || s.WriteErrors != 0 {
		t.Errorf("stats: %+v", s)
	}
}

// TestNoOffload: Config.NoOffload opens the device without the
// virtio-net header; the kernel's SYN arrives as before, with nothing
// said about its checksum (which is then complete).
func TestNoOffload(t *testing.T) {
	ns := netns.ForTest(t)
	ep, err := Open(Config{NetNS: ns.Name(), HostAddr: netip.PrefixFrom(hostAddr, 24), NoOffload: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	if ep.VnetHdr() || ep.Offloads() != (link.Offloads{}) {
		t.Fatalf("NoOffload: vnet %v, %+v", ep.VnetHdr(), ep.Offloads())
	}
	pkts := make(chan infoPkt, 64)
	ep.Attach(collectInfo(pkts))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go ns.Do(func() error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp4", "10.9.0.2:80")
		if err == nil {
			c.Close()
		}
		return err
	})
	for {
		select {
		case p := <-pkts:
			h, _, ok := tcpOf(p.p)
			if !ok || h.Flags&wire.SYN == 0 {
				continue
			}
			ip, seg, _ := wire.ParseIP(p.p)
			if p.info.Csum != link.CsumNone || !wire.VerifyTCPChecksum(ip.Src, ip.Dst, seg) {
				t.Fatalf("SYN without offloads: %+v, checksum complete %v", p.info, wire.VerifyTCPChecksum(ip.Src, ip.Dst, seg))
			}
			return
		case <-time.After(wait):
			t.Fatal("no SYN")
		}
	}
}
