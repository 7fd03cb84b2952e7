//go:build linux

package interop

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/synack-tcp/synack/internal/netns"
	"github.com/synack-tcp/synack/link/tun"
	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// TestOffloadBulk runs the bulk transfer of TestSynackClientBulkBothWays
// over a device with its virtio-net offloads (the default): the kernel
// hands synack TCP super-packets with partial checksums and takes
// synack's TSO super-segments, cutting them itself, and both byte streams
// arrive whole (runBulk compares SHA-256 digests).
func TestOffloadBulk(t *testing.T) {
	t.Parallel()
	e := newEnvOffload(t, true, nil)
	o := e.ep.Offloads()
	if !e.ep.VnetHdr() || !o.Checksum || !o.TSO {
		t.Skipf("the kernel granted no TSO on a TUN device: vnet %v, %+v", e.ep.VnetHdr(), o)
	}
	runBulk(t, e)
	s := e.ep.Stats()
	t.Logf("tun: %+v", s)
	// With SYNACK_INTEROP_PCAP the stack sees link/pcap, which reports no
	// offloads, so only the kernel's side sends super-packets.
	if s.SuperPacketsRead == 0 || s.SuperPacketsWritten == 0 && pcapDir == "" {
		t.Errorf("no super-packets crossed the device: %d read, %d written", s.SuperPacketsRead, s.SuperPacketsWritten)
	}
	if n := e.st.Stats().BadChecksum.Load(); n != 0 {
		t.Errorf("%d packets failed checksum verification", n)
	}
}

// TestNoOffloadBulk forces the offloads off (tun.Config.NoOffload): no
// virtio-net header, every packet crosses alone with its checksum done in
// software, and the transfer is as whole as with them.
func TestNoOffloadBulk(t *testing.T) {
	t.Parallel()
	e := newEnvOffload(t, false, nil)
	if e.ep.VnetHdr() || e.ep.Offloads().Checksum {
		t.Fatalf("offloads forced off, yet vnet %v, %+v", e.ep.VnetHdr(), e.ep.Offloads())
	}
	runBulk(t, e)
	s := e.ep.Stats()
	if s.SuperPacketsRead != 0 || s.SuperPacketsWritten != 0 || s.BytesRead/s.PacketsRead > 1500 {
		t.Errorf("super-packets without offloads: %+v", s)
	}
}

// TestOffloadBulkIPv6 is TSO6 and IPv6 partial checksums: synack on a
// device with host address fd00:9:16::1/64 dials the kernel and both send
// 8 MiB at once; each side reads exactly what the other wrote, and
// super-packets crossed both ways.
func TestOffloadBulkIPv6(t *testing.T) {
	t.Parallel()
	offloadBoth(t, netip.MustParsePrefix("fd00:9:16::1/64"), netip.MustParseAddr("fd00:9:16::2"), false)
}

// TestOffloadBulkECN is the same over IPv4 with ECN negotiated (RFC 3168;
// the kernel grants it by default): synack's super-segments go out
// ECN-capable, and the kernel cuts them keeping the codepoint.
func TestOffloadBulkECN(t *testing.T) {
	t.Parallel()
	offloadBoth(t, netip.MustParsePrefix("10.9.250.1/24"), netip.MustParseAddr("10.9.250.2"), true)
}

