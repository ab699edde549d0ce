package fsm

import (
	"bytes"
	"cmp"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// keyTuple is a key's parts: a string, an integer, and a second string, the
// shape of the steps' id index.
type keyTuple struct {
	s1 string
	n  int64
	s2 string
}

func (k keyTuple) key(t *testing.T, parts int) []byte {
	t.Helper()
	all := []any{k.s1, k.n, k.s2}
	b, err := key(all[:parts]...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func compareTuples(a, b keyTuple) int {
	return cmp.Or(strings.Compare(a.s1, b.s1), cmp.Compare(a.n, b.n), strings.Compare(a.s2, b.s2))
}

// TestKeyOrderAndPrefixes checks what the indexes rely on: keys sort as
// their parts do (integers numerically, negative ones first), a key of the
// leading parts is a prefix of the whole key, and an integer part spends
// one byte per nibble, so a tree node under it has at most 16 edges.
func TestKeyOrderAndPrefixes(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	ints := []int64{math.MinInt64, -1 << 40, -256, -1, 0, 1, 15, 16, 255, 256, 4095, 65536, 1 << 40, math.MaxInt64}
	strs := []string{"", "a", "a/b", "ab", "b", "\x01", "étape"}
	pick := func() keyTuple {
		n := ints[rng.IntN(len(ints))]
		if rng.IntN(2) == 0 {
			n = rng.Int64() - rng.Int64()
		}
		return keyTuple{strs[rng.IntN(len(strs))], n, strs[rng.IntN(len(strs))]}
	}
	for i := 0; i < 20000; i++ {
		a, b := pick(), pick()
		ka, kb := a.key(t, 3), b.key(t, 3)
		if got, want := bytes.Compare(ka, kb), compareTuples(a, b); got != want {
			t.Fatalf("%+v vs %+v: keys compare %d, parts %d", a, b, got, want)
		}
		for parts := 1; parts < 3; parts++ {
			if p := a.key(t, parts); !bytes.HasPrefix(ka, p) {
				t.Fatalf("%+v: the key of %d parts %x is not a prefix of %x", a, parts, p, ka)
			}
		}
		num := ka[len(a.s1)+1 : len(a.s1)+1+intKeyLen]
		for _, c := range num {
			if c > 0xf {
				t.Fatalf("%+v: integer part %x has a byte above 0xf", a, num)
			}
		}
	}
	if _, err := key(1.5); err == nil {
		t.Fatal("a float key part was accepted")
	}
}
