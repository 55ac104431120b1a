package template

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

const templatePath = "../../template.yaml"

func load(t *testing.T) *Template {
	t.Helper()
	tpl, err := Load(templatePath)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return tpl
}

func TestFunctions(t *testing.T) {
	tpl := load(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Function{}
	for _, f := range fns {
		byID[f.LogicalID] = f
	}
	tests := []struct {
		logicalID, name string
		events          []string // "Name:Type"
	}{
		{"AuthLoginFunction", "auth-login", []string{"Api:HttpApi"}},
		{"DocsUIFunction", "docs-ui", []string{"Assets:HttpApi", "Index:HttpApi"}},
		{"MeGetFunction", "me-get", []string{"Api:HttpApi"}},
		{"DistributorsDeleteFunction", "distributors-delete", []string{"Api:HttpApi"}},
		{"StreamRouterFunction", "stream-router", []string{"TableStream:DynamoDB"}},
		{"AuditWriterFunction", "audit-writer", []string{"Queue:SQS"}},
		{"TreeCounterFunction", "tree-counter", []string{"Queue:SQS"}},
		{"TreeDeleterFunction", "tree-deleter", []string{"Queue:SQS"}},
		{"NodeSweeperFunction", "node-sweeper", []string{"Queue:SQS"}},
	}
	for _, tc := range tests {
		t.Run(tc.logicalID, func(t *testing.T) {
			f, ok := byID[tc.logicalID]
			if !ok {
				t.Fatalf("function %s not found", tc.logicalID)
			}
			if f.Name != tc.name {
				t.Errorf("Name = %q, want %q", f.Name, tc.name)
			}
			var got []string
			for _, e := range f.Events {
				got = append(got, e.Name+":"+e.Type)
			}
			if !reflect.DeepEqual(got, tc.events) {
				t.Errorf("events = %v, want %v", got, tc.events)
			}
		})
	}
	t.Run("every function has a distinct folder", func(t *testing.T) {
		seen := map[string]string{}
		for _, f := range fns {
			if other, dup := seen[f.Name]; dup {
				t.Errorf("%s and %s share folder %s", f.LogicalID, other, f.Name)
			}
			seen[f.Name] = f.LogicalID
			if f.CodeURI != "functions/"+f.Name+"/" {
				t.Errorf("%s: CodeUri %q is not functions/%s/", f.LogicalID, f.CodeURI, f.Name)
			}
		}
		if len(fns) < 13 {
			t.Errorf("found %d functions, want at least 13", len(fns))
		}
	})
}

func TestRoutes(t *testing.T) {
	routes, err := load(t).Routes()
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]Route{}
	for _, r := range routes {
		key := r.Method + " " + r.Path
		if _, dup := byKey[key]; dup {
			t.Errorf("duplicate route %s", key)
		}
		byKey[key] = r
	}
	tests := []struct {
		key, function string
		public        bool
	}{
		{"POST /v1/auth/login", "auth-login", true},
		{"GET /openapi.json", "docs-openapi", true},
		{"GET /docs", "docs-ui", true},
		{"GET /docs/{proxy+}", "docs-ui", true},
		{"GET /v1/me", "me-get", false},
		{"POST /v1/distributors", "distributors-create", false},
		{"GET /v1/distributors", "distributors-list", false},
		{"GET /v1/distributors/{id}", "distributors-get", false},
		{"PATCH /v1/distributors/{id}", "distributors-update", false},
		{"DELETE /v1/distributors/{id}", "distributors-delete", false},
		{"POST /v1/distributors/{id}/suspend", "distributors-suspend", false},
		{"POST /v1/distributors/{id}/enable", "distributors-enable", false},
		{"GET /v1/audit-logs", "audit-logs-list", false},
		{"POST /v1/organizations", "organizations-create", false},
		{"GET /v1/organizations", "organizations-list", false},
		{"POST /v1/organizations/{id}/deactivate", "organizations-deactivate", false},
		{"POST /v1/organizations/{id}/reactivate", "organizations-reactivate", false},
		{"PATCH /v1/companies/{id}", "companies-update", false},
		{"DELETE /v1/companies/{id}", "companies-delete", false},
		{"GET /v1/end-users/{id}", "end-users-get", false},
		{"POST /v1/end-users/{id}/deactivate", "end-users-deactivate", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			r, ok := byKey[tc.key]
			if !ok {
				t.Fatalf("route not found")
			}
			if r.Function != tc.function || r.Public != tc.public {
				t.Errorf("got function %q public %v, want %q %v", r.Function, r.Public, tc.function, tc.public)
			}
			if r.Timeout != 10 {
				t.Errorf("Timeout = %d, want the Globals' 10", r.Timeout)
			}
			if r.API != "HttpApi" {
				t.Errorf("API = %q", r.API)
			}
			if !r.Public && r.Authorizer != "CognitoJwt" {
				t.Errorf("Authorizer = %q, want the API's default CognitoJwt", r.Authorizer)
			}
		})
	}
}

