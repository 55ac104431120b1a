package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"opsconsole/shared/clientservices"
	"opsconsole/shared/nodes"
	"opsconsole/shared/smtpclient/smtptest"
	"opsconsole/shared/store"
	"opsconsole/shared/tree"
)

// smtpPut is a PUT body pointing at srv (a server this test started on loopback).
func smtpPut(srv *smtptest.Server, user, password string) map[string]any {
	b := map[string]any{"host": srv.Host, "port": srv.Port, "tlsMode": "none", "fromAddress": "mail@branch.example", "fromName": "Branch Mail"}
	if user != "" {
		b["username"], b["password"] = user, password
	}
	return b
}

type smtpReply struct {
	OK      bool   `json:"ok"`
	Stage   string `json:"stage"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// TestWhiteLabelMail: with custom SMTP on a partner pointing at a second SMTP server
// this test starts on loopback, a user invited at an organization below it gets the
// activation email on that server and not on the system's; an organization's own
// settings come first; after DELETE, the system's again. A failing branch server is
// tried twice and logged with the node, and nothing falls back to the system's. The
// password is in no response, audit entry, log line or table attribute in plain text.
func TestWhiteLabelMail(t *testing.T) {
	root := admin(t)
	start := time.Now().Add(-time.Second)
	_, part := partnerTree(t)
	org := createOrganization(t, root, part.ID, unique("Mail Org"))
	other := createOrganization(t, root, part.ID, unique("Mail Other"))
	const secret = "Tenant-Secret-4711-xyzzy"
	partnerSrv, orgSrv := smtptest.Start(t), smtptest.Start(t)
	partnerSrv.Users = map[string]string{"partner-user": secret}
	partnerPath := "/v1/partners/" + part.ID + "/smtp"

	var v map[string]any
	do(t, req{method: "GET", path: partnerPath, token: root}).json(t, &v)
	if v["mode"] != "system" {
		t.Fatalf("before any PUT: %v", v)
	}
	res := do(t, req{method: "PUT", path: partnerPath, token: root, body: smtpPut(partnerSrv, "partner-user", secret)})
	res.expect(t, 200)
	res.json(t, &v)
	if v["mode"] != "custom" || v["passwordSet"] != true || v["host"] != "127.0.0.1" {
		t.Fatalf("after PUT: %v", v)
	}
	got := do(t, req{method: "GET", path: partnerPath, token: root})
	for _, r := range []response{res, got} {
		if strings.Contains(string(r.Body), secret) {
			t.Fatalf("a response shows the password: %s", r.Body)
		}
	}

	t.Run("the table holds only the ciphertext", func(t *testing.T) {
		var raw map[string]any
		if err := st.Get(t0(), nodes.SMTPKey(part.ID), &raw); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(raw)
		ct, _ := raw["passwordCiphertext"].([]byte)
		if strings.Contains(string(b), secret) || len(ct) == 0 || strings.Contains(string(ct), secret) {
			t.Fatalf("the raw item: %s", b)
		}
	})

	t.Run("an invitation below the partner leaves through the partner's server", func(t *testing.T) {
		email := testEmail("white-label")
		inviteUser(t, root, org.ID, tree.RoleOrganizationAdmin, email)
		if m := partnerSrv.To(email); len(m) != 1 || m[0].User != "partner-user" || !strings.Contains(m[0].Data, "Branch Mail") {
			t.Fatalf("the partner's server received %+v", m)
		}
		time.Sleep(300 * time.Millisecond)
		if n := mailsTo(t, email); n != 0 {
			t.Fatalf("the system's server received %d messages for %s", n, email)
		}
		// A resend, a forgotten password and an end user's invitation go the same way.
		u := inviteUser(t, root, org.ID, tree.RoleOrganizationAdmin, testEmail("white-label-resend"))
		do(t, req{method: "POST", path: "/v1/users/" + u.ID + "/resend-invite", token: root}).expect(t, 200)
		if n := len(partnerSrv.To(u.Email)); n != 2 {
			t.Fatalf("the partner's server received %d of the invitation and its resend", n)
		}
		// The activation works from the branch's email as from the system's.
		token := activationToken2(t, partnerSrv.To(email)[0].Data)
		activate(t, token, newPassword).expect(t, 204)
		forgot(t, email).expect(t, 202)
		if n := len(partnerSrv.To(email)); n != 2 {
			t.Fatalf("the partner's server received %d messages for %s, want the invitation and the reset code", n, email)
		}
		company := createCompany(t, root, org.ID, unique("Mail Co"))
		endEmail := testEmail("white-label-end")
		end := createEndUser(t, root, company.ID, endEmail)
		do(t, req{method: "POST", path: "/v1/end-users/" + end.ID + "/invite", token: root}).expect(t, 201)
		if n := len(partnerSrv.To(endEmail)); n != 1 || mailsTo(t, endEmail) != 0 {
			t.Fatalf("the end user's invitation: partner's server %d, system's %d", n, mailsTo(t, endEmail))
		}
	})

	t.Run("an organization's own settings come first", func(t *testing.T) {
		do(t, req{method: "PUT", path: "/v1/organizations/" + org.ID + "/smtp", token: root, body: smtpPut(orgSrv, "", "")}).expect(t, 200)
		email := testEmail("org-mail")
		inviteUser(t, root, org.ID, tree.RoleOrganizationAdmin, email)
		if len(orgSrv.To(email)) != 1 || len(partnerSrv.To(email)) != 0 {
			t.Fatalf("organization's server %d, partner's %d", len(orgSrv.To(email)), len(partnerSrv.To(email)))
		}
		// Its sibling still goes through the partner's.
		sib := testEmail("sibling-mail")
		inviteUser(t, root, other.ID, tree.RoleOrganizationAdmin, sib)
		if len(partnerSrv.To(sib)) != 1 {
			t.Fatalf("the sibling's invitation: partner's server %d", len(partnerSrv.To(sib)))
		}
		do(t, req{method: "DELETE", path: "/v1/organizations/" + org.ID + "/smtp", token: root}).expect(t, 204)
	})

	t.Run("a failing branch server is tried twice, logged, and never replaced by the system's", func(t *testing.T) {
		refusing := smtptest.Start(t)
		refusing.RefuseAuth = "535 5.7.8 Authentication credentials invalid"
		do(t, req{method: "PUT", path: "/v1/organizations/" + other.ID + "/smtp", token: root, body: smtpPut(refusing, "u", secret)}).expect(t, 200)
		email := testEmail("refused-mail")
		inviteUser(t, root, other.ID, tree.RoleOrganizationAdmin, email)
		time.Sleep(300 * time.Millisecond)
		if mailsTo(t, email) != 0 || len(partnerSrv.To(email)) != 0 {
			t.Fatal("the message went out through another server")
		}
		eventually(t, 10*time.Second, func() error {
			b, err := os.ReadFile(filepath.Join(os.TempDir(), "opsconsole-e2e.log"))
			if err != nil {
				return err
			}
			n := 0
			for _, line := range strings.Split(string(b), "\n") {
				if strings.Contains(line, "the branch's mail server failed") && strings.Contains(line, other.ID) && strings.Contains(line, `"code":535`) {
					n++
				}
			}
			if n < 2 {
				return fmt.Errorf("%d log lines of the failure with the node", n)
			}
			return nil
		})
		do(t, req{method: "DELETE", path: "/v1/organizations/" + other.ID + "/smtp", token: root}).expect(t, 204)
	})

	t.Run("after DELETE the system's server again", func(t *testing.T) {
		do(t, req{method: "DELETE", path: partnerPath, token: root}).expect(t, 204)
		do(t, req{method: "GET", path: partnerPath, token: root}).json(t, &v)
		if v["mode"] != "system" {
			t.Fatalf("after DELETE: %v", v)
		}
		email := testEmail("system-again")
		inviteUser(t, root, org.ID, tree.RoleOrganizationAdmin, email)
		mailTo(t, email, "")
		if len(partnerSrv.To(email)) != 0 {
			t.Fatal("the partner's server still received it")
		}
	})

	t.Run("the password is in no audit entry and no log line", func(t *testing.T) {
		eventually(t, 20*time.Second, func() error {
			es := auditOf(t, root, part.ID, start)
			if !strings.Contains(actions(es), "partner.smtp-set") || !strings.Contains(actions(es), "partner.smtp-removed") {
				return fmt.Errorf("partner entries %s", actions(es))
			}
			b, _ := json.Marshal(es)
			if strings.Contains(string(b), secret) {
				t.Fatalf("an audit entry shows the password: %s", b)
			}
			return nil
		})
		b, err := os.ReadFile(filepath.Join(os.TempDir(), "opsconsole-e2e.log"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Fatal("the log holds the password")
		}
	})
}

// textOf is the text part of a raw MIME message (multipart/alternative,
// quoted-printable), as a mail client shows it.
func textOf(t *testing.T, data string) string {
	t.Helper()
	msg, err := netmail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := parts.NextPart() // decodes quoted-printable
		if err != nil {
			t.Fatalf("no text part: %v", err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(p)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

// activationToken2 reads the activation token from a raw message.
func activationToken2(t *testing.T, data string) string {
	t.Helper()
	got := activationLink.FindStringSubmatch(textOf(t, data))
	if got == nil {
		t.Fatalf("no activation link in %s", data)
	}
	return got[1]
}

// TestSMTPTest: smtp/test against a server that refuses authentication reports stage
// auth and the server's code; against a port with nothing listening, stage connect;
// without settings 409; a host this system may not reach is refused at PUT.
func TestSMTPTest(t *testing.T) {
	root := admin(t)
	_, part := partnerTree(t)
	org := createOrganization(t, root, part.ID, unique("Test Mail Org"))
	orgTok, _ := userAt(t, tree.RoleOrganizationAdmin, nodeOf(t, org.ID))
	svc := createClientService(t, orgTok, map[string]any{"organizationId": org.ID, "alias": unique("Mailer"), "language": "en"})
	svcPath := "/v1/client-services/" + svc.ID + "/smtp"

	do(t, req{method: "POST", path: svcPath + "/test", token: orgTok, body: map[string]string{"to": "x@example.com"}}).problem(t, 409, "smtp-not-configured")

	refusing := smtptest.Start(t)
	refusing.RefuseAuth = "535 5.7.8 Username and Password not accepted"
	do(t, req{method: "PUT", path: svcPath, token: orgTok, body: smtpPut(refusing, "svc-user", "pw")}).expect(t, 200)
	var r smtpReply
	begin := time.Now()
	do(t, req{method: "POST", path: svcPath + "/test", token: orgTok, body: map[string]string{"to": "x@example.com"}}).json(t, &r)
	if r.OK || r.Stage != "auth" || r.Code != 535 || !strings.Contains(r.Message, "not accepted") || time.Since(begin) > 20*time.Second {
		t.Fatalf("refused authentication: %+v", r)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	orgPath := "/v1/organizations/" + org.ID + "/smtp"
	do(t, req{method: "PUT", path: orgPath, token: orgTok, body: map[string]any{"host": "127.0.0.1", "port": closed, "tlsMode": "none", "fromAddress": "a@example.com"}}).expect(t, 200)
	do(t, req{method: "POST", path: orgPath + "/test", token: orgTok, body: map[string]string{"to": "x@example.com"}}).json(t, &r)
	if r.OK || r.Stage != "connect" || r.Code != 0 {
		t.Fatalf("nothing listening: %+v", r)
	}

	ok := smtptest.Start(t)
	do(t, req{method: "PUT", path: orgPath, token: orgTok, body: smtpPut(ok, "", "")}).expect(t, 200)
	do(t, req{method: "POST", path: orgPath + "/test", token: orgTok, body: map[string]string{"to": "test-to@example.com"}}).json(t, &r)
	if !r.OK || r.Stage != "send" || r.Code != 250 || len(ok.To("test-to@example.com")) != 1 {
		t.Fatalf("accepted: %+v, received %d", r, len(ok.To("test-to@example.com")))
	}

	// A PUT without the password keeps it; a username without any stored is a 400.
	keep := smtpPut(refusing, "svc-user", "")
	delete(keep, "password")
	do(t, req{method: "PUT", path: svcPath, token: orgTok, body: keep}).expect(t, 200)
	do(t, req{method: "PUT", path: orgPath, token: orgTok, body: keep}).problem(t, 400, "validation").field(t, "password")

	// Only the hosts of LOCAL_SMTP_ALLOW, exactly; checked before any connection.
	for _, host := range []string{"127.0.0.2", "localhost", "169.254.169.254", "smtp.example.com"} {
		b := smtpPut(ok, "", "")
		b["host"] = host
		do(t, req{method: "PUT", path: orgPath, token: orgTok, body: b}).problem(t, 400, "validation").field(t, "host")
	}

	// The settings go with their client service.
	do(t, req{method: "DELETE", path: "/v1/client-services/" + svc.ID, token: orgTok}).expect(t, 204)
	var gone map[string]any
	if err := st.Get(t0(), clientservices.SMTPKey(svc.ID), &gone); err != store.ErrNotFound {
		t.Fatalf("the deleted service's settings: %v %v", gone, err)
	}
}
