package fsm

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/batonhq/baton/fsm/statepb"
)

// fill sets every field of m (a oneof's first member) to a value that is
// not the zero one, so a copy that drops a field is told apart.
func fill(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() && o.Fields().Get(0) != fd {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			l.Append(scalar(fd, l.NewElement(), depth))
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			k := scalar(fd.MapKey(), protoreflect.Value{}, depth).MapKey()
			mp.Set(k, scalar(fd.MapValue(), mp.NewValue(), depth))
		default:
			var v protoreflect.Value
			if fd.Message() != nil {
				v = m.NewField(fd)
			}
			m.Set(fd, scalar(fd, v, depth))
		}
	}
}

func scalar(fd protoreflect.FieldDescriptor, fresh protoreflect.Value, depth int) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(1)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(7)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(7)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(7)
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(7)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(7)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(7)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("x")
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte("x"))
	default: // message or group
		if depth < 3 {
			fill(fresh.Message(), depth+1)
		}
		return fresh
	}
}

// TestShallowCopiesEveryField fills every field of every record type and
// checks that a shallow copy is equal to its source yet a distinct message,
// so a field added to a record later is never dropped by a write.
func TestShallowCopiesEveryField(t *testing.T) {
	fd := statepb.File_baton_state_v1_state_proto
	n := 0
	msgs := fd.Messages()
	for i := 0; i < msgs.Len(); i++ {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(msgs.Get(i).FullName())
		if err != nil {
			t.Fatal(err)
		}
		src := mt.New()
		fill(src, 0)
		m := src.Interface()
		cp := shallow(m)
		if cp == m {
			t.Fatalf("%s: shallow returned its argument", mt.Descriptor().FullName())
		}
		if !proto.Equal(cp, m) {
			t.Errorf("%s: shallow copy differs:\n got %v\nwant %v", mt.Descriptor().FullName(), cp, m)
		}
		n++
	}
	if n < 10 {
		t.Fatalf("checked only %d record types", n)
	}
}
