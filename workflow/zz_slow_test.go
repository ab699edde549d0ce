package workflow

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestZZPathological(t *testing.T) {
	var b strings.Builder
	b.WriteString("a: &a0 [x]\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1)
	}
	deepJSON := strings.Repeat(`{"a":`, 500) + "1" + strings.Repeat("}", 500)
	deepYAML := strings.Repeat("[", 500) + strings.Repeat("]", 500)
	wide := `{"workflow": {"id": "w", "steps": [` + strings.Repeat(`{"step": {"id": "a", "type": "NoOp", "transition": {"successors": {"a": "true"}}}},`, 20000) + `{"step": {"id": "z", "type": "NoOp"}}]}}`
	var chain strings.Builder
	chain.WriteString(`{"workflow": {"id": "w", "steps": [`)
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&chain, `{"step": {"id": "s%d", "type": "NoOp", "transition": {"successors": {"s%d": "true"}}}},`, i, i+1)
	}
	chain.WriteString(`{"step": {"id": "s20000", "type": "NoOp"}}]}}`)
	var params strings.Builder
	params.WriteString(`{"workflow": {"id": "w", "params": {"p": `)
	for i := 0; i < 400; i++ {
		params.WriteString(`{"type": "MAP", "value": {"x": `)
	}
	params.WriteString(`{"type": "LONG", "value": 1}`)
	for i := 0; i < 400; i++ {
		params.WriteString(`}}`)
	}
	params.WriteString(`}, "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	for name, in := range map[string]string{"alias": b.String(), "deepJSON": deepJSON, "deepYAML": deepYAML, "wide": wide, "chain": chain.String(), "params": params.String()} {
		start := time.Now()
		d, err := Parse([]byte(in))
		el := time.Since(start)
		es := ""
		if err != nil {
			es = err.Error()
			if len(es) > 150 {
				es = es[:150]
			}
		} else {
			_ = d.Validate(DefaultLimits())
			_, _ = d.DAG()
			_, _ = Canonical(d)
			_, _ = ResolveParams(d.Workflow.Params, nil)
		}
		fmt.Printf("%s: %d bytes parse %v total %v err=%s\n", name, len(in), el, time.Since(start), es)
	}
}
