package workflow

import (
	"reflect"
	"testing"
)

// A DOUBLE_ARRAY result becomes a LONG_ARRAY only when every element is a
// whole number in the LONG range, the rule a single LONG follows, instead
// of out-of-range elements silently turning into math.MinInt64.
func TestLongArrayFromDoubles(t *testing.T) {
	v, err := Eval("double[] a = {2.0, -3.0, 1e18}; return a;", LongArray, nil)
	if err != nil || !reflect.DeepEqual(v, Value{LongArray, []int64{2, -3, 1e18}}) {
		t.Fatalf("whole doubles: %v, %v", v, err)
	}
	for _, tc := range []struct{ expr, want string }{
		{"double[] a = {1e300, 1.0/0, -1e19, 3.0}; return a;",
			"expression gave a DOUBLE_ARRAY whose element 0, 1.0E300, is not a whole number in the LONG range"},
		{"double[] a = {3.0, 1.0/0}; return a;",
			"expression gave a DOUBLE_ARRAY whose element 1, Infinity, is not a whole number in the LONG range"},
		{"double[] a = {3.0, 4.0, -1e19}; return a;",
			"expression gave a DOUBLE_ARRAY whose element 2, -1.0E19, is not a whole number in the LONG range"},
		{"double[] a = {0.0/0}; return a;",
			"expression gave a DOUBLE_ARRAY whose element 0, NaN, is not a whole number in the LONG range"},
		{"double[] a = {2.5}; return a;",
			"expression gave a DOUBLE_ARRAY whose element 0, 2.5, is not a whole number in the LONG range"},
	} {
		if v, err := Eval(tc.expr, LongArray, nil); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, %v; want %s", tc.expr, v, err, tc.want)
		}
	}
	// The scalar path keeps its rule and message.
	if _, err := Eval("return 1e300;", Long, nil); err == nil || err.Error() != "expression gave DOUBLE 1e+300, which is not a LONG" {
		t.Errorf("scalar: %v", err)
	}
}
