package fsm

import (
	"encoding/binary"
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// key builds an order-preserving index key: strings end in a NUL byte and
// integers are fixed-width big-endian, so a prefix of the parts is a prefix of
// the key and integer parts sort numerically.
func key(parts ...any) ([]byte, error) {
	var b []byte
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, v...)
			b = append(b, 0)
		case int64:
			b = binary.BigEndian.AppendUint64(b, uint64(v)^(1<<63))
		case int:
			b = binary.BigEndian.AppendUint64(b, uint64(int64(v))^(1<<63))
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		default:
			return nil, fmt.Errorf("index key part of type %T", p)
		}
	}
	return b, nil
}

// funcIndex is a memdb indexer defined by a function of the object; memdb's
// reflective integer indexes use varints, which do not sort.
type funcIndex struct {
	parts func(obj any) ([]any, bool)
}

var (
	_ memdb.Indexer       = funcIndex{}
	_ memdb.SingleIndexer = funcIndex{}
	_ memdb.PrefixIndexer = funcIndex{}
)

func (f funcIndex) FromObject(obj any) (bool, []byte, error) {
	parts, ok := f.parts(obj)
	if !ok {
		return false, nil, nil
	}
	k, err := key(parts...)
	return err == nil, k, err
}

func (f funcIndex) FromArgs(args ...any) ([]byte, error) { return key(args...) }

func (f funcIndex) PrefixFromArgs(args ...any) ([]byte, error) { return key(args...) }
