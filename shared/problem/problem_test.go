package problem

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkError wraps api as the SDK returns a DynamoDB answer of status.
func sdkError(status int, api error) error {
	return &smithy.OperationError{ServiceID: "DynamoDB", OperationName: "GetItem", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: api},
	}}
}

func TestTransient(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("boom"), false},
		{"conditional check", sdkError(400, &types.ConditionalCheckFailedException{}), false},
		{"validation", sdkError(400, &smithy.GenericAPIError{Code: "ValidationException"}), false},
		{"throughput", sdkError(400, &types.ProvisionedThroughputExceededException{}), true},
		{"throttling", sdkError(400, &smithy.GenericAPIError{Code: "ThrottlingException"}), true},
		{"internal", sdkError(500, &types.InternalServerError{}), true},
		{"any 5xx", sdkError(502, &smithy.GenericAPIError{Code: "BadGateway"}), true},
		{"cognito throttling", sdkError(400, &smithy.GenericAPIError{Code: "TooManyRequestsException"}), true},
		{"attempts exhausted", fmt.Errorf("get item: %w", &retry.MaxAttemptsError{Attempt: 3,
			Err: sdkError(400, &types.ProvisionedThroughputExceededException{})}), true},
		{"retry quota spent", errors.Join(sdkError(500, &types.InternalServerError{}), ratelimit.QuotaExceededError{}), true},
		{"marked", fmt.Errorf("transact write: %w", errors.Join(errors.New("cancelled"), ErrUnavailable)), true},
	}
	for _, c := range cases {
		if got := Transient(c.err); got != c.want {
			t.Errorf("%s: Transient = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestWriteUnavailable(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, httptest.NewRequest("GET", "/", nil), fmt.Errorf("get: %w", sdkError(400, &types.ProvisionedThroughputExceededException{})))
	if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("status %d, Retry-After %q: %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	rec = httptest.NewRecorder()
	Write(rec, httptest.NewRequest("GET", "/", nil), errors.New("boom"))
	if rec.Code != 500 || rec.Header().Get("Retry-After") != "" {
		t.Fatalf("status %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}
