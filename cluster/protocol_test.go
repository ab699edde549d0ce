package cluster

import "testing"

// A server without the tag, or with one that does not parse, is from before
// protocols were advertised: protocol 1.
func TestMemberProtocol(t *testing.T) {
	for _, c := range []struct {
		tags map[string]string
		want int
	}{
		{map[string]string{tagProtocol: "2"}, 2},
		{map[string]string{tagProtocol: "7"}, 7},
		{map[string]string{}, 1},
		{map[string]string{tagProtocol: "x"}, 1},
		{map[string]string{tagProtocol: "0"}, 1},
	} {
		if got := memberProtocol(c.tags); got != c.want {
			t.Errorf("memberProtocol(%v) = %d, want %d", c.tags, got, c.want)
		}
	}
}
