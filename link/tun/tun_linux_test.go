//go:build linux

package tun

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/synack-tcp/synack/internal/netns"
	"github.com/synack-tcp/synack/link"
	"golang.org/x/sys/unix"
)

// wait bounds every wait on real I/O with the kernel.
const wait = 5 * time.Second

var (
	hostAddr = netip.MustParseAddr("10.9.0.1")
	peerAddr = netip.MustParseAddr("10.9.0.2") // synack's side
)

// openInNS opens a TUN device with host address 10.9.0.1/24 in a fresh
// namespace; both go away when the test ends.
func openInNS(t testing.TB) (*netns.NS, *Endpoint) {
	t.Helper()
	ns := netns.ForTest(t)
	ep, err := Open(Config{NetNS: ns.Name(), HostAddr: netip.PrefixFrom(hostAddr, 24)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ep.Close() }) // runs before the namespace's cleanup
	return ns, ep
}

// collect returns a receiver that copies packets into a channel, dropping
// them if the channel is full so the reader never blocks.
func collect(ch chan<- []byte) link.Receiver {
	return link.ReceiverFunc(func(pkts [][]byte, _ []link.PacketInfo) {
		for _, p := range pkts {
			select {
			case ch <- bytes.Clone(p):
			default:
			}
		}
	})
}

// next returns the first packet from ch that match accepts.
func next(t *testing.T, ch <-chan []byte, what string, match func([]byte) bool) []byte {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case p := <-ch:
			if match(p) {
				return p
			}
		case <-timeout:
			t.Fatalf("no %s within %v", what, wait)
			return nil
		}
	}
}

func checksum(sum uint32, b []byte) uint32 {
	for ; len(b) >= 2; b = b[2:] {
		sum += uint32(binary.BigEndian.Uint16(b))
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// ipv4 builds an IPv4 packet around payload, with a correct header
// checksum.
func ipv4(proto byte, src, dst netip.Addr, payload []byte) []byte {
	p := make([]byte, 20, 20+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(p[4:], 0x1234) // ID
	p[6] = 0x40                               // DF
	p[8] = 64                                 // TTL
	p[9] = proto
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], fold(checksum(0, p)))
	return append(p, payload...)
}

// udp4 builds an IPv4/UDP packet with correct checksums.
func udp4(src, dst netip.AddrPort, payload []byte) []byte {
	u := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:], src.Port())
	binary.BigEndian.PutUint16(u[2:], dst.Port())
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(payload)))
	u = append(u, payload...)
	s, d := src.Addr().As4(), dst.Addr().As4()
	sum := checksum(0, s[:])
	sum = checksum(sum, d[:])
	sum += 17 + uint32(len(u)) // pseudo-header: zero, protocol, UDP length
	c := fold(checksum(sum, u))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return ipv4(17, src.Addr(), dst.Addr(), u)
}

// echo4 builds an ICMP echo request.
func echo4(src, dst netip.Addr, id, seq uint16, data []byte) []byte {
	m := make([]byte, 8, 8+len(data))
	m[0] = 8 // echo request
	binary.BigEndian.PutUint16(m[4:], id)
	binary.BigEndian.PutUint16(m[6:], seq)
	m = append(m, data...)
	binary.BigEndian.PutUint16(m[2:], fold(checksum(0, m)))
	return ipv4(1, src, dst, m)
}

// ip4 returns the header length, protocol, source and destination of an
// IPv4 packet, or ok false.
func ip4(p []byte) (ihl int, proto byte, src, dst netip.Addr, ok bool) {
	if len(p) < 20 || p[0]>>4 != 4 {
		return 0, 0, src, dst, false
	}
	ihl = int(p[0]&0xf) * 4
	if ihl < 20 || len(p) < ihl {
		return 0, 0, src, dst, false
	}
	return ihl, p[9], netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20])), true
}

