package template

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestPolicies(t *testing.T) {
	tpl, err := Parse([]byte(`
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/fn/
      Policies:
        - AWSLambdaBasicExecutionRole
        - DynamoDBReadPolicy: { TableName: !Ref Table }
        - Statement:
            - Effect: Allow
              Action: dynamodb:GetItem
              Resource: !GetAtt Table.Arn
            - Effect: Allow
              Action: [ses:SendEmail]
              Resource:
                - !Sub ${Table.Arn}/index/GSI1
                - "*"
              Condition: { StringEquals: { ses:FromAddress: !Ref MailFrom } }
  Bare:
    Type: AWS::Serverless::Function
    Properties: { CodeUri: functions/bare/ }
  Roled:
    Type: AWS::Serverless::Function
    Properties: { CodeUri: functions/roled/, Role: arn:aws:iam::1:role/r }
  Shared:
    Type: AWS::Serverless::Function
    Properties: { CodeUri: functions/shared/, Role: !GetAtt ReadRole.Arn }
  ReadRole:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns:
        - !Sub arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole
        - !Sub arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess
        - arn:aws:iam::aws:policy/Other
      Policies:
        - PolicyName: grants
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: [dynamodb:GetItem]
                Resource: !GetAtt Table.Arn
`))
	if err != nil {
		t.Fatal(err)
	}
	f, err := tpl.Function("Fn")
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.Policies()
	if err != nil {
		t.Fatal(err)
	}
	want := []Policy{
		{Managed: "AWSLambdaBasicExecutionRole"},
		{Template: "DynamoDBReadPolicy", TemplateParams: map[string]any{"TableName": Ref{Name: "Table"}}},
		{Statements: []Statement{
			{Effect: "Allow", Action: []string{"dynamodb:GetItem"}, Resource: []any{GetAtt{Resource: "Table", Attribute: "Arn"}}},
			{Effect: "Allow", Action: []string{"ses:SendEmail"},
				Resource:  []any{Sub{String: "${Table.Arn}/index/GSI1"}, "*"},
				Condition: map[string]any{"StringEquals": map[string]any{"ses:FromAddress": Ref{Name: "MailFrom"}}}},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Policies =\n%#v\nwant\n%#v", got, want)
	}
	if bare, _ := tpl.Function("Bare"); true {
		if p, err := bare.Policies(); err != nil || p != nil {
			t.Errorf("no Policies: %v, %v", p, err)
		}
	}
	if roled, _ := tpl.Function("Roled"); true {
		if _, err := roled.Policies(); err == nil {
			t.Error("a function with a Role from outside the template: no error")
		}
	}
	t.Run("a shared role's policies, without those SAM gives every role", func(t *testing.T) {
		shared, err := tpl.Function("Shared")
		if err != nil {
			t.Fatal(err)
		}
		got, err := shared.Policies()
		if err != nil {
			t.Fatal(err)
		}
		want := []Policy{
			{Managed: "arn:aws:iam::aws:policy/Other"},
			{Statements: []Statement{{Effect: "Allow", Action: []string{"dynamodb:GetItem"}, Resource: []any{GetAtt{Resource: "Table", Attribute: "Arn"}}}}},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Policies =\n%#v\nwant\n%#v", got, want)
		}
	})
}

// TestTemplatePolicies reads every function's policies in template.yaml: inline
// statements only, each with an Effect, actions and resources.
func TestTemplatePolicies(t *testing.T) {
	fns, err := load(t).Functions()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range fns {
		ps, err := f.Policies()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.Template != "" || p.Managed != nil {
				t.Errorf("%s: a policy template or managed policy (%v%v); infra/iam evaluates inline statements only", f.LogicalID, p.Template, p.Managed)
			}
			for _, s := range p.Statements {
				n++
				if len(s.Action) == 0 || len(s.Resource) == 0 {
					t.Errorf("%s: a statement without Action or Resource: %+v", f.LogicalID, s)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no statement read")
	}
}

// TestSharedRoles keeps each role that functions share (template.yaml's shared roles)
// what SAM would have made for each of them: Lambda's trust, the managed policies SAM
// attaches, the functions' boundary; and shared by two functions at least (one alone
// would have its own role from its Policies, next to its code).
func TestSharedRoles(t *testing.T) {
	tpl := load(t)
	fns, err := tpl.Functions()
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]int{}
	for _, f := range fns {
		if f.Role != nil {
			users[f.Role.LogicalID]++
		}
	}
	if len(users) == 0 {
		t.Fatal("no function shares a role: the test reads nothing")
	}
	for role, n := range users {
		t.Run(role, func(t *testing.T) {
			if n < 2 {
				t.Errorf("only %d function uses it: give that function Policies of its own", n)
			}
			p := tpl.Resources[role].Properties
			trust := fmt.Sprint(p["AssumeRolePolicyDocument"])
			if !strings.Contains(trust, "lambda.amazonaws.com") || !strings.Contains(trust, "sts:AssumeRole") {
				t.Errorf("AssumeRolePolicyDocument %s does not let Lambda assume it", trust)
			}
			var managed []string
			for _, m := range AsSlice(p["ManagedPolicyArns"]) {
				if s, ok := m.(Sub); ok {
					managed = append(managed, s.String)
				}
			}
			for _, want := range samManaged {
				if !slices.ContainsFunc(managed, func(s string) bool { return strings.HasSuffix(s, ":iam::aws:"+want) }) {
					t.Errorf("ManagedPolicyArns %v lack %s, which SAM gives its roles", managed, want)
				}
			}
		})
	}
}
