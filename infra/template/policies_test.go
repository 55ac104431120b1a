package template

import (
	"reflect"
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
			t.Error("a function with a Role: no error")
		}
	}
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
