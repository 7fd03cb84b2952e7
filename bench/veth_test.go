package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/synack-tcp/synack/internal/netns"
)

// TestVethBytes moves 1 MiB each way over each veth pair, at MTU 1500 and
// 65535, and checks the bytes arrive unchanged, that they crossed the veth
// (its byte counters grew by at least as much), and that each end's
// offloads are what the pair's name says (root only: network namespaces).
func TestVethBytes(t *testing.T) {
	netns.SkipUnlessAvailable(t)
	for _, name := range []string{"veth", "veth-nooff"} {
		for _, mtu := range []int{1500, 65535} {
			t.Run(name+"/"+strconv.Itoa(mtu), func(t *testing.T) { vethEcho(t, name, mtu) })
		}
	}
}

func vethEcho(t *testing.T, name string, mtu int) {
	p, err := factories[name](mtu)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}()
	vp := p.(*vethPair)
	for _, end := range []struct {
		ns  *netns.NS
		ifc string
	}{{vp.cli, vethCliIf}, {vp.srv, vethSrvIf}} {
		if err := end.ns.Do(func() error {
			f, err := readOffloads(end.ifc)
			if err != nil {
				return err
			}
			t.Logf("%s: %s", end.ifc, f)
			allOn := f.TSO && f.GSO && f.TxCsum && f.RxCsum // GRO is the kernel's choice
			if name == "veth-nooff" && f.any() || name == "veth" && !allOn {
				t.Errorf("%s %s: offloads %s", name, end.ifc, f)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	before := vethTxBytes(t, vp)

	const n = 1 << 20
	msg := make([]byte, n)
	for i := range msg {
		msg[i] = byte(i*7 + i>>11)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := p.Listen(basePort)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	echoed := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			echoed <- err
			return
		}
		defer c.Close()
		_, err = io.CopyN(c, c, n) // the server echoes what it reads
		echoed <- err
	}()
	c, err := p.Dial(ctx, basePort)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	if got := c.RemoteAddr().String(); got != "10.98.0.2:5201" {
		t.Errorf("dialled %s, want the server's veth address", got)
	}
	wrote := make(chan error, 1)
	go func() { _, err := c.Write(msg); wrote <- err }()
	back := make([]byte, n)
	if _, err := io.ReadFull(c, back); err != nil {
		t.Fatalf("read the echo: %v", err)
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-echoed; err != nil {
		t.Fatalf("server: %v", err)
	}
	if !bytes.Equal(back, msg) {
		i := 0
		for i < n && back[i] == msg[i] {
			i++
		}
		t.Fatalf("echo differs from what was sent, first at byte %d", i)
	}
	after := vethTxBytes(t, vp)
	for i, ifc := range []string{vethCliIf, vethSrvIf} {
		if sent := after[i] - before[i]; sent < n {
			t.Errorf("%s sent %.0f bytes, want at least %d: the data did not cross the veth", ifc, sent, n)
		}
	}
}

// vethTxBytes is the bytes each end of the veth has sent.
func vethTxBytes(t *testing.T, p *vethPair) [2]float64 {
	t.Helper()
	var out [2]float64
	for i, end := range []struct {
		ns  *netns.NS
		ifc string
	}{{p.cli, vethCliIf}, {p.srv, vethSrvIf}} {
		if err := end.ns.Do(func() error {
			f, err := ifaceCounters(end.ifc)
			if err != nil {
				return err
			}
			out[i] = f[devTxBytes]
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestToyVeth runs every workload at toy size on both veth pairs.
func TestToyVeth(t *testing.T) {
	netns.SkipUnlessAvailable(t)
	for _, name := range []string{"veth", "veth-nooff"} {
		t.Run(name, func(t *testing.T) { runToy(t, name, 1500) })
	}
}

// TestSweepNetns checks that the parent's sweep deletes a worker's
// namespaces, here this process's own, and no one else's.
func TestSweepNetns(t *testing.T) {
	netns.SkipUnlessAvailable(t)
	mine, err := netns.New("bench-sweep")
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	other := "bench-sweep-0-1" // process 0 is never a worker
	if out, err := runIP("netns", "add", other); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", other, err, out)
	}
	defer runIP("netns", "del", other)
	gone, err := sweepNetns(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gone, []string{mine.Name()}) {
		t.Errorf("swept %v, want [%s]", gone, mine.Name())
	}
	if _, err := os.Stat(mine.Path()); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", mine.Path(), err)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, other)); err != nil {
		t.Errorf("another process's namespace went too: %v", err)
	}
}

func TestLeftBy(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{"bench-veth-cli-42-3", true},
		{"bench-tun-42-1", true},
		{"bench-tun-420-1", false},
		{"bench-tun-142-1", false},
		{"bench-tun-42-x", false},
		{"other-42-1", false},
		{"bench-42", false},
	} {
		if got := leftBy(c.name, 42); got != c.want {
			t.Errorf("leftBy(%q, 42) = %v, want %v", c.name, got, c.want)
		}
	}
}
