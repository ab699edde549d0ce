package workflow

import (
	"testing"
)

// An Http step's params are checked at push as the worker reads them, and
// its state_expr is parsed, instead of the step failing on a node (for a
// broken state_expr, only after the request was sent).
func TestHTTPStepValidated(t *testing.T) {
	const p = "workflow.steps[0].step.params."
	httpMap := func(fields string) string {
		return `"http": {"type": "MAP", "value": {` + fields + `}}`
	}
	url := `"url": {"type": "STRING", "value": "https://example.com/x"}`
	for _, tc := range []struct{ params, want string }{
		{``, p + `http: Http step requires an "http" param of type MAP with a "url" STRING`},
		{`"http": {"type": "STRING", "value": "https://example.com"}`, p + `http.type: the "http" param must be of type MAP, got STRING`},
		{httpMap(`"method": {"type": "STRING", "value": "GET"}`), p + `http.value.url: Http step requires a "url" STRING in the "http" param`},
		{httpMap(`"url": {"type": "LONG", "value": 1}`), p + `http.value.url.type: "url" must be of type STRING, got LONG`},
		{httpMap(`"url": {"type": "STRING", "value": " "}`), p + `http.value.url.value: url must not be empty`},
		{httpMap(`"url": {"type": "STRING", "value": "ftp://example.com/x"}`), p + `http.value.url.value: url scheme "ftp" is not supported; use http or https`},
		{httpMap(`"url": {"type": "STRING", "value": "example.com/x"}`), p + `http.value.url.value: url scheme "" is not supported; use http or https`},
		{httpMap(`"url": {"type": "STRING", "value": "http:///x"}`), p + `http.value.url.value: url has no host`},
		{httpMap(`"url": {"type": "STRING", "value": "http://[::1/x"}`), p + `http.value.url.value: invalid url: missing ']' in host`},
		{httpMap(url + `, "method": {"type": "STRING", "value": "GE T"}`), p + `http.value.method.value: "GE T" is not a valid HTTP method`},
		{httpMap(url + `, "method": {"type": "LONG", "value": 1}`), p + `http.value.method.type: "method" must be of type STRING, got LONG`},
		{httpMap(url + `, "headers": {"type": "STRING", "value": "a: b"}`), p + `http.value.headers.type: "headers" must be of type STRING_MAP, got STRING`},
		{httpMap(url) + `, "state_expr": {"type": "STRING", "value": "return (("}`,
			p + `state_expr.value: sel: syntax error at 1:10: expected an expression, found end of input`},
		{httpMap(url) + `, "state_expr": {"type": "LONG", "value": 1}`, p + `state_expr.type: "state_expr" must be of type STRING (a SEL expression), got LONG`},
	} {
		d, err := Parse(oneStep(`{"id": "b", "type": "Http", "params": {` + tc.params + `}}`))
		if err != nil {
			t.Fatalf("%s: Parse: %v", tc.params, err)
		}
		err = d.Validate(DefaultLimits())
		if err == nil {
			t.Errorf("%s: accepted, want %s", tc.params, tc.want)
			continue
		}
		if got := pathMsgs(t, err); got != tc.want {
			t.Errorf("%s:\n got: %s\nwant: %s", tc.params, got, tc.want)
		}
	}

	// What is known only when the step runs is left to the run: values
	// with references, and expressions.
	for _, params := range []string{
		httpMap(url),
		httpMap(`"url": {"type": "STRING", "value": "${base}/echo"}, "method": {"type": "STRING", "value": "post"},
		  "headers": {"type": "STRING_MAP", "value": {"X-Run": "${workflow_instance_id}"}}, "body": {"type": "STRING", "value": "hi"}`),
		httpMap(`"url": {"type": "STRING", "expression": "'http://' + host"}, "method": {"type": "STRING", "value": "${verb}"}`),
		`"http": {"type": "MAP", "expression": "params.getFromStep('a', 'http')"}`,
		httpMap(url) + `, "state_expr": {"type": "STRING", "value": "if (status_code == 404) return \"DONE\";\nelse return \"FATAL_ERROR\";"}`,
		httpMap(url) + `, "state_expr": {"type": "STRING", "value": "return response_body.contains('$$x') ? 'DONE' : 'USER_ERROR';"}`,
		httpMap(url) + `, "state_expr": {"type": "STRING", "value": "return ${verdict};"}`,
		httpMap(url) + `, "state_expr": {"type": "STRING", "value": ""}`,
	} {
		d, err := Parse(oneStep(`{"id": "b", "type": "Http", "params": {"host": {"type": "STRING", "value": "h"}, ` + params + `}}`))
		if err != nil {
			t.Fatalf("%s: Parse: %v", params, err)
		}
		if err := d.Validate(DefaultLimits()); err != nil {
			t.Errorf("%s: Validate: %v", params, err)
		}
		if err := CheckSupported(d); err != nil {
			t.Errorf("%s: CheckSupported: %v", params, err)
		}
	}
}
