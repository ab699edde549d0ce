package timetrigger

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkNext evaluates Next once for each of 10,000 schedules, as a
// leader does when every workflow's trigger comes due at once.
func BenchmarkNext(b *testing.B) {
	exprs := []string{
		"0 * * * *", "*/5 * * * *", "0 0 * * *", "30 2 * * *", "0 9 * * MON-FRI",
		"0 0 1 * *", "0 0 12 1/1 * ? *", "0 15 10 ? * 6L", "0 0 0 LW * ?", "0 0 30 2 *",
		"0 0 13 * FRI", "0 0 0 ? 2 MON#5", "15 4 1 1 *", "0 0 0 1 1 ? 2030",
	}
	zones := []string{"UTC", "US/Pacific", "America/New_York", "Europe/London", "Asia/Tokyo", "Australia/Sydney", "Asia/Kolkata"}
	schedules := make([]*Schedule, 10000)
	for i := range schedules {
		expr := exprs[i%len(exprs)]
		if i%3 == 0 {
			expr = fmt.Sprintf("%d %d * * *", i%60, i%24)
		}
		s, err := ParseCron(expr, mustLoad(b, zones[i%len(zones)]))
		if err != nil {
			b.Fatal(err)
		}
		schedules[i] = s
	}
	after := time.Date(2025, 6, 15, 13, 7, 42, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range schedules {
			s.Next(after)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(schedules)), "ns/schedule")
}