// TestKernelSYN has the kernel dial 10.9.0.2:80 over the device and
// checks that the SYN arrives through the endpoint.
func TestKernelSYN(t *testing.T) {
	ns, ep := openInNS(t)
	if ep.MTU() != DefaultMTU {
		t.Errorf("MTU() = %d, want %d", ep.MTU(), DefaultMTU)
	}
	pkts := make(chan []byte, 256)
	ep.Attach(collect(pkts))

	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan error, 1)
	go func() {
		dialed <- ns.Do(func() error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp4", "10.9.0.2:80")
			if c != nil {
				c.Close()
			}
			return err
		})
	}()
	defer func() {
		cancel()
		select {
		case <-dialed:
		case <-time.After(wait):
			t.Error("dial not cancelled")
		}
	}()

	next(t, pkts, "TCP SYN from 10.9.0.1 to 10.9.0.2:80", func(p []byte) bool {
		ihl, proto, src, dst, ok := ip4(p)
		if !ok || proto != 6 || len(p) < ihl+20 {
			return false
		}
		tcp := p[ihl:]
		const syn, ack = 0x02, 0x10
		return src == hostAddr && dst == peerAddr &&
			binary.BigEndian.Uint16(tcp[2:]) == 80 && tcp[13]&(syn|ack) == syn
	})
	if s := ep.Stats(); s.PacketsRead == 0 || s.BytesRead == 0 || s.ReadBatches == 0 {
		t.Errorf("stats after a read: %+v", s)
	}
}

// TestWriteUDP writes UDP datagrams for a socket listening inside the
// namespace and checks that it receives them, in one batch and singly.
func TestWriteUDP(t *testing.T) {
	ns, ep := openInNS(t)
	var uc *net.UDPConn
	err := ns.Do(func() (err error) {
		uc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(hostAddr, 0)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	dst := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	src := netip.AddrPortFrom(peerAddr, 4000)

	const n = 100
	batch := make([][]byte, n)
	var total uint64
	for i := range batch {
		batch[i] = udp4(src, dst, fmt.Appendf(nil, "datagram %d", i))
		total += uint64(len(batch[i]))
	}
	if got, err := ep.WritePackets(batch[:1], nil); got != 1 || err != nil {
		t.Fatalf("WritePackets = %d, %v", got, err)
	}
	if got, err := ep.WritePackets(batch[1:], nil); got != n-1 || err != nil {
		t.Fatalf("WritePackets = %d, %v", got, err)
	}

	uc.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	for i := range n {
		m, from, err := uc.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if want := fmt.Sprintf("datagram %d", i); string(buf[:m]) != want || from != src {
			t.Fatalf("got %q from %v, want %q from %v", buf[:m], from, want, src)
		}
	}
	s := ep.Stats()
	if s.PacketsWritten != n || s.BytesWritten != total || s.WriteErrors != 0 {
		t.Errorf("stats: %+v, want %d packets, %d bytes written", s, n, total)
	}
}

// TestPing writes ICMP echo requests and reads the kernel's replies: both
// directions at once.
func TestPing(t *testing.T) {
	_, ep := openInNS(t)
	pkts := make(chan []byte, 256)
	ep.Attach(collect(pkts))
	const n = 32
	batch := make([][]byte, n)
	for i := range batch {
		batch[i] = echo4(peerAddr, hostAddr, 0xbeef, uint16(i), []byte("synack ping"))
	}
	if _, err := ep.WritePackets(batch, nil); err != nil {
		t.Fatal(err)
	}
	seen := make(map[uint16]bool)
	for len(seen) < n {
		p := next(t, pkts, "ICMP echo reply", func(p []byte) bool {
			ihl, proto, src, dst, ok := ip4(p)
			return ok && proto == 1 && src == hostAddr && dst == peerAddr && len(p) >= ihl+8 &&
				p[ihl] == 0 && binary.BigEndian.Uint16(p[ihl+4:]) == 0xbeef
		})
		ihl := int(p[0]&0xf) * 4
		seen[binary.BigEndian.Uint16(p[ihl+6:])] = true
	}
	s := ep.Stats()
	t.Logf("%d replies in %d batches", s.PacketsRead, s.ReadBatches)
}

// TestWriteDrops checks that packets the kernel refuses count as lost,
// not as failures.
func TestWriteDrops(t *testing.T) {
	_, ep := openInNS(t)
	bad := [][]byte{{0x00, 1, 2, 3}, {}}
	if got, err := ep.WritePackets(bad, nil); got != len(bad) || err != nil {
		t.Fatalf("WritePackets(bad, nil) = %d, %v; want %d, nil", got, err, len(bad))
	}
	if s := ep.Stats(); s.WriteErrors != 2 || s.PacketsWritten != 0 {
		t.Fatalf("stats: %+v", s)
	}
}

// readerRunning reports whether a goroutine that Attach started exists,
// whether or not it has begun to run.
func readerRunning() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "created by github.com/synack-tcp/synack/link/tun.(*Endpoint).Attach")
}

