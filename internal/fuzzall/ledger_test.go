package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLedgerRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.tsv")
	es := []entry{
		{Date: time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC), Commit: "9e01b92", Pkg: "./tcp", Target: "FuzzConnPair",
			Wall: 600, CPU: 590, Execs: 1234567, New: 80, Result: "ok"},
		{Date: time.Date(2026, 12, 2, 1, 10, 0, 0, time.UTC), Commit: "9e01b92", Pkg: "./wire", Target: "FuzzTCPParse",
			Wall: 60, CPU: 61, Execs: 99, New: 0, Result: "FAIL go test -run=FuzzTCPParse/abc ./wire"},
	}
	for _, e := range es {
		if err := appendLedger(path, e); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), ledgerHeader+"\n") || strings.Count(string(b), ledgerHeader) != 1 {
		t.Fatalf("header missing or repeated:\n%s", b)
	}
	got, err := readLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, es) {
		t.Fatalf("got %+v\nwant %+v", got, es)
	}
	if es, err := readLedger(filepath.Join(t.TempDir(), "none.tsv")); err != nil || es != nil {
		t.Fatalf("missing ledger: %v, %v", es, err)
	}
}

func TestLedgerBadRow(t *testing.T) {
	for _, row := range []string{
		"2026-12-02T01:00:00Z\tc\t./tcp\tFuzzX\t1\t2\t3\tok",       // 8 fields
		"yesterday\tc\t./tcp\tFuzzX\t1\t2\t3\t4\tok",               // date
		"2026-12-02T01:00:00Z\tc\t./tcp\tFuzzX\t1\tlots\t3\t4\tok", // cpu
	} {
		_, err := parseLedger(strings.NewReader(ledgerHeader+"\n"+row+"\n"), "l.tsv")
		if err == nil || !strings.HasPrefix(err.Error(), "l.tsv:2:") {
			t.Errorf("%q: err %v, want one naming l.tsv:2", row, err)
		}
	}
}

func TestTotalsAndReport(t *testing.T) {
	d := func(h int) time.Time { return time.Date(2026, 12, 2, h, 0, 0, 0, time.UTC) }
	es := []entry{
		{Date: d(1), Pkg: "./tcp", Target: "FuzzConnPair", CPU: 3600, Execs: 100, New: 5, Result: "FAIL go test -run=FuzzConnPair/x ./tcp"},
		{Date: d(2), Pkg: "./tcp", Target: "FuzzConnPair", CPU: 1800, Execs: 50, New: 2, Result: "ok"},
		{Date: d(1), Pkg: "./wire", Target: "FuzzTCPParse", CPU: 360, Execs: 1000, New: 1, Result: "stopped"},
	}
	m := totals(es)
	cp := m[key("./tcp", "FuzzConnPair")]
	if cp.CPU != 5400 || cp.Execs != 150 || cp.New != 7 || cp.Runs != 2 || cp.Failures != 1 || cp.LastResult != "ok" || !cp.Last.Equal(d(2)) {
		t.Fatalf("FuzzConnPair total %+v", cp)
	}
	var b bytes.Buffer
	known := []target{{Pkg: "./tcp", Name: "FuzzConnPair"}, {Pkg: "./stack", Name: "FuzzDeliver"}}
	report(&b, es, known, map[string]time.Duration{"FuzzConnPair": 4 * time.Hour})
	want := []string{
		"| `FuzzDeliver` | `./stack` | 0.00 | 1 | 0 | 0 | 0 | 0 | never | - |",
		"| `FuzzConnPair` | `./tcp` | 1.50 | 4 | 150 | 7 | 2 | 1 | 2026-12-02 | ok |",
		"| `FuzzTCPParse` | `./wire` | 0.10 | 1 | 1000 | 1 | 1 | 0 | 2026-12-02 | stopped |",
		"| all | | 1.60 | | 1150 | | | | | |",
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2+len(want) || !reflect.DeepEqual(lines[2:], want) {
		t.Fatalf("report:\n%s\nwant rows:\n%s", b.String(), strings.Join(want, "\n"))
	}
}
