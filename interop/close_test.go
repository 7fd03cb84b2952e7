//go:build linux

package interop

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// connect opens a connection between synack and the kernel (synack dials
// if synackDials, else the kernel does), exchanges a few bytes each way,
// and returns both ends with the walk synack took to ESTABLISHED.
func (e *env) connect(t *testing.T, synackDials bool, port uint16) (*stack.Conn, *net.TCPConn, []string) {
	t.Helper()
	var (
		sc   *stack.Conn
		kc   *net.TCPConn
		err  error
		open []string
	)
	if synackDials {
		ln := e.kernelListen(port)
		sc, err = e.st.DialTCP(ctx(t), "tcp", e.hostPort(port).String())
		if err != nil {
			t.Fatal(err)
		}
		if kc, err = ln.AcceptTCP(); err != nil {
			t.Fatal(err)
		}
		open = []string{"CLOSED>SYN-SENT (user OPEN (active))", "SYN-SENT>ESTABLISHED (rcv SYN,ACK)"}
	} else {
		ln, err := e.st.ListenTCP("tcp", e.addrPort(port).String())
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if kc, err = e.kernelDial(ctx(t), e.addrPort(port)); err != nil {
			t.Fatal(err)
		}
		c, err := ln.AcceptContext(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		sc = c.(*stack.Conn)
		open = []string{"LISTEN>SYN-RECEIVED (rcv SYN)", "SYN-RECEIVED>ESTABLISHED (rcv ACK)"}
	}
	t.Cleanup(func() { kc.Close(); sc.Abort() })
	deadline := time.Now().Add(testTimeout)
	sc.SetDeadline(deadline)
	kc.SetDeadline(deadline)
	buf := make([]byte, 4)
	if _, err := kc.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("synack read %q, %v", buf, err)
	}
	if _, err := sc.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(kc, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("kernel read %q, %v", buf, err)
	}
	return sc, kc, open
}

// kernelEnds is the kernel socket's 4-tuple as ss shows it.
func kernelEnds(kc *net.TCPConn) (local, remote netip.AddrPort) {
	return kc.LocalAddr().(*net.TCPAddr).AddrPort(), kc.RemoteAddr().(*net.TCPAddr).AddrPort()
}

func roles(t *testing.T, f func(t *testing.T, synackDials bool)) {
	t.Run("synack-dials", func(t *testing.T) { t.Parallel(); f(t, true) })
	t.Run("kernel-dials", func(t *testing.T) { t.Parallel(); f(t, false) })
}

// TestCloseSynackFirst: synack closes first. synack walks FIN-WAIT-1 ->
// FIN-WAIT-2 (the kernel ACKs the FIN) while the kernel's socket sits in
// CLOSE-WAIT; the kernel reads EOF and closes; synack walks TIME-WAIT and,
// 2*MSL later, CLOSED; the kernel's socket is gone (LAST-ACK answered).
func TestCloseSynackFirst(t *testing.T) {
	roles(t, func(t *testing.T, synackDials bool) {
		e := newEnv(t)
		sc, kc, walk := e.connect(t, synackDials, 5100)
		local, remote := sc.LocalAddrPort(), sc.RemoteAddrPort()
		kl, kr := kernelEnds(kc)

		if err := sc.Close(); err != nil {
			t.Fatal(err)
		}
		e.waitSS(kl, kr, "CLOSE-WAIT")
		e.ev.waitState(t, local, remote, tcp.FinWait2)
		if n, err := kc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("kernel read after synack's FIN: %d, %v; want EOF", n, err)
		}
		kc.Close()
		e.ev.waitState(t, local, remote, tcp.TimeWait)
		e.waitSS(kl, kr, "") // our ACK of its FIN ended LAST-ACK
		e.ev.waitState(t, local, remote, tcp.Closed)

		walk = append(walk,
			"ESTABLISHED>FIN-WAIT-1 (user CLOSE)",
			"FIN-WAIT-1>FIN-WAIT-2 (rcv ACK)",
			"FIN-WAIT-2>TIME-WAIT (rcv FIN,ACK)",
			timeWaitEnd)
		w := e.ev.causes(local, remote)
		checkWalk(t, "synack", w, walk)
		if d := e.ev.dwell(local, remote, tcp.TimeWait); w[len(w)-1] == "TIME-WAIT>CLOSED (timeout 2MSL)" && (d < 2*msl || d > 2*msl+time.Second) {
			t.Errorf("TIME-WAIT lasted %v, want 2*MSL = %v", d, 2*msl)
		}
	})
}