// TestClose checks that Close unblocks and reaps the reader, deletes the
// device, and that the endpoint refuses writes afterwards.
func TestClose(t *testing.T) {
	ns, ep := openInNS(t)
	ep.Attach(link.ReceiverFunc(func([][]byte, []link.PacketInfo) {}))
	if !readerRunning() {
		t.Fatalf("no reader goroutine after Attach; stats %+v", ep.Stats())
	}

	// Writers racing with Close.
	var wg sync.WaitGroup
	pkt := udp4(netip.AddrPortFrom(peerAddr, 1), netip.AddrPortFrom(hostAddr, 9), []byte("x"))
	for range 4 {
		wg.Go(func() {
			for range 100000 {
				if _, err := ep.WritePackets([][]byte{pkt}, nil); err != nil {
					if !errors.Is(err, link.ErrClosed) {
						t.Errorf("write: %v", err)
					}
					return
				}
			}
		})
	}

	closed := make(chan error, 1)
	go func() { closed <- ep.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("Close blocked")
	}
	wg.Wait()
	// Close waited for the reader to finish; give its goroutine the moment
	// it needs to return after signalling.
	for i := 0; readerRunning(); i++ {
		if i == 500 {
			t.Fatal("reader goroutine still running after Close")
		}
		time.Sleep(10 * time.Millisecond)
	}

	if _, err := ep.WritePackets([][]byte{pkt}, nil); !errors.Is(err, link.ErrClosed) {
		t.Fatalf("write after Close: %v, want link.ErrClosed", err)
	}
	if err := ep.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if out, err := ns.Run("ip", "link", "show", ep.Name()); err == nil {
		t.Fatalf("device %s still exists after Close:\n%s", ep.Name(), out)
	}
}

func TestCloseBeforeAttach(t *testing.T) {
	_, ep := openInNS(t)
	if err := ep.Close(); err != nil {
		t.Fatal(err)
	}
	ep.Attach(link.ReceiverFunc(func([][]byte, []link.PacketInfo) { t.Error("delivery after Close") }))
	if readerRunning() {
		t.Fatal("Attach after Close started a reader")
	}
}

