//go:build !linux

package runtime

// waitNoReap is unavailable here; the caller falls back to reaping at exit,
// accepting that the group ID may in theory be reused before the final kill.
func waitNoReap(int) bool { return false }
