package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/stack"
)

func TestNCBadFlags(t *testing.T) {
	badFlags(t, map[string][]string{
		"want HOST and PORT (got 0":       {"nc"},
		"want HOST and PORT (got 1":       {"nc", "10.9.0.1"},
		"want HOST and PORT (got 3":       {"nc", "10.9.0.1", "80", "90"},
		"-l takes one argument":           {"nc", "-l"},
		"-l takes one argument, the PORT": {"nc", "-l", "10.9.0.1", "80"},
		`port "0"`:                        {"nc", "-l", "0"},
		`port "http"`:                     {"nc", "10.9.0.1", "http"},
		`port "65536"`:                    {"nc", "10.9.0.1", "65536"},
		"no resolver":                     {"nc", "localhost", "80"},
		"different IP versions":           {"nc", "fd00::1", "80"},
		"outside --host-addr's prefix":    {"nc", "--host-addr", "192.168.7.1/24", "10.9.0.1", "80"},
		"invalid value 0s for --timeout: want a positive duration": {"nc", "--timeout", "0s", "10.9.0.1", "80"},
	})
}

func TestNCHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"nc", "--help"}, &out, &errb); code != 0 {
		t.Errorf("nc --help: exit %d, want 0", code)
	}
	for _, want := range []string{"usage: synack nc [flags] HOST PORT", "synack nc [flags] -l PORT", "half-closes", "default 10.9.0.2", "default synack0"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("nc --help does not mention %q:\n%s", want, errb.String())
		}
	}
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	s[0] = byte(seed)
	rand.NewChaCha8(s).Read(b)
	return b
}

// startNC runs nc in a goroutine.
func startNC(args []string, stdin io.Reader) (stdout, stderr *syncBuffer, done <-chan int) {
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ch := make(chan int, 1)
	go func() { ch <- ncMain(args, stdin, stdout, stderr) }()
	return stdout, stderr, ch
}

func waitExit(t *testing.T, done <-chan int, stderr *syncBuffer) int {
	t.Helper()
	select {
	case code := <-done:
		return code
	case <-time.After(20 * time.Second):
		t.Fatalf("nc did not exit; stderr:\n%s", stderr.String())
		return -1
	}
}

// ncWalk is nc's one connection's transitions from its --json output.
func ncWalk(t *testing.T, out string) string {
	t.Helper()
	var w []string
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var r row
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v in %q", err, out)
		}
		if !strings.HasSuffix(r.Conn, "(listener)") {
			w = append(w, r.From+">"+r.To)
		}
	}
	return strings.Join(w, " ")
}

// TestNCListenOverPipe: "synack nc -l" accepts one connection, sends its
// stdin and half-closes; the peer reads that to EOF, then answers and
// closes; nc prints the answer and exits 0 having walked the active close.
func TestNCListenOverPipe(t *testing.T) {
	peer := pipeTUN(t)
	in, answer := randomBytes(1, 300_000), randomBytes(2, 200_000)
	stdout, stderr, done := startNC([]string{"--json", "--msl", "100ms", "-l", "5000"}, bytes.NewReader(in))

	var c *stack.Conn
	var err error
	for i := 0; i < 200; i++ { // until nc listens
		if c, err = peer.DialTCP(context.Background(), "tcp", "10.9.0.2:5000"); !errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("peer read %d bytes of %d, %v", len(got), len(in), err)
	}
	if _, err := c.Write(answer); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if code := waitExit(t, done, stderr); code != 0 {
		t.Fatalf("nc -l: exit %d\n%s", code, stderr.String())
	}
	if !bytes.Equal([]byte(stdout.String()), answer) {
		t.Errorf("nc printed %d bytes, want the %d the peer sent", len(stdout.String()), len(answer))
	}
	// nc exits without waiting out TIME-WAIT: closing its stack deletes
	// the TCB (RFC 9293 ABORT in TIME-WAIT sends nothing).
	want := "LISTEN>SYN-RECEIVED SYN-RECEIVED>ESTABLISHED ESTABLISHED>FIN-WAIT-1 FIN-WAIT-1>FIN-WAIT-2 FIN-WAIT-2>TIME-WAIT TIME-WAIT>CLOSED"
	if w := ncWalk(t, stderr.String()); w != want {
		t.Errorf("nc walked\n  %s\nwant\n  %s", w, want)
	}
}

// TestNCDialOverPipe: "synack nc HOST PORT" to a peer that closes first:
// nc walks the passive close, and still delivers its whole stdin.
func TestNCDialOverPipe(t *testing.T) {
	peer := pipeTUN(t)
	ln, err := peer.ListenTCP("tcp", "10.9.0.1:6000")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	in, answer := randomBytes(3, 100_000), randomBytes(4, 400_000)
	stdinR, stdinW := io.Pipe()
	stdout, stderr, done := startNC([]string{"--json", "10.9.0.1", "6000"}, stdinR)

	c, err := ln.AcceptConn()
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(answer); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite() // the peer's FIN first...
	for end := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), `"to":"CLOSE-WAIT"`); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("nc never reached CLOSE-WAIT:\n%s", stderr.String())
		}
	}
	go func() { stdinW.Write(in); stdinW.Close() }() // ...then nc's data and FIN
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, in) {
		t.Fatalf("peer read %d bytes of %d, %v", len(got), len(in), err)
	}
	c.Close()
	if code := waitExit(t, done, stderr); code != 0 {
		t.Fatalf("nc: exit %d\n%s", code, stderr.String())
	}
	if !bytes.Equal([]byte(stdout.String()), answer) {
		t.Errorf("nc printed %d bytes, want the %d the peer sent", len(stdout.String()), len(answer))
	}
	want := "CLOSED>SYN-SENT SYN-SENT>ESTABLISHED ESTABLISHED>CLOSE-WAIT CLOSE-WAIT>LAST-ACK LAST-ACK>CLOSED"
	if w := ncWalk(t, stderr.String()); w != want {
		t.Errorf("nc walked\n  %s\nwant\n  %s", w, want)
	}
}

// TestNCRefused: a dial to a port with no listener fails with one line.
func TestNCRefused(t *testing.T) {
	pipeTUN(t)
	_, stderr, done := startNC([]string{"10.9.0.1", "6001"}, strings.NewReader("x"))
	if code := waitExit(t, done, stderr); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if s := stderr.String(); !strings.HasPrefix(s, "synack nc: dial") || !strings.HasSuffix(s, "connection refused\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("stderr %q", s)
	}
}
