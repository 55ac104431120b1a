package mail

import (
	"errors"
	"fmt"
	"html"
	"strings"
)

// The templates' language, the subset of text/template they use, run without
// reflection: {{define "name"}}…{{end}} at the top of a file; in a body, {{.Brand.Name}}
// or {{.Data.Field}} (a value, escaped for HTML in the .html files),
// {{if .Field}}…{{else}}…{{end}} (the value is not empty) and {{template "name" .}}.
// Values are strings the caller validated (Branding.withDefaults keeps colours to
// #rrggbb and logos to http(s) URLs), so escaping them as HTML text is enough in the
// layout's attributes too: none is inside a script or an unquoted attribute.

// node is one piece of a body: text, a value, a condition or another template.
type node struct {
	text      string // a text node
	value     string // a value node: ".Data.FirstName"
	cond      string // an if node: its condition, with then and otherwise
	then, els []node
	include   string // a template node: the definition's name
	isText    bool
}

// set is a file's definitions by name.
type set struct{ defs map[string][]node }

// with is s with the definitions of others added (another file's "content", the
// shared footer).
func (s *set) with(others ...*set) *set {
	out := &set{defs: map[string][]node{}}
	for _, o := range append([]*set{s}, others...) {
		if o == nil {
			continue
		}
		for k, v := range o.defs {
			out.defs[k] = v
		}
	}
	return out
}

func plain(s string) string { return s }

func escapeHTML(s string) string { return html.EscapeString(s) }

// execute renders definition name with values, each value passed through esc.
func (s *set) execute(name string, values map[string]string, esc func(string) string) (string, error) {
	var b strings.Builder
	if err := s.run(&b, name, values, esc, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (s *set) run(b *strings.Builder, name string, values map[string]string, esc func(string) string, depth int) error {
	body, ok := s.defs[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	if depth > 10 {
		return fmt.Errorf("template %q nests too deep", name)
	}
	return s.nodes(b, body, values, esc, depth)
}

func (s *set) nodes(b *strings.Builder, ns []node, values map[string]string, esc func(string) string, depth int) error {
	for _, n := range ns {
		switch {
		case n.isText:
			b.WriteString(n.text)
		case n.value != "":
			v, ok := values[n.value]
			if !ok {
				return fmt.Errorf("no value %s", n.value)
			}
			b.WriteString(esc(v))
		case n.cond != "":
			v, ok := values[n.cond]
			if !ok {
				return fmt.Errorf("no value %s", n.cond)
			}
			branch := n.els
			if v != "" {
				branch = n.then
			}
			if err := s.nodes(b, branch, values, esc, depth); err != nil {
				return err
			}
		case n.include != "":
			if err := s.run(b, n.include, values, esc, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseDefinitions reads a file of {{define}} blocks; the text between them is ignored.
func parseDefinitions(src string) (*set, error) {
	p := &parser{src: src}
	s := &set{defs: map[string][]node{}}
	for {
		text, action, ok := p.next()
		if strings.TrimSpace(text) != "" {
			return nil, errors.New("text outside a define")
		}
		if !ok {
			return s, nil
		}
		name, isDefine := quoted(action, "define")
		if !isDefine {
			return nil, fmt.Errorf("{{%s}} outside a define", action)
		}
		body, end, err := p.body()
		if err != nil {
			return nil, err
		}
		if end != "end" {
			return nil, fmt.Errorf("define %q ends with {{%s}}", name, end)
		}
		s.defs[name] = body
	}
}

type parser struct {
	src string
	pos int
}

// next is the text up to the next action and the action (trimmed), or ok false at
// the end of the source.
func (p *parser) next() (text, action string, ok bool) {
	rest := p.src[p.pos:]
	i := strings.Index(rest, "{{")
	if i < 0 {
		p.pos = len(p.src)
		return rest, "", false
	}
	j := strings.Index(rest[i:], "}}")
	if j < 0 {
		p.pos = len(p.src)
		return rest, "", false
	}
	p.pos += i + j + 2
	return rest[:i], strings.TrimSpace(rest[i+2 : i+j]), true
}

// body reads nodes up to the {{end}} or {{else}} that closes them, which it returns.
func (p *parser) body() ([]node, string, error) {
	var out []node
	for {
		text, action, ok := p.next()
		if text != "" {
			out = append(out, node{isText: true, text: text})
		}
		if !ok {
			return nil, "", errors.New("unclosed block")
		}
		switch {
		case action == "end", action == "else":
			return out, action, nil
		case strings.HasPrefix(action, "if "):
			cond := strings.TrimSpace(strings.TrimPrefix(action, "if "))
			then, end, err := p.body()
			if err != nil {
				return nil, "", err
			}
			n := node{cond: cond, then: then}
			if end == "else" {
				if n.els, end, err = p.body(); err != nil {
					return nil, "", err
				}
			}
			if end != "end" {
				return nil, "", fmt.Errorf("if %s ends with {{%s}}", cond, end)
			}
			out = append(out, n)
		case strings.HasPrefix(action, "template "):
			name, _ := quoted(strings.TrimSuffix(action, " ."), "template")
			out = append(out, node{include: name})
		case strings.HasPrefix(action, "."):
			out = append(out, node{value: action})
		default:
			return nil, "", fmt.Errorf("unknown action {{%s}}", action)
		}
	}
}

// quoted reads `keyword "name"` and answers name.
func quoted(action, keyword string) (string, bool) {
	rest, ok := strings.CutPrefix(action, keyword+" ")
	if !ok {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	if len(rest) < 2 || rest[0] != '"' || rest[len(rest)-1] != '"' {
		return "", false
	}
	return rest[1 : len(rest)-1], true
}
