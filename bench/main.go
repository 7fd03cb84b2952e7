// Command bench compares synack's TCP/IP stack with gVisor's netstack and
// the Linux kernel on the same workloads and the same link shape, and writes
// a markdown table. See README.md.
//
//	go run .                 # everything, several runs each (tens of minutes)
//	go run . -quick          # smaller sizes, fewer runs (about two minutes)
//	go run . -stacks=gvisor,kernel -only=bulk,pingpong -runs 3 -out FILE
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// A benchCase is one workload at one size and MTU: one block of rows.
type benchCase struct {
	ID       string // e.g. "bulk1500"
	Workload string
	MTU      int
	Params   params
}

// defaultMTU is the link MTU for every workload but the MTU 65535 bulk run.
const defaultMTU = 1500

func casesFor(quick bool) []benchCase {
	const (
		MiB = 1 << 20
		GiB = 1 << 30
	)
	bulk, rts, cycles, conns := int64(GiB), 100_000, 20_000, 1000
	idle := []int{10_000, 100_000}
	if quick {
		bulk, rts, cycles, conns = 256*MiB, 20_000, 2_000, 200
		idle = []int{10_000}
	}
	cs := []benchCase{
		{ID: "bulk1500", Workload: "bulk", MTU: 1500, Params: params{Bytes: bulk, WriteSize: 128 << 10}},
		{ID: "bulk65535", Workload: "bulk", MTU: 65535, Params: params{Bytes: bulk, WriteSize: 128 << 10}},
		{ID: "pingpong", Workload: "pingpong", MTU: defaultMTU, Params: params{RoundTrips: rts}},
		{ID: "connrate", Workload: "connrate", MTU: defaultMTU, Params: params{Cycles: cycles}},
	}
	for _, n := range idle {
		cs = append(cs, benchCase{ID: fmt.Sprintf("idle%dk", n/1000), Workload: "idle", MTU: defaultMTU, Params: params{Pairs: n}})
	}
	cs = append(cs, benchCase{ID: "idledata10k", Workload: "idledata", MTU: defaultMTU, Params: params{Pairs: 10_000}})
	cs = append(cs, benchCase{ID: "many", Workload: "many", MTU: defaultMTU, Params: params{Conns: conns, Bytes: MiB, WriteSize: 128 << 10}})
	return cs
}

// outcome is one child run.
type outcome struct {
	Res  *result
	Err  error
	Wall time.Duration
}

// stackStatus says whether a stack could be built, and if not, why.
type stackStatus struct {
	Name  string
	Avail bool
	Why   string
}

type config struct {
	Quick   bool
	Runs    int
	Timeout time.Duration
	Stacks  []stackStatus
	Cases   []benchCase
	Out     string

	GvisorLink string
	ProfileDir string
	BaseExe    string // the bench binary built from -baseline, run as synack@base
}

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], workerFlag) {
		workerMain(os.Args[1:])
		return
	}
	var (
		quick   = flag.Bool("quick", false, "smaller sizes and fewer runs (about two minutes)")
		stacks  = flag.String("stacks", strings.Join(stackOrder, ","), "comma-separated stacks to compare (unavailable ones show n/a)")
		only    = flag.String("only", "", "comma-separated workloads to run: bulk,pingpong,connrate,idle,many (default all)")
		runs    = flag.Int("runs", 0, "fresh-process runs per figure (default 7, or 5 with -quick)")
		out     = flag.String("out", "RESULTS.md", "markdown file to write (\"-\" for stdout only)")
		timeout = flag.Duration("timeout", 0, "per-run time limit; the child is killed after it (default 5m, or 90s with -quick)")
		gvLink  = flag.String("gvisor-link", gvisorLinkMode, "how gVisor's in-memory link hands packets over: queued (a delivery goroutine per direction), spin (queued, yielding before it parks, as link/pipe does) or inline (on the writer's goroutine)")
		profile = flag.String("profile", "", "write a CPU profile of every run into this directory")
		base    = flag.String("baseline", "", "another synack checkout `DIR` (a git worktree of an older commit): its bench binary runs as the stack synack@base, taking turns with the others")
		observe = flag.Bool("observe", false, "attach the observe page to the synack stacks, with a client reading its /events stream as a browser would")
	)
	flag.Parse()
	if flag.NArg() > 0 {
		fatalf("unexpected arguments: %q", flag.Args())
	}
	cfg := config{Quick: *quick, Runs: *runs, Timeout: *timeout, Out: *out, ProfileDir: *profile}
	gvisorLinkMode = *gvLink
	observeMode = *observe
	cfg.GvisorLink = *gvLink
	if *profile != "" {
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			fatalf("%v", err)
		}
	}
	if cfg.Runs <= 0 {
		cfg.Runs = 7
		if cfg.Quick {
			cfg.Runs = 5
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
		if cfg.Quick {
			cfg.Timeout = 90 * time.Second
		}
	}

	for _, name := range splitList(*stacks) {
		if name == baseStack {
			st := stackStatus{Name: name, Avail: true}
			var err error
			if cfg.BaseExe, err = buildBaseline(*base); err != nil {
				st.Avail, st.Why = false, err.Error()
			}
			cfg.Stacks = append(cfg.Stacks, st)
			continue
		}
		f, ok := factories[name]
		if !ok {
			fatalf("unknown stack %q (have %s, %s)", name, strings.Join(stackOrder, ", "), baseStack)
		}
		st := stackStatus{Name: name, Avail: true}
		if p, err := f(defaultMTU); err != nil {
			st.Avail, st.Why = false, err.Error()
		} else {
			p.Close()
		}
		cfg.Stacks = append(cfg.Stacks, st)
	}
	if len(cfg.Stacks) == 0 {
		fatalf("no stacks selected")
	}
	slices.SortStableFunc(cfg.Stacks, func(a, b stackStatus) int {
		return columnOf(a.Name) - columnOf(b.Name)
	})

	want := splitList(*only)
	for _, w := range want {
		if _, ok := workloads[w]; !ok {
			fatalf("unknown workload %q (have bulk, pingpong, connrate, idle, idledata, many)", w)
		}
	}
	for _, c := range casesFor(cfg.Quick) {
		if len(want) == 0 || slices.Contains(want, c.Workload) {
			cfg.Cases = append(cfg.Cases, c)
		}
	}

	exe, err := os.Executable()
	if err != nil {
		fatalf("cannot find own executable: %v", err)
	}
	start := time.Now()
	results := runAll(exe, cfg)
	md := renderReport(cfg, results, time.Since(start))
	fmt.Print(md)
	if cfg.Out != "" && cfg.Out != "-" {
		if err := os.WriteFile(cfg.Out, []byte(md), 0o644); err != nil {
			fatalf("write %s: %v", cfg.Out, err)
		}
		fmt.Fprintf(os.Stderr, "wrote %s\n", cfg.Out)
	}
}

