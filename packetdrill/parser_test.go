package packetdrill

import (
	"strings"
	"testing"
	"time"
)

func TestParseEvents(t *testing.T) {
	src := `--tolerance_usecs=10000
` + "`../common/defaults.sh`" + `
    0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
 +.1...0.200 read(4, ..., 2000) = 2000
 0.1~0.2 < [ect0] S. 0:0(0) ack 1 win 5792 <mss 1460,nop,wscale 2,sackOK,TS val 1 ecr 0,sack 1:2 3:4>
 * > R 1:1(0)
 +.3~+.4 > F. 1:1(0) ack 1 <...>
 +0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0
 +0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0
 +0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)
 +0 %{ assert tcpi_snd_mss == 1000 }%
`
	s, err := Parse("t.pkt", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Options) != 1 || s.Options[0].Name != "tolerance_usecs" || s.Options[0].Value != "10000" {
		t.Errorf("options %+v", s.Options)
	}
	if len(s.Events) != 10 {
		t.Fatalf("%d events, want 10", len(s.Events))
	}
	if e := s.Events[0]; e.Kind != EventCommand || e.Command != "../common/defaults.sh" {
		t.Errorf("init command %+v", e)
	}
	r := s.Events[2]
	if r.Time.Kind != TimeRelative || r.Time.At != 100*time.Millisecond || r.Call.EndTime == nil || r.Call.EndTime.At != 200*time.Millisecond {
		t.Errorf("blocking read %+v %+v", r.Time, r.Call)
	}
	p := s.Events[3].Packet
	if !p.Inbound || p.ECN != "ect0" || p.Flags != "S." || !p.HasAck || p.Ack != 1 || p.Win != 5792 || len(p.Options) != 6 ||
		p.Options[4].Val != 1 || len(p.Options[5].Blocks) != 2 || !s.Events[3].Time.Range {
		t.Errorf("packet %+v", p)
	}
	if s.Events[4].Time.Kind != TimeAny || s.Events[4].Packet.Flags != "R" {
		t.Errorf("any-time event %+v", s.Events[4])
	}
	if !s.Events[5].Packet.AnyOptions || s.Events[5].Time.End != 400*time.Millisecond {
		t.Errorf("ranged event %+v", s.Events[5])
	}
	if c := s.Events[7].Call; c.Args[2].Kind != ExprOr || len(c.Args[2].Elems) != 2 {
		t.Errorf("fcntl flags %+v", c.Args[2])
	}
	if c := s.Events[8].Call; c.Ret.Int != -1 || c.Errno != "EINPROGRESS" {
		t.Errorf("connect %+v", c)
	}
	if s.Events[9].Kind != EventCode || !strings.Contains(s.Events[9].Code, "tcpi_snd_mss") {
		t.Errorf("code %+v", s.Events[9])
	}
}

func TestParseIfdef(t *testing.T) {
	src := "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n#ifdef STANDARD\n+0 close(3) = 0\n#endif\n#ifdef FreeBSD\n+0 > S. ...(0) nonsense\n#endif\n"
	s, err := Parse("t.pkt", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 2 || s.Events[1].Line != 3 {
		t.Errorf("events %+v", s.Events)
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		"0 > S 0:5(0)",                    // range and length disagree
		"0 > S 0:0(0) <mss>",              // option without value
		"0 > Q 0:0(0)",                    // unknown flag
		"0 socket(",                       // unterminated
		"`never closed",                   // backquote
		"#ifdef STANDARD\n0 close(3) = 0", // unterminated #ifdef
		"0.1~0.05 > S 0:0(0)",             // range backwards
		"+x close(3) = 0",                 // bad time
	} {
		if _, err := Parse("bad.pkt", src); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", src)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 > S. 0:0(0) ack 1 <mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7>\n",
		"--tolerance_usecs=1000\n+.1...0.2 read(4, ..., 10) = 10\n* < R. 1:1(0) ack 1 win 0\n",
		"+0 setsockopt(4, SOL_SOCKET, SO_LINGER, {onoff=1, linger=0}, 8) = 0 %{ assert tcpi_state == 1 }%",
		"#ifdef FreeBSD\n+0 > S. ...(0)\n#endif\n0 `sysctl -w a=b`\n",
		"0 poll([{fd=4, events=POLLIN, revents=POLLIN}], 1, 0) = 1 /* c */ // d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		s, err := Parse("fuzz.pkt", src)
		if err != nil {
			return
		}
		for _, ev := range s.Events {
			_ = s.SourceLine(ev.Line)
		}
	})
}
