package firstadmin

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
)

// The decisions taken before any AWS call; the whole path runs against the local
// system in infra/e2e (TestFirstAdminCustomResource).
func TestHandleBeforeAnyCall(t *testing.T) {
	p := &Provisioner{} // no store: a case that reached it would panic
	tests := []struct {
		name    string
		ev      cfn.Event
		wantErr string
	}{
		{"delete does nothing", cfn.Event{RequestType: cfn.RequestDelete, PhysicalResourceID: PhysicalID}, ""},
		{"delete with a bad email still does nothing", cfn.Event{RequestType: cfn.RequestDelete, ResourceProperties: map[string]any{Property: "x"}}, ""},
		{"create with a bad email fails naming the property", cfn.Event{RequestType: cfn.RequestCreate, ResourceProperties: map[string]any{Property: "not an email"}}, "AdminEmail"},
		{"update with a bad email fails naming the property", cfn.Event{RequestType: cfn.RequestUpdate, ResourceProperties: map[string]any{Property: "a@"}}, "AdminEmail"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, _, err := p.Handle(context.Background(), tc.ev)
			if id != PhysicalID {
				t.Errorf("physical id %q, want %q", id, PhysicalID)
			}
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
