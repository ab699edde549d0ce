package scheduler

import (
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// vnodesPerMember spreads each member over the ring so that removing one
// member moves only its own share of keys.
const vnodesPerMember = 128

// loadFactor bounds a member's load at this multiple of the mean (consistent
// hashing with bounded loads), so hot keys cannot pile onto one node.
const loadFactor = 1.25

// Ring places keys on members by consistent hashing with bounded loads.
type Ring struct {
	points  []uint64
	owners  []string
	members int
	names   []string
}

// NewRing builds a ring over member names (order does not matter).
func NewRing(members []string) *Ring {
	r := &Ring{members: len(members), names: append([]string(nil), members...)}
	type point struct {
		h     uint64
		owner string
	}
	pts := make([]point, 0, len(members)*vnodesPerMember)
	for _, m := range members {
		for i := 0; i < vnodesPerMember; i++ {
			pts = append(pts, point{hash64(m + "#" + strconv.Itoa(i)), m})
		}
	}
	sort.Slice(pts, func(i, j int) bool {
		if pts[i].h != pts[j].h {
			return pts[i].h < pts[j].h
		}
		return pts[i].owner < pts[j].owner
	})
	for _, p := range pts {
		r.points = append(r.points, p.h)
		r.owners = append(r.owners, p.owner)
	}
	return r
}

// ringMemo holds the rings built so far by their members. Members change
// rarely, a ring never changes once built, and building one (128 points a
// member, sorted) was a tenth of a planning round's CPU on a long chain.
var ringMemo struct {
	sync.Mutex
	rings map[string]*Ring
}

// maxMemoRings bounds ringMemo; past it, the memo starts again empty.
const maxMemoRings = 64

// ringOf returns the ring over members, as NewRing builds it; members must
// be sorted.
func ringOf(members []string) *Ring {
	key := strings.Join(members, "\x00")
	ringMemo.Lock()
	defer ringMemo.Unlock()
	if r, ok := ringMemo.rings[key]; ok {
		return r
	}
	if ringMemo.rings == nil || len(ringMemo.rings) >= maxMemoRings {
		ringMemo.rings = map[string]*Ring{}
	}
	r := NewRing(members)
	ringMemo.rings[key] = r
	return r
}

func hash64(s string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(s))
	// fnv's low bits mix poorly for similar keys; finish with a 64-bit mixer.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// Members returns the ring's members.
func (r *Ring) Members() []string { return r.names }

// Owner returns the member a key hashes to, ignoring load.
func (r *Ring) Owner(key string) string {
	return r.Pick(key, nil)
}

// Pick returns the first member clockwise from key's hash whose load is under
// the bound ceil((total+1)/members * loadFactor); load may be nil. It returns ""
// for an empty ring.
func (r *Ring) Pick(key string, load map[string]int) string {
	if len(r.points) == 0 {
		return ""
	}
	limit := math.MaxInt
	if load != nil {
		total := 0
		for _, n := range load {
			total += n
		}
		limit = int(math.Ceil(float64(total+1) / float64(r.members) * loadFactor))
	}
	h := hash64(key)
	start := sort.Search(len(r.points), func(i int) bool { return r.points[i] >= h })
	for i := 0; i < len(r.points); i++ {
		owner := r.owners[(start+i)%len(r.points)]
		if load == nil || load[owner] < limit {
			return owner
		}
	}
	return r.owners[start%len(r.points)]
}
