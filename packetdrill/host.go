package packetdrill

import (
	"strconv"
	"strings"

	"github.com/synack-tcp/synack/stack"
	"github.com/synack-tcp/synack/tcp"
)

// hostCommand runs a backquoted command during the script. Configuration
// was applied before the stack was made; what remains are state checks
// (FreeBSD's sockstat), tcpdrop, and host commands that do not apply.
func (r *runner) hostCommand(cmd string) error {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return nil
	}
	switch f[0] {
	case "sockstat":
		return r.sockstat(cmd)
	case "tcpdrop":
		if len(f) == 3 && f[1] == "-s" {
			for _, c := range r.allConns() {
				if freebsdState(c.State()) == f[2] {
					c.Abort()
				}
			}
			return r.pollPending()
		}
		return skipf("tcpdrop %s is not supported", strings.Join(f[1:], " "))
	}
	if r.syscallsSeen() {
		// A sysctl after the sockets exist (usually restoring a default
		// at the end): the stack was configured at the start.
		if f[0] == "sysctl" {
			r.cfg.note("ignored %q after the stack was configured", cmd)
		}
	}
	return nil
}

// allConns is every connection the stack's demux holds and every one the
// script opened or accepted (a connection in TIME-WAIT may be held as a
// record outside the demux, yet its Conn still reports the state).
func (r *runner) allConns() []*stack.Conn {
	seen := map[*stack.Conn]bool{}
	var out []*stack.Conn
	for _, c := range append(r.st.Conns(), r.conns...) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

func (r *runner) syscallsSeen() bool { return len(r.socks) > 0 || r.last != nil }

// sockstat evaluates "sockstat ... [-p PORT] | grep [...] | grep -c STATE | grep N":
// how many of the stack's connections are in STATE.
func (r *runner) sockstat(cmd string) error {
	stages := strings.Split(cmd, "|")
	port := -1
	head := strings.Fields(stages[0])
	for i := 0; i+1 < len(head); i++ {
		if head[i] == "-p" {
			port, _ = strconv.Atoi(head[i+1])
		}
	}
	state, want := "", -1
	for _, st := range stages[1:] {
		g := strings.Fields(st)
		switch {
		case len(g) == 3 && g[0] == "grep" && g[1] == "-c":
			state = g[2]
		case len(g) == 2 && g[0] == "grep" && state != "":
			want, _ = strconv.Atoi(g[1])
		}
	}
	if state == "" || want < 0 {
		return skipf("sockstat pipeline not understood: %s", cmd)
	}
	n := 0
	for _, c := range r.allConns() {
		if port >= 0 && int(c.LocalAddrPort().Port()) != port {
			continue
		}
		if freebsdState(c.State()) == state {
			n++
		}
	}
	if state == "CLOSED" {
		// A socket whose connection is gone still shows, as CLOSED.
		for _, s := range r.socks {
			if s.c != nil && s.c.State() == tcp.Closed {
				n++
			}
		}
	}
	if n != want {
		return failf("%d connections in %s, expected %d (%s)", n, state, want, cmd)
	}
	return nil
}

// freebsdState names a state as FreeBSD's sockstat does.
func freebsdState(s tcp.State) string {
	return map[tcp.State]string{
		tcp.Closed: "CLOSED", tcp.Listen: "LISTEN", tcp.SynSent: "SYN_SENT", tcp.SynReceived: "SYN_RCVD",
		tcp.Established: "ESTABLISHED", tcp.FinWait1: "FIN_WAIT_1", tcp.FinWait2: "FIN_WAIT_2",
		tcp.Closing: "CLOSING", tcp.TimeWait: "TIME_WAIT", tcp.CloseWait: "CLOSE_WAIT", tcp.LastAck: "LAST_ACK",
	}[s]
}
