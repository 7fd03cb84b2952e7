//go:build linux

package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/internal/netns"
)

// TestPingServe: the kernel's ping, IPv4 and IPv6, gets its echo replies
// from `synack serve` (RFC 1122 3.2.2.6, RFC 4443 4.2).
func TestPingServe(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ping"); err != nil {
		t.Skip("no ping command (apt-get install iputils-ping)")
	}
	for _, v6 := range []bool{false, true} {
		t.Run(map[bool]string{false: "v4", true: "v6"}[v6], func(t *testing.T) {
			ce := newCmdEnv(t)
			args := ce.tunArgs()
			if v6 {
				n := ce.host.As4()[2]
				ce.host = netip.MustParseAddr(fmt.Sprintf("fd00:9:%x::1", n))
				ce.addr = netip.MustParseAddr(fmt.Sprintf("fd00:9:%x::2", n))
				args = []string{"--tun", "synack0", "--addr", ce.addr.String(), "--host-addr", netip.PrefixFrom(ce.host, 64).String(), "--msl", msl.String()}
			}
			p := ce.start(nil, append([]string{"serve"}, append(args, "--http", "0", "--echo", "7", "--discard", "0")...)...)
			p.stderr.waitFor(t, "serving echo", p)
			// -w: up to 10 s for 5 replies. Right after the device comes
			// up, the first IPv6 echo is sometimes lost (about one run in
			// six under load; the cause, kernel or stack, is not found
			// yet), so a lost request is sent again rather than failed on.
			out, err := ce.ns.Run("ping", "-c", "5", "-w", "10", "-i", "0.2", "-s", "1000", ce.addr.String())
			if err != nil || !strings.Contains(string(out), "5 received") {
				t.Fatalf("ping %s: %v\n%s", ce.addr, err, out)
			}
			t.Logf("%s", lastLine(string(out)))
			p.cmd.Process.Signal(syscall.SIGTERM)
			p.wait(t)
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// routed is the path: synack on a TUN device in namespace A, whose
// kernel routes over a narrow veth to namespace M, which routes over a
// 1500-byte veth to the kernel listener in namespace L (so the listener
// advertises MSS 1460).
type routed struct {
	*env
	m, l   *netns.NS
	listen netip.Addr // the listener's address in L
}

// newRouted builds it; aMTU and mMTU are the A and M ends of the narrow
// veth. Both 1280: A's kernel answers synack's larger packets with
// fragmentation needed. A 1500, M 1280: M's end drops them without a
// word (a veth delivers nothing larger than the receiving end's MTU), a
// path MTU black hole.
func newRouted(t *testing.T, aMTU, mMTU int) *routed {
	t.Helper()
	e := newEnv(t)
	r := &routed{env: e, m: netns.ForTest(t), l: netns.ForTest(t)}
	n := e.host.As4()[2]
	am := func(h int) string { return fmt.Sprintf("10.10.%d.%d", n, h) }
	ml := func(h int) string { return fmt.Sprintf("10.11.%d.%d", n, h) }
	r.listen = netip.MustParseAddr(ml(2))
	for _, step := range []struct {
		ns   *netns.NS
		args string
	}{
		{e.ns, fmt.Sprintf("link add vam mtu %d type veth peer name vma mtu %d netns %s", aMTU, mMTU, r.m.Name())},
		{e.ns, "addr add " + am(1) + "/24 dev vam"},
		{e.ns, "link set vam up"},
		{e.ns, "route add " + ml(0) + "/24 via " + am(2)},
		{r.m, "link add vml type veth peer name vlm netns " + r.l.Name()},
		{r.m, "addr add " + am(2) + "/24 dev vma"},
		{r.m, "addr add " + ml(1) + "/24 dev vml"},
		{r.m, "link set vma up"},
		{r.m, "link set vml up"},
		{r.m, fmt.Sprintf("route add 10.9.%d.0/24 via %s", n, am(1))},
		{r.l, "addr add " + ml(2) + "/24 dev vlm"},
		{r.l, "link set vlm up"},
		{r.l, "link set lo up"},
		{r.l, "route add default via " + ml(1)},
	} {
		if out, err := step.ns.Run("ip", strings.Fields(step.args)...); err != nil {
			t.Fatalf("ip %s: %v\n%s", step.args, err, out)
		}
	}
	for _, ns := range []*netns.NS{e.ns, r.m} {
		if out, err := ns.Run("sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"); err != nil {
			t.Fatalf("ip_forward: %v\n%s", err, out)
		}
	}
	return r
}

// snmp reads one counter of /proc/net/snmp ("Ip", "ReasmReqds") inside ns.
func snmp(t *testing.T, ns *netns.NS, group, name string) int64 {
	t.Helper()
	out, err := ns.Run("cat", "/proc/net/snmp")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != group+":" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == name && i < len(f) {
				v, _ := strconv.ParseInt(f[i], 10, 64)
				return v
			}
		}
	}
	t.Fatalf("no %s %s in /proc/net/snmp", group, name)
	return 0
}

// upload sends size bytes from synack to a kernel listener in L and checks
// they arrive intact; it returns how long the transfer took and how long
// the first MiB took to arrive.
func (r *routed) upload(t *testing.T, size int) (total, firstMiB time.Duration) {
	t.Helper()
	var ln net.Listener
	if err := r.l.Do(func() (err error) {
		ln, err = net.Listen("tcp4", netip.AddrPortFrom(r.listen, 5001).String())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		n     int64
		d     string
		first time.Duration
		err   error
	}
	start := time.Now()
	res := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(3 * testTimeout))
		buf := make([]byte, min(1<<20, size))
		k, err := io.ReadFull(c, buf)
		first := time.Since(start)
		if err != nil {
			res <- result{n: int64(k), err: err}
			return
		}
		n, d, err := digest(io.MultiReader(bytes.NewReader(buf), c))
		res <- result{n, d, first, err}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 3*testTimeout)
	defer cancel()
	c, err := r.st.DialContext(ctx, "tcp", netip.AddrPortFrom(r.listen, 5001).String())
	if err != nil {
		t.Fatal(err)
	}
	msg := pattern(11, size)
	c.SetDeadline(time.Now().Add(3 * testTimeout))
	if _, err := c.Write(msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.Close()
	got := <-res
	if got.err != nil || got.n != int64(size) || got.d != sum(msg) {
		t.Fatalf("listener got %d of %d bytes (digest equal %v): %v", got.n, size, got.d == sum(msg), got.err)
	}
	return time.Since(start), got.first
}

// TestPathMTUDiscoveryThroughKernelRouter is the report: a 64 MiB
// upload from synack through a kernel router whose next hop has MTU 1280,
// to a listener advertising MSS 1460. The router answers full-size
// packets with fragmentation needed (RFC 1191); synack lowers its MSS and
// everything arrives intact, with no fragments on the narrow link (synack
// sets DF, so none can be made: the listener reassembles nothing and the
// router fragments nothing).
func TestPathMTUDiscoveryThroughKernelRouter(t *testing.T) {
	t.Parallel()
	r := newRouted(t, 1280, 1280)
	size := transferSize()
	total, first := r.upload(t, size)
	if n := snmp(t, r.l, "Ip", "ReasmReqds"); n != 0 {
		t.Errorf("the listener reassembled %d fragments", n)
	}
	if n := snmp(t, r.env.ns, "Ip", "FragCreates"); n != 0 {
		t.Errorf("router A made %d fragments", n)
	}
	icmp := &r.st.Stats().ICMP
	if icmp.MTULowered.Load() == 0 || r.st.PathMTU(r.listen) != 1280 {
		t.Fatalf("MSS lowered %d times, cached path MTU %d", icmp.MTULowered.Load(), r.st.PathMTU(r.listen))
	}
	t.Logf("%d MiB through a 1280-byte hop in %v (%s), first MiB after %v; path MTU 1280 learnt from %d ICMP message(s)",
		size>>20, total.Round(time.Millisecond), mbps(int64(size), total), first.Round(time.Millisecond), icmp.MTULowered.Load())
}

// TestPathMTUBlackHoleThroughKernel: the same path, but the narrow hop
// drops oversized packets without any ICMP. Packetization-layer PMTUD
// (RFC 4821, on by default) finds a size that fits after two timeouts;
// the test reports how long that took.
func TestPathMTUBlackHoleThroughKernel(t *testing.T) {
	t.Parallel()
	r := newRouted(t, 1500, 1280)
	size := transferSize()
	total, first := r.upload(t, size)
	if n := r.st.Stats().ICMP.Received.Load(); n != 0 {
		t.Logf("%d ICMP messages arrived through the black hole", n)
	}
	// What the test asserts is that the upload completes intact (upload
	// checks every byte) instead of hanging; how long discovery takes
	// depends on the RTO, which a loaded machine inflates, so it is
	// reported, not asserted (two RTOs: about 3 s on a quiet machine).
	t.Logf("%d MiB through a 1280-byte black hole in %v (%s); first MiB after %v (discovery: the two timeouts of the first full-size segment)",
		size>>20, total.Round(time.Millisecond), mbps(int64(size), total), first.Round(time.Millisecond))
}

// TestConnectUnreachable: a connection to an address on a network the
// kernel router has no route to fails with ENETUNREACH as soon as the
// router's ICMP arrives, and to one it has an unreachable route for with
// EHOSTUNREACH (RFC 1122 4.2.3.9: in SYN-SENT, as Linux fails connect).
func TestConnectUnreachable(t *testing.T) {
	t.Parallel()
	r := newRouted(t, 1500, 1500)
	n := r.host.As4()[2]
	if out, err := r.env.ns.Run("ip", "route", "add", "unreachable", fmt.Sprintf("10.12.%d.0/24", n)); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, c := range []struct {
		to    string
		errno syscall.Errno
	}{
		{fmt.Sprintf("10.13.%d.7:80", n), syscall.ENETUNREACH},
		{fmt.Sprintf("10.12.%d.7:80", n), syscall.EHOSTUNREACH},
	} {
		start := time.Now()
		_, err := r.st.DialContext(ctx(t), "tcp", c.to)
		if !errors.Is(err, c.errno) {
			t.Fatalf("dial %s: %v, want %v", c.to, err, c.errno)
		}
		t.Logf("dial %s: %v after %v", c.to, err, time.Since(start).Round(time.Microsecond))
	}
}
