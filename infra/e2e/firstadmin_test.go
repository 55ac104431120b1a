package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/cfn"

	"opsconsole/shared/firstadmin"
	"opsconsole/shared/identity"
	"opsconsole/shared/lambdas"
	"opsconsole/shared/nodes"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// cfnResponder stands in for CloudFormation's pre-signed response URL: a loopback
// server that records each answer PUT to it.
type cfnResponder struct {
	*httptest.Server
	mu      sync.Mutex
	answers []cfn.Response
}

func newCFNResponder(t *testing.T) *cfnResponder {
	c := &cfnResponder{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var a cfn.Response
		if r.Method != http.MethodPut || json.Unmarshal(body, &a) != nil {
			t.Errorf("the response URL got %s %q", r.Method, body)
		}
		c.mu.Lock()
		c.answers = append(c.answers, a)
		c.mu.Unlock()
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *cfnResponder) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.answers)
}

// invoke runs the real first-admin handler on the sample event in events/, with the
// response URL pointed at c (never at the sample's S3 address) and AdminEmail set to
// email, within the given time; it returns the one answer CloudFormation would get.
func (c *cfnResponder) invoke(t *testing.T, sample, email string, within time.Duration) cfn.Response {
	t.Helper()
	raw, err := os.ReadFile("../../events/" + sample)
	if err != nil {
		t.Fatal(err)
	}
	var ev cfn.Event
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev.ResponseURL = c.URL + "/" + ev.RequestID
	ev.ResourceProperties[firstadmin.Property] = email
	fn, err := lambdas.Build(context.Background(), "first-admin")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	before := c.count()
	if reason, err := fn.CustomResource(ctx, ev); err != nil {
		t.Fatalf("the answer was not sent: %v (%s)", err, reason)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.answers) != before+1 {
		t.Fatalf("%d answers to one request, want 1", len(c.answers)-before)
	}
	a := c.answers[len(c.answers)-1]
	if a.RequestID != ev.RequestID || a.StackID != ev.StackID || a.LogicalResourceID != ev.LogicalResourceID {
		t.Errorf("answer %+v does not name the request %s", a, ev.RequestID)
	}
	return a
}

func TestFirstAdminCustomResource(t *testing.T) {
	cf := newCFNResponder(t)
	email := testEmail("first-admin")
	const minute = time.Minute

	hasAccount := func(t *testing.T, address string) bool {
		t.Helper()
		err := st.Get(t0(), store.Key(identity.EmailPK(address), "UNIQUE"), &nodes.UniqueName{})
		if err != nil && err != store.ErrNotFound {
			t.Fatal(err)
		}
		return err == nil
	}

	t.Run("create invites AdminEmail as a platform admin, who activates and signs in", func(t *testing.T) {
		a := cf.invoke(t, "cfn-first-admin-create.json", email, minute)
		if a.Status != cfn.StatusSuccess || a.PhysicalResourceID != firstadmin.PhysicalID || a.Data["Invited"] != "true" {
			t.Fatalf("answer %+v, want SUCCESS, %s, invited", a, firstadmin.PhysicalID)
		}
		activate(t, activationToken(t, email), newPassword).expect(t, http.StatusNoContent)
		p := me(t, signIn(t, email, newPassword).AccessToken)
		if p.Role != "platform_admin" || p.Email != email {
			t.Fatalf("signed in as %+v, want platform_admin %s", p, email)
		}
	})

	t.Run("update with the same email changes nothing and sends no email", func(t *testing.T) {
		sent := mailsTo(t, email)
		a := cf.invoke(t, "cfn-first-admin-update.json", email, minute)
		if a.Status != cfn.StatusSuccess || a.PhysicalResourceID != firstadmin.PhysicalID || a.Data["Invited"] != "false" {
			t.Fatalf("answer %+v, want SUCCESS, same id, not invited", a)
		}
		if n := mailsTo(t, email); n != sent {
			t.Errorf("%d emails after the update, want %d", n, sent)
		}
		if me(t, signIn(t, email, newPassword).AccessToken).Role != "platform_admin" {
			t.Error("the admin lost their account")
		}
	})

	t.Run("update to another email invites it too", func(t *testing.T) {
		other := testEmail("second-admin")
		a := cf.invoke(t, "cfn-first-admin-update.json", other, minute)
		if a.Status != cfn.StatusSuccess || a.Data["Invited"] != "true" {
			t.Fatalf("answer %+v, want SUCCESS, invited", a)
		}
		mailTo(t, other, "invited")
	})

	t.Run("an orphan Cognito account of AdminEmail is adopted", func(t *testing.T) {
		other := testEmail("orphan-admin")
		sub := orphanAccount(t, other)
		a := cf.invoke(t, "cfn-first-admin-update.json", other, minute)
		if a.Status != cfn.StatusSuccess || a.Data["Invited"] != "true" {
			t.Fatalf("answer %+v, want SUCCESS, invited", a)
		}
		var u identity.UserItem
		if err := st.Get(t0(), store.Key("USER#"+sub, "USER"), &u); err != nil || u.Email != other {
			t.Fatalf("the admin's user item under the orphan's sub: %+v, %v", u, err)
		}
		enabled(t, other)
	})

	t.Run("delete answers SUCCESS and keeps the data", func(t *testing.T) {
		a := cf.invoke(t, "cfn-first-admin-delete.json", email, minute)
		if a.Status != cfn.StatusSuccess || a.PhysicalResourceID != firstadmin.PhysicalID {
			t.Fatalf("answer %+v, want SUCCESS", a)
		}
		if !hasAccount(t, email) {
			t.Error("the admin's account is gone after the stack's delete")
		}
		if _, err := nodes.Get(t0(), st, tree.PlatformID); err != nil {
			t.Errorf("the platform root: %v", err)
		}
	})

	t.Run("a bad AdminEmail is reported as FAILED with the reason", func(t *testing.T) {
		a := cf.invoke(t, "cfn-first-admin-create.json", "not-an-email", minute)
		if a.Status != cfn.StatusFailed || !strings.Contains(a.Reason, "AdminEmail") {
			t.Fatalf("answer %+v, want FAILED naming AdminEmail", a)
		}
	})

	t.Run("out of time, it still answers FAILED instead of leaving the stack waiting", func(t *testing.T) {
		late := testEmail("late-admin")
		// Less time than the margin the handler keeps for its answer.
		a := cf.invoke(t, "cfn-first-admin-create.json", late, firstadmin.DefaultMargin/2)
		if a.Status != cfn.StatusFailed {
			t.Fatalf("answer %+v, want FAILED", a)
		}
		if hasAccount(t, late) {
			t.Error("a failed run left an account behind")
		}
	})
}
