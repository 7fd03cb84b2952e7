package stack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

// makePipe gives nettest two ends of one synack connection over an
// in-memory link.
func makePipe(t *testing.T) nettest.MakePipe {
	return func() (c1, c2 net.Conn, stop func(), err error) {
		a, b := pair(t, 1500, nil)
		l, err := b.Listen("tcp", "10.0.0.2:9")
		if err != nil {
			return nil, nil, nil, err
		}
		ch := make(chan net.Conn, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				ch <- nil
				return
			}
			ch <- c
		}()
		c1, err = a.Dial("tcp", "10.0.0.2:9")
		if err != nil {
			return nil, nil, nil, err
		}
		c2 = <-ch
		if c2 == nil {
			return nil, nil, nil, errors.New("accept failed")
		}
		stop = func() {
			c1.Close()
			c2.Close()
			l.Close()
			a.Close()
			b.Close()
		}
		return c1, c2, stop, nil
	}
}

// golang.org/x/net/nettest's conformance suite for net.Conn: basic I/O,
// ping-pong, racy reads and writes, deadlines, close semantics.
func TestNettestConn(t *testing.T) { nettest.TestConn(t, makePipe(t)) }

// net/http served from one stack and fetched through another's dialer.
func TestHTTPAcrossStacks(t *testing.T) {
	a, b := pair(t, 1500, nil)
	l, err := b.Listen("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("synack over synack\n", 50000)
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, body)
	})}}
	srv.Start()
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{DialContext: a.DialContext}, Timeout: 30 * time.Second}
	for i := 0; i < 3; i++ { // keep-alive reuses the connection
		resp, err := hc.Get("http://10.0.0.2/")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(got) != body {
			t.Fatalf("GET %d: %d bytes, err %v", i, len(got), err)
		}
	}
}

func TestUseAfterClose(t *testing.T) {
	a, b := pair(t, 1500, nil)
	l, _ := b.Listen("tcp", ":80")
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.Copy(io.Discard, c)
		}
	}()
	c, err := a.DialContext(context.Background(), "tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write after close: %v, want net.ErrClosed", err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read after close: %v, want net.ErrClosed", err)
	}
	if err := c.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second close: %v, want net.ErrClosed", err)
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("accept after close: %v", err)
	}
}

func TestReadDeadline(t *testing.T) {
	a, b := pair(t, 1500, nil)
	l, _ := b.Listen("tcp", ":80")
	go l.Accept()
	c, err := a.Dial("tcp", "10.0.0.2:80")
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past deadline: %v", err)
	}
}

func TestDialContextCanceled(t *testing.T) {
	a, _ := pair(t, 1500, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// 10.0.0.3 does not exist: the SYN goes unanswered until ctx ends.
	_, err := a.DialContext(ctx, "tcp", "10.0.0.3:80")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("dial with canceled ctx: %v", err)
	}
	if n := a.NumConns(); n != 0 {
		t.Fatalf("%d connections left after a canceled dial", n)
	}
}