func TestStreamMappings(t *testing.T) {
	ms, err := load(t).StreamMappings()
	if err != nil {
		t.Fatal(err)
	}
	// The stream router is the stream's one reader (shared/consumers): no filter, it
	// retries until a record is a day old, then sends it to its on-failure queue.
	want := []StreamMapping{{
		Function: "stream-router", FunctionLogicalID: "StreamRouterFunction", Event: "TableStream", Timeout: 60,
		Stream: GetAtt{"Table", "StreamArn"}, StreamResource: "Table",
		StartingPosition: "TRIM_HORIZON", BatchSize: 100,
		FunctionResponseTypes: []string{"ReportBatchItemFailures"}, BisectBatchOnFunctionError: true,
		MaximumRetryAttempts: -1, MaximumRecordAgeInSeconds: 86400, ParallelizationFactor: 1,
		Enabled:              true,
		OnFailureDestination: "StreamRouterFailureQueue", OnFailureDestinationValue: GetAtt{"StreamRouterFailureQueue", "Arn"},
		OnFailureType: "SQS",
	}}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("got  %+v\nwant %+v", ms, want)
	}
}

func TestQueueMappings(t *testing.T) {
	ms, err := load(t).QueueMappings()
	if err != nil {
		t.Fatal(err)
	}
	q := func(function, logicalID, queue string, timeout, batch, window int) QueueMapping {
		return QueueMapping{Function: function, FunctionLogicalID: logicalID, Event: "Queue", Timeout: timeout, Queue: queue,
			BatchSize: batch, MaximumBatchingWindowInSeconds: window, FunctionResponseTypes: []string{"ReportBatchItemFailures"}, Enabled: true}
	}
	want := []QueueMapping{
		{Function: "audit-exporter", FunctionLogicalID: "AuditExporterFunction", Event: "Jobs", Timeout: 900, Queue: "AuditExportQueue",
			BatchSize: 1, FunctionResponseTypes: []string{"ReportBatchItemFailures"}, Enabled: true},
		q("audit-writer", "AuditWriterFunction", "AuditWriterQueue", 60, 100, 1),
		q("node-sweeper", "NodeSweeperFunction", "NodeSweeperQueue", 300, 10, 1),
		q("tree-counter", "TreeCounterFunction", "TreeCounterQueue", 60, 10, 0),
		q("tree-deleter", "TreeDeleterFunction", "TreeDeleterQueue", 900, 1, 0),
		{Function: "webhook-deliverer", FunctionLogicalID: "WebhookDelivererFunction", Event: "Jobs", Timeout: 120, Queue: "WebhookDeliveryQueue",
			BatchSize: 10, FunctionResponseTypes: []string{"ReportBatchItemFailures"}, Enabled: true},
		q("webhook-dispatcher", "WebhookDispatcherFunction", "WebhookDispatcherQueue", 60, 100, 1),
	}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("got  %+v\nwant %+v", ms, want)
	}
}

