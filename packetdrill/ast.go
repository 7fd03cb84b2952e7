package packetdrill

import "time"

// Script is a parsed packetdrill script.
type Script struct {
	Path    string
	Options []ScriptOption // --name=value lines at the top
	Events  []*Event
	lines   []string // the source, for messages
}

// ScriptOption is one --name[=value] header line.
type ScriptOption struct {
	Name, Value string
	Line        int
}

// TimeKind says how an event's time is written.
type TimeKind int

// The ways a time is written.
const (
	TimeAbsolute TimeKind = iota // 0.100
	TimeRelative                 // +0.100: after the previous event
	TimeAny                      // *: whenever it happens
)

// EventTime is when an event happens: At, or anywhere in At..End when
// Range is set (0.1~0.2, +0.1~+0.2).
type EventTime struct {
	Kind  TimeKind
	At    time.Duration
	End   time.Duration
	Range bool
}

// EventKind is what an event does.
type EventKind int

// The kinds of event.
const (
	EventPacket  EventKind = iota // < injects, > expects
	EventSyscall                  // a system call and its expected result
	EventCommand                  // `shell command`
	EventCode                     // %{ python }%
)

// Event is one timed line of a script.
type Event struct {
	Line    int
	Time    EventTime
	Kind    EventKind
	Packet  *Packet
	Call    *Syscall
	Command string
	Code    string
}

// Packet is a TCP segment in packetdrill notation. Sequence numbers are
// relative: to the remote ISN for inbound data, to the stack's ISN for
// outbound data, and the other way round for acknowledgments.
type Packet struct {
	Inbound          bool   // < (else >)
	ECN              string // "" (not given), noecn, ect0, ect1, ce, ect01
	SrcPort, DstPort uint16 // 0: the script's connection
	Flags            string // as written: "S.", "F.", "-", "."
	Seq, End         uint32
	Len              int
	Ack              uint32
	HasAck           bool
	Win              uint32
	HasWin           bool
	Urg              uint32
	HasUrg           bool
	Options          []Option
	HasOptions       bool // <...> or a list was written
	AnyOptions       bool // <...>: not checked
}

// Option is one TCP option in a packet's option list.
type Option struct {
	Kind   string // nop, eol, mss, wscale, sackOK, sack, TS
	Val    uint32 // mss, wscale, TS val
	Ecr    uint32 // TS ecr
	Blocks [][2]uint32
}

// Syscall is a system call line: name(args) = ret [errno] [(note)].
type Syscall struct {
	Name    string
	Args    []Expr
	Ret     Expr
	Errno   string
	EndTime *EventTime // ...T: the call blocks until then
}

// ExprKind is the kind of a syscall argument expression.
type ExprKind int

// The kinds of expression.
const (
	ExprEllipsis ExprKind = iota // ...
	ExprInt                      // 3, -1, 0x02
	ExprWord                     // SOCK_STREAM
	ExprString                   // "abc"
	ExprList                     // [a, b]
	ExprStruct                   // {a, b} or {name=v, ...}
	ExprOr                       // A | B
	ExprAssign                   // name=v (inside a struct)
	ExprCall                     // inet_addr("1.2.3.4"), htons(8080)
)

// Expr is a syscall argument or result.
type Expr struct {
	Kind  ExprKind
	Int   int64
	Word  string // word, string, assignment name, function name
	Elems []Expr
}