// TestConfig checks the name, MTU and address the device gets.
func TestConfig(t *testing.T) {
	ns := netns.ForTest(t)
	ep, err := Open(Config{
		Name:     "synack0",
		MTU:      9000,
		HostAddr: netip.MustParsePrefix("fd00:9::1/64"),
		NetNS:    ns.Path(), // a path works as well as a name
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	if ep.Name() != "synack0" || ep.MTU() != 9000 {
		t.Fatalf("Name, MTU = %q, %d", ep.Name(), ep.MTU())
	}
	out, err := ns.Run("ip", "addr", "show", "dev", "synack0")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, want := range []string{"mtu 9000", "inet6 fd00:9::1/64", ",UP", fmt.Sprintf("qlen %d", TxQueueLen)} {
		if !strings.Contains(string(out), want) {
			t.Errorf("device lacks %q:\n%s", want, out)
		}
	}
	// The device lives in the namespace only.
	if _, err := net.InterfaceByName("synack0"); err == nil {
		t.Error("synack0 visible outside the namespace")
	}
}

func TestOpenErrors(t *testing.T) {
	ns := netns.ForTest(t)
	busy, err := Open(Config{Name: "synack1", NetNS: ns.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, cfg := range []Config{
		{MTU: 20, NetNS: ns.Name()},
		{MTU: 70000, NetNS: ns.Name()},
		{MTU: 1000, HostAddr: netip.MustParsePrefix("fd00::1/64"), NetNS: ns.Name()},
		{Name: "a-name-much-too-long-for-linux", NetNS: ns.Name()},
		{Name: "synack1", NetNS: ns.Name()}, // busy: opened below
		{NetNS: "../etc"},
		{NetNS: "synack-no-such-namespace"},
	} {
		if ep, err := Open(cfg); err == nil {
			ep.Close()
			t.Errorf("Open(%+v) succeeded", cfg)
		} else if errors.Is(err, ErrPermission) {
			t.Errorf("Open(%+v): %v wraps ErrPermission", cfg, err)
		} else {
			t.Logf("Open(%+v): %v", cfg, err)
		}
	}
}

func TestPermissionMapping(t *testing.T) {
	for _, errno := range []unix.Errno{unix.EPERM, unix.EACCES} {
		err := mapErr("TUNSETIFF", errno)
		if !errors.Is(err, ErrPermission) || !errors.Is(err, errno) || !errors.Is(err, os.ErrPermission) {
			t.Errorf("%v: does not wrap ErrPermission, the errno and os.ErrPermission", err)
		}
		if !strings.Contains(err.Error(), "CAP_NET_ADMIN") {
			t.Errorf("%v: does not mention CAP_NET_ADMIN", err)
		}
	}
	if err := mapErr("TUNSETIFF", unix.EBUSY); errors.Is(err, ErrPermission) || !errors.Is(err, unix.EBUSY) {
		t.Errorf("EBUSY mapped to %v", err)
	}
}

const permChildEnv = "SYNACK_TUN_PERMISSION_CHILD"

// TestPermission runs this test binary inside a namespace without
// CAP_NET_ADMIN (setpriv drops it from the bounding set) and checks that
// Open fails there with ErrPermission.
func TestPermission(t *testing.T) {
	if os.Getenv(permChildEnv) == "1" {
		_, err := Open(Config{})
		if !errors.Is(err, ErrPermission) || !strings.Contains(fmt.Sprint(err), "CAP_NET_ADMIN") {
			t.Fatalf("Open without CAP_NET_ADMIN: %v", err)
		}
		return
	}
	ns := netns.ForTest(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) not installed; TestPermissionMapping covers the mapping")
	}
	t.Setenv(permChildEnv, "1")
	out, err := ns.Run(setpriv, "--bounding-set", "-net_admin", os.Args[0], "-test.run=^TestPermission$", "-test.v")
	if err != nil || !strings.Contains(string(out), "--- PASS: TestPermission") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func TestWriteAllocs(t *testing.T) {
	_, ep := openInNS(t)
	batch := [][]byte{udp4(netip.AddrPortFrom(peerAddr, 1), netip.AddrPortFrom(hostAddr, 9), []byte("x"))}
	if a := testing.AllocsPerRun(100, func() { ep.WritePackets(batch, nil) }); a != 0 {
		t.Errorf("WritePackets allocates %v times per call", a)
	}
}

// BenchmarkWritePackets writes 64-packet batches of small UDP datagrams
// into the kernel (for a socket nobody reads: the kernel drops them once
// its buffer is full).
func BenchmarkWritePackets(b *testing.B) {
	ns, ep := openInNS(b)
	var uc *net.UDPConn
	if err := ns.Do(func() (err error) {
		uc, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(hostAddr, 0)))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	defer uc.Close()
	dst := uc.LocalAddr().(*net.UDPAddr).AddrPort()
	batch := make([][]byte, 64)
	for i := range batch {
		batch[i] = udp4(netip.AddrPortFrom(peerAddr, 4000), dst, make([]byte, 64))
	}
	b.SetBytes(int64(len(batch[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		if _, err := ep.WritePackets(batch[:min(len(batch), b.N-i)], nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkPing writes batches of 64 ICMP echo requests and waits for the
// kernel's 64 replies to be delivered: a round trip through both paths.
func BenchmarkPing(b *testing.B) {
	_, ep := openInNS(b)
	const n = 64
	var got int
	round := make(chan struct{}, 1)
	ep.Attach(link.ReceiverFunc(func(pkts [][]byte, _ []link.PacketInfo) {
		for _, p := range pkts {
			if _, proto, _, _, ok := ip4(p); ok && proto == 1 {
				got++
			}
		}
		if got >= n {
			got = 0
			round <- struct{}{}
		}
	}))
	batch := make([][]byte, n)
	for i := range batch {
		batch[i] = echo4(peerAddr, hostAddr, 1, uint16(i), make([]byte, 56))
	}
	b.SetBytes(int64(n * len(batch[0])))
	b.ReportAllocs()
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	b.ResetTimer()
	for range b.N {
		if _, err := ep.WritePackets(batch, nil); err != nil {
			b.Fatal(err)
		}
		timeout.Reset(wait)
		select {
		case <-round:
		case <-timeout.C:
			b.Fatalf("replies missing after %v: %+v", wait, ep.Stats())
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "pkts/s")
}