func TestResourcesOfType(t *testing.T) {
	tpl := load(t)
	tests := []struct {
		typ string
		ids []string
	}{
		{"AWS::DynamoDB::Table", []string{"Table"}},
		{"AWS::Cognito::UserPool", []string{"UserPool"}},
		{"AWS::Cognito::UserPoolClient", []string{"MachineUserPoolClient", "UserPoolClient"}},
		{"AWS::SQS::Queue", []string{"AuditExportDeadLetterQueue", "AuditExportQueue", "AuditWriterDeadLetterQueue", "AuditWriterQueue",
			"NodeSweeperDeadLetterQueue", "NodeSweeperQueue", "StreamRouterFailureQueue", "TreeCounterDeadLetterQueue", "TreeCounterQueue",
			"TreeDeleterDeadLetterQueue", "TreeDeleterQueue", "WebhookDeliveryDeadLetterQueue", "WebhookDeliveryQueue", "WebhookDispatcherDeadLetterQueue", "WebhookDispatcherQueue"}},
		{"AWS::KMS::Key", []string{"AuditDigestKey", "SecretsKey"}},
		{"AWS::KMS::Alias", []string{"SecretsKeyAlias"}},
		{"AWS::SecretsManager::Secret", []string{"CursorSecret"}},
		{"AWS::Serverless::HttpApi", []string{"HttpApi"}},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			var ids []string
			for _, r := range tpl.ResourcesOfType(tc.typ) {
				ids = append(ids, r.LogicalID)
			}
			if !reflect.DeepEqual(ids, tc.ids) {
				t.Errorf("got %v, want %v", ids, tc.ids)
			}
		})
	}
	t.Run("table properties are generic values", func(t *testing.T) {
		p := tpl.Resources["Table"].Properties
		gsis, ok := p["GlobalSecondaryIndexes"].([]any)
		if !ok || len(gsis) != 6 {
			t.Fatalf("GlobalSecondaryIndexes = %#v", p["GlobalSecondaryIndexes"])
		}
		for i, g := range gsis {
			g := g.(map[string]any)
			want := fmt.Sprintf("GSI%d", i+1)
			if g["IndexName"] != want {
				t.Errorf("GSI %d is named %v, want %s", i, g["IndexName"], want)
			}
			keys := g["KeySchema"].([]any)
			if len(keys) != 2 || keys[0].(map[string]any)["AttributeName"] != want+"PK" || keys[1].(map[string]any)["AttributeName"] != want+"SK" {
				t.Errorf("%s keys = %v, want %sPK, %sSK", want, keys, want, want)
			}
		}
		if v := p["StreamSpecification"].(map[string]any)["StreamViewType"]; v != "NEW_AND_OLD_IMAGES" {
			t.Errorf("StreamViewType = %v", v)
		}
		if tpl.Resources["Table"].DeletionPolicy != "Retain" {
			t.Errorf("DeletionPolicy = %q", tpl.Resources["Table"].DeletionPolicy)
		}
	})
	t.Run("password policy keeps ints and bools", func(t *testing.T) {
		pp := tpl.Resources["UserPool"].Properties["Policies"].(map[string]any)["PasswordPolicy"].(map[string]any)
		if pp["MinimumLength"] != 12 || pp["RequireSymbols"] != false {
			t.Errorf("PasswordPolicy = %#v", pp)
		}
	})
}

