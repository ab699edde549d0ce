package sel

import "testing"

func BenchmarkDefaultDateParam(b *testing.B) {
	p, err := Parse(`
    DateTime utcNow = new DateTime(RUN_TS);
    DateTime localNow = utcNow.withZone(DateTimeZone.forID("America/Los_Angeles"));
    localNow.minusDays(1).toString("yyyyMMdd");`)
	if err != nil {
		b.Fatal(err)
	}
	env := testEnv{params: map[string]Value{"RUN_TS": int64(1700000000000)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Eval(env, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	src := `int n = 0; for (int i = 0; i < 10; i++) { if (i % 2 == 0) n += i; } return String.format("%d-%s", n, Util.tsToDateInt(RUN_TS));`
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(src); err != nil {
			b.Fatal(err)
		}
	}
}

// A runaway loop under the default limits: how long until it is stopped.
func BenchmarkRunawayLoop(b *testing.B) {
	p, err := Parse("n = 0; for (int i = 0; i < 20000; i++) for (int j = 0; j < 20000; j++) n++;")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Eval(nil, Limits{}); err == nil {
			b.Fatal("expected the step limit")
		}
	}
}