// offloadBoth runs both directions of 8 MiB at once between synack (at
// addr, dialing) and the kernel (at host) over a device with offloads.
func offloadBoth(t *testing.T, hostPrefix netip.Prefix, addr netip.Addr, ecn bool) {
	ns := netns.ForTest(t)
	host := hostPrefix.Addr()
	ep, err := tun.Open(tun.Config{NetNS: ns.Name(), HostAddr: hostPrefix, MTU: 1500})
	if err != nil {
		t.Fatal(err)
	}
	if !ep.Offloads().TSO {
		ep.Close()
		t.Skipf("no TSO: %+v", ep.Offloads())
	}
	st, err := stack.New(ep, stack.Config{Addrs: []netip.Addr{addr}, TCP: tcp.Config{MSL: msl}, ECN: ecn})
	if err != nil {
		ep.Close()
		t.Fatal(err)
	}
	defer st.Close()
	var ln net.Listener
	if err := ns.Do(func() (err error) {
		ln, err = net.Listen("tcp", netip.AddrPortFrom(host, 5001).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const n = 8 << 20
	up, down := pattern(3, n), pattern(4, n)
	kread := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			kread <- nil
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(testTimeout))
		wrote := make(chan struct{})
		go func() { c.Write(down); close(wrote) }()
		b, _ := io.ReadAll(io.LimitReader(c, n))
		<-wrote // closing sooner would cut the write short
		kread <- b
	}()
	c, err := st.DialContext(ctx(t), "tcp", netip.AddrPortFrom(host, 5001).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(testTimeout))
	wrote := make(chan struct{})
	go func() { c.Write(up); close(wrote) }()
	defer func() { <-wrote }()
	got, err := io.ReadAll(io.LimitReader(c, n))
	if err != nil || !bytes.Equal(got, down) {
		t.Fatalf("synack read %d bytes (%v), not the kernel's %d", len(got), err, n)
	}
	if k := <-kread; !bytes.Equal(k, up) {
		t.Fatalf("the kernel read %d bytes, not synack's %d", len(k), n)
	}
	if s := ep.Stats(); s.SuperPacketsRead == 0 || s.SuperPacketsWritten == 0 {
		t.Errorf("no super-packets: %+v", s)
	}
	if got := c.(*stack.Conn).Status().ECN; got != ecn {
		t.Errorf("ECN negotiated %v, want %v", got, ecn)
	}
	if b := st.Stats().BadChecksum.Load(); b != 0 {
		t.Errorf("%d bad checksums", b)
	}
}

// TestMultiQueueConns puts the stack on a device with two queues
// (tun.Config.Queues): 32 kernel connections each send 512 KiB to a synack
// listener, which echoes it back; every connection reads back what it
// sent, and both queues' readers carried traffic (their deliveries to the
// stack overlap).
func TestMultiQueueConns(t *testing.T) {
	t.Parallel()
	ns := netns.ForTest(t)
	host, addr := netip.MustParseAddr("10.9.251.1"), netip.MustParseAddr("10.9.251.2")
	ep, err := tun.Open(tun.Config{NetNS: ns.Name(), HostAddr: netip.PrefixFrom(host, 24), Queues: 2})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Queues() != 2 {
		ep.Close()
		t.Skipf("the kernel gave %d queues", ep.Queues())
	}
	st, err := stack.New(ep, stack.Config{Addrs: []netip.Addr{addr}, TCP: tcp.Config{MSL: msl}})
	if err != nil {
		ep.Close()
		t.Fatal(err)
	}
	defer st.Close()
	l, err := st.Listen("tcp", netip.AddrPortFrom(addr, 7).String())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(testTimeout))
				io.Copy(c, c)
			}()
		}
	}()
	const conns, size = 32, 512 << 10
	errs := make(chan error, conns)
	for i := range conns {
		go func() {
			var c *net.TCPConn
			err := ns.Do(func() error {
				nc, err := net.Dial("tcp4", netip.AddrPortFrom(addr, 7).String())
				if err == nil {
					c = nc.(*net.TCPConn)
				}
				return err
			})
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(testTimeout))
			want := pattern(uint64(100+i), size)
			go func() { c.Write(want); c.CloseWrite() }()
			got, err := io.ReadAll(c)
			if err == nil && !bytes.Equal(got, want) {
				err = fmt.Errorf("connection %d read back %d bytes, not its %d", i, len(got), size)
			}
			errs <- err
		}()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if per := ep.QueuePackets(); per[0] == 0 || per[1] == 0 {
		t.Errorf("packets per queue %v: want traffic on both", per)
	}
}
