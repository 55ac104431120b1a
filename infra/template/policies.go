package template

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Policy is one entry of a function's Policies, as SAM reads them: an inline policy
// document, a SAM policy template, or a managed policy.
type Policy struct {
	// Statements of an inline policy document ({Statement: [...]}).
	Statements []Statement
	// Template is the name of a SAM policy template ({DynamoDBReadPolicy: {...}}) and
	// TemplateParams its parameters, values as written; "" for other entries.
	Template       string
	TemplateParams map[string]any
	// Managed is a managed policy's name or ARN, as written (a string or an
	// intrinsic); nil for other entries.
	Managed any
}

// Statement is one statement of an inline policy document. Action and Resource are
// always lists (a single value is read as a list of one); NotAction and NotResource
// are kept so that a reader can refuse what it does not evaluate.
type Statement struct {
	Sid    string
	Effect string
	// Action are the actions as written ("dynamodb:GetItem", "dynamodb:*").
	Action    []string
	NotAction []string
	// Resource are the resources as written: strings or intrinsics (GetAtt, Sub).
	Resource    []any
	NotResource []any
	// Condition is the Condition block as written: operator → key → value(s).
	Condition map[string]any
}

// Policies reads the function's Policies property: a managed policy name, a policy
// document, a SAM policy template, or a list of these. A function whose Role is a
// role of the template (Function.Role) has that role's policies instead: its
// inline PolicyDocuments and its managed policies other than those SAM gives every
// role it makes (samManaged), which stand for no grant of the function's own. A Role from outside the template is an error: the check of
// the function's permissions (infra/iam) would have nothing to read.
func (f Function) Policies() ([]Policy, error) {
	if f.Role != nil {
		if _, set := f.Properties["Policies"]; set {
			// SAM ignores Policies beside a Role: a grant written there would be a lie.
			return nil, fmt.Errorf("function %s: has both Role and Policies; SAM ignores the Policies", f.LogicalID)
		}
		return rolePolicies(f.LogicalID, *f.Role)
	}
	if _, ok := f.Properties["Role"]; ok {
		return nil, fmt.Errorf("function %s: its Role is not a role of the template; its permissions cannot be read", f.LogicalID)
	}
	raw, ok := f.Properties["Policies"]
	if !ok || raw == nil {
		return nil, nil
	}
	items, isList := raw.([]any)
	if !isList {
		items = []any{raw}
	}
	var out []Policy
	for i, item := range items {
		p, err := readPolicy(item)
		if err != nil {
			return nil, fmt.Errorf("function %s: Policies[%d]: %w", f.LogicalID, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// samManaged are the managed policies SAM attaches to the roles it makes: the basic
// execution role always, X-Ray's write access when Tracing is Active.
var samManaged = []string{"policy/service-role/AWSLambdaBasicExecutionRole", "policy/AWSXrayWriteOnlyAccess"}

func rolePolicies(fn string, role Resource) ([]Policy, error) {
	var out []Policy
	for _, m := range AsSlice(role.Properties["ManagedPolicyArns"]) {
		written := m
		if sub, ok := m.(Sub); ok {
			written = sub.String
		}
		if s, ok := written.(string); ok && slices.ContainsFunc(samManaged, func(p string) bool { return strings.HasSuffix(s, ":iam::aws:"+p) }) {
			continue
		}
		out = append(out, Policy{Managed: m})
	}
	for i, item := range AsSlice(role.Properties["Policies"]) {
		doc, ok := AsMap(item)["PolicyDocument"]
		if !ok {
			return nil, fmt.Errorf("function %s: role %s: Policies[%d] has no PolicyDocument", fn, role.LogicalID, i)
		}
		p, err := readPolicy(doc)
		if err != nil {
			return nil, fmt.Errorf("function %s: role %s: Policies[%d]: %w", fn, role.LogicalID, i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func readPolicy(item any) (Policy, error) {
	m, isMap := item.(map[string]any)
	if !isMap {
		// A string, or an intrinsic (Ref, Sub) naming a managed policy.
		return Policy{Managed: item}, nil
	}
	if st, ok := m["Statement"]; ok {
		list, isList := st.([]any)
		if !isList {
			list = []any{st}
		}
		var p Policy
		for i, s := range list {
			sm := AsMap(s)
			if sm == nil {
				return Policy{}, fmt.Errorf("Statement[%d] is not a mapping", i)
			}
			stmt, err := readStatement(sm)
			if err != nil {
				return Policy{}, fmt.Errorf("Statement[%d]: %w", i, err)
			}
			p.Statements = append(p.Statements, stmt)
		}
		return p, nil
	}
	if len(m) == 1 {
		for name, params := range m {
			return Policy{Template: name, TemplateParams: AsMap(params)}, nil
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return Policy{}, fmt.Errorf("neither a policy document nor a policy template (keys %s)", strings.Join(keys, ", "))
}

func readStatement(m map[string]any) (Statement, error) {
	s := Statement{Condition: AsMap(m["Condition"])}
	s.Sid, _ = m["Sid"].(string)
	s.Effect, _ = m["Effect"].(string)
	if s.Effect != "Allow" && s.Effect != "Deny" {
		return s, fmt.Errorf("Effect is %v, want Allow or Deny", m["Effect"])
	}
	var err error
	if s.Action, err = stringList("Action", m["Action"]); err != nil {
		return s, err
	}
	if s.NotAction, err = stringList("NotAction", m["NotAction"]); err != nil {
		return s, err
	}
	s.Resource = anyList(m["Resource"])
	s.NotResource = anyList(m["NotResource"])
	return s, nil
}

func stringList(key string, v any) ([]string, error) {
	var out []string
	for _, x := range anyList(v) {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("%s has %v (%T), want strings", key, x, x)
		}
		out = append(out, s)
	}
	return out, nil
}

func anyList(v any) []any {
	if v == nil {
		return nil
	}
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}
