package packetdrill

import (
	"strconv"
	"strings"

	"github.com/synack-tcp/synack/tcp"
)

// code evaluates a %{ }% block: packetdrill runs it as Python over the
// socket's TCP_INFO. The runner understands "assert tcpi_FIELD == N"
// (and !=, <=, >=, <, >) for the fields synack's Status has; anything
// else skips the script.
func (r *runner) code(src string) error {
	var stmts []string
	for _, l := range strings.Split(src, "\n") {
		stmts = append(stmts, strings.Split(l, ";")...)
	}
	for _, st := range stmts {
		st = strings.TrimSpace(st)
		if st == "" || strings.HasPrefix(st, "#") {
			continue
		}
		if !strings.HasPrefix(st, "assert ") {
			return skipf("python in %%{ }%%: %q", st)
		}
		expr, _, _ := strings.Cut(strings.TrimPrefix(st, "assert "), ",")
		if err := r.assert(strings.TrimSpace(expr)); err != nil {
			return err
		}
	}
	return nil
}

func (r *runner) assert(expr string) error {
	for _, op := range []string{"==", "!=", "<=", ">=", "<", ">"} {
		l, rhs, found := strings.Cut(expr, op)
		if !found {
			continue
		}
		got, err := r.tcpInfo(strings.TrimSpace(l))
		if err != nil {
			return err
		}
		rhs = strings.TrimSpace(rhs)
		want, err := strconv.ParseInt(rhs, 0, 64)
		if err != nil {
			v, known := constants[rhs]
			if !known {
				return skipf("assert: %q not understood", rhs)
			}
			want = v
		}
		holds := map[string]bool{"==": got == want, "!=": got != want, "<=": got <= want,
			">=": got >= want, "<": got < want, ">": got > want}[op]
		if !holds {
			return failf("assert %s: %s is %d", expr, strings.TrimSpace(l), got)
		}
		return nil
	}
	return skipf("assert %q not understood", expr)
}

// tcpInfo is a struct tcp_info field from the latest socket's Status.
func (r *runner) tcpInfo(name string) (int64, error) {
	s := r.last
	if s == nil || s.c == nil {
		return 0, skipf("%s: no connected socket", name)
	}
	st := s.c.Status()
	mss := int64(max(st.SendMSS, 1))
	switch name {
	case "tcpi_state":
		return map[tcp.State]int64{tcp.Established: 1, tcp.SynSent: 2, tcp.SynReceived: 3, tcp.FinWait1: 4,
			tcp.FinWait2: 5, tcp.TimeWait: 6, tcp.Closed: 7, tcp.CloseWait: 8, tcp.LastAck: 9,
			tcp.Listen: 10, tcp.Closing: 11}[st.State], nil
	case "tcpi_snd_mss":
		return int64(st.SendMSS), nil
	case "tcpi_advmss":
		return int64(s.c.AdvertisedMSS()), nil
	case "tcpi_snd_cwnd":
		return int64(st.Cwnd) / mss, nil
	case "tcpi_snd_ssthresh":
		return int64(st.Ssthresh) / mss, nil
	case "tcpi_rtt":
		return st.SRTT.Microseconds(), nil
	case "tcpi_rttvar":
		return st.RTTVar.Microseconds(), nil
	case "tcpi_rto":
		return st.RTO.Microseconds(), nil
	case "tcpi_total_retrans":
		return int64(st.Stats.Retransmits), nil
	case "tcpi_unacked":
		return int64(st.Unacked) / mss, nil
	case "tcpi_snd_wscale":
		return int64(st.SndShift), nil
	case "tcpi_rcv_wscale":
		return int64(st.RcvShift), nil
	}
	return 0, skipf("%s: synack's Status has no such field", name)
}
