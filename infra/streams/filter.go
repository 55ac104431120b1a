package streams

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Event filtering ("Control which events Lambda sends to your function"): each of
// the mapping's FilterCriteria patterns is a JSON object matched against the record
// as it appears in the event (eventName, dynamodb.Keys, dynamodb.NewImage.<attr>.S,
// ...). A record is delivered when any pattern matches, and dropped — never delivered,
// never retried, not sent to the on-failure destination — when none does.
//
// The supported subset of the syntax:
//
//   - nesting: {"dynamodb": {"NewImage": {"type": {"S": [...]}}}} — every key of a
//     pattern object must match (AND);
//   - a leaf is a non-empty array of alternatives (OR), each one of:
//   - a string, number, boolean or null: exact match ("N" attribute values are
//     strings in DynamoDB JSON, so match them with strings: {"N": ["5"]});
//   - {"prefix": "s"}, {"suffix": "s"}, {"equals-ignore-case": "s"};
//   - {"exists": true|false} (whether the field is present);
//   - {"anything-but": v} with v a string/number, an array of them, or {"prefix": "s"};
//   - {"numeric": ["<", 10, ">=", 0]} / ["=", 5] (also on numeric strings, so it
//     works on "N" values);
//   - when the record's field is an array (SS, NS, L), it matches if any element does.
//
// Anything else ($or, wildcard, cidr, unknown operators, a leaf that is not an
// array, an empty array) is refused when the mapping starts: Run returns an error
// rather than silently filtering differently from Lambda.
type filterSet []map[string]any

func compileFilters(patterns []string) (filterSet, error) {
	var fs filterSet
	for i, p := range patterns {
		d := json.NewDecoder(strings.NewReader(p))
		d.UseNumber()
		var obj map[string]any
		if err := d.Decode(&obj); err != nil {
			return nil, fmt.Errorf("filter pattern %d: not a JSON object: %w", i, err)
		}
		if d.More() {
			return nil, fmt.Errorf("filter pattern %d: trailing data", i)
		}
		if err := validatePattern(obj, ""); err != nil {
			return nil, fmt.Errorf("filter pattern %d (%s): %w", i, p, err)
		}
		fs = append(fs, obj)
	}
	return fs, nil
}

