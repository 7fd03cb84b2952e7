package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ledgerHeader names the columns of the ledger, a tab-separated file with
// one row per fuzzing run, committed so CPU time adds up across sessions.
const ledgerHeader = "date\tcommit\tpackage\ttarget\twall_s\tcpu_s\texecs\tnew\tresult"

// entry is one ledger row.
type entry struct {
	Date   time.Time
	Commit string
	Pkg    string // "./tcp"
	Target string // "FuzzConnPair"
	Wall   float64
	CPU    float64
	Execs  int64
	New    int
	Result string // "ok", "stopped" (interrupted) or "FAIL <replay command>"
}

func (e entry) String() string {
	return strings.Join([]string{
		e.Date.UTC().Format(time.RFC3339), e.Commit, e.Pkg, e.Target,
		strconv.FormatFloat(e.Wall, 'f', 0, 64), strconv.FormatFloat(e.CPU, 'f', 0, 64),
		strconv.FormatInt(e.Execs, 10), strconv.Itoa(e.New), e.Result,
	}, "\t")
}

func parseEntry(line string) (entry, error) {
	f := strings.Split(line, "\t")
	if len(f) != 9 {
		return entry{}, fmt.Errorf("%d fields, want 9", len(f))
	}
	var e entry
	var err error
	if e.Date, err = time.Parse(time.RFC3339, f[0]); err != nil {
		return entry{}, err
	}
	e.Commit, e.Pkg, e.Target, e.Result = f[1], f[2], f[3], f[8]
	if e.Wall, err = strconv.ParseFloat(f[4], 64); err != nil {
		return entry{}, fmt.Errorf("wall_s: %v", err)
	}
	if e.CPU, err = strconv.ParseFloat(f[5], 64); err != nil {
		return entry{}, fmt.Errorf("cpu_s: %v", err)
	}
	if e.Execs, err = strconv.ParseInt(f[6], 10, 64); err != nil {
		return entry{}, fmt.Errorf("execs: %v", err)
	}
	if e.New, err = strconv.Atoi(f[7]); err != nil {
		return entry{}, fmt.Errorf("new: %v", err)
	}
	return e, nil
}

// readLedger parses a ledger; a missing file is an empty ledger.
func readLedger(path string) ([]entry, error) {
	fh, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return parseLedger(fh, path)
}

func parseLedger(r io.Reader, name string) ([]entry, error) {
	var es []entry
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if l == "" || l == ledgerHeader || strings.HasPrefix(l, "#") {
			continue
		}
		e, err := parseEntry(l)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		es = append(es, e)
	}
	return es, sc.Err()
}

// appendLedger adds e to the ledger at path, writing the header first if
// the file is new.
func appendLedger(path string, e entry) error {
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if st, err := fh.Stat(); err == nil && st.Size() == 0 {
		fmt.Fprintln(fh, ledgerHeader)
	}
	_, err = fmt.Fprintln(fh, e.String())
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// total is one target's sum over the ledger.
type total struct {
	Pkg, Target string
	CPU, Wall   float64
	Execs       int64
	New, Runs   int
	Last        time.Time
	LastResult  string
	Failures    int
}

func key(pkg, target string) string { return pkg + " " + target }

// totals sums the ledger per target.
func totals(es []entry) map[string]*total {
	m := map[string]*total{}
	for _, e := range es {
		t := m[key(e.Pkg, e.Target)]
		if t == nil {
			t = &total{Pkg: e.Pkg, Target: e.Target}
			m[key(e.Pkg, e.Target)] = t
		}
		t.CPU += e.CPU
		t.Wall += e.Wall
		t.Execs += e.Execs
		t.New += e.New
		t.Runs++
		if strings.HasPrefix(e.Result, "FAIL") {
			t.Failures++
		}
		if !e.Date.Before(t.Last) {
			t.Last, t.LastResult = e.Date, e.Result
		}
	}
	return m
}

// report writes the Markdown table of CPU-hours per target, the ledger
// summed; targets that have never run are listed with zeros.
func report(w io.Writer, es []entry, known []target, goals map[string]time.Duration) {
	m := totals(es)
	for _, tg := range known {
		if m[key(tg.Pkg, tg.Name)] == nil {
			m[key(tg.Pkg, tg.Name)] = &total{Pkg: tg.Pkg, Target: tg.Name}
		}
	}
	rows := make([]*total, 0, len(m))
	for _, t := range m {
		rows = append(rows, t)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Pkg != rows[j].Pkg {
			return rows[i].Pkg < rows[j].Pkg
		}
		return rows[i].Target < rows[j].Target
	})
	fmt.Fprintln(w, "| Target | Package | CPU-hours | Goal (h) | Executions | New entries | Runs | Failures | Last run | Last result |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|---|---|")
	var cpu float64
	var execs int64
	for _, t := range rows {
		last, res := "never", "-"
		if t.Runs > 0 {
			last, res = t.Last.UTC().Format("2006-01-02"), t.LastResult
			if strings.HasPrefix(res, "FAIL") {
				res = "FAIL"
			}
		}
		fmt.Fprintf(w, "| `%s` | `%s` | %.2f | %.0f | %d | %d | %d | %d | %s | %s |\n",
			t.Target, t.Pkg, t.CPU/3600, goalFor(goals, t.Target).Hours(), t.Execs, t.New, t.Runs, t.Failures, last, res)
		cpu += t.CPU
		execs += t.Execs
	}
	fmt.Fprintf(w, "| all | | %.2f | | %d | | | | | |\n", cpu/3600, execs)
}
