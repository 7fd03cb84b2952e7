package packetdrill

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The runner's own scripts (testdata/, written for synack): each one's
// verdict in portable and strict mode, and what the failure must say.
func TestRunnerScripts(t *testing.T) {
	for _, tc := range []struct {
		file             string
		portable, strict Verdict
		line             int    // the failing line, when one fails
		reason           string // a piece of the failure
	}{
		{"passive.pkt", Pass, Fail, 9, "5 options (with padding), expected 7"},
		{"active.pkt", Pass, Pass, 0, ""},
		{"strict.pkt", Pass, Pass, 0, ""},
		{"portable.pkt", Pass, Fail, 8, "window 65535, expected 28960"},
		{"badack.pkt", Fail, Fail, 7, "ack 1, expected 2"},
		{"late.pkt", Fail, Fail, 6, "timing"},
		{"missing.pkt", Fail, Fail, 8, "nothing by 0.014000 s"},
		{"unsupported.pkt", Skip, Skip, 3, "TCP_DEFER_ACCEPT"},
		{"linger.pkt", Pass, Pass, 0, ""},
		{"linger2.pkt", Pass, Pass, 0, ""},
		{"keepalive.pkt", Pass, Pass, 0, ""},
		{"shutrd.pkt", Pass, Pass, 0, ""},
		{"calls.pkt", Pass, Pass, 0, ""},
		{"ranges.pkt", Pass, Pass, 0, ""},
		{"freebsd.pkt", Pass, Pass, 0, ""},
	} {
		src, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, strict := range []bool{false, true} {
			want := tc.portable
			if strict {
				want = tc.strict
			}
			res := RunFile(tc.file, string(src), Options{Strict: strict})
			if res.Verdict != want {
				t.Errorf("%s (strict %v): %s, want %v", tc.file, strict, FormatResult(res), want)
				continue
			}
			if want == Pass || (strict && tc.portable != tc.strict) {
				continue // the strict-only failure is checked on its own below
			}
			if res.Line != tc.line || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("%s (strict %v): %s\nwant line %d and %q", tc.file, strict, FormatResult(res), tc.line, tc.reason)
			}
		}
		if tc.portable == Pass && tc.strict == Fail {
			res := RunFile(tc.file, string(src), Options{Strict: true})
			if res.Line != tc.line || !strings.Contains(res.Reason, tc.reason) {
				t.Errorf("%s (strict): %s\nwant line %d and %q", tc.file, FormatResult(res), tc.line, tc.reason)
			}
		}
	}
}

// A failure shows the script line, what it wanted and what came.
func TestFailureIsADiff(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "badack.pkt"))
	if err != nil {
		t.Fatal(err)
	}
	got := FormatResult(RunFile("badack.pkt", string(src), Options{}))
	for _, want := range []string{"FAIL badack.pkt:7: +0 > S. 0:0(0) ack 2 <...>", "- want: S. 0:0(0) ack 2 <...>", "+ got:  S. 0:0(0) ack 1 win 65535 <mss 1460>"} {
		if !strings.Contains(got, want) {
			t.Errorf("result\n%s\ndoes not contain %q", got, want)
		}
	}
}

// A blocking call that never returns is reported at its own line.
func TestBlockedCall(t *testing.T) {
	src := "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n+0 bind(3, ..., ...) = 0\n+0 listen(3, 1) = 0\n" +
		"+0...0.5 accept(3, ..., ...) = 4\n+1 close(3) = 0\n"
	res := RunFile("blocked.pkt", src, Options{})
	if res.Verdict != Fail || res.Line != 4 || !strings.Contains(res.Reason, "still blocked") {
		t.Errorf("%s", FormatResult(res))
	}
}

// The dialects map configuration to the stack's Config.
func TestDialectConfig(t *testing.T) {
	c := baseConfig(DialectFreeBSD)
	c.command("sysctl -w net.inet.tcp.rfc1323=0")
	c.command("sysctl -w net.inet.tcp.recvspace=32768")
	c.command("sysctl -w net.inet.tcp.insecure_rst=1")
	if !c.stack.NoTimestamps || !c.stack.NoWindowScale || c.stack.TCP.RecvBuf != 32768 {
		t.Errorf("freebsd sysctls not applied: %+v", c.stack)
	}
	if len(c.notes) != 1 || !strings.Contains(c.notes[0], "RFC 5961") {
		t.Errorf("notes %q, want one about RFC 5961", c.notes)
	}
	l := baseConfig(DialectLinux)
	l.command("../common/defaults.sh\nethtool -K tun0 tso off\n../common/set_sysctls.py /proc/sys/net/ipv4/tcp_timestamps=0")
	if !l.stack.NoTimestamps || l.stack.TCP.RecvBuf != 540000 || l.stack.TCP.CongestionControl != "cubic" {
		t.Errorf("linux defaults not applied: %+v", l.stack)
	}
	if len(l.notes) == 0 || !strings.Contains(strings.Join(l.notes, ";"), "ethtool") {
		t.Errorf("notes %q, want the ignored ethtool", l.notes)
	}
}

// FuzzRun runs arbitrary scripts: the runner reports PASS, FAIL or SKIP
// for any input and never panics or hangs.
func FuzzRun(f *testing.F) {
	for _, name := range []string{"passive.pkt", "active.pkt", "calls.pkt", "keepalive.pkt", "freebsd.pkt", "shutrd.pkt"} {
		src, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 4096 {
			return
		}
		res := RunFile("fuzz.pkt", src, Options{})
		if res.Verdict == Fail && res.Reason == "" {
			t.Fatalf("a failure without a reason: %+v", res)
		}
	})
}