func validatePattern(obj map[string]any, path string) error {
	if len(obj) == 0 {
		return fmt.Errorf("%s: empty pattern object", orRoot(path))
	}
	for k, v := range obj {
		p := path + "." + k
		if k == "$or" {
			return fmt.Errorf("%s: $or is not supported by this emulator", p)
		}
		switch x := v.(type) {
		case map[string]any:
			if err := validatePattern(x, p); err != nil {
				return err
			}
		case []any:
			if len(x) == 0 {
				return fmt.Errorf("%s: empty array", p)
			}
			for _, alt := range x {
				if err := validateRule(alt, p); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("%s: a pattern leaf must be an array, got %s", p, jsonText(v))
		}
	}
	return nil
}

func validateRule(r any, path string) error {
	switch x := r.(type) {
	case nil, string, json.Number, bool:
		return nil
	case map[string]any:
		if len(x) != 1 {
			return fmt.Errorf("%s: an operator object must have exactly one key, got %s", path, jsonText(x))
		}
		for op, arg := range x {
			switch op {
			case "prefix", "suffix", "equals-ignore-case":
				if _, ok := arg.(string); !ok {
					return fmt.Errorf("%s: %s needs a string", path, op)
				}
			case "exists":
				if _, ok := arg.(bool); !ok {
					return fmt.Errorf("%s: exists needs true or false", path)
				}
			case "anything-but":
				switch a := arg.(type) {
				case string, json.Number:
				case []any:
					if len(a) == 0 {
						return fmt.Errorf("%s: anything-but with an empty list", path)
					}
					for _, e := range a {
						switch e.(type) {
						case string, json.Number:
						default:
							return fmt.Errorf("%s: anything-but list items must be strings or numbers", path)
						}
					}
				case map[string]any:
					p, ok := a["prefix"].(string)
					if len(a) != 1 || !ok || p == "" {
						return fmt.Errorf("%s: anything-but only supports {\"prefix\": \"...\"} as an object, got %s", path, jsonText(a))
					}
				default:
					return fmt.Errorf("%s: unsupported anything-but argument %s", path, jsonText(arg))
				}
			case "numeric":
				if _, err := numericConds(arg); err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
			default:
				return fmt.Errorf("%s: operator %q is not supported by this emulator", path, op)
			}
		}
		return nil
	default:
		return fmt.Errorf("%s: unsupported rule %s", path, jsonText(r))
	}
}

type numCond struct {
	op string
	v  float64
}

func numericConds(arg any) ([]numCond, error) {
	a, ok := arg.([]any)
	if !ok || len(a) == 0 || len(a)%2 != 0 || len(a) > 4 {
		return nil, fmt.Errorf("numeric needs [op, n] or [op, n, op, n], got %s", jsonText(arg))
	}
	var out []numCond
	for i := 0; i < len(a); i += 2 {
		op, ok := a[i].(string)
		switch op {
		case "=", "<", "<=", ">", ">=":
		default:
			ok = false
		}
		n, isNum := a[i+1].(json.Number)
		if !ok || !isNum {
			return nil, fmt.Errorf("numeric: bad condition %s %s", jsonText(a[i]), jsonText(a[i+1]))
		}
		f, err := n.Float64()
		if err != nil {
			return nil, fmt.Errorf("numeric: %w", err)
		}
		out = append(out, numCond{op, f})
	}
	return out, nil
}

// match reports whether the record (its event JSON) passes the filters. No filters
// means every record passes.
func (fs filterSet) match(raw json.RawMessage) bool {
	if len(fs) == 0 {
		return true
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		return false
	}
	for _, p := range fs {
		if matchObject(p, doc, true) {
			return true
		}
	}
	return false
}

func matchObject(pattern map[string]any, doc any, present bool) bool {
	obj, _ := doc.(map[string]any)
	for k, pv := range pattern {
		v, ok := obj[k]
		ok = ok && present
		switch p := pv.(type) {
		case map[string]any:
			if !matchObject(p, v, ok) {
				return false
			}
		case []any:
			if !matchLeaf(p, v, ok) {
				return false
			}
		}
	}
	return true
}

func matchLeaf(rules []any, v any, present bool) bool {
	for _, r := range rules {
		if ex, ok := existsRule(r); ok {
			if ex == present {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				if matchRule(r, e) {
					return true
				}
			}
			continue
		}
		if matchRule(r, v) {
			return true
		}
	}
	return false
}

func existsRule(r any) (bool, bool) {
	m, ok := r.(map[string]any)
	if !ok {
		return false, false
	}
	b, ok := m["exists"].(bool)
	return b, ok
}

func matchRule(r any, v any) bool {
	switch x := r.(type) {
	case nil:
		return v == nil
	case string:
		s, ok := v.(string)
		return ok && s == x
	case bool:
		b, ok := v.(bool)
		return ok && b == x
	case json.Number:
		return numEqual(x, v)
	case map[string]any:
		for op, arg := range x {
			switch op {
			case "prefix":
				s, ok := v.(string)
				return ok && strings.HasPrefix(s, arg.(string))
			case "suffix":
				s, ok := v.(string)
				return ok && strings.HasSuffix(s, arg.(string))
			case "equals-ignore-case":
				s, ok := v.(string)
				return ok && strings.EqualFold(s, arg.(string))
			case "anything-but":
				return anythingBut(arg, v)
			case "numeric":
				f, ok := toFloat(v)
				if !ok {
					return false
				}
				conds, _ := numericConds(arg)
				for _, c := range conds {
					if !compare(f, c) {
						return false
					}
				}
				return true
			}
		}
	}
	return false
}

func anythingBut(arg, v any) bool {
	switch a := arg.(type) {
	case string:
		s, ok := v.(string)
		return !ok || s != a
	case json.Number:
		return !numEqual(a, v)
	case []any:
		for _, e := range a {
			if matchRule(e, v) {
				return false
			}
		}
		return true
	case map[string]any:
		s, ok := v.(string)
		return !ok || !strings.HasPrefix(s, a["prefix"].(string))
	}
	return false
}

func numEqual(n json.Number, v any) bool {
	f, err := n.Float64()
	if err != nil {
		return false
	}
	g, ok := v.(json.Number)
	if !ok {
		return false
	}
	gf, err := g.Float64()
	return err == nil && gf == f
}

func toFloat(v any) (float64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
}

func compare(f float64, c numCond) bool {
	switch c.op {
	case "=":
		return f == c.v
	case "<":
		return f < c.v
	case "<=":
		return f <= c.v
	case ">":
		return f > c.v
	case ">=":
		return f >= c.v
	}
	return false
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func orRoot(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}
