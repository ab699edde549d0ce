package fsm

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/batonhq/baton/fsm/statepb"
)

// Records in the state store are never changed in place: Apply writes a new
// version and snapshots keep reading the old one. A deep clone per write
// would copy everything a record holds — a foreach step's loop params can
// be an array of 25,000 values — on every iteration's bookkeeping, so writes
// start from shallow copies instead, and replace (never modify) the maps and
// lists they share with the stored version.

// shallow returns a new message whose fields are those of m; repeated, map
// and message fields are shared with m.
func shallow[T proto.Message](m T) T {
	src := m.ProtoReflect()
	dst := src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		dst.Set(fd, v)
		return true
	})
	return dst.Interface().(T)
}

// mutableStep returns a copy of st that a write may change: scalar fields,
// the attempt list, the current attempt's scalar fields and the loop's
// scalar fields and counts. Everything else stays shared and must be
// replaced, not modified.
func mutableStep(st *statepb.Step) *statepb.Step {
	st = shallow(st)
	if n := len(st.Attempts); n > 0 {
		attempts := make([]*statepb.Attempt, n, n+1)
		copy(attempts, st.Attempts)
		attempts[n-1] = shallow(attempts[n-1])
		st.Attempts = attempts
	}
	if st.Loop != nil {
		st.Loop = shallow(st.Loop)
		counts := make(map[string]int64, len(st.Loop.Counts)+1)
		for k, v := range st.Loop.Counts {
			counts[k] = v
		}
		st.Loop.Counts = counts
	}
	return st
}
