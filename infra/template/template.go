// Package template reads the AWS SAM template (template.yaml at the repo root), the
// single source of truth for the functions, their routes and event sources, and the
// resources the local runtime creates.
//
// Values keep CloudFormation's intrinsic functions as typed values (Ref, GetAtt, Sub,
// Intrinsic), whether they were written in the short form (!Ref X) or the long form
// (Ref: X); everything else is a plain Go value: map[string]any, []any, string, int,
// float64, bool or nil.
package template

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM template.
type Template struct {
	Path        string
	Description string
	Transform   any
	Parameters  map[string]Parameter
	Globals     Globals
	// Resources by logical id.
	Resources map[string]Resource
	Outputs   map[string]any
}

// Parameter is one template parameter.
type Parameter struct {
	Name          string
	Type          string
	Default       any // nil when the parameter has none
	AllowedValues []any
	Description   string
}

// Globals is the Globals section; only Function globals are interpreted, the rest is
// kept raw.
type Globals struct {
	// Function is Globals.Function, raw.
	Function map[string]any
	// FunctionEnv is Globals.Function.Environment.Variables.
	FunctionEnv map[string]any
	// Raw is the whole Globals section.
	Raw map[string]any
}

// Resource is one entry of Resources.
type Resource struct {
	LogicalID  string
	Type       string
	Properties map[string]any
	Metadata   map[string]any
	DependsOn  []string
	Condition  string
	// DeletionPolicy and UpdateReplacePolicy as written ("" when absent).
	DeletionPolicy      string
	UpdateReplacePolicy string
}

// Function is an AWS::Serverless::Function.
type Function struct {
	LogicalID string
	// Name is the folder of its code: CodeUri functions/<name>/ gives <name>.
	Name    string
	CodeURI string
	// Env is the function's own Environment.Variables (without Globals).
	Env map[string]any
	// Timeout is the function's Timeout in seconds, else Globals.Function's, else
	// Lambda's default of 3.
	Timeout int
	// Events by event name, in the template's order.
	Events     []Event
	Properties map[string]any
	// Role is the template's AWS::IAM::Role the function's Role property names
	// (!GetAtt <Role>.Arn): a role shared by functions whose grants are the same.
	// Nil when the function has its own role (Policies), or a Role from elsewhere.
	Role *Resource
}

// Event is one entry of a function's Events.
type Event struct {
	Name       string
	Type       string
	Properties map[string]any
}

// Route is one HttpApi event.
type Route struct {
	Method string
	Path   string
	// Function is the folder name of the function serving the route.
	Function string
	// Public is true when the route has no authorizer (Auth.Authorizer: NONE, or the
	// API has no default authorizer).
	Public bool
	// API is the logical id of the HttpApi (ApiId), "" for the implicit API.
	API string
	// Authorizer is the name of the authorizer in force ("" when Public).
	Authorizer string
	// AuthorizationScopes are the event's Auth.AuthorizationScopes.
	AuthorizationScopes []string
	// Timeout is the function's timeout in seconds.
	Timeout int
	// FunctionLogicalID and Event identify the event in the template.
	FunctionLogicalID string
	Event             string
}

// StreamMapping is a DynamoDB event of a function: the event source mapping SAM
// creates for it. Absent settings hold the Lambda service's defaults.
type StreamMapping struct {
	// Function is the folder name of the consumer; FunctionLogicalID and Event identify
	// the event in the template.
	Function string
	// Timeout is the function's timeout in seconds.
	Timeout           int
	FunctionLogicalID string
	Event             string
	// Stream is the Stream property as written (usually GetAtt{Table, StreamArn}).
	Stream any
	// StreamResource is the logical id of the table whose stream it is, when Stream is
	// a GetAtt of StreamArn; "" otherwise.
	StreamResource   string
	StartingPosition string
	// BatchSize defaults to 100.
	BatchSize int
	// MaximumBatchingWindowInSeconds defaults to 0.
	MaximumBatchingWindowInSeconds int
	FunctionResponseTypes          []string
	BisectBatchOnFunctionError     bool
	// MaximumRetryAttempts defaults to -1 (retry until the record expires).
	MaximumRetryAttempts int
	// MaximumRecordAgeInSeconds defaults to -1 (no limit but the stream's retention).
	MaximumRecordAgeInSeconds int
	ParallelizationFactor     int
	TumblingWindowInSeconds   int
	// Enabled defaults to true.
	Enabled bool
	// FilterPatterns are FilterCriteria.Filters[].Pattern, JSON strings.
	FilterPatterns []string
	// OnFailureDestination is the logical id of DestinationConfig.OnFailure.Destination
	// when it is a Ref or GetAtt; OnFailureDestinationValue is the value as written and
	// OnFailureType its Type (SQS, SNS, S3).
	OnFailureDestination      string
	OnFailureDestinationValue any
	OnFailureType             string
}