// TestCloseKernelFirst: the kernel closes first. synack walks CLOSE-WAIT
// (the kernel's socket shows FIN-WAIT-2 once synack ACKs), reads EOF,
// closes: LAST-ACK, then CLOSED on the kernel's ACK, which leaves the
// kernel's socket in TIME-WAIT.
func TestCloseKernelFirst(t *testing.T) {
	roles(t, func(t *testing.T, synackDials bool) {
		e := newEnv(t)
		sc, kc, walk := e.connect(t, synackDials, 5200)
		local, remote := sc.LocalAddrPort(), sc.RemoteAddrPort()
		kl, kr := kernelEnds(kc)

		if err := kc.CloseWrite(); err != nil { // a FIN; the socket stays ours to watch
			t.Fatal(err)
		}
		e.ev.waitState(t, local, remote, tcp.CloseWait)
		e.waitSS(kl, kr, "FIN-WAIT-2")
		if n, err := sc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("synack read after the kernel's FIN: %d, %v; want EOF", n, err)
		}
		if err := sc.Close(); err != nil {
			t.Fatal(err)
		}
		e.ev.waitState(t, local, remote, tcp.Closed)
		e.waitSS(kl, kr, "TIME-WAIT")
		if n, err := kc.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Errorf("kernel read after synack's FIN: %d, %v; want EOF", n, err)
		}

		walk = append(walk,
			"ESTABLISHED>CLOSE-WAIT (rcv FIN,ACK)",
			"CLOSE-WAIT>LAST-ACK (user CLOSE)",
			"LAST-ACK>CLOSED (rcv ACK)")
		checkWalk(t, "synack", e.ev.causes(local, remote), walk)
	})
}

// TestRefused: a connection to a closed synack port is refused at the
// kernel's connect (synack answers the SYN with <RST,ACK>, RFC 9293
// 3.10.7.1), and a synack dial to a closed kernel port is refused too.
func TestRefused(t *testing.T) {
	t.Run("kernel-to-synack", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		// A port that had a listener, now closed, and one that never had.
		ln, err := e.st.ListenTCP("tcp", e.addrPort(5300).String())
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		for _, port := range []uint16{5300, 5301} {
			before := e.st.Stats().ResetsSent.Load()
			c, err := e.kernelDial(ctx(t), e.addrPort(port))
			if err == nil {
				c.Close()
				t.Fatalf("kernel connect to synack port %d succeeded", port)
			}
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("kernel connect to synack port %d: %v, want ECONNREFUSED", port, err)
			}
			if n := e.st.Stats().ResetsSent.Load() - before; n != 1 {
				t.Errorf("port %d: synack sent %d resets, want 1", port, n)
			}
		}
		if c := e.ev.conns(); len(c) != 0 {
			t.Errorf("refused SYNs made connections: %v", c)
		}
	})
	t.Run("synack-to-kernel", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		c, err := e.st.DialTCP(ctx(t), "tcp", e.hostPort(5302).String())
		if err == nil {
			c.Close()
			t.Fatal("synack dial to a closed kernel port succeeded")
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("synack dial: %v, want ECONNREFUSED", err)
		}
		conns := e.ev.conns()
		if len(conns) != 1 {
			t.Fatalf("connections with events: %v", conns)
		}
		checkWalk(t, "synack", e.ev.causes(conns[0][0], conns[0][1]), []string{
			"CLOSED>SYN-SENT (user OPEN (active))",
			"SYN-SENT>CLOSED (rcv RST,ACK)",
		})
	})
}
