package jcs

import (
	"math"
	"testing"
)

// The figures of RFC 8785 Appendix B and its §3.2.2 example.
func TestNumber(t *testing.T) {
	for _, c := range []struct {
		in   float64
		want string
	}{
		{0, "0"}, {math.Copysign(0, -1), "0"}, {1, "1"}, {-1, "-1"},
		{5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
		{9007199254740992, "9007199254740992"}, {-9007199254740992, "-9007199254740992"},
		{295147905179352830000, "295147905179352830000"}, {1e21, "1e+21"},
		{1e20, "100000000000000000000"}, {0.000001, "0.000001"}, {1e-7, "1e-7"},
		{333333333.3333333, "333333333.3333333"}, {4.5, "4.5"}, {0.002, "0.002"},
		{1e23, "1e+23"}, {123.456, "123.456"},
	} {
		got, err := Number(c.in)
		if err != nil || got != c.want {
			t.Errorf("Number(%v) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := Number(math.NaN()); err == nil {
		t.Error("NaN must be refused")
	}
}

func TestCanonical(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// RFC 8785 §3.2.2's example.
		{`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
		  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
		  "literals": [null, true, false]}`,
			`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`},
		// Sorted by UTF-16 code units: U+1F600 (a surrogate pair, 0xD83D…) before U+FB33.
		{`{"\ufb33":1,"\ud83d\ude00":2,"a":3,"<&>":4}`, "{\"<&>\":4,\"a\":3,\"\U0001F600\":2,\"\uFB33\":1}"},
		{`[]`, `[]`}, {` {} `, `{}`},
	} {
		got, err := Canonical([]byte(c.in))
		if err != nil || string(got) != c.want {
			t.Errorf("Canonical(%s) = %s, %v; want %s", c.in, got, err, c.want)
		}
	}
	if _, err := Canonical([]byte(`{} {}`)); err == nil {
		t.Error("two values must be refused")
	}
}
