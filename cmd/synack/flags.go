package main

// The command line conventions every synack command shares: a flag set
// whose parse errors are one line naming the flag, the bad value and the
// form wanted, then a pointer to "synack CMD -h"; flag values for sizes
// with units, integers, durations and probabilities; and the exit codes
// (0 after -h, 2 for a bad command line).

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/synack-tcp/synack/internal/simharness"
)

// errUsage is what a parse function returns after it has reported a bad
// command line (exit 2); flag.ErrHelp is returned after -h (exit 0).
var errUsage = errors.New("usage error")

// cmdFlags is the flag set of one command ("synack demo").
type cmdFlags struct {
	*flag.FlagSet
	stderr io.Writer
	intro  string // the usage text before the flag list
}

// newFlags makes the flag set of "synack "+cmd. intro is its usage text,
// starting with the "usage: synack CMD ..." line(s); -h prints it to
// stderr, followed by the flags.
func newFlags(cmd, intro string, stderr io.Writer) *cmdFlags {
	f := &cmdFlags{FlagSet: flag.NewFlagSet("synack "+cmd, flag.ContinueOnError), stderr: stderr, intro: intro}
	f.SetOutput(io.Discard) // parse errors are reported by parse, in one line
	f.Usage = func() {}
	return f
}

// printUsage writes the usage text and every flag with its default.
func (f *cmdFlags) printUsage(w io.Writer) {
	fmt.Fprint(w, strings.TrimRight(f.intro, "\n")+"\n")
	fmt.Fprintln(w, "flags:")
	f.VisitAll(func(fl *flag.Flag) {
		name, usage := flag.UnquoteUsage(fl)
		switch fl.Value.(type) {
		case sizeFlag:
			name = "SIZE"
		case durFlag:
			name = "DURATION"
		case intFlag, int64Flag:
			name = "N"
		case lossFlag:
			name = "P"
		}
		dashes := "--"
		if len(fl.Name) == 1 {
			dashes = "-"
		}
		line := "  " + dashes + fl.Name
		if name != "" {
			line += " " + strings.ToUpper(name)
		}
		switch fl.DefValue {
		case "", "0", "false", "0s":
		default:
			usage += " (default " + fl.DefValue + ")"
		}
		fmt.Fprintf(w, "%s\n    \t%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
	})
}

// parse parses args. After -h it prints the usage and returns
// flag.ErrHelp; after a bad flag it reports it in one line and returns
// errUsage.
func (f *cmdFlags) parse(args []string) error {
	err := f.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		f.printUsage(f.stderr)
		return flag.ErrHelp
	}
	return f.bad("%s", flagMessage(err))
}

// bad reports a bad command line: "synack CMD: message", then where the
// usage is. It returns errUsage.
func (f *cmdFlags) bad(format string, a ...any) error {
	fmt.Fprintf(f.stderr, "%s: %s\n", f.Name(), fmt.Sprintf(format, a...))
	fmt.Fprintf(f.stderr, "run %q for usage\n", f.Name()+" -h")
	return errUsage
}

// flagMessage rewrites package flag's error, `invalid value "x" for flag
// -size: "x": want ...`, as `invalid value "x" for --size: want ...`.
func flagMessage(err error) string {
	s := err.Error()
	rest, ok := strings.CutPrefix(s, "invalid value ")
	if !ok {
		return strings.Replace(s, "flag provided but not defined: -", "unknown flag --", 1)
	}
	val, rest, _ := strings.Cut(rest, " for flag -")
	name, why, _ := strings.Cut(rest, ": ")
	why = strings.TrimPrefix(why, val+": ")
	return fmt.Sprintf("invalid value %s for --%s: %s", val, name, why)
}

// exitCode is the exit status after a parse function failed.
func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// sizeFlag is a byte count with an optional unit: 4096, 64KiB, 1MiB, 1MB
// (the parser synack soak's flags use).
type sizeFlag struct{ p *int }

func (f sizeFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return simharness.FormatSize(*f.p)
}

func (f sizeFlag) Set(s string) error {
	n, err := simharness.ParseSize(s)
	if err != nil {
		return err
	}
	*f.p = n
	return nil
}

// intFlag is a decimal integer.
type intFlag struct{ p *int }

func (f intFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.Itoa(*f.p)
}

func (f intFlag) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil {
		return errors.New("want a whole number")
	}
	*f.p = v
	return nil
}

// int64Flag is a decimal 64-bit integer (a seed).
type int64Flag struct{ p *int64 }

func (f int64Flag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatInt(*f.p, 10)
}

func (f int64Flag) Set(s string) error {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("want a whole number")
	}
	*f.p = v
	return nil
}

// durFlag is a duration with a unit: 5ms, 1.5s, 2m.
type durFlag struct{ p *time.Duration }

func (f durFlag) String() string {
	if f.p == nil {
		return "0s"
	}
	return f.p.String()
}

func (f durFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("want a duration with a unit, such as 5ms, 1.5s or 2m")
	}
	*f.p = d
	return nil
}

// lossFlag is a probability: 0.05 or 5%, below 1.
type lossFlag struct{ p *float64 }

func (f lossFlag) String() string {
	if f.p == nil {
		return "0"
	}
	return strconv.FormatFloat(*f.p, 'g', -1, 64)
}

func (f lossFlag) Set(s string) error {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || math.IsNaN(v) {
		return errors.New("want a fraction like 0.05 or a percentage like 5%")
	}
	if pct {
		v /= 100
	}
	if v < 0 || v >= 1 {
		return errors.New("want at least 0 and below 1 (100%)")
	}
	*f.p = v
	return nil
}

// newJSONEncoder is how every command writes JSON: one object a line, and
// "->" and "<" as themselves rather than \u003e escapes.
func newJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}