// ReportsBatchItemFailures tells whether FunctionResponseTypes has
// ReportBatchItemFailures.
func (m StreamMapping) ReportsBatchItemFailures() bool {
	for _, t := range m.FunctionResponseTypes {
		if t == "ReportBatchItemFailures" {
			return true
		}
	}
	return false
}

// Ref is the intrinsic function Ref.
type Ref struct{ Name string }

// GetAtt is the intrinsic function Fn::GetAtt.
type GetAtt struct{ Resource, Attribute string }

// Sub is the intrinsic function Fn::Sub.
type Sub struct {
	String string
	Vars   map[string]any
}

// Intrinsic is any other intrinsic function, e.g. Fn::Join, kept unevaluated. Fn is its
// long name (Fn::Join, Condition, ...).
type Intrinsic struct {
	Fn  string
	Arg any
}

// Load reads and parses a template file.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t.Path = path
	return t, nil
}

// Parse parses a template.
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, fmt.Errorf("not a YAML document")
	}
	v, err := convert(doc.Content[0])
	if err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template is not a mapping")
	}
	t := &Template{
		Parameters: map[string]Parameter{},
		Resources:  map[string]Resource{},
		Outputs:    AsMap(root["Outputs"]),
		Transform:  root["Transform"],
	}
	t.Description, _ = root["Description"].(string)
	for name, raw := range AsMap(root["Parameters"]) {
		p := AsMap(raw)
		param := Parameter{Name: name, Default: p["Default"], AllowedValues: AsSlice(p["AllowedValues"])}
		param.Type, _ = p["Type"].(string)
		param.Description, _ = p["Description"].(string)
		t.Parameters[name] = param
	}
	t.Globals.Raw = AsMap(root["Globals"])
	t.Globals.Function = AsMap(t.Globals.Raw["Function"])
	t.Globals.FunctionEnv = AsMap(AsMap(t.Globals.Function["Environment"])["Variables"])
	resources := AsMap(root["Resources"])
	if len(resources) == 0 {
		return nil, fmt.Errorf("template has no Resources")
	}
	for id, raw := range resources {
		r := AsMap(raw)
		res := Resource{LogicalID: id, Properties: AsMap(r["Properties"]), Metadata: AsMap(r["Metadata"])}
		res.Type, _ = r["Type"].(string)
		if res.Type == "" {
			return nil, fmt.Errorf("resource %s has no Type", id)
		}
		res.Condition, _ = r["Condition"].(string)
		res.DeletionPolicy, _ = r["DeletionPolicy"].(string)
		res.UpdateReplacePolicy, _ = r["UpdateReplacePolicy"].(string)
		switch d := r["DependsOn"].(type) {
		case string:
			res.DependsOn = []string{d}
		case []any:
			for _, x := range d {
				if s, ok := x.(string); ok {
					res.DependsOn = append(res.DependsOn, s)
				}
			}
		}
		t.Resources[id] = res
	}
	return t, nil
}

