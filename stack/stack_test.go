package stack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/link/pipe"
	"github.com/synack-tcp/synack/tcp"
)

var (
	addrA = netip.MustParseAddr("10.0.0.1")
	addrB = netip.MustParseAddr("10.0.0.2")
)

// pair returns two stacks joined by an in-memory pipe on the real clock.
// Network tests here move bytes, not time: protocol timing is tested under
// the virtual clock in sim_test.go.
func pair(t testing.TB, mtu int, events func(Event)) (a, b *Stack) {
	t.Helper()
	ea, eb := pipe.New(mtu)
	var err error
	a, err = New(ea, Config{Addrs: []netip.Addr{addrA}, OnEvent: events})
	if err != nil {
		t.Fatal(err)
	}
	b, err = New(eb, Config{Addrs: []netip.Addr{addrB}, OnEvent: events})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestDialTransferClose(t *testing.T) {
	a, b := pair(t, 1500, nil)
	l, err := b.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	const n = 3 << 20
	src := make([]byte, n)
	for i := range src {
		src[i] = byte(i * 7)
	}
	var got []byte
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
			return
		}
		got, err = io.ReadAll(c)
		if err != nil {
			t.Error(err)
		}
		c.Close()
	}()
	c, err := a.DialContext(context.Background(), "tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(src); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if sha256.Sum256(got) != sha256.Sum256(src) {
		t.Fatalf("received %d bytes, differing from the %d sent", len(got), n)
	}
}

func TestRefused(t *testing.T) {
	a, _ := pair(t, 1500, nil)
	_, err := a.DialContext(context.Background(), "tcp", "10.0.0.2:81")
	var op *net.OpError
	if !errors.As(err, &op) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial to closed port: %v, want *net.OpError wrapping ECONNREFUSED", err)
	}
}

func TestListenErrors(t *testing.T) {
	_, b := pair(t, 1500, nil)
	if _, err := b.Listen("tcp", "10.0.0.2:80"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Listen("tcp", ":80"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second listen: %v, want EADDRINUSE", err)
	}
	for _, bad := range []string{"nonsense", "10.0.0.2", "10.0.0.2:99999", "host.example:80"} {
		if _, err := b.Dial("tcp", bad); err == nil {
			t.Errorf("dial %q succeeded", bad)
		}
	}
	if _, err := b.Dial("udp", "10.0.0.1:80"); err == nil {
		t.Error("dial udp succeeded")
	}
}

func TestEchoAndEvents(t *testing.T) {
	var mu sync.Mutex
	var evs []Event
	a, b := pair(t, 1500, func(e Event) { mu.Lock(); evs = append(evs, e); mu.Unlock() })
	l, _ := b.Listen("tcp", ":7")
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.Copy(c, c)
		c.Close()
	}()
	c, err := a.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("hello synack "), 1000)
	go c.Write(msg)
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || !bytes.Equal(buf, msg) {
		t.Fatalf("echo: %v", err)
	}
	c.(*Conn).CloseWrite()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("after half-close: %d, %v; want EOF", n, err)
	}
	mu.Lock()
	defer mu.Unlock()
	var walked []string
	for _, e := range evs {
		if e.Local.Addr() == addrA {
			walked = append(walked, e.To.String())
		}
	}
	want := []string{"SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT"}
	if len(walked) < len(want) {
		t.Fatalf("client walked %v", walked)
	}
	for i := range want {
		if walked[i] != want[i] {
			t.Fatalf("client walked %v, want %v", walked, want)
		}
	}
	_ = tcp.Closed
}