// results[caseID][stack][run]
type resultSet map[string]map[string][]outcome

// runAll runs every case cfg.Runs times on every available stack, each run
// in a fresh child process. Within a run the stacks take turns, and the
// order flips from one run to the next (synack, gvisor, kernel, then kernel,
// gvisor, synack, ...), so synack's and gVisor's run i sit side by side in
// time and their ratio is taken from pairs of neighbouring runs.
func runAll(exe string, cfg config) resultSet {
	var avail []string
	for _, s := range cfg.Stacks {
		if s.Avail {
			avail = append(avail, s.Name)
		} else {
			fmt.Fprintf(os.Stderr, "%s: n/a (%s)\n", s.Name, s.Why)
		}
	}
	rs := make(resultSet)
	for _, c := range cfg.Cases {
		rs[c.ID] = make(map[string][]outcome)
		for run := range cfg.Runs {
			order := slices.Clone(avail)
			if run%2 == 1 {
				slices.Reverse(order)
			}
			for _, st := range order {
				opts := workerOpts{Timeout: cfg.Timeout, GvisorLink: cfg.GvisorLink}
				if cfg.ProfileDir != "" {
					opts.CPUProfile = filepath.Join(cfg.ProfileDir, fmt.Sprintf("%s-%s-run%d.pprof", c.ID, st, run+1))
				}
				o := runChild(exeFor(exe, cfg, st), c, st, opts)
				rs[c.ID][st] = append(rs[c.ID][st], o)
				logOutcome(c, st, run, cfg.Runs, o)
			}
		}
	}
	return rs
}

func logOutcome(c benchCase, st string, run, runs int, o outcome) {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s run %d/%d %-6s ", c.ID, run+1, runs, st)
	if o.Err != nil {
		fmt.Fprintf(&b, "FAILED: %v", o.Err)
	} else {
		keys := make([]string, 0, len(o.Res.Metrics))
		for k := range o.Res.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%.4g ", k, o.Res.Metrics[k])
		}
	}
	fmt.Fprintf(&b, "(%.1fs)", o.Wall.Seconds())
	fmt.Fprintln(os.Stderr, b.String())
}

// runChild runs one case on one stack in a fresh process and kills the
// process if it outlives timeout.
func runChild(exe string, c benchCase, st string, opts workerOpts) outcome {
	start := time.Now()
	timeout := opts.Timeout
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// The child gives up a little before the parent kills it, so that it can
	// still say why.
	opts.Timeout = timeout - timeout/10
	cmd := exec.CommandContext(ctx, exe, workerArgs(c.Workload, strings.TrimSuffix(st, "@base"), c.MTU, c.Params, opts)...)
	cmd.WaitDelay = 5 * time.Second
	// If this process dies (Ctrl-C), the child dies with it. Pdeathsig
	// follows the thread that forked, so keep this goroutine on it until the
	// child is gone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	o := outcome{Wall: time.Since(start)}
	if cmd.Process != nil {
		gone, err := sweepNetns(cmd.Process.Pid)
		if len(gone) > 0 {
			fmt.Fprintf(os.Stderr, "bench: deleted namespaces %v left by the %s worker\n", gone, st)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: namespaces left by the %s worker: %v\n", st, err)
		}
	}

	var reply workerReply
	jerr := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &reply)
	switch {
	case ctx.Err() != nil:
		o.Err = fmt.Errorf("killed after %v%s", timeout, tail(stderr.String()))
	case jerr != nil:
		o.Err = fmt.Errorf("no result (%v)%s", errors.Join(runErr, jerr), tail(stderr.String()))
	case reply.Error != "":
		o.Err = errors.New(reply.Error)
	case reply.Result == nil:
		o.Err = errors.New("empty result")
	default:
		o.Res = reply.Result
	}
	return o
}

// tail is the last few lines of a child's stderr, for error messages.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return ": " + strings.Join(lines, " | ")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(2)
}
