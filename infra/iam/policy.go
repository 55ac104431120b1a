package iam

import (
	"fmt"
	"sort"
	"strings"

	"opsconsole/infra/template"
)

// FunctionPolicy is one function's statements from its Policies, resolved.
type FunctionPolicy struct {
	// Function is the folder name; LogicalID its template id.
	Function, LogicalID string
	Statements          []Statement
}

// Statement is an inline statement with its resources and condition values
// resolved.
type Statement struct {
	// Index is the statement's place among the function's statements (from 0).
	Index int
	Allow bool
	// Actions are as written; patterns may hold * and ?.
	Actions []string
	// Resources are the resolved ARN patterns, Written the same as written
	// ("!GetAtt Table.Arn").
	Resources, Written []string
	Conditions         []Condition
}

// Condition is one operator and key of a Condition block.
type Condition struct {
	Operator, Key string
	Values        []string
}

// Compile reads every function's Policies from tpl, resolving resources and
// condition values with r. It refuses what it cannot evaluate (managed policies,
// SAM policy templates, NotAction, NotResource, condition operators other than the
// String ones), so that a check never passes for want of reading a grant.
func Compile(tpl *template.Template, r template.Resolver) (map[string]*FunctionPolicy, error) {
	fns, err := tpl.Functions()
	if err != nil {
		return nil, err
	}
	out := map[string]*FunctionPolicy{}
	for _, f := range fns {
		ps, err := f.Policies()
		if err != nil {
			return nil, err
		}
		fp := &FunctionPolicy{Function: f.Name, LogicalID: f.LogicalID}
		for i, p := range ps {
			if p.Template != "" {
				return nil, fmt.Errorf("%s: Policies[%d]: SAM policy template %s is not expanded by infra/iam; write its statements inline or teach Compile its expansion", f.LogicalID, i, p.Template)
			}
			if p.Managed != nil {
				return nil, fmt.Errorf("%s: Policies[%d]: managed policy %v cannot be read from the template", f.LogicalID, i, p.Managed)
			}
			for _, s := range p.Statements {
				st, err := compileStatement(s, len(fp.Statements), r)
				if err != nil {
					return nil, fmt.Errorf("%s: Policies[%d]: %w", f.LogicalID, i, err)
				}
				fp.Statements = append(fp.Statements, st)
			}
		}
		out[f.Name] = fp
	}
	return out, nil
}

func compileStatement(s template.Statement, index int, r template.Resolver) (Statement, error) {
	if len(s.NotAction) > 0 || len(s.NotResource) > 0 {
		return Statement{}, fmt.Errorf("NotAction and NotResource are not evaluated")
	}
	st := Statement{Index: index, Allow: s.Effect == "Allow", Actions: s.Action}
	for _, res := range s.Resource {
		v, err := r.ResolveString(res)
		if err != nil {
			return Statement{}, fmt.Errorf("Resource %s: %w", Written(res), err)
		}
		st.Resources = append(st.Resources, v)
		st.Written = append(st.Written, Written(res))
	}
	for _, op := range sortedKeys(s.Condition) {
		if !knownOperator(op) {
			return Statement{}, fmt.Errorf("condition operator %s is not evaluated", op)
		}
		block := template.AsMap(s.Condition[op])
		for _, key := range sortedKeys(block) {
			c := Condition{Operator: op, Key: key}
			raw := block[key]
			list, isList := raw.([]any)
			if !isList {
				list = []any{raw}
			}
			for _, x := range list {
				v, err := r.ResolveString(x)
				if err != nil {
					return Statement{}, fmt.Errorf("Condition %s %s: %w", op, key, err)
				}
				c.Values = append(c.Values, v)
			}
			st.Conditions = append(st.Conditions, c)
		}
	}
	return st, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Written shows a template value the way the template writes it.
func Written(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case template.Ref:
		return "!Ref " + x.Name
	case template.GetAtt:
		return "!GetAtt " + x.Resource + "." + x.Attribute
	case template.Sub:
		return "!Sub " + x.String
	}
	return fmt.Sprint(v)
}

func knownOperator(op string) bool {
	base := strings.TrimSuffix(op, "IfExists")
	switch base {
	case "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike":
		return true
	}
	return false
}

// conditionsHold tells whether the conditions hold for a request's context, as IAM
// evaluates them: every condition must hold, any of a condition's values may match;
// a key the request lacks fails a positive operator and satisfies a negated one or
// an ...IfExists one.
func (s Statement) conditionsHold(ctx map[string]string) bool {
	for _, c := range s.Conditions {
		base := strings.TrimSuffix(c.Operator, "IfExists")
		negated := strings.Contains(base, "Not")
		v, present := lookupFold(ctx, c.Key)
		if !present {
			if negated || base != c.Operator {
				continue
			}
			return false
		}
		matched := false
		for _, want := range c.Values {
			switch base {
			case "StringEquals", "StringNotEquals":
				matched = matched || v == want
			case "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase":
				matched = matched || strings.EqualFold(v, want)
			case "StringLike", "StringNotLike":
				matched = matched || glob(want, v, false)
			}
		}
		if matched == negated {
			return false
		}
	}
	return true
}

// Condition keys are not case-sensitive.
func lookupFold(m map[string]string, key string) (string, bool) {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return "", false
}

// matchesAction: action names are not case-sensitive; * and ? are wildcards.
func matchesAction(pattern, action string) bool { return glob(pattern, action, true) }

// matchesResource: ARNs are case-sensitive; * and ? match any characters,
// slashes and colons included.
func matchesResource(pattern, arn string) bool { return glob(pattern, arn, false) }

// glob matches s against a pattern of * (any run) and ? (any one character).
func glob(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	p, t := []rune(pattern), []rune(s)
	pi, ti, star, mark := 0, 0, -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == t[ti]):
			pi++
			ti++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
