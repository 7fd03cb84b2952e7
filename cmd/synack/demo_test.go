package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// walk runs the demo with --json and returns each endpoint's connection
// transitions as "FROM>TO" (the listener's own lines left out).
func walk(t *testing.T, args ...string) map[string][]string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"demo", "--json"}, args...), &out, &errb); code != 0 {
		t.Fatalf("demo %v: exit %d\n%s%s", args, code, out.String(), errb.String())
	}
	w := map[string][]string{}
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r row
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(r.Conn, "(listener)") {
			continue
		}
		w[r.Endpoint] = append(w[r.Endpoint], r.From+">"+r.To)
	}
	return w
}

func path(states ...string) []string {
	var p []string
	for i := 1; i < len(states); i++ {
		p = append(p, states[i-1]+">"+states[i])
	}
	return p
}

func TestDemoScenariosWalkTheDiagram(t *testing.T) {
	cases := []struct {
		scenario       string
		client, server []string
	}{
		{"normal",
			path("CLOSED", "SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSED"),
			path("LISTEN", "SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK", "CLOSED")},
		{"simultaneous-open",
			path("CLOSED", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSED"),
			path("CLOSED", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK", "CLOSED")},
		{"simultaneous-close",
			path("CLOSED", "SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "CLOSING", "TIME-WAIT", "CLOSED"),
			path("LISTEN", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1", "CLOSING", "TIME-WAIT", "CLOSED")},
		{"reset",
			path("CLOSED", "SYN-SENT", "ESTABLISHED", "CLOSED"),
			path("LISTEN", "SYN-RECEIVED", "ESTABLISHED", "CLOSED")},
		{"half-close",
			path("CLOSED", "SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT", "CLOSED"),
			path("LISTEN", "SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK", "CLOSED")},
	}
	for _, c := range cases {
		// Without loss the walk is exact. With loss it may differ (a lost
		// ACK sends FIN-WAIT-1 straight to TIME-WAIT, a lost SYN turns a
		// simultaneous open into an ordinary one), but every run must still
		// deliver every byte and end CLOSED on both sides: walk checks the
		// exit status, which says so.
		for seed := 1; seed <= 20; seed++ {
			walk(t, "--scenario", c.scenario, "--loss", "0.1", "--seed", fmt.Sprint(seed), "--msl", "2s", "--size", "20000")
		}
		{
			w := walk(t, "--scenario", c.scenario, "--msl", "2s", "--size", "20000")
			if strings.Join(w["client"], " ") != strings.Join(c.client, " ") {
				t.Errorf("%s: client walked %v, want %v", c.scenario, w["client"], c.client)
			}
			if strings.Join(w["server"], " ") != strings.Join(c.server, " ") {
				t.Errorf("%s: server walked %v, want %v", c.scenario, w["server"], c.server)
			}
		}
	}
}

func TestDemoIsDeterministic(t *testing.T) {
	args := []string{"demo", "--loss", "5%", "--seed", "42", "--size", "100000", "--msl", "1s"}
	var a, b, e bytes.Buffer
	if run(args, &a, &e) != 0 || run(args, &b, &e) != 0 {
		t.Fatalf("demo failed: %s%s", a.String(), e.String())
	}
	if a.String() != b.String() {
		t.Fatalf("same flags, different output:\n%s\n---\n%s", a.String(), b.String())
	}
	var c bytes.Buffer
	run([]string{"demo", "--loss", "5%", "--seed", "43", "--size", "100000", "--msl", "1s"}, &c, &e)
	if c.String() == a.String() {
		t.Fatal("a different seed gave the identical run")
	}
}

func TestDemoTimeWaitLasts2MSL(t *testing.T) {
	var out, errb bytes.Buffer
	if run([]string{"demo", "--json", "--msl", "7s"}, &out, &errb) != 0 {
		t.Fatal(errb.String())
	}
	var enter, leave float64
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r row
		dec.Decode(&r)
		if r.Endpoint == "client" && r.To == "TIME-WAIT" {
			enter = r.TMs
		}
		if r.Endpoint == "client" && r.From == "TIME-WAIT" {
			leave = r.TMs
			if r.Cause != "timeout 2MSL" {
				t.Errorf("cause %q", r.Cause)
			}
		}
	}
	if leave-enter != 14000 {
		t.Fatalf("TIME-WAIT from %.3f to %.3f ms, want exactly 14000 ms (MUST-13)", enter, leave)
	}
}

func TestDemoBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--scenario", "nope"},
		{"demo", "--loss", "2"},
		{"demo", "--loss", "abc"},
		{"demo", "--size", "-1"},
		{"demo", "--bogus"},
		{"demo", "extra"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if !strings.HasSuffix(errb.String(), "\nrun \"synack demo -h\" for usage\n") || strings.Count(errb.String(), "\n") != 2 {
			t.Errorf("%v: not one line and the pointer to -h: %q", args, errb.String())
		}
	}
}

func TestDemoPcap(t *testing.T) {
	f := filepath.Join(t.TempDir(), "demo.pcap")
	var out, errb bytes.Buffer
	if run([]string{"demo", "--pcap", f, "--msl", "1s"}, &out, &errb) != 0 {
		t.Fatal(errb.String())
	}
	b, err := os.ReadFile(f)
	if err != nil || len(b) < 24+16 || !bytes.Equal(b[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}) {
		t.Fatalf("pcap file: %v, %d bytes", err, len(b))
	}
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Log("tshark not installed; checked the pcap header only")
		return
	}
	o, err := exec.Command("tshark", "-r", f).CombinedOutput()
	if err != nil || !strings.Contains(string(o), "SYN") {
		t.Fatalf("tshark -r: %v\n%s", err, o)
	}
	// Under loss: the SYNs show the negotiated options, and ACKs carry SACK
	// blocks (issue 4: RFC 7323, RFC 2018 as a real dissector reads them).
	lossy := filepath.Join(t.TempDir(), "lossy.pcap")
	if run([]string{"demo", "--pcap", lossy, "--loss", "5%", "--size", "200000", "--msl", "1s"}, &out, &errb) != 0 {
		t.Fatal(errb.String())
	}
	syn, err := exec.Command("tshark", "-r", lossy, "-Y", "tcp.flags.syn==1", "-T", "fields",
		"-e", "tcp.options.mss_val", "-e", "tcp.options.wscale.shift", "-e", "tcp.options.sack_perm", "-e", "tcp.options.timestamp.tsval").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(syn)), "\n")
	if len(lines) != 2 {
		t.Fatalf("SYNs: %q", syn)
	}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 4 || f[0] != "1460" || f[1] == "" || f[2] == "" || f[3] == "" {
			t.Fatalf("SYN options (mss, wscale, sack_perm, tsval) = %q", l)
		}
	}
	sack, err := exec.Command("tshark", "-r", lossy, "-Y", "tcp.options.sack_le", "-T", "fields", "-e", "tcp.options.sack_le").Output()
	if err != nil || len(strings.TrimSpace(string(sack))) == 0 {
		t.Fatalf("no SACK blocks in a lossy capture: %v", err)
	}
}
