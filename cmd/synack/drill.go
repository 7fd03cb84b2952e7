package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/synack-tcp/synack/packetdrill"
)

// drillOptions are the flags of "synack drill".
type drillOptions struct {
	run     packetdrill.Options
	verbose bool
	paths   []string
}

const drillUsage = `usage: synack drill [--strict] [--dialect linux|freebsd] [--tolerance D] [--ipv6] [-v] PATH...
Runs packetdrill scripts (files, or directories searched for *.pkt) in-process
against a synack stack under a virtual clock; one line per script, then a total.
`

// errDrillUsage is returned after a bad command line has been reported.
var errDrillUsage = errors.New("usage error")

// parseDrill parses the flags. It keeps to itself (no shared flag helper)
// so that it reads the same on either side of a merge: -h prints the
// usage and returns flag.ErrHelp (exit 0); a bad command line is one line
// and a pointer to -h (exit 2).
func parseDrill(args []string, stderr io.Writer) (drillOptions, error) {
	var o drillOptions
	fs := flag.NewFlagSet("synack drill", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&o.run.Strict, "strict", false, "check every value as written (default: portable, implementation-chosen values checked for validity)")
	fs.StringVar(&o.run.Dialect, "dialect", "", "the corpus's configuration: linux (defaults.sh, sysctls) or freebsd (sysctl -w); default: per script")
	fs.DurationVar(&o.run.Tolerance, "tolerance", 0, "timing tolerance for scripts that set none (default 4ms; gVisor's suite runs with 100ms)")
	fs.BoolVar(&o.run.IPv6, "ipv6", false, "run scripts that set no --ip_version over IPv6 (MTU 1520), as packetdrill's run_all.py does too")
	fs.BoolVar(&o.verbose, "v", false, "trace every packet and call, and print the configuration notes")
	bad := func(format string, a ...any) (drillOptions, error) {
		fmt.Fprintf(stderr, "synack drill: %s\n", fmt.Sprintf(format, a...))
		fmt.Fprintln(stderr, `run "synack drill -h" for usage`)
		return o, errDrillUsage
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, drillUsage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return o, err
		}
		return bad("%v", err)
	}
	switch o.run.Dialect {
	case "", packetdrill.DialectLinux, packetdrill.DialectFreeBSD:
	default:
		return bad("--dialect must be linux or freebsd, not %q", o.run.Dialect)
	}
	if o.run.Tolerance < 0 {
		return bad("--tolerance must not be negative")
	}
	if fs.NArg() == 0 {
		return bad("no script or directory given")
	}
	o.paths = fs.Args()
	return o, nil
}

func runDrill(args []string, stdout, stderr io.Writer) int {
	o, err := parseDrill(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	files, err := scriptFiles(o.paths)
	if err != nil {
		fmt.Fprintf(stderr, "synack drill: %v\n", err)
		return 2
	}
	var pass, failed, skipped int
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "synack drill: %v\n", err)
			return 2
		}
		opt := o.run
		if o.verbose {
			opt.Trace = stdout
		}
		res := packetdrill.RunFile(f, string(src), opt)
		fmt.Fprintln(stdout, packetdrill.FormatResult(res))
		if o.verbose {
			for _, n := range res.Notes {
				fmt.Fprintf(stdout, "    note: %s\n", n)
			}
		}
		switch res.Verdict {
		case packetdrill.Pass:
			pass++
		case packetdrill.Fail:
			failed++
		default:
			skipped++
		}
	}
	fmt.Fprintf(stdout, "%d passed, %d failed, %d skipped\n", pass, failed, skipped)
	if failed > 0 {
		return 1
	}
	return 0
}

// scriptFiles expands directories to the *.pkt files under them, sorted.
func scriptFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(q, ".pkt") {
				found = append(found, q)
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}