// ResourcesOfType returns the resources of one type (e.g. "AWS::SQS::Queue"), sorted by
// logical id.
func (t *Template) ResourcesOfType(typ string) []Resource {
	var out []Resource
	for _, id := range t.sortedIDs() {
		if r := t.Resources[id]; r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func (t *Template) sortedIDs() []string {
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Functions returns every AWS::Serverless::Function, sorted by logical id.
func (t *Template) Functions() ([]Function, error) {
	var out []Function
	for _, r := range t.ResourcesOfType("AWS::Serverless::Function") {
		f, err := t.function(r)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Function returns one function by logical id.
func (t *Template) Function(logicalID string) (Function, error) {
	r, ok := t.Resources[logicalID]
	if !ok || r.Type != "AWS::Serverless::Function" {
		return Function{}, fmt.Errorf("no function %q in the template", logicalID)
	}
	return t.function(r)
}

func (t *Template) function(r Resource) (Function, error) {
	f := Function{LogicalID: r.LogicalID, Properties: r.Properties}
	code, ok := r.Properties["CodeUri"].(string)
	if !ok {
		code, ok = t.Globals.Function["CodeUri"].(string)
	}
	if !ok || code == "" {
		return f, fmt.Errorf("function %s: CodeUri is not a plain path", r.LogicalID)
	}
	f.CodeURI = code
	f.Name = FolderName(code)
	if f.Name == "" {
		return f, fmt.Errorf("function %s: cannot take a folder name from CodeUri %q", r.LogicalID, code)
	}
	if ga, ok := r.Properties["Role"].(GetAtt); ok && ga.Attribute == "Arn" {
		if role, ok := t.Resources[ga.Resource]; ok && role.Type == "AWS::IAM::Role" {
			f.Role = &role
		}
	}
	f.Env = AsMap(AsMap(r.Properties["Environment"])["Variables"])
	f.Timeout = 3
	for _, v := range []any{t.Globals.Function["Timeout"], r.Properties["Timeout"]} {
		if v == nil {
			continue
		}
		n, err := toInt("Timeout", v)
		if err != nil {
			return f, fmt.Errorf("function %s: %w", r.LogicalID, err)
		}
		f.Timeout = n
	}
	events := AsMap(r.Properties["Events"])
	names := make([]string, 0, len(events))
	for n := range events {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := AsMap(events[n])
		ev := Event{Name: n, Properties: AsMap(e["Properties"])}
		ev.Type, _ = e["Type"].(string)
		f.Events = append(f.Events, ev)
	}
	return f, nil
}

// FolderName is the last path element of a CodeUri: "functions/me-get/" → "me-get".
func FolderName(codeURI string) string {
	s := strings.TrimRight(strings.TrimPrefix(codeURI, "./"), "/")
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// MergedEnv returns the function's environment as deployed: Globals.Function's
// Environment.Variables overlaid with the function's own.
func (f Function) MergedEnv(g Globals) map[string]any {
	out := make(map[string]any, len(g.FunctionEnv)+len(f.Env))
	for k, v := range g.FunctionEnv {
		out[k] = v
	}
	for k, v := range f.Env {
		out[k] = v
	}
	return out
}

// Routes returns every HttpApi event, sorted by path then method.
func (t *Template) Routes() ([]Route, error) {
	fns, err := t.Functions()
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, f := range fns {
		for _, e := range f.Events {
			if e.Type != "HttpApi" {
				continue
			}
			r := Route{Function: f.Name, FunctionLogicalID: f.LogicalID, Event: e.Name, Timeout: f.Timeout}
			r.Method, _ = e.Properties["Method"].(string)
			r.Path, _ = e.Properties["Path"].(string)
			if r.Method == "" || r.Path == "" {
				return nil, fmt.Errorf("function %s event %s: HttpApi event needs a plain Method and Path", f.LogicalID, e.Name)
			}
			r.Method = strings.ToUpper(r.Method)
			if ref, ok := e.Properties["ApiId"].(Ref); ok {
				r.API = ref.Name
			}
			var def string
			if r.API != "" {
				api, ok := t.Resources[r.API]
				if !ok || api.Type != "AWS::Serverless::HttpApi" {
					return nil, fmt.Errorf("function %s event %s: ApiId %s is not an AWS::Serverless::HttpApi", f.LogicalID, e.Name, r.API)
				}
				def, _ = AsMap(api.Properties["Auth"])["DefaultAuthorizer"].(string)
			} else {
				def, _ = AsMap(AsMap(AsMap(t.Globals.Raw["HttpApi"])["Auth"]))["DefaultAuthorizer"].(string)
			}
			for _, sc := range AsSlice(AsMap(e.Properties["Auth"])["AuthorizationScopes"]) {
				if s, ok := sc.(string); ok {
					r.AuthorizationScopes = append(r.AuthorizationScopes, s)
				}
			}
			auth, _ := AsMap(e.Properties["Auth"])["Authorizer"].(string)
			if auth == "" {
				auth = def
			}
			if auth == "" || auth == "NONE" {
				r.Public = true
			} else {
				r.Authorizer = auth
			}
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out, nil
}

// JWTAuthorizer is the JwtConfiguration of an HttpApi authorizer, values as written.
type JWTAuthorizer struct {
	API            string
	Name           string
	IdentitySource any
	Issuer         any
	Audience       []any
}

// JWTAuthorizers returns every JWT authorizer of every AWS::Serverless::HttpApi.
func (t *Template) JWTAuthorizers() []JWTAuthorizer {
	var out []JWTAuthorizer
	for _, api := range t.ResourcesOfType("AWS::Serverless::HttpApi") {
		auths := AsMap(AsMap(api.Properties["Auth"])["Authorizers"])
		names := make([]string, 0, len(auths))
		for n := range auths {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			a := AsMap(auths[n])
			jc := AsMap(a["JwtConfiguration"])
			if jc == nil {
				continue
			}
			out = append(out, JWTAuthorizer{
				API: api.LogicalID, Name: n, IdentitySource: a["IdentitySource"],
				Issuer: jc["issuer"], Audience: AsSlice(jc["audience"]),
			})
		}
	}
	return out
}

// StreamMappings returns every DynamoDB event of every function, sorted by function
// then event name.
func (t *Template) StreamMappings() ([]StreamMapping, error) {
	fns, err := t.Functions()
	if err != nil {
		return nil, err
	}
	var out []StreamMapping
	for _, f := range fns {
		for _, e := range f.Events {
			if e.Type != "DynamoDB" {
				continue
			}
			m, err := streamMapping(f, e)
			if err != nil {
				return nil, fmt.Errorf("function %s event %s: %w", f.LogicalID, e.Name, err)
			}
			out = append(out, m)
		}
	}
	return out, nil
}

func streamMapping(f Function, e Event) (StreamMapping, error) {
	p := e.Properties
	m := StreamMapping{
		Function: f.Name, FunctionLogicalID: f.LogicalID, Event: e.Name, Timeout: f.Timeout,
		Stream:                         p["Stream"],
		BatchSize:                      100,
		MaximumRetryAttempts:           -1,
		MaximumRecordAgeInSeconds:      -1,
		ParallelizationFactor:          1,
		Enabled:                        true,
		MaximumBatchingWindowInSeconds: 0,
	}
	if m.Stream == nil {
		return m, fmt.Errorf("no Stream")
	}
	if g, ok := m.Stream.(GetAtt); ok && g.Attribute == "StreamArn" {
		m.StreamResource = g.Resource
	}
	var err error
	str := func(key string, dst *string) {
		if v, ok := p[key]; ok && err == nil {
			s, ok := v.(string)
			if !ok {
				err = fmt.Errorf("%s is %T, want a string", key, v)
			}
			*dst = s
		}
	}
	num := func(key string, dst *int) {
		if v, ok := p[key]; ok && err == nil {
			*dst, err = toInt(key, v)
		}
	}
	flag := func(key string, dst *bool) {
		if v, ok := p[key]; ok && err == nil {
			b, ok := v.(bool)
			if !ok {
				err = fmt.Errorf("%s is %T, want a bool", key, v)
			}
			*dst = b
		}
	}
	str("StartingPosition", &m.StartingPosition)
	num("BatchSize", &m.BatchSize)
	num("MaximumBatchingWindowInSeconds", &m.MaximumBatchingWindowInSeconds)
	flag("BisectBatchOnFunctionError", &m.BisectBatchOnFunctionError)
	num("MaximumRetryAttempts", &m.MaximumRetryAttempts)
	num("MaximumRecordAgeInSeconds", &m.MaximumRecordAgeInSeconds)
	num("ParallelizationFactor", &m.ParallelizationFactor)
	num("TumblingWindowInSeconds", &m.TumblingWindowInSeconds)
	flag("Enabled", &m.Enabled)
	if err != nil {
		return m, err
	}
	if m.StartingPosition == "" {
		return m, fmt.Errorf("no StartingPosition")
	}
	for _, v := range AsSlice(p["FunctionResponseTypes"]) {
		s, ok := v.(string)
		if !ok {
			return m, fmt.Errorf("FunctionResponseTypes has a %T", v)
		}
		m.FunctionResponseTypes = append(m.FunctionResponseTypes, s)
	}
	for i, v := range AsSlice(AsMap(p["FilterCriteria"])["Filters"]) {
		pat, ok := AsMap(v)["Pattern"].(string)
		if !ok {
			return m, fmt.Errorf("FilterCriteria.Filters[%d].Pattern is not a string", i)
		}
		m.FilterPatterns = append(m.FilterPatterns, pat)
	}
	if of := AsMap(AsMap(p["DestinationConfig"])["OnFailure"]); of != nil {
		m.OnFailureType, _ = of["Type"].(string)
		m.OnFailureDestinationValue = of["Destination"]
		switch d := of["Destination"].(type) {
		case Ref:
			m.OnFailureDestination = d.Name
		case GetAtt:
			m.OnFailureDestination = d.Resource
		}
	}
	return m, nil
}

func toInt(key string, v any) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case float64:
		if n == float64(int(n)) {
			return int(n), nil
		}
	case string:
		if i, err := strconv.Atoi(n); err == nil {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%s is %v (%T), want an integer", key, v, v)
}

// AsMap reads a property value as a mapping; nil when it is not one.
func AsMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// AsSlice reads a property value as a list; nil when it is not one.
func AsSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// ---------------------------------------------------------------- YAML → values

// shortTags maps the short-form tags to the long names of their functions.
var shortTags = map[string]string{
	"!Base64": "Fn::Base64", "!Cidr": "Fn::Cidr", "!FindInMap": "Fn::FindInMap",
	"!GetAZs": "Fn::GetAZs", "!ImportValue": "Fn::ImportValue", "!Join": "Fn::Join",
	"!Select": "Fn::Select", "!Split": "Fn::Split", "!Transform": "Fn::Transform",
	"!And": "Fn::And", "!Equals": "Fn::Equals", "!If": "Fn::If", "!Not": "Fn::Not",
	"!Or": "Fn::Or", "!Condition": "Condition", "!Length": "Fn::Length",
	"!ToJsonString": "Fn::ToJsonString", "!ForEach": "Fn::ForEach",
	"!Ref": "Ref", "!GetAtt": "Fn::GetAtt", "!Sub": "Fn::Sub",
}

func convert(n *yaml.Node) (any, error) {
	if fn, ok := shortTags[n.Tag]; ok {
		arg, err := convertPlain(n)
		if err != nil {
			return nil, err
		}
		return intrinsic(fn, arg, n)
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		return nil, fmt.Errorf("line %d: unknown tag %s", n.Line, n.Tag)
	}
	v, err := convertPlain(n)
	if err != nil {
		return nil, err
	}
	// Long form: a mapping with the single key Ref or Fn::*.
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, arg := range m {
			if k == "Ref" || strings.HasPrefix(k, "Fn::") {
				return intrinsic(k, arg, n)
			}
		}
	}
	return v, nil
}

// convertPlain converts a node ignoring its own tag (but not its children's).
func convertPlain(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return convert(n.Alias)
	case yaml.ScalarNode:
		if shortTags[n.Tag] != "" {
			return n.Value, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := convert(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: mapping key is not a scalar", k.Line)
			}
			if k.Value == "<<" {
				return nil, fmt.Errorf("line %d: YAML merge keys are not supported", k.Line)
			}
			v, err := convert(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			if _, dup := out[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			out[k.Value] = v
		}
		return out, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

func intrinsic(fn string, arg any, n *yaml.Node) (any, error) {
	bad := func(want string) error {
		return fmt.Errorf("line %d: %s takes %s, got %v", n.Line, fn, want, arg)
	}
	switch fn {
	case "Ref":
		s, ok := arg.(string)
		if !ok || s == "" {
			return nil, bad("a name")
		}
		return Ref{Name: s}, nil
	case "Fn::GetAtt":
		switch a := arg.(type) {
		case string:
			res, att, ok := strings.Cut(a, ".")
			if !ok || res == "" || att == "" {
				return nil, bad("Resource.Attribute")
			}
			return GetAtt{Resource: res, Attribute: att}, nil
		case []any:
			if len(a) == 2 {
				res, ok1 := a[0].(string)
				att, ok2 := a[1].(string)
				if ok1 && ok2 {
					return GetAtt{Resource: res, Attribute: att}, nil
				}
			}
		}
		return nil, bad("[Resource, Attribute]")
	case "Fn::Sub":
		switch a := arg.(type) {
		case string:
			return Sub{String: a}, nil
		case []any:
			if len(a) == 2 {
				s, ok1 := a[0].(string)
				vars, ok2 := a[1].(map[string]any)
				if ok1 && ok2 {
					return Sub{String: s, Vars: vars}, nil
				}
			}
		}
		return nil, bad("a string or [string, {vars}]")
	}
	return Intrinsic{Fn: fn, Arg: arg}, nil
}

// QueueMapping is an SQS event of a function: the event source mapping SAM creates
// for it (the local runtime plays it, infra/local).
type QueueMapping struct {
	// Function is the folder name of the consumer; FunctionLogicalID and Event identify
	// the event in the template.
	Function          string
	FunctionLogicalID string
	Event             string
	// Timeout is the function's timeout in seconds.
	Timeout int
	// Queue is the logical id of the queue when Queue is a GetAtt of its Arn.
	Queue string
	// BatchSize defaults to 10.
	BatchSize             int
	FunctionResponseTypes []string
	// Enabled defaults to true.
	Enabled bool
}

// ReportsBatchItemFailures tells whether FunctionResponseTypes has
// ReportBatchItemFailures.
func (m QueueMapping) ReportsBatchItemFailures() bool {
	return StreamMapping{FunctionResponseTypes: m.FunctionResponseTypes}.ReportsBatchItemFailures()
}

// QueueMappings returns every SQS event of every function, sorted by function then
// event name.
func (t *Template) QueueMappings() ([]QueueMapping, error) {
	fns, err := t.Functions()
	if err != nil {
		return nil, err
	}
	var out []QueueMapping
	for _, f := range fns {
		for _, e := range f.Events {
			if e.Type != "SQS" {
				continue
			}
			p := e.Properties
			m := QueueMapping{Function: f.Name, FunctionLogicalID: f.LogicalID, Event: e.Name, Timeout: f.Timeout, BatchSize: 10, Enabled: true}
			g, ok := p["Queue"].(GetAtt)
			if !ok || g.Attribute != "Arn" {
				return nil, fmt.Errorf("function %s event %s: Queue must be a GetAtt of a queue's Arn", f.LogicalID, e.Name)
			}
			m.Queue = g.Resource
			if v, ok := p["BatchSize"]; ok {
				if m.BatchSize, err = toInt("BatchSize", v); err != nil {
					return nil, fmt.Errorf("function %s event %s: %w", f.LogicalID, e.Name, err)
				}
			}
			if v, ok := p["Enabled"].(bool); ok {
				m.Enabled = v
			}
			for _, v := range AsSlice(p["FunctionResponseTypes"]) {
				if s, ok := v.(string); ok {
					m.FunctionResponseTypes = append(m.FunctionResponseTypes, s)
				}
			}
			out = append(out, m)
		}
	}
	return out, nil
}
