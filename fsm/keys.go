package fsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// key builds an order-preserving index key: strings end in a NUL byte and
// integers are fixed-width big-endian, so a prefix of the parts is a prefix of
// the key and integer parts sort numerically.
//
// An integer is written one nibble (4 bits) per byte. The store's radix trees
// copy every node on the path of an insert, edges and all, and ids handed
// out in sequence make the node for their last byte 256 edges wide: 4 KB
// copied for each new instance, step or event, in every index that ends in
// an id. Sixteen edges at most per node keep those copies small, for keys
// 8 bytes longer per integer.
func key(parts ...any) ([]byte, error) {
	n := 0
	for _, p := range parts {
		if v, ok := p.(string); ok {
			n += len(v) + 1
		} else {
			n += intKeyLen
		}
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		switch v := p.(type) {
		case string:
			b = append(b, v...)
			b = append(b, 0)
		case int64:
			b = appendNibbles(b, uint64(v)^(1<<63))
		case int:
			b = appendNibbles(b, uint64(int64(v))^(1<<63))
		case uint64:
			b = appendNibbles(b, v)
		default:
			return nil, fmt.Errorf("index key part of type %T", p)
		}
	}
	return b, nil
}

// intKeyLen is the length of an integer part of a key.
const intKeyLen = 16

// appendNibbles appends v big-endian, 4 bits per byte.
func appendNibbles(b []byte, v uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, byte(v>>uint(shift))&0xf)
	}
	return b
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