func TestIntrinsics(t *testing.T) {
	tpl := load(t)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"short !Ref", tpl.Globals.FunctionEnv["TABLE_NAME"], Ref{"Table"}},
		{"short !Sub", tpl.Globals.FunctionEnv["CURSOR_SECRET"], Sub{String: "{{resolve:secretsmanager:${CursorSecret}:SecretString}}"}},
		{"short !GetAtt", tpl.Resources["MeGetFunction"].Properties["Role"], GetAtt{"TableReadRole", "Arn"}},
		{"!Ref in a flow mapping", tpl.Resources["UserPoolClient"].Properties["UserPoolId"], Ref{"UserPool"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Errorf("got %#v, want %#v", tc.got, tc.want)
			}
		})
	}
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       any
	}{
		{"long Ref", "{Ref: X}", Ref{"X"}},
		{"long GetAtt list", "{\"Fn::GetAtt\": [T, StreamArn]}", GetAtt{"T", "StreamArn"}},
		{"long GetAtt dotted", "{\"Fn::GetAtt\": T.Arn}", GetAtt{"T", "Arn"}},
		{"short GetAtt list", "!GetAtt [T, Arn]", GetAtt{"T", "Arn"}},
		{"long Sub", "{\"Fn::Sub\": \"a-${X}\"}", Sub{String: "a-${X}"}},
		{"long Sub with vars", "{\"Fn::Sub\": [\"${A}\", {A: !Ref B}]}", Sub{String: "${A}", Vars: map[string]any{"A": Ref{"B"}}}},
		{"short Sub with vars", "!Sub [\"${A}\", {A: x}]", Sub{String: "${A}", Vars: map[string]any{"A": "x"}}},
		{"other short", "!Join [\",\", [a, b]]", Intrinsic{Fn: "Fn::Join", Arg: []any{",", []any{"a", "b"}}}},
		{"other long", "{\"Fn::Select\": [0, [a]]}", Intrinsic{Fn: "Fn::Select", Arg: []any{0, []any{"a"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := "Resources:\n  R:\n    Type: T\n    Properties:\n      V: " + tc.yaml + "\n"
			tpl, err := Parse([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			if got := tpl.Resources["R"].Properties["V"]; !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	t.Run("unknown tag", func(t *testing.T) {
		_, err := Parse([]byte("Resources:\n  R:\n    Type: T\n    Properties: {V: !Nope x}\n"))
		if err == nil || !strings.Contains(err.Error(), "!Nope") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestResolve(t *testing.T) {
	tpl := load(t)
	r := Resolver{
		Ref: func(name string) (any, error) {
			switch name {
			case "AWS::Region":
				return "us-east-1", nil
			case "AWS::StackName":
				return "stack", nil
			case "UserPool":
				return "us-east-1_abc", nil
			}
			if p, ok := tpl.Parameters[name]; ok {
				return p.Default, nil
			}
			return "physical-" + name, nil
		},
		GetAtt: func(res, att string) (any, error) { return "arn:" + res + ":" + att, nil },
	}
	jwt := tpl.JWTAuthorizers()
	if len(jwt) != 1 {
		t.Fatalf("JWTAuthorizers = %+v", jwt)
	}
	tests := []struct {
		name string
		in   any
		want any
	}{
		{"issuer", jwt[0].Issuer, "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"},
		{"audience", jwt[0].Audience, []any{"physical-UserPoolClient", "physical-MachineUserPoolClient"}},
		{"parameter default", tpl.Globals.FunctionEnv["LOG_LEVEL"], "INFO"},
		{"pool name", tpl.Resources["UserPool"].Properties["UserPoolName"], "stack-users"},
		{"GetAtt in Sub", Sub{String: "${Table.Arn}/index/*"}, "arn:Table:Arn/index/*"},
		{"escaped", Sub{String: "${!Literal}-${AWS::Region}"}, "${Literal}-us-east-1"},
		{"NoValue dropped", map[string]any{"a": Ref{"AWS::NoValue"}, "b": []any{Ref{"AWS::NoValue"}, 1}}, map[string]any{"b": []any{1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.Resolve(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	t.Run("unsupported intrinsic", func(t *testing.T) {
		if _, err := r.Resolve(Intrinsic{Fn: "Fn::Join"}); err == nil {
			t.Error("no error")
		}
	})
	t.Run("references", func(t *testing.T) {
		got := References(tpl.Globals.FunctionEnv)
		want := []string{"ConsoleUrl", "CursorSecret", "LogLevel", "MachineUserPoolClient", "MailFrom", "SecretsKey", "Table", "UserPool", "UserPoolClient"}
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
	})
}

func TestMergedEnv(t *testing.T) {
	tpl := load(t)
	f, err := tpl.Function("AuditWriterFunction")
	if err != nil {
		t.Fatal(err)
	}
	env := f.MergedEnv(tpl.Globals)
	for _, k := range []string{"TABLE_NAME", "USER_POOL_ID", "USER_POOL_CLIENT_ID", "CURSOR_SECRET", "CONSOLE_URL", "LOG_LEVEL"} {
		t.Run(k, func(t *testing.T) {
			if _, ok := env[k]; !ok {
				t.Errorf("%s missing from %v", k, env)
			}
		})
	}
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := Load(templatePath); err != nil {
			b.Fatal(err)
		}
	}
}
