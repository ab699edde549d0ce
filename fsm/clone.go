package fsm

import (
	"reflect"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

// Records in the state store are never changed in place: Apply writes a new
// version and snapshots keep reading the old one. A deep clone per write
// would copy everything a record holds — a foreach step's loop params can
// be an array of 25,000 values — on every iteration's bookkeeping, so writes
// start from shallow copies instead, and replace (never modify) the maps and
// lists they share with the stored version.

// shallow returns a new message whose fields are those of m; repeated, map
// and message fields are shared with m. It copies the generated struct's
// exported fields (the message's own fields and oneofs) and leaves the
// runtime's internal state zero: a copy of a stored record is the hottest
// allocation in Apply, and going through protoreflect cost a boxed value per
// field.
func shallow[T proto.Message](m T) T {
	src := reflect.ValueOf(m).Elem()
	dst := reflect.New(src.Type())
	d := dst.Elem()
	for _, i := range exportedFields(src.Type()) {
		d.Field(i).Set(src.Field(i))
	}
	return dst.Interface().(T)
}

// exportedFieldsOf caches, per generated message struct, the indexes of its
// exported fields.
var exportedFieldsOf sync.Map // reflect.Type -> []int

func exportedFields(t reflect.Type) []int {
	if v, ok := exportedFieldsOf.Load(t); ok {
		return v.([]int)
	}
	var idx []int
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).IsExported() {
			idx = append(idx, i)
		}
	}
	exportedFieldsOf.Store(t, idx)
	return idx
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
