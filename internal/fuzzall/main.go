// Command fuzzall fuzzes every fuzz target of the module in turn, prints
// per target the executions, new corpus entries, CPU time and any failure
// with its replay command, and adds each run to a ledger committed in the
// repository, so CPU-hours add up across sessions.
//
//	go run ./internal/fuzzall -total 2h          # shared by what each target lacks of its goal
//	go run ./internal/fuzzall -per 10m           # every target 10 minutes
//	go run ./internal/fuzzall -only FuzzConnPair,FuzzSegmentInto -per 1h -keep-corpus 20
//	go run ./internal/fuzzall -report            # the ledger as a Markdown table
//
// Targets are found afresh each time (go test -list ^Fuzz in every package
// whose tests declare one). A failing input is written to the package's
// testdata/fuzz by go test itself, so go test ./... replays it from then
// on. SIGINT or SIGTERM stops the running target cleanly; its run is
// recorded as "stopped".
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.DurationVar(&o.Total, "total", 0, "wall time for all targets, shared by what each lacks of its goal")
	flag.DurationVar(&o.Per, "per", 0, "wall time for each target (overrides -total)")
	flag.DurationVar(&o.Floor, "min", 30*time.Second, "least time a target gets under -total")
	flag.StringVar(&o.Only, "only", "", "comma-separated targets to fuzz (default all)")
	flag.IntVar(&o.Parallel, "parallel", 1, "fuzz workers per target (go test -parallel; 0: GOMAXPROCS)")
	flag.StringVar(&o.Ledger, "ledger", "", "ledger file (default internal/fuzzall/ledger.tsv in the module; \"-\" records nothing)")
	flag.IntVar(&o.Keep, "keep-corpus", 0, "copy up to N of the smallest new corpus entries per target from the fuzz cache into testdata/fuzz")
	flag.StringVar(&o.Goals, "goal", "FuzzConnPair=4h,FuzzSegmentInto=4h", "CPU-time goals, Target=duration,...; others "+defaultGoal.String())
	flag.BoolVar(&o.Report, "report", false, "print the ledger as a Markdown table and exit")
	flag.BoolVar(&o.Verbose, "v", false, "print every progress line (default: one a minute)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "fuzzall: unexpected arguments:", flag.Args())
		os.Exit(2)
	}
	if err := o.run(); err != nil {
		fmt.Fprintln(os.Stderr, "fuzzall:", err)
		os.Exit(1)
	}
}

type options struct {
	Total, Per, Floor time.Duration
	Only, Ledger      string
	Goals             string
	Parallel, Keep    int
	Report, Verbose   bool
}

func (o *options) run() error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	if o.Ledger == "" {
		o.Ledger = filepath.Join(root, "internal", "fuzzall", "ledger.tsv")
	}
	goals, err := parseGoals(o.Goals)
	if err != nil {
		return err
	}
	var ledger []entry
	if o.Ledger != "-" {
		if ledger, err = readLedger(o.Ledger); err != nil {
			return err
		}
	}
	ts, err := discover(root)
	if err != nil {
		return err
	}
	if o.Report {
		report(os.Stdout, ledger, ts, goals)
		return nil
	}
	if o.Total <= 0 && o.Per <= 0 {
		return fmt.Errorf("give -total or -per (or -report)")
	}
	if ts, err = only(ts, o.Only); err != nil {
		return err
	}
	slots := plan(ts, totals(ledger), goals, o.Per, o.Total, o.Floor)
	r := &runner{root: root, opts: o, bins: map[string]string{}}
	if r.tmp, err = os.MkdirTemp("", "fuzzall-"); err != nil {
		return err
	}
	defer os.RemoveAll(r.tmp)
	if r.cache, err = goEnv("GOCACHE"); err != nil {
		return err
	}
	r.commit = gitCommit(root)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	r.sig = sig
	for _, s := range slots {
		fmt.Printf("== %s %s: %v\n", s.T.Pkg, s.T.Name, s.Dur)
	}
	var results []entry
	failed := false
	for _, s := range slots {
		e, err := r.fuzz(s)
		if err != nil {
			return err
		}
		results = append(results, e)
		failed = failed || strings.HasPrefix(e.Result, "FAIL")
		if o.Ledger != "-" {
			if err := appendLedger(o.Ledger, e); err != nil {
				return err
			}
		}
		if e.Result == "stopped" {
			break
		}
	}
	summary(results)
	if failed {
		return fmt.Errorf("a target failed; its input is in testdata/fuzz, replay it with the command above")
	}
	return nil
}

func summary(es []entry) {
	fmt.Println("== summary")
	fmt.Printf("%-24s %-10s %8s %8s %12s %6s  %s\n", "target", "package", "wall", "cpu", "execs", "new", "result")
	for _, e := range es {
		fmt.Printf("%-24s %-10s %7.0fs %7.0fs %12d %6d  %s\n", e.Target, e.Pkg, e.Wall, e.CPU, e.Execs, e.New, e.Result)
	}
}

func moduleRoot() (string, error) {
	gomod, err := goEnv("GOMOD")
	if err != nil {
		return "", err
	}
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module")
	}
	return filepath.Dir(gomod), nil
}

func goEnv(name string) (string, error) {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func gitCommit(root string) string {
	cmd := exec.Command("git", "rev-parse", "--short=12", "HEAD")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "-"
	}
	return strings.TrimSpace(string(out))
}
