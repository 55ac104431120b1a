package signin

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"opsconsole/shared/api"
	"opsconsole/shared/store"
	"opsconsole/shared/throttle"
)

func TestOtpauthURI(t *testing.T) {
	got := OtpauthURI("Acme & Co", "ada+ops@example.com", "JBSWY3DPEHPK3PXP")
	want := "otpauth://totp/Acme%20%26%20Co:ada%2Bops%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme%20%26%20Co"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// counterTable holds throttle counters in memory (the limiter's one update and
// deletes).
type counterTable struct {
	store.Client
	mu sync.Mutex
	n  map[string]int
}

func (c *counterTable) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := in.Key["PK"].(*types.AttributeValueMemberS).Value
	d, _ := strconv.Atoi(in.ExpressionAttributeValues[":n"].(*types.AttributeValueMemberN).Value)
	c.n[k] += d
	return &dynamodb.UpdateItemOutput{Attributes: map[string]types.AttributeValue{
		"attempts": &types.AttributeValueMemberN{Value: strconv.Itoa(c.n[k])},
	}}, nil
}

func (c *counterTable) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.n, in.Key["PK"].(*types.AttributeValueMemberS).Value)
	return &dynamodb.DeleteItemOutput{}, nil
}

// passwords is a Cognito that knows one password and counts its calls.
type passwords struct{ calls int }

func (p *passwords) InitiateAuth(_ context.Context, in *cip.InitiateAuthInput, _ ...func(*cip.Options)) (*cip.InitiateAuthOutput, error) {
	p.calls++
	if in.AuthParameters["PASSWORD"] != "Right-Passw0rd" {
		return nil, &ciptypes.NotAuthorizedException{Message: aws.String("Incorrect username or password.")}
	}
	return &cip.InitiateAuthOutput{AuthenticationResult: &ciptypes.AuthenticationResultType{
		AccessToken: aws.String("a"), IdToken: aws.String("i"), ExpiresIn: 3600, TokenType: aws.String("Bearer")}}, nil
}

func TestLoginThrottling(t *testing.T) {
	db := &counterTable{n: map[string]int{}}
	cog := &passwords{}
	l := &Login{Cognito: cog, ClientID: "c", Limiter: &throttle.Limiter{Store: &store.Store{DB: db, Table: "t"}, Window: SignInWindow}}
	h := api.Lambda(api.Serve(l.Operation()))
	login := func(password string) (int, string) {
		t.Helper()
		res, err := h(context.Background(), events.APIGatewayV2HTTPRequest{
			RawPath: "/v1/auth/login", Headers: map[string]string{"content-type": "application/json"},
			Body: `{"email":"ada@example.com","password":"` + password + `"}`,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method: http.MethodPost, Path: "/v1/auth/login", SourceIP: "203.0.113.9"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, res.Headers["Retry-After"]
	}
	for range MaxFailuresPerAccount {
		if status, _ := login("Wrong-Passw0rd"); status != 401 {
			t.Fatalf("a wrong password: %d", status)
		}
	}
	calls := cog.calls
	status, retry := login("Right-Passw0rd")
	if status != 429 || retry == "" || strings.HasPrefix(retry, "0") {
		t.Fatalf("after %d failures: %d, Retry-After %q", MaxFailuresPerAccount, status, retry)
	}
	if cog.calls != calls {
		t.Fatal("Cognito was asked although the account is throttled")
	}
	// In a later window (here: the counter gone) the right password signs in; the
	// address gets that attempt back and the account its whole count.
	delete(db.n, "THROTTLE#signin-email#ada@example.com")
	if status, _ := login("Right-Passw0rd"); status != 200 {
		t.Fatalf("the right password: %d", status)
	}
	if n := db.n["THROTTLE#signin-ip#203.0.113.9"]; n != MaxFailuresPerAccount+1 {
		// the 5 failures and the refused attempt stay counted; the success does not
		t.Fatalf("the address counts %d", n)
	}
	if _, ok := db.n["THROTTLE#signin-email#ada@example.com"]; ok {
		t.Fatal("a successful sign-in left its account's count")
	}
}
