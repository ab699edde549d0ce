package sel

import "fmt"

// ErrorKind tells what kind of failure an *Error reports, so callers can
// tell a program's own throw apart from a bug in the program or a budget
// that ran out.
type ErrorKind int

const (
	// KindSyntax: the source does not parse.
	KindSyntax ErrorKind = iota + 1
	// KindStatic: the source parses but Check found a construct that can
	// never run (unknown class or method, a forbidden class).
	KindStatic
	// KindRuntime: evaluation failed (type error, null dereference,
	// division by zero, index out of range, bad argument, missing param).
	KindRuntime
	// KindLimit: evaluation exceeded one of the Limits.
	KindLimit
	// KindThrown: the program executed a throw statement; Msg is the
	// message it threw.
	KindThrown
)

func (k ErrorKind) String() string {
	switch k {
	case KindSyntax:
		return "syntax error"
	case KindStatic:
		return "invalid expression"
	case KindRuntime:
		return "evaluation error"
	case KindLimit:
		return "limit exceeded"
	case KindThrown:
		return "expression threw"
	}
	return "error"
}

// Error is the only error type Parse, Check and Eval return. Line and Col
// are 1-based (Col counts characters, not bytes) and point at the token
// where the problem was found; they are 0 when no position applies.
type Error struct {
	Kind ErrorKind
	Line int
	Col  int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("sel: %s at %d:%d: %s", e.Kind, e.Line, e.Col, e.Msg)
	}
	return fmt.Sprintf("sel: %s: %s", e.Kind, e.Msg)
}

func errAt(kind ErrorKind, p pos, format string, args ...any) *Error {
	return &Error{Kind: kind, Line: int(p.line), Col: int(p.col), Msg: fmt.Sprintf(format, args...)}
}
