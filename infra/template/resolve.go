package template

import (
	"fmt"
	"sort"
	"strings"
)

// Resolver evaluates Ref, Fn::GetAtt and Fn::Sub the way CloudFormation would, given
// what the names stand for. Any other intrinsic function is an error.
type Resolver struct {
	// Ref returns the value of Ref name: a parameter, a pseudo parameter (AWS::Region,
	// ...) or a resource's physical id.
	Ref func(name string) (any, error)
	// GetAtt returns the value of Fn::GetAtt resource.attribute.
	GetAtt func(resource, attribute string) (any, error)
}

// noValue is what resolve returns for Ref AWS::NoValue; map entries and list items
// holding it are dropped.
type noValue struct{}

// Resolve returns v with every Ref, GetAtt and Sub replaced by its value, recursively.
func (r Resolver) Resolve(v any) (any, error) {
	out, err := r.resolve(v)
	if _, ok := out.(noValue); ok {
		return nil, err
	}
	return out, err
}

func (r Resolver) resolve(v any) (any, error) {
	switch x := v.(type) {
	case Ref:
		if x.Name == "AWS::NoValue" {
			return noValue{}, nil
		}
		if r.Ref == nil {
			return nil, fmt.Errorf("cannot resolve Ref %s", x.Name)
		}
		val, err := r.Ref(x.Name)
		if err != nil {
			return nil, fmt.Errorf("Ref %s: %w", x.Name, err)
		}
		return val, nil
	case GetAtt:
		if r.GetAtt == nil {
			return nil, fmt.Errorf("cannot resolve GetAtt %s.%s", x.Resource, x.Attribute)
		}
		val, err := r.GetAtt(x.Resource, x.Attribute)
		if err != nil {
			return nil, fmt.Errorf("GetAtt %s.%s: %w", x.Resource, x.Attribute, err)
		}
		return val, nil
	case Sub:
		return r.sub(x)
	case Intrinsic:
		return nil, fmt.Errorf("%s is not supported locally", x.Fn)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			rv, err := r.resolve(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			if _, skip := rv.(noValue); !skip {
				out[k] = rv
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for i, e := range x {
			rv, err := r.resolve(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			if _, skip := rv.(noValue); !skip {
				out = append(out, rv)
			}
		}
		return out, nil
	}
	return v, nil
}

// ResolveString resolves v and requires a string (numbers and bools are formatted as
// CloudFormation would pass them to a string property).
func (r Resolver) ResolveString(v any) (string, error) {
	rv, err := r.Resolve(v)
	if err != nil {
		return "", err
	}
	switch x := rv.(type) {
	case string:
		return x, nil
	case int, int64, float64, bool:
		return fmt.Sprint(x), nil
	}
	return "", fmt.Errorf("value %v (%T) is not a string", rv, rv)
}

// sub evaluates Fn::Sub: ${Name} is a variable, a Ref or (with a dot) a GetAtt;
// ${!Literal} is the text ${Literal}.
func (r Resolver) sub(s Sub) (string, error) {
	var b strings.Builder
	rest := s.String
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		rest = rest[i+2:]
		j := strings.Index(rest, "}")
		if j < 0 {
			return "", fmt.Errorf("Sub %q: unclosed ${", s.String)
		}
		name := rest[:j]
		rest = rest[j+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		name = strings.TrimSpace(name)
		var val any
		var err error
		if v, ok := s.Vars[name]; ok {
			val, err = r.resolve(v)
		} else if res, att, dot := strings.Cut(name, "."); dot && !strings.HasPrefix(name, "AWS::") {
			val, err = r.resolve(GetAtt{Resource: res, Attribute: att})
		} else {
			val, err = r.resolve(Ref{Name: name})
		}
		if err != nil {
			return "", fmt.Errorf("Sub %q: %w", s.String, err)
		}
		switch x := val.(type) {
		case string:
			b.WriteString(x)
		case int, int64, float64, bool:
			fmt.Fprint(&b, x)
		default:
			return "", fmt.Errorf("Sub %q: ${%s} is %T, not a string", s.String, name, val)
		}
	}
}

// References lists the logical ids and parameter names v refers to (through Ref,
// GetAtt and Sub), sorted, without pseudo parameters.
func References(v any) []string {
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case Ref:
			seen[x.Name] = true
		case GetAtt:
			seen[x.Resource] = true
		case Sub:
			rest := x.String
			for {
				i := strings.Index(rest, "${")
				if i < 0 {
					break
				}
				rest = rest[i+2:]
				j := strings.Index(rest, "}")
				if j < 0 {
					break
				}
				name := strings.TrimSpace(rest[:j])
				rest = rest[j+1:]
				if strings.HasPrefix(name, "!") {
					continue
				}
				if _, ok := x.Vars[name]; ok {
					continue
				}
				if !strings.HasPrefix(name, "AWS::") {
					name, _, _ = strings.Cut(name, ".")
				}
				seen[name] = true
			}
			for _, e := range x.Vars {
				walk(e)
			}
		case Intrinsic:
			walk(x.Arg)
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	out := make([]string, 0, len(seen))
	for n := range seen {
		if !strings.HasPrefix(n, "AWS::") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
