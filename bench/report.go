package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"
)

// rowSpec is one figure: a row of the table.
type rowSpec struct {
	Cases  []string // case IDs to take it from; the first one that ran wins
	Metric string
	Label  func(c benchCase) string
	Format func(float64) string
	Target *target
}

// target is the goal for the ratio synack/gVisor, or with Abs for
// synack's own figure.
type target struct {
	Text string
	Met  func(ratio, synack float64) bool
	Abs  bool
}

func fixed(prec int) func(float64) string {
	return func(v float64) string { return fmt.Sprintf("%.*f", prec, v) }
}

func count(v float64) string {
	switch {
	case math.Abs(v) >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case math.Abs(v) >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

func size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func atLeast(x float64) *target {
	return &target{Text: fmt.Sprintf("≥%gx", x), Met: func(r, _ float64) bool { return r >= x }}
}

func atMost(x float64) *target {
	return &target{Text: fmt.Sprintf("≤%gx", x), Met: func(r, _ float64) bool { return r <= x }}
}

var heapTarget = &target{
	Text: "≤0.35x and <4 KB",
	Met:  func(r, s float64) bool { return r <= 0.35 && s < 4000 },
}

func bulkLabel(what string) func(benchCase) string {
	return func(c benchCase) string {
		return fmt.Sprintf("Bulk %s one way, MTU %d: %s", size(c.Params.Bytes), c.MTU, what)
	}
}

// idleDataTarget is issue 10's: a pair after 100 B each way holds at most
// 32 KiB.
var idleDataTarget = &target{Text: "≤32 KiB", Met: func(_, s float64) bool { return s <= 32<<10 }, Abs: true}

func idleLabel(c benchCase) string {
	return fmt.Sprintf("Idle: heap bytes per pair @ %s pairs", thousands(c.Params.Pairs))
}

var rows = []rowSpec{
	{Cases: []string{"bulk1500"}, Metric: "gbps", Label: bulkLabel("Gbit/s"), Format: fixed(2), Target: atLeast(3.5)},
	{Cases: []string{"bulk1500"}, Metric: "cpu_s_per_gb", Label: bulkLabel("CPU s per GB"), Format: fixed(3), Target: atMost(0.3)},
	{Cases: []string{"bulk65535"}, Metric: "gbps", Label: bulkLabel("Gbit/s"), Format: fixed(2), Target: atLeast(1.2)},
	{Cases: []string{"bulk65535"}, Metric: "cpu_s_per_gb", Label: bulkLabel("CPU s per GB"), Format: fixed(3)},
	{Cases: []string{"pingpong"}, Metric: "rt_per_s", Label: func(c benchCase) string {
		return fmt.Sprintf("Ping-pong %s × 1 B: round trips/s", thousands(c.Params.RoundTrips))
	}, Format: count, Target: atLeast(2.5)},
	{Cases: []string{"pingpong"}, Metric: "p50_us", Label: func(benchCase) string { return "Ping-pong: p50 latency (µs)" }, Format: fixed(1)},
	{Cases: []string{"pingpong"}, Metric: "p99_us", Label: func(benchCase) string { return "Ping-pong: p99 latency (µs)" }, Format: fixed(1)},
	{Cases: []string{"pingpong"}, Metric: "cpu_us_per_rt", Label: func(benchCase) string { return "Ping-pong: CPU µs per round trip" }, Format: fixed(2)},
	{Cases: []string{"connrate"}, Metric: "cycles_per_s", Label: func(c benchCase) string {
		return fmt.Sprintf("Connect/accept/close × %s: cycles/s", thousands(c.Params.Cycles))
	}, Format: count, Target: atLeast(3)},
	{Cases: []string{"connrate"}, Metric: "cpu_us_per_cycle", Label: func(benchCase) string { return "Connect/accept/close: CPU µs per cycle" }, Format: fixed(1)},
	{Cases: []string{"idle10k"}, Metric: "heap_per_pair_bytes", Label: idleLabel, Format: fixed(0), Target: heapTarget},
	{Cases: []string{"idle100k"}, Metric: "heap_per_pair_bytes", Label: idleLabel, Format: fixed(0), Target: heapTarget},
	{Cases: []string{"idledata10k"}, Metric: "heap_per_pair_bytes", Label: func(c benchCase) string {
		return fmt.Sprintf("Idle after 100 B each way: heap bytes per pair @ %s pairs", thousands(c.Params.Pairs))
	}, Format: fixed(0), Target: idleDataTarget},
	{Cases: []string{"idle100k", "idle10k"}, Metric: "stack_per_pair_bytes", Label: func(c benchCase) string {
		return fmt.Sprintf("Idle: goroutine stack bytes per pair @ %s pairs (not in heap figure)", thousands(c.Params.Pairs))
	}, Format: fixed(0)},
	{Cases: []string{"idle100k", "idle10k"}, Metric: "max_pairs_8gib_est", Label: func(c benchCase) string {
		return fmt.Sprintf("Idle: pairs in 8 GiB of heap (estimate: 8 GiB ÷ heap/pair @ %s)", thousands(c.Params.Pairs))
	}, Format: count},
	{Cases: []string{"many"}, Metric: "total_s", Label: func(c benchCase) string {
		return fmt.Sprintf("%s conns × %s at once: total time (s)", thousands(c.Params.Conns), size(c.Params.Bytes))
	}, Format: fixed(3)},
	{Cases: []string{"many"}, Metric: "gbps", Label: func(c benchCase) string {
		return fmt.Sprintf("%s conns × %s at once: aggregate Gbit/s", thousands(c.Params.Conns), size(c.Params.Bytes))
	}, Format: fixed(2)},
	{Cases: []string{"many"}, Metric: "cpu_s_per_gb", Label: func(c benchCase) string {
		return fmt.Sprintf("%s conns × %s at once: CPU s per GB", thousands(c.Params.Conns), size(c.Params.Bytes))
	}, Format: fixed(3)},
}

// notes collects numbered footnotes.
type notes struct{ list []string }

func (n *notes) ref(text string) string {
	i := slices.Index(n.list, text)
	if i < 0 {
		n.list = append(n.list, text)
		i = len(n.list) - 1
	}
	return fmt.Sprintf(" [%d]", i+1)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// summary renders median [min–max] of vs.
func summary(vs []float64, f func(float64) string) string {
	if len(vs) == 1 {
		return f(vs[0])
	}
	return fmt.Sprintf("%s [%s–%s]", f(median(vs)), f(slices.Min(vs)), f(slices.Max(vs)))
}

// values is the metric from every successful run, in run order; nil marks a
// failed run.
func values(os []outcome, metric string) []*float64 {
	out := make([]*float64, len(os))
	for i, o := range os {
		if o.Err == nil && o.Res != nil {
			if v, ok := o.Res.Metrics[metric]; ok {
				out[i] = &v
			}
		}
	}
	return out
}

func present(vs []*float64) []float64 {
	var out []float64
	for _, v := range vs {
		if v != nil {
			out = append(out, *v)
		}
	}
	return out
}

func renderReport(cfg config, rs resultSet, elapsed time.Duration) string {
	var b strings.Builder
	var fn notes
	caseByID := make(map[string]benchCase)
	for _, c := range cfg.Cases {
		caseByID[c.ID] = c
	}
	selected := func(name string) bool {
		return slices.ContainsFunc(cfg.Stacks, func(s stackStatus) bool { return s.Name == name })
	}
	avail := func(name string) bool {
		return slices.ContainsFunc(cfg.Stacks, func(s stackStatus) bool { return s.Name == name && s.Avail })
	}
	withRatio := selected("synack") && selected("gvisor")
	withBase := selected("synack") && selected(baseStack)

	mode := "full"
	if cfg.Quick {
		mode = "quick (-quick: smaller sizes, fewer runs)"
	}
	fmt.Fprintf(&b, "# synack vs gVisor netstack vs Linux kernel\n\n")
	fmt.Fprintf(&b, "Generated %s by `go run .` in bench/ (%s) in %s. ", time.Now().UTC().Format("2006-01-02 15:04 MST"), mode, elapsed.Round(time.Second))
	fmt.Fprintf(&b, "Each figure: median [min–max] of %d runs, each in a fresh process.\n\n", cfg.Runs)
	fmt.Fprintf(&b, "Host: %s; %d CPUs, GOMAXPROCS %d; Linux %s; %s; gVisor %s.\n\n",
		cpuModel(), runtime.NumCPU(), runtime.GOMAXPROCS(0), kernelRelease(), runtime.Version(), depVersion("gvisor.dev/gvisor"))

	// Header.
	b.WriteString("| Figure |")
	sep := "|---|"
	for _, s := range cfg.Stacks {
		title := stackTitle[s.Name]
		if s.Name == "kernel" {
			title += fn.ref("Kernel: Go's package net over loopback (127.0.0.1, MTU 65536) in every row, including the MTU 1500 ones. Its CPU time is the process's user+system time, which includes the kernel's TCP work done on the process's behalf; its heap figures count Go's heap only (socket memory inside the kernel is not counted), so they are not comparable with the userspace stacks.")
		}
		if s.Name == "gvisor" {
			title += fn.ref(fmt.Sprintf("gVisor: two netstacks in one process, 10.0.0.1 and 10.0.0.2, joined by an in-memory lossless link (%s hand-over, see gvisor.go; packets passed by reference, no offloads, so software checksums); SACK on, Nagle off, buffers 1 MiB default / 4 MiB max with receive auto-tuning, Reno, RACK.", cfg.GvisorLink))
		}
		if !s.Avail {
			title += fn.ref(fmt.Sprintf("%s: n/a: %s.", s.Name, s.Why))
		}
		fmt.Fprintf(&b, " %s |", title)
		sep += "---:|"
	}
	if withRatio {
		b.WriteString(" synack / gVisor" + fn.ref("Ratio: synack's run i over gVisor's run i, the two run next to each other in this invocation (the stack order flips each run); median [min–max] of those ratios.") + " |")
		sep += "---:|"
	}
	if withBase {
		b.WriteString(" synack / synack@base" + fn.ref("Before/after: synack's run i over synack@base's run i (the -baseline build), run next to each other; median [min–max] of those ratios.") + " |")
		sep += "---:|"
	}
	b.WriteString(" Target (synack / gVisor) |\n")
	sep += "---|\n"
	b.WriteString(sep)

	for _, r := range rows {
		var c benchCase
		found := false
		for _, id := range r.Cases {
			if cc, ok := caseByID[id]; ok && rs[id] != nil {
				c, found = cc, true
				break
			}
		}
		if !found {
			continue
		}
		fmt.Fprintf(&b, "| %s |", r.Label(c))
		for _, s := range cfg.Stacks {
			if !s.Avail {
				b.WriteString(" n/a |")
				continue
			}
			os := rs[c.ID][s.Name]
			vs := values(os, r.Metric)
			ok := present(vs)
			cell := "failed"
			if len(ok) > 0 {
				cell = summary(ok, r.Format)
			}
			if len(ok) < len(os) {
				if len(ok) > 0 {
					cell += fmt.Sprintf(" (%d/%d runs)", len(ok), len(os))
				}
				for _, o := range os {
					if o.Err != nil {
						cell += fn.ref(fmt.Sprintf("%s %s: %v", s.Name, c.ID, o.Err))
						break
					}
				}
			}
			for _, k := range []string{"dropped", "retransmits", "timeouts"} {
				if vs := present(values(os, "stat_"+k)); len(vs) > 0 && median(vs) > 0 {
					cell += fn.ref(fmt.Sprintf("%s %s: inside the stack, per run: %s segments dropped, %s retransmits, %s retransmission timeouts (median [min–max]); the link itself loses nothing.",
						s.Name, c.ID, summary(present(values(os, "stat_dropped")), count), summary(present(values(os, "stat_retransmits")), count), summary(present(values(os, "stat_timeouts")), count)))
					break
				}
			}
			for _, o := range os {
				if o.Res != nil {
					for _, n := range o.Res.Notes {
						cell += fn.ref(fmt.Sprintf("%s %s: %s", s.Name, c.ID, n))
					}
					break
				}
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		var ratioMed float64
		haveRatio := false
		if withRatio {
			var cell string
			cell, ratioMed, haveRatio = ratioCell(rs[c.ID], r.Metric, "synack", "gvisor", avail("synack") && avail("gvisor"))
			fmt.Fprintf(&b, " %s |", cell)
		}
		if withBase {
			cell, _, _ := ratioCell(rs[c.ID], r.Metric, "synack", baseStack, avail("synack") && avail(baseStack))
			fmt.Fprintf(&b, " %s |", cell)
		}
		tcell := ""
		if r.Target != nil {
			tcell = r.Target.Text
			sy := present(values(rs[c.ID]["synack"], r.Metric))
			if haveRatio || r.Target.Abs && avail("synack") && len(sy) > 0 {
				syMed := median(sy)
				if r.Target.Met(ratioMed, syMed) {
					tcell += " ✓"
				} else {
					tcell += " ✗"
				}
			}
		}
		fmt.Fprintf(&b, " %s |\n", tcell)
	}

	if len(fn.list) > 0 {
		b.WriteString("\n")
		for i, n := range fn.list {
			fmt.Fprintf(&b, "[%d] %s\n\n", i+1, n)
		}
	}
	b.WriteString("Units: GB = 10^9 bytes, Gbit = 10^9 bits; CPU = process user+system time (getrusage) over the measured section only. " +
		"Heap per pair: growth of runtime.MemStats.HeapAlloc (after runtime.GC) while opening the pairs, divided by their number; both ends of every pair live in the process. " +
		"Link for the userspace stacks: two stacks in one process joined by an in-memory, lossless link at the MTU given (1500 unless stated). See README.md.\n")
	return b.String()
}

// ratioCell is the median [min–max] of a's run i over b's run i.
func ratioCell(os map[string][]outcome, metric, a, b string, ok bool) (string, float64, bool) {
	if !ok {
		return "n/a", 0, false
	}
	va, vb := values(os[a], metric), values(os[b], metric)
	var ratios []float64
	for i := range min(len(va), len(vb)) {
		if va[i] != nil && vb[i] != nil && *vb[i] != 0 {
			ratios = append(ratios, *va[i] / *vb[i])
		}
	}
	if len(ratios) == 0 {
		return "n/a", 0, false
	}
	med := median(ratios)
	cell := fmt.Sprintf("%.2fx", med)
	if len(ratios) > 1 {
		cell += fmt.Sprintf(" [%.2f–%.2f]", slices.Min(ratios), slices.Max(ratios))
	}
	return cell, med, true
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernelRelease() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "?"
	}
	var sb strings.Builder
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

func depVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "?"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return "?"
}
